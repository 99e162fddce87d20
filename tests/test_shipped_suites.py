"""The shipped packs' suites (rules/tests/) are the policy gate: they pass at 100% rule
coverage through the CLI and through the pytest plugin, and the pack check ignores them."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from compliance.cli import main

REPO = Path(__file__).resolve().parent.parent
RULES = REPO / "rules"


def test_shipped_suites_pass_at_full_rule_coverage(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["test", str(RULES), "--coverage-min", "100"]) == 0
    out = capsys.readouterr().out
    assert " 0 failed" in out
    assert "items 100.0%" in out
    assert "gaps:" not in out


def test_every_shipped_pack_has_a_suite(capsys: pytest.CaptureFixture[str]) -> None:
    """Each pack appears in the coverage table, so no pack is left without cases."""
    assert main(["test", str(RULES), "--coverage"]) == 0
    table = capsys.readouterr().out
    packs = [line.split(":", 1)[1].strip() for p in RULES.glob("*.yaml")
             if p.name != "packset.yaml"
             for line in p.read_text(encoding="utf-8").splitlines()
             if line.startswith("pack:")]
    assert packs, "no shipped pack found"
    for pack in packs:
        assert f"\n  {pack} " in table


def test_check_still_passes_and_ignores_the_suites(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(RULES)]) == 0
    files = [p for p in RULES.glob("*.yaml") if p.name != "packset.yaml"]
    rules = sum(p.read_text(encoding="utf-8").count("\n  - id: ") for p in files)
    assert f"ok: {len(files)} packs, {rules} rules checked" in capsys.readouterr().err


def _pytest(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           *args], cwd=cwd, capture_output=True, text=True, env=env,
                          check=False, timeout=300)


def test_pytest_collects_the_shipped_suites() -> None:
    done = _pytest(str(RULES), cwd=REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    cases = sum(1 for _ in _case_ids())
    assert f"{cases} passed" in done.stdout


def _case_ids() -> list[str]:
    from compliance.testing import prepare, select

    return [c.id for _, _, c in select(prepare([RULES]), None)]


def test_pytest_fails_a_failing_suite_and_reports_it(tmp_path: Path) -> None:
    packs = tmp_path / "packs"
    (packs / "tests").mkdir(parents=True)
    for name in ("packset.yaml", "acceptable-use.yaml"):
        (packs / name).write_text((RULES / name).read_text(encoding="utf-8"), "utf-8")
    (packs / "tests" / "aup.yaml").write_text(textwrap.dedent("""\
        suite: aup
        time: 2026-06-20T15:00:00Z
        cases:
          - name: surveillance denied
            context: {request: {use_case: surveillance}}
            expect: {effect: deny}
          - name: wrongly expected allow
            context: {request: {use_case: weapons}}
            expect: {effect: allow}
    """), encoding="utf-8")
    done = _pytest(str(packs), cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 failed, 1 passed" in done.stdout
    assert 'effect: expected "allow", got "deny"' in done.stdout


def test_pytest_reports_a_malformed_suite(tmp_path: Path) -> None:
    packs = tmp_path / "packs"
    (packs / "tests").mkdir(parents=True)
    for name in ("packset.yaml", "acceptable-use.yaml"):
        (packs / name).write_text((RULES / name).read_text(encoding="utf-8"), "utf-8")
    (packs / "tests" / "bad.yaml").write_text(
        "suite: bad\ncases:\n  - name: x\n    contxt: {}\n", encoding="utf-8")
    done = _pytest(str(packs), cwd=tmp_path)
    assert done.returncode == 1
    assert "bad.yaml:4:5: error[unknown-field]" in done.stdout
    assert "did you mean `context`?" in done.stdout


def test_project_yaml_outside_a_pack_sets_tests_folder_is_not_collected(tmp_path: Path) -> None:
    data = tmp_path / "tests" / "data"
    data.mkdir(parents=True)
    (data / "pack.yaml").write_text("pack: p\n", encoding="utf-8")
    (tmp_path / "tests" / "test_x.py").write_text("def test_ok():\n    pass\n", "utf-8")
    done = _pytest("tests", cwd=tmp_path)
    assert done.returncode == 0, done.stdout
    assert "1 passed" in done.stdout
