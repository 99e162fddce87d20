"""Memory stays flat in the traffic's length; the shipped generator, sample and diff."""

from __future__ import annotations

import importlib.util
import io
import json
import sys
import tracemalloc
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest
from impact_helpers import GROUPS, build_traffic

from compliance.impact import diff, prepare, resolve, run

REPO = Path(__file__).resolve().parents[2]
TRAFFIC = REPO / "examples" / "traffic"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, TRAFFIC / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _peak(packsets: tuple[Path, Path], path: Path) -> tuple[int, int]:
    """(contexts read, tracemalloc peak bytes) of a one-process diff of ``path``."""
    job = prepare(resolve(str(packsets[0])), resolve(str(packsets[1])))
    run(job, [str(path)])  # compile and warm up outside the measurement
    tracemalloc.start()
    try:
        summary = run(job, [str(path)])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return summary.total, peak


def test_memory_is_flat_in_the_file_length(packsets: tuple[Path, Path], tmp_path: Path) -> None:
    """Ten times the lines (same organisations and models) does not grow the peak."""
    per_copy = sum(g.count for g in GROUPS)
    short = build_traffic(tmp_path / "short.jsonl", repeat=2_000 // per_copy + 1, bad=[])
    long = build_traffic(tmp_path / "long.jsonl", repeat=20_000 // per_copy + 1, bad=[])
    n_short, peak_short = _peak(packsets, short.path)
    n_long, peak_long = _peak(packsets, long.path)
    assert n_long >= 9 * n_short
    assert long.path.stat().st_size > 3_000_000  # the file is far larger than the peak
    assert peak_long < peak_short * 1.5 + 200_000, (peak_short, peak_long)


def test_generator_is_seeded_and_the_sample_is_its_output() -> None:
    """Same seed, same bytes; the committed sample is seed 11, 3000 lines."""
    generate = _load("generate")
    first, second = io.StringIO(), io.StringIO()
    generate.write(first, 11, 3000)
    generate.write(second, 11, 3000)
    assert first.getvalue() == second.getvalue()
    assert (TRAFFIC / "sample.jsonl").read_text(encoding="utf-8") == first.getvalue()
    other = io.StringIO()
    generate.write(other, 12, 3000)
    assert other.getvalue() != first.getvalue()


def test_generated_traffic_is_skewed_and_llm_dev_concentrated() -> None:
    """A few orgs send much of the traffic; llm-dev is rare and from a few organisations."""
    lines = (TRAFFIC / "sample.jsonl").read_text(encoding="utf-8").splitlines()
    contexts = [json.loads(line) for line in lines]
    by_org = Counter(c["org"]["id"] for c in contexts)
    top10 = sum(n for _, n in by_org.most_common(10))
    assert top10 > 0.3 * len(contexts)
    models = Counter(c["request"]["model"] for c in contexts)
    assert models.most_common(1)[0][1] > 0.3 * len(contexts)
    llm_dev = [c for c in contexts if c["request"]["use_case"] == "llm-dev"]
    assert 0 < len(llm_dev) < 0.02 * len(contexts)
    llm_orgs = Counter(c["org"]["id"] for c in llm_dev)
    assert sum(n for _, n in llm_orgs.most_common(6)) >= 0.7 * len(llm_dev)
    assert len(llm_orgs) < 0.05 * len(by_org)


def test_silent_degradation_versus_visible_handoff_on_the_sample(tmp_path: Path) -> None:
    """The README's diff: the silent steer becomes a visible route to opus-4.8."""
    before = _load("silent_before").build(tmp_path / "before")
    assert not (before / "transparency.yaml").exists()
    assert "llm-dev-handoff" not in (before / "interventions.yaml").read_text(encoding="utf-8")
    report = diff(str(before), str(REPO / "rules"), [str(TRAFFIC / "sample.jsonl")])
    assert report["errors"] == 0
    steer = report["by_transition"]["steer->route"]
    assert steer["details"]["-steer (silent)"] == steer["count"]
    assert steer["details"]["+route opus-4.8 (visible)"] == steer["count"]
    assert report["by_rule"]["old"]["silent-llm-dev-degradation/silent-llm-dev-steer"] >= \
        steer["count"]
    assert report["by_rule"]["new"]["interventions/llm-dev-handoff"] >= steer["count"]
    silent_after = [e for rows in report["examples"].values() for e in rows
                    if any(i["disclosure"] == "silent" for i in e["new"]["interventions"])]
    assert silent_after == []


def test_impact_benchmark_quick_run_prints_its_rows() -> None:
    """`benchmarks/impact.py --quick` runs end to end (its timings are never asserted)."""
    import subprocess

    result = subprocess.run([sys.executable, str(REPO / "benchmarks" / "impact.py"), "--quick"],
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    for row in ("jsonread.read_json (strict)", "orjson.loads", "engine.evaluate", "1 process"):
        assert row in result.stdout, result.stdout


def test_isolated_before_changes_only_the_llm_dev_routing(tmp_path: Path) -> None:
    """With the audit-logging obligation kept, only llm-dev requests change, all to routes."""
    before = _load("silent_before").build(tmp_path / "before", keep_audit_logging=True)
    assert "\nforbid_silent:" not in (before / "transparency.yaml").read_text(encoding="utf-8")
    report = diff(str(before), str(REPO / "rules"), [str(TRAFFIC / "sample.jsonl")])
    assert set(report["by_transition"]) <= {"steer->route", "allow->route"}
    lines = (TRAFFIC / "sample.jsonl").read_text(encoding="utf-8").splitlines()
    for rows in report["examples"].values():
        for e in rows:
            assert json.loads(lines[e["line"] - 1])["request"]["use_case"] == "llm-dev"
    assert report["by_rule"]["new"]["interventions/llm-dev-handoff"] == report["changed"]


def test_before_script_help_and_refusals_write_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """`silent_before.py --help` teaches and creates no directory; an existing OUTDIR is refused."""
    script = _load("silent_before")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as shown:
        script.main(["--help"])
    assert shown.value.code == 0
    assert "OUTDIR" in capsys.readouterr().out
    assert list(tmp_path.iterdir()) == []
    taken = tmp_path / "taken"
    taken.mkdir()
    with pytest.raises(SystemExit) as refused:
        script.main([str(taken)])
    assert refused.value.code == 2
    assert "already exists" in capsys.readouterr().err
    assert list(taken.iterdir()) == []
    assert script.main([str(tmp_path / "new"), "--keep-audit-logging"]) == 0
    assert (tmp_path / "new" / "transparency.yaml").exists()
