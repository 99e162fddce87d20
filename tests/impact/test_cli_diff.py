"""`compliance diff`: formats, guards and their exit codes, and input problems."""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from impact_helpers import GROUPS, NEW, OLD, Traffic, write_packs

from compliance.cli import main
from compliance.cli.diff_command import _Progress

CHANGED = sum(g.count for g in GROUPS if g.change)
TOTAL = sum(g.count for g in GROUPS)


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["diff", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def case(packsets: tuple[Path, Path], traffic: Callable[..., Traffic]) -> list[str]:
    """OLD NEW --traffic FILE, one process."""
    return [str(packsets[0]), str(packsets[1]), "--traffic", str(traffic().path),
            "--workers", "1"]


def test_json_has_the_fixed_keys(case: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """--format json prints one object with the fixed keys of docs/impact.md."""
    code, out, err = _run(capsys, *case, "--format", "json")
    report = json.loads(out)
    assert code == 0, err
    for key in ("total", "changed", "changed_fraction", "orgs_total", "orgs_affected",
                "orgs_affected_fraction", "errors", "by_transition", "by_rule", "examples",
                "by_model", "by_plan"):
        assert key in report, key
    assert (report["total"], report["changed"]) == (TOTAL, CHANGED)
    assert f"{CHANGED} of {TOTAL} contexts change" in err  # the summary line, on stderr


def test_text_and_markdown(case: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """Text names the headline and transitions; Markdown is a table for a PR comment."""
    code, out, _ = _run(capsys, *case)
    assert code == 0
    assert f"{CHANGED} of {TOTAL} contexts change" in out
    assert "allow->deny" in out
    code, out, _ = _run(capsys, *case, "--format", "markdown")
    assert code == 0
    assert "| transition | contexts | share of traffic | what changed |" in out
    assert "| allow->deny | 6 |" in out


def test_fail_on_change_exits_1(case: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """--fail-on-change: exit 1 and say why when a context changes."""
    code, out, err = _run(capsys, *case, "--fail-on-change", "--format", "json")
    assert code == 1
    assert json.loads(out)["changed"] == CHANGED  # the report is still written
    assert "--fail-on-change" in err


def test_fail_on_change_passes_when_nothing_changes(
    packsets: tuple[Path, Path], traffic: Callable[..., Traffic],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The same pack set on both sides changes nothing: exit 0."""
    old = str(packsets[0])
    code, _, err = _run(capsys, old, old, "--traffic", str(traffic().path), "--workers", "1",
                        "--fail-on-change", "-q")
    assert code == 0, err
    assert err == ""  # -q: no summary line


@pytest.mark.parametrize(("limit", "expected"), [("0.5", 0), ("0.2", 1), ("1", 0), ("0", 1)])
def test_max_changed_fraction(case: list[str], capsys: pytest.CaptureFixture[str], limit: str,
                              expected: int) -> None:
    """--max-changed-fraction F exits 1 only when more than F of the contexts change."""
    assert 0.2 < CHANGED / TOTAL < 0.5
    code, _, err = _run(capsys, *case, "--max-changed-fraction", limit, "-q")
    assert code == expected, err


def test_out_writes_html(case: list[str], capsys: pytest.CaptureFixture[str],
                         tmp_path: Path) -> None:
    """--out writes the report to a file; HTML has both charts and no external reference."""
    target = tmp_path / "report.html"
    code, out, _ = _run(capsys, *case, "--format", "html", "--out", str(target))
    assert code == 0
    assert out == ""
    page = target.read_text(encoding="utf-8")
    assert 'id="chart-transitions"' in page
    assert 'id="chart-models"' in page
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in page
    assert "<script" not in page


def test_pack_errors_exit_1_naming_the_file(
    packsets: tuple[Path, Path], traffic: Callable[..., Traffic], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A NEW pack set with an error is reported at its own file:line:col, exit 1."""
    bad = write_packs(tmp_path / "bad", {"base.yaml": OLD["base.yaml"].replace(
        'request.use_case == "weapons"', "request.use_cas == 1")})
    code, out, err = _run(capsys, str(packsets[0]), str(bad), "--traffic",
                          str(traffic().path))
    assert code == 1
    assert out == ""
    assert f"{bad}/base.yaml:6:" in err
    assert "compliance-packs-" not in err  # never the temporary copy's name


@pytest.mark.parametrize("problem", ["missing-traffic", "missing-packs", "bad-git", "bad-option"])
def test_input_problems_exit_2(case: list[str], capsys: pytest.CaptureFixture[str],
                               tmp_path: Path, problem: str) -> None:
    """Missing files, a bad revision or a bad option: one error line, exit 2."""
    args = {
        "missing-traffic": [*case[:2], "--traffic", str(tmp_path / "nope.jsonl")],
        "missing-packs": [str(tmp_path / "nope"), *case[1:]],
        "bad-git": ["git:no-such-revision:rules", *case[1:]],
        "bad-option": [*case, "--max-changed-fraction", "2"],
    }[problem]
    code, out, err = _run(capsys, *args)
    assert code == 2, err
    assert out == ""
    assert "Traceback" not in err
    assert "error" in err


def test_git_form_on_the_command_line(
    traffic: Callable[..., Traffic], tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`compliance diff git:HEAD~1:packs git:HEAD:packs` compares two commits."""
    repo = tmp_path / "repo"
    write_packs(repo / "packs", OLD)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    for step in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "old"]):
        subprocess.run([*git, *step], cwd=repo, check=True, capture_output=True)
    write_packs(repo / "packs", NEW)
    subprocess.run([*git, "commit", "-qam", "new"], cwd=repo, check=True, capture_output=True)
    monkeypatch.chdir(repo)
    code, out, err = _run(capsys, "git:HEAD~1:packs", "git:HEAD:packs", "--traffic",
                          str(traffic().path), "--workers", "1", "--format", "json")
    assert code == 0, err
    assert json.loads(out)["changed"] == CHANGED


def test_two_workers_on_the_command_line(
    packsets: tuple[Path, Path], traffic: Callable[..., Traffic], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--workers 2 over gzip and plain files prints the report one process prints."""
    t = traffic()
    packed = tmp_path / "t.jsonl.gz"
    packed.write_bytes(gzip.compress(t.path.read_bytes()))
    base = [str(packsets[0]), str(packsets[1]), "--traffic", str(t.path), str(packed),
            "--format", "json", "--partition-bytes", "800"]
    _, one, _ = _run(capsys, *base, "--workers", "1")
    _, two, _ = _run(capsys, *base, "--workers", "2")
    assert json.loads(one) == json.loads(two)
    assert json.loads(one)["total"] == 2 * TOTAL


def test_progress_shows_rate_and_eta(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The progress line has records, records/s and an ETA from the bytes read."""
    data = tmp_path / "t.jsonl"
    data.write_bytes(b"x" * 1000)
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    progress = _Progress([str(data)])
    progress(250, 40)
    progress(250, 40)
    progress.finish()
    text = err.getvalue()
    assert "80 records" in text
    assert "records/s" in text
    assert "50%" in text
    assert "ETA " in text
    assert text.endswith("\n")


def test_no_progress_when_stderr_is_not_a_terminal(
    case: list[str], capsys: pytest.CaptureFixture[str],
) -> None:
    """Piped stderr gets the summary line only, no carriage-return progress."""
    _, _, err = _run(capsys, *case, "--format", "json")
    assert "\r" not in err
    assert "records/s" not in err
