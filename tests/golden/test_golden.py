"""Golden tests: each ``check/<case>/`` holds pack files and the exact rendered diagnostics.

The runner loads the case directory as a pack set (with the case's own ``packset.yaml``,
or the shared one next to this file), runs the checker too when it is importable, and
compares ``render_text`` plus the summary line byte for byte with ``expected.txt``. A
case may hold ``make.py``, run in the case's temporary copy to generate inputs too big or
too odd to commit. Regenerate with ``pytest tests/golden --update-goldens``.
"""

from __future__ import annotations

import runpy
import shutil
from pathlib import Path

import pytest

from compliance.diagnostics import Diagnostic, DiagnosticSet
from compliance.loader import load_pack_set, load_schema_file
from compliance.pack import PackSet
from compliance.render import render_summary, render_text

HERE = Path(__file__).resolve().parent
SHARED_MANIFEST = HERE / "packset.yaml"
CASES = sorted(p for p in (HERE / "check").iterdir() if p.is_dir())


def _checker_diagnostics(pack_set: PackSet) -> list[Diagnostic]:
    """Diagnostics from stage 2 when the checker exists (it adds CEL-level goldens)."""
    try:
        from compliance.checker import check_pack_set
    except ImportError:
        return []
    report = check_pack_set(pack_set)
    found = getattr(report, "diagnostics", None)
    if found is None:
        found = [*report.errors, *getattr(report, "warnings", [])]
    return list(found)


def _sources(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): p.read_bytes().decode("utf-8", "replace")
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.suffix in (".yaml", ".yml")
    }


def run_case(case: Path, work: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Copy ``case`` to ``work``, load and check it there, and render what was found."""
    shutil.copytree(case, work, ignore=shutil.ignore_patterns("expected.*"))
    monkeypatch.chdir(work)
    if (work / "make.py").exists():
        runpy.run_path("make.py")
    schema = None
    if not (work / "packset.yaml").exists():
        schema, problems = load_schema_file(SHARED_MANIFEST)
        assert schema is not None, problems
    pack_set, diagnostics = load_pack_set(["."], schema=schema)
    found = DiagnosticSet(diagnostics)
    if pack_set is not None:
        found.extend(_checker_diagnostics(pack_set))
    items = found.sorted()
    return render_text(items, _sources(work)) + "\n" + render_summary(items) + "\n"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_golden(
    case: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, update_goldens: bool
) -> None:
    """The rendered diagnostics of the case equal its ``expected.txt`` byte for byte."""
    actual = run_case(case, tmp_path / case.name, monkeypatch)
    expected_file = case / "expected.txt"
    if update_goldens:
        expected_file.write_text(actual, encoding="utf-8")
        return
    assert expected_file.exists(), f"run `pytest tests/golden --update-goldens` for {case.name}"
    assert actual == expected_file.read_text(encoding="utf-8")
