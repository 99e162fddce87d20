"""docs/testing.md's walk-through, followed step by step: write each file it shows, run each
command it shows, and compare the output with what the page prints."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from compliance.cli import main

DOC = Path(__file__).resolve().parents[2] / "docs" / "testing.md"
_BLOCK = re.compile(r"```(yaml|console)\n(.*?)```", re.DOTALL)


def _steps() -> list[tuple[str, str]]:
    text = DOC.read_text(encoding="utf-8")
    start = text.index("## From an empty directory")
    walkthrough = text[start:text.index("\n## ", start + 1)]
    return [(kind, body) for kind, body in _BLOCK.findall(walkthrough)]


def test_the_walkthrough_has_files_and_commands() -> None:
    kinds = [kind for kind, _ in _steps()]
    assert kinds.count("yaml") >= 4
    assert kinds.count("console") >= 4


def test_following_the_walkthrough_gives_the_documented_output(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    ran = 0
    for kind, body in _steps():
        if kind == "yaml":
            first, rest = body.split("\n", 1)
            assert first.startswith("# "), "each walk-through file names its path"
            path = tmp_path / first[2:].strip()
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(rest, encoding="utf-8")
            continue
        lines = body.rstrip("\n").split("\n")
        assert lines[0].startswith("$ compliance ")
        expected = lines[1:]
        code = main(shlex.split(lines[0][2:])[1:])
        captured = capsys.readouterr()
        got = (captured.out + captured.err).rstrip("\n").split("\n")
        assert got == expected, lines[0]
        assert code == (1 if any(line.startswith("FAIL ") for line in expected) else 0)
        ran += 1
    assert ran >= 4
