"""The Dask runner: a two-worker LocalCluster gives exactly the one-process report.

Skipped without ``dask[distributed]`` on a user's machine; required under ``CI=true`` (the
``test`` extra installs it), where a missing Dask fails instead of skipping.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from impact_helpers import GROUPS, Traffic

from compliance.impact import prepare, resolve, run

CI = os.environ.get("CI", "").lower() == "true"
HAVE_DASK = importlib.util.find_spec("dask") is not None and \
    importlib.util.find_spec("distributed") is not None

if not HAVE_DASK and not CI:
    pytest.skip("dask[distributed] is not installed (pip install 'compliance[dask]')",
                allow_module_level=True)


def test_local_cluster_matches_one_process(
    packsets: tuple[Path, Path], traffic: Callable[..., Traffic],
) -> None:
    """Partitions of two files run as tasks on two workers; the merged report is identical."""
    assert HAVE_DASK, "CI=true: the test extra must install dask[distributed]"
    a, b = traffic("a.jsonl"), traffic("b.jsonl", seed=3)
    files = [str(a.path), str(b.path)]
    job = prepare(resolve(str(packsets[0])), resolve(str(packsets[1])))
    seen: list[int] = []
    one = run(job, files).report(files, old="o", new="n")
    on_cluster = run(job, files, dask=True, workers=2, partition_bytes=900,
                     progress=lambda _size, records: seen.append(records)
                     ).report(files, old="o", new="n")
    assert on_cluster == one
    assert one["total"] == 2 * sum(g.count for g in GROUPS)
    assert len(seen) > 2  # many partitions, each reported once
    assert sum(seen) == one["total"] + one["read_errors"]


def test_cluster_local_on_the_command_line(
    packsets: tuple[Path, Path], traffic: Callable[..., Traffic],
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`--cluster local` (relative traffic paths) prints the report `--workers 1` prints."""
    from compliance.cli import main

    t = traffic()
    monkeypatch.chdir(t.path.parent)
    base = [str(packsets[0]), str(packsets[1]), "--traffic", t.path.name, "--format", "json",
            "--partition-bytes", "900", "-q"]
    assert main(["diff", *base, "--workers", "1"]) == 0
    one = capsys.readouterr().out
    assert main(["diff", *base, "--cluster", "local", "--workers", "2"]) == 0
    assert capsys.readouterr().out == one
