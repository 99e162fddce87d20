"""`compliance.impact`: counts and fractions on traffic whose impact is known by construction."""

from __future__ import annotations

import gzip
import json
import subprocess
import zlib
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from impact_helpers import (
    GROUPS,
    NEW,
    OLD,
    Group,
    Traffic,
    build_traffic,
    context,
    write_packs,
)

from compliance.audit import DecisionLog
from compliance.engine import Engine
from compliance.impact import diff, prepare, resolve, run
from compliance.impact.packsets import PackSourceError
from compliance.impact.runner import Job


def _expected(groups: list[Group]) -> dict[str, Any]:
    """The numbers the construction implies."""
    total = sum(g.count for g in groups)
    changed = sum(g.count for g in groups if g.change)
    orgs = {g.org for g in groups}
    affected = {g.org for g in groups if g.change}
    by_transition = Counter()
    for g in groups:
        if g.change:
            by_transition[g.change] += g.count
    return {"total": total, "changed": changed, "changed_fraction": changed / total,
            "orgs_total": len(orgs), "orgs_affected": len(affected),
            "orgs_affected_fraction": len(affected) / len(orgs),
            "by_transition": dict(by_transition)}


def _table(groups: list[Group], key: str) -> dict[str, tuple[int, int]]:
    out: dict[str, list[int]] = {}
    for g in groups:
        row = out.setdefault(getattr(g, key), [0, 0])
        row[0] += g.count
        row[1] += g.count if g.change else 0
    return {k: (v[0], v[1]) for k, v in out.items()}


def _diff(packsets: tuple[Path, Path], files: list[Path], **kwargs: Any) -> dict[str, Any]:
    old, new = packsets
    return diff(str(old), str(new), [str(f) for f in files], **kwargs)


def test_counts_and_fractions_match_the_construction(
    packsets: tuple[Path, Path], traffic: Callable[..., Traffic],
) -> None:
    """Totals, changed, organisations, transitions, models and plans are the known numbers."""
    t = traffic()
    report = _diff(packsets, [t.path])
    expected = _expected(GROUPS)
    for key in ("total", "changed", "orgs_total", "orgs_affected"):
        assert report[key] == expected[key], key
    assert report["changed_fraction"] == pytest.approx(expected["changed_fraction"])
    assert report["orgs_affected_fraction"] == pytest.approx(expected["orgs_affected_fraction"])
    assert {k: v["count"] for k, v in report["by_transition"].items()} == \
        expected["by_transition"]
    for key, field in (("by_model", "model"), ("by_plan", "plan")):
        got = {name: (row["total"], row["changed"]) for name, row in report[key].items()}
        assert got == _table(GROUPS, field), key
    details = report["by_transition"]["obligations"]["details"]
    assert details == {"retention_min_days: - -> 30": 8}
    assert report["by_transition"]["allow->route"]["details"]["+route small (visible)"] == 3


def test_malformed_lines_are_counted_with_their_line_numbers(
    packsets: tuple[Path, Path], traffic: Callable[..., Traffic],
) -> None:
    """Every bad line is an error at its own line, with its code; none is dropped."""
    t = traffic()
    report = _diff(packsets, [t.path])
    assert report["errors"] == report["read_errors"] == len(t.bad)
    found = {e["line"]: e["code"] for e in report["error_samples"]}
    assert found == dict(zip(sorted(t.bad), ["invalid-json", "not-an-object", "duplicate-key"],
                             strict=True))
    assert all(e["file"] == str(t.path) for e in report["error_samples"])


def test_rules_on_each_side_and_examples_are_redacted(
    packsets: tuple[Path, Path], traffic: Callable[..., Traffic],
) -> None:
    """by_rule names the rules matched in changed contexts; examples hide the ids."""
    report = _diff(packsets, [traffic().path], sample=2)
    assert report["by_rule"]["new"] == {"base/no-cyber": 6, "base/llm-dev-to-small": 3,
                                        "base/enterprise-coding-retention": 8}
    assert report["by_rule"]["old"] == {}
    assert {k: len(v) for k, v in report["examples"].items()} == \
        {"allow->deny": 2, "allow->route": 2, "obligations": 2}
    for example in (e for rows in report["examples"].values() for e in rows):
        ctx = example["context"]
        assert ctx["principal"]["id"] == ctx["org"]["id"] == ctx["request"]["id"] == "[redacted]"
        assert example["old"]["effect"] == "allow"
        lines = Path(example["file"]).read_text(encoding="utf-8").splitlines()
        original = json.loads(lines[example["line"] - 1])
        assert original["request"]["use_case"] == ctx["request"]["use_case"]


