"""Golden outputs of ``compliance test``: a failing suite in text, JSON and JUnit, its
coverage table, and a malformed suite's diagnostics, byte for byte (``--update-goldens``)."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from compliance.cli import main

HERE = Path(__file__).resolve().parent / "suites"
EXPECTED = HERE / "expected"
# The suite files sit outside any `tests/` folder and are not named *.test.yaml, so neither
# the pytest plugin nor `compliance test DIR` picks them up: they are named explicitly.
CASES = {
    "failing.txt": (["test", "failing.yaml", "--coverage"], 1),
    "failing.json": (["test", "failing.yaml", "--format", "json", "--coverage"], 1),
    "failing.junit.xml": (["test", "failing.yaml", "--format", "junit"], 1),
    "malformed.txt": (["test", "broken.yaml"], 2),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_suite_golden(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                      capsys: pytest.CaptureFixture[str], update_goldens: bool) -> None:
    shutil.copytree(HERE, tmp_path / "suites", ignore=shutil.ignore_patterns("expected"))
    tmp_path = tmp_path / "suites"
    monkeypatch.chdir(tmp_path)
    args, code = CASES[name]
    assert main(args) == code
    captured = capsys.readouterr()
    actual = captured.out + ("--- stderr\n" + captured.err if captured.err else "")
    target = EXPECTED / name
    if update_goldens:
        target.write_text(actual, encoding="utf-8")
        return
    assert actual == target.read_text(encoding="utf-8")


def test_junit_golden_parses_with_the_right_counts() -> None:
    tree = ET.fromstring((EXPECTED / "failing.junit.xml").read_text(encoding="utf-8"))
    assert (tree.get("tests"), tree.get("failures"), tree.get("errors")) == ("5", "2", "0")
    suite = tree.find("testsuite")
    assert suite is not None
    assert (suite.get("name"), suite.get("tests"), suite.get("failures")) == ("failing", "5", "2")
    names = [c.get("name") for c in suite.findall("testcase")]
    assert names[-2:] == ["every principal [principal=french]",
                          "every principal [principal=unknown]"]
    assert len(suite.findall("testcase/failure")) == 2
