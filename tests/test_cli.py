"""The `compliance` command line, run as a user runs it: exit codes, output, no tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CONTEXTS = REPO / "examples" / "contexts"
EXPECTED = json.loads((CONTEXTS / "expected.json").read_text(encoding="utf-8"))


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "compliance", *args],
        cwd=REPO,
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )


def no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stderr + result.stdout


class TestCheck:
    def test_shipped_rules_are_clean(self) -> None:
        """`compliance check rules/` exits 0."""
        result = run("check", "rules/")
        assert result.returncode == 0, result.stdout + result.stderr

    def test_silent_example_is_rejected(self) -> None:
        """The silent policy is an error that names its rule and the transparency pack."""
        result = run("check", "rules/", "examples/packs/silent-llm-dev-degradation.yaml")
        assert result.returncode == 1
        assert "error[forbid-silent]" in result.stdout
        assert "transparency" in result.stdout
        assert "^" in result.stdout

    @pytest.mark.parametrize("fmt", ["json", "sarif"])
    def test_machine_formats_are_json(self, fmt: str) -> None:
        """JSON and SARIF output parse as JSON."""
        result = run(
            "check", "--format", fmt, "rules/", "examples/packs/silent-llm-dev-degradation.yaml"
        )
        assert result.returncode == 1
        json.loads(result.stdout)

    def test_github_annotations(self) -> None:
        """GitHub format prints one `::error` annotation per error."""
        result = run(
            "check",
            "--format",
            "github",
            "rules/",
            "examples/packs/silent-llm-dev-degradation.yaml",
        )
        assert result.stdout.startswith("::error file=")

    def test_missing_path_is_a_usage_error(self) -> None:
        """A path that does not exist exits 2 with a message."""
        result = run("check", "no/such/dir")
        assert result.returncode == 2
        assert "no such file" in result.stderr
        no_traceback(result)


class TestEval:
    @pytest.mark.parametrize("name", sorted(EXPECTED))
    def test_examples_give_stated_decisions(self, name: str) -> None:
        """Every example context gives its stated effect and model through the CLI."""
        result = run("eval", "--rules", "rules/", "--format", "json", str(CONTEXTS / name))
        assert result.returncode == 0, result.stderr
        decision = json.loads(result.stdout)
        want = EXPECTED[name]
        assert decision["effect"] == want["effect"]
        if "model" in want:
            assert decision["model"] == want["model"]

    def test_json_has_the_core_fields(self) -> None:
        """`--format json` prints the section 5 decision record."""
        path = CONTEXTS / "fable5-unknown-nationality-after-directive.json"
        decision = json.loads(run("eval", "-r", "rules/", "--format", "json", str(path)).stdout)
        assert decision["effect"] == "deny"
        assert "principal.nationalities" in decision["missing"]
        assert decision["pack_set_digest"].startswith("sha256:")
        assert decision["context_digest"].startswith("sha256:")

    def test_explain(self) -> None:
        """`--explain` says per rule why it did not apply."""
        path = CONTEXTS / "fable5-french-national-before-directive.json"
        result = run("eval", "-r", "rules/", "--explain", str(path))
        assert "foreign-national-suspension: not-effective" in result.stdout

    def test_stdin(self) -> None:
        """`-` reads the context from standard input."""
        text = (CONTEXTS / "iran-origin.json").read_text(encoding="utf-8")
        result = run("eval", "-r", "rules/", "--format", "json", "-", stdin=text)
        assert json.loads(result.stdout)["effect"] == "deny"

    def test_invalid_json(self) -> None:
        """Invalid JSON exits 2 with line and column, no traceback."""
        result = run("eval", "-r", "rules/", "-", stdin='{"request": {"model": }}')
        assert result.returncode == 2
        assert "<stdin>:1:" in result.stderr
        assert "invalid JSON" in result.stderr
        no_traceback(result)

    def test_wrong_types_name_the_attribute(self) -> None:
        """A context with wrongly typed values names each attribute, no traceback."""
        ctx = {"request": {"time": "yesterday", "model": 5}, "principal": {"nationalities": "US"}}
        result = run("eval", "-r", "rules/", "-", stdin=json.dumps(ctx))
        assert result.returncode == 2
        for attribute in ["`request.time`", "`request.model`", "`principal.nationalities`"]:
            assert attribute in result.stderr
        no_traceback(result)

    def test_not_an_object(self) -> None:
        """A JSON array is not a context."""
        result = run("eval", "-r", "rules/", "-", stdin="[1, 2]")
        assert result.returncode == 2
        assert "JSON object" in result.stderr

    def test_missing_file(self) -> None:
        """An unreadable context file exits 2."""
        result = run("eval", "-r", "rules/", "nope.json")
        assert result.returncode == 2
        no_traceback(result)

    def test_log_and_replay(self, tmp_path: Path) -> None:
        """`--log` appends to a chain that `log verify` and `replay` accept."""
        log = tmp_path / "d.jsonl"
        for name in ["iran-origin.json", "zdr-org-on-fable5.json"]:
            assert (
                run("eval", "-r", "rules/", "--log", str(log), str(CONTEXTS / name)).returncode == 0
            )
        assert run("log", "verify", str(log)).returncode == 0
        result = run("replay", "-r", "rules/", str(log))
        assert result.returncode == 0, result.stdout
        assert "2 of 2 records" in result.stdout


def test_help_teaches() -> None:
    """`--help` shows examples and the subcommands."""
    result = run("--help")
    assert "examples:" in result.stdout
    for command in ["check", "eval", "log", "replay"]:
        assert command in result.stdout