def test_partitions_and_workers_give_identical_reports(
    packsets: tuple[Path, Path], traffic: Callable[..., Traffic],
) -> None:
    """Tiny partitions, two processes and one process agree exactly (line numbers too)."""
    a, b = traffic("a.jsonl"), traffic("b.jsonl", seed=2)
    one = _diff(packsets, [a.path, b.path], partition_bytes=1 << 22)
    split = _diff(packsets, [a.path, b.path], partition_bytes=700)
    pooled = _diff(packsets, [a.path, b.path], partition_bytes=700, workers=2)
    assert one == split == pooled
    assert one["total"] == 2 * _expected(GROUPS)["total"]
    assert sorted((e["file"], e["line"]) for e in one["error_samples"]) == sorted(
        [(str(a.path), n) for n in a.bad] + [(str(b.path), n) for n in b.bad])


def test_gzip_traffic_reads_like_plain(
    packsets: tuple[Path, Path], traffic: Callable[..., Traffic], tmp_path: Path,
) -> None:
    """A gzip file (recognised by its bytes, whatever its name) gives the same report."""
    t = traffic()
    packed = tmp_path / "traffic.data"
    packed.write_bytes(gzip.compress(t.path.read_bytes()))
    plain, zipped = _diff(packsets, [t.path]), _diff(packsets, [packed], partition_bytes=700)
    for report in (plain, zipped):
        report.pop("files")
        for e in (*report["error_samples"],
                  *(x for rows in report["examples"].values() for x in rows)):
            e.pop("file")
    assert plain == zipped


def test_decision_log_contexts_are_read_and_records_without_one_skipped(
    packsets: tuple[Path, Path], tmp_path: Path,
) -> None:
    """A decision log's recorded contexts are the traffic; a context-less record is skipped."""
    old, _ = packsets
    engine = Engine.from_path(old)
    log_path = tmp_path / "decisions.jsonl"
    contexts = [context(n, "o1", "free", "small", "cyber" if n % 2 else "general")
                for n in range(6)]
    with DecisionLog(log_path) as log:
        for c in contexts:
            log.record(engine.evaluate(c), c)
    with DecisionLog(log_path, include_context=False) as log:
        log.record(engine.evaluate(contexts[0]), contexts[0])
    report = _diff(packsets, [log_path])
    assert (report["total"], report["changed"], report["skipped"]) == (6, 3, 1)
    assert report["by_transition"]["allow->deny"]["count"] == 3


def test_overlong_line_is_an_error_and_reading_continues(
    packsets: tuple[Path, Path], tmp_path: Path,
) -> None:
    """A line over the limit is reported (never held whole) and the next line is read."""
    path = tmp_path / "long.jsonl"
    good = json.dumps(context(1, "o1", "free", "small", "cyber"))
    path.write_text(good + "\n" + '{"x": "' + "y" * 5000 + '"}\n' + good + "\n",
                    encoding="utf-8")
    old, new = packsets
    job = prepare(resolve(str(old)), resolve(str(new)))
    small = Job(job.old, job.new, job.old_digest, job.new_digest, max_line_bytes=1000)
    report = run(small, [str(path)]).report([str(path)], old="o", new="n")
    assert (report["total"], report["changed"], report["read_errors"]) == (2, 2, 1)
    assert report["error_samples"][0]["line"] == 2
    assert report["error_samples"][0]["code"] == "json-too-large"


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
                   cwd=repo, check=True, capture_output=True)


def test_git_revisions_are_read_without_a_checkout(
    packsets: tuple[Path, Path], traffic: Callable[..., Traffic], tmp_path: Path,
) -> None:
    """`git:REV:PATH` reads the pack set at a revision: same report as the directories."""
    repo = tmp_path / "repo"
    write_packs(repo / "packs", OLD)
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "old")
    write_packs(repo / "packs", NEW)
    _git(repo, "commit", "-qam", "new")
    old_src = resolve("git:HEAD~1:packs", cwd=repo)
    new_src = resolve("git:HEAD:packs", cwd=repo)
    assert dict(old_src.files) == {n: p.read_bytes() for n, p in
                                   ((n, packsets[0] / n) for n in ("base.yaml", "packset.yaml"))}
    in_sub = resolve("git:HEAD~1:.", cwd=repo / "packs")
    assert in_sub.files == old_src.files
    t = traffic()
    via_git = run(prepare(old_src, new_src), [str(t.path)]).report([str(t.path)], old="", new="")
    via_dirs = run(prepare(resolve(str(packsets[0])), resolve(str(packsets[1]))),
                   [str(t.path)]).report([str(t.path)], old="", new="")
    assert via_git == via_dirs
    with pytest.raises(PackSourceError, match="not a commit"):
        resolve("git:no-such-rev:packs", cwd=repo)
    with pytest.raises(PackSourceError, match="no pack files"):
        resolve("git:HEAD:elsewhere", cwd=repo)
    with pytest.raises(PackSourceError, match="may not start"):
        resolve("git:--output=x:packs", cwd=repo)


@pytest.fixture(scope="module")
def property_case(tmp_path_factory: pytest.TempPathFactory
                  ) -> tuple[dict[str, Any], list[str], Job]:
    """One traffic file, its job and its one-partition report, shared by the examples."""
    root = tmp_path_factory.mktemp("impact-property")
    old, new = write_packs(root / "old", OLD), write_packs(root / "new", NEW)
    files = [str(build_traffic(root / "t.jsonl").path)]
    job = prepare(resolve(str(old)), resolve(str(new)), sample=3)
    return run(job, files).report(files, old="o", new="n"), files, job


@settings(max_examples=15)
@given(partition_bytes=st.integers(min_value=64, max_value=6000))
def test_any_partitioning_gives_the_one_partition_report(
    property_case: tuple[dict[str, Any], list[str], Job], partition_bytes: int,
) -> None:
    """Cut anywhere, the merged partials equal the single-partition report."""
    reference, files, job = property_case
    got = run(job, files, partition_bytes=partition_bytes).report(files, old="o", new="n")
    assert got == reference


def test_truncated_gzip_is_an_error_at_the_line_it_stops(
    packsets: tuple[Path, Path], traffic: Callable[..., Traffic], tmp_path: Path,
) -> None:
    """A gzip file cut short: the lines before are compared, the break is one error."""
    t = traffic(bad=[])
    packed = gzip.compress(t.path.read_bytes())
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(packed[: len(packed) // 2])
    report = _diff(packsets, [cut])
    assert report["read_errors"] == 1
    (error,) = report["error_samples"]
    assert error["code"] == "unreadable-file"
    prefix = zlib.decompressobj(wbits=31).decompress(packed[: len(packed) // 2])
    assert error["line"] == prefix.count(b"\n") + 1  # the first line not read whole
    assert 0 < report["total"] < sum(g.count for g in GROUPS)


def test_sensitive_paths_hook_adds_schema_marks_to_the_ids() -> None:
    """A schema's `sensitive_paths` (attribute or method) are redacted on top of the ids."""
    from types import SimpleNamespace

    from compliance.impact.runner import DEFAULT_SENSITIVE, redact, sensitive_paths

    marked = SimpleNamespace(sensitive_paths=("principal.country",))
    method = SimpleNamespace(sensitive_paths=lambda: ["request.origin_region"])
    assert set(sensitive_paths(marked)) == {*DEFAULT_SENSITIVE, "principal.country"}
    assert "request.origin_region" in sensitive_paths(method)
    original = {"principal": {"id": "p", "country": "FR"}, "request": {"model": "m"}}
    shown = redact(original, ["principal.country", "org.id", "request.model.deep"])
    assert shown == {"principal": {"id": "p", "country": "[redacted]"},
                     "request": {"model": "m"}}
    assert original["principal"]["country"] == "FR"  # the context itself is untouched
