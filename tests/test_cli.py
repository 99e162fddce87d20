"""The `compliance` command line: exit codes, output, and no traceback on any input.

Most cases call ``cli.main(argv)`` in process (captured output, a patched standard input);
``TestEndToEnd`` runs ``python -m compliance`` for what only a real process shows: exit codes
through ``__main__``, a closed standard input or output, a full disk, a broken pipe.
"""

from __future__ import annotations

import argparse
import errno
import io
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pytest

from compliance import cli
from compliance.audit.encoding import canonical, line_hash
from compliance.checker import PASSES
from compliance.cli.streams import MAX_INT_DIGITS, MAX_JSON_DEPTH

REPO = Path(__file__).resolve().parent.parent
CONTEXTS = REPO / "examples" / "contexts"
EXPECTED = json.loads((CONTEXTS / "expected.json").read_text(encoding="utf-8"))
SILENT = "examples/packs/silent-llm-dev-degradation.yaml"
IRAN = CONTEXTS / "iran-origin.json"
GENESIS = "sha256:" + "0" * 64


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str


Run = Callable[..., Result]


@pytest.fixture(autouse=True)
def _in_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    """Relative paths (`rules/`) as a user types them in a checkout."""
    monkeypatch.chdir(REPO)
    monkeypatch.delenv(cli.DEBUG_ENV, raising=False)


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Run:
    """``cli.main`` in process; ``stdin`` (text or bytes) becomes standard input."""

    def call(*args: str, stdin: str | bytes | None = None) -> Result:
        if stdin is not None:
            data = stdin.encode("utf-8", "surrogatepass") if isinstance(stdin, str) else stdin
            monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
        code = cli.main(list(args))
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return call


def assert_one_line_error(result: Result, code: int, *fragments: str) -> None:
    """Exit ``code``, exactly one ``error:`` line on stderr naming ``fragments``, no traceback."""
    assert result.code == code, result
    assert "Traceback" not in result.out + result.err
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith("error: "), result.err
    for fragment in fragments:
        assert fragment in lines[0]


class TestCheck:
    def test_shipped_rules_are_clean(self, run: Run) -> None:
        """`compliance check rules/` exits 0 and says how much it checked."""
        result = run("check", "rules/")
        assert result.code == 0, result
        assert result.err.startswith("ok: ")

    def test_silent_example_is_rejected(self, run: Run) -> None:
        """The silent policy is an error that names its rule and the transparency pack."""
        result = run("check", "rules/", SILENT)
        assert result.code == 1
        assert "error[forbid-silent]" in result.out
        assert "transparency" in result.out
        assert "^" in result.out

    def test_json_keeps_notes_and_help(self, run: Run) -> None:
        """Each JSON diagnostic carries its help and notes."""
        result = run("check", "--format", "json", "rules/", SILENT)
        assert result.code == 1
        (silent,) = [d for d in json.loads(result.out) if d["code"] == "forbid-silent"]
        assert silent["help"]
        assert any("transparency" in note for note in silent["notes"])
        assert all(isinstance(d["notes"], list) for d in json.loads(result.out))

    def test_sarif_has_version_rules_and_related_locations(self, run: Run) -> None:
        """SARIF names the tool version, describes each rule with a docs link, relates notes."""
        result = run("check", "--format", "sarif", "rules/", SILENT)
        assert result.code == 1
        (sarif_run,) = json.loads(result.out)["runs"]
        driver = sarif_run["tool"]["driver"]
        assert driver["version"] == cli._version()
        rules = {r["id"]: r for r in driver["rules"]}
        assert {res["ruleId"] for res in sarif_run["results"]} == set(rules)
        for code, rule in rules.items():
            assert rule["helpUri"] == f"docs/errors.md#{code}"
            assert rule["shortDescription"]["text"]
        for res in sarif_run["results"]:
            assert driver["rules"][res["ruleIndex"]]["id"] == res["ruleId"]
        (silent,) = [r for r in sarif_run["results"] if r["ruleId"] == "forbid-silent"]
        related = silent["relatedLocations"]
        assert related[0]["physicalLocation"]["artifactLocation"]["uri"].endswith(".yaml")
        assert related[0]["physicalLocation"]["region"]["startLine"] >= 1

    def test_github_annotations(self, run: Run) -> None:
        """GitHub format prints one `::error` annotation per error."""
        result = run("check", "--format", "github", "rules/", SILENT)
        assert result.out.startswith("::error file=")

    def test_missing_path_is_a_usage_error(self, run: Run) -> None:
        """A path that does not exist exits 2 with a message."""
        assert_one_line_error(run("check", "no/such/dir"), 2, "no such file")

    def test_no_path_is_a_usage_error(self, run: Run) -> None:
        """`check` without a path (and without --explain) exits 2."""
        result = run("check")
        assert result.code == 2
        assert "PATH" in result.err

    def test_special_file_as_pack_is_refused(self, run: Run) -> None:
        """A device given as a pack is refused before anything reads it."""
        assert_one_line_error(run("check", os.devnull), 2, "not a regular file")

    @pytest.mark.parametrize("option", ["--manifest", "--schema"])
    def test_single_pack_against_a_manifest(self, run: Run, option: str) -> None:
        """`check FILE --manifest M` checks one pack against M's context schema."""
        pack = next(p for p in sorted((REPO / "rules").glob("*.yaml")) if p.name != "packset.yaml")
        alone = run("check", str(pack))
        assert alone.code == 1
        assert "missing-manifest" in alone.out
        result = run("check", option, "rules/packset.yaml", str(pack))
        assert result.code == 0, result
        assert result.err.startswith("ok: 1 packs")

    def test_missing_manifest_file_is_a_usage_error(self, run: Run) -> None:
        """A --manifest that does not exist exits 2."""
        assert_one_line_error(run("check", "--manifest", "no.yaml", "rules/"), 2, "no.yaml")

    def test_explain_lists_every_pass_with_codes(self, run: Run) -> None:
        """`check --explain` lists the pass table in order, with the codes of each pass."""
        result = run("check", "--explain")
        assert result.code == 0
        positions = [result.out.index(f". {name}: ") for name, _ in PASSES]
        assert positions == sorted(positions)
        for code in ["cel-syntax", "type-mismatch", "forbid-silent", "cost-exceeded"]:
            assert code in result.out

    @pytest.mark.parametrize(
        "text", ["pack\x00: 1\n", "pack: p\ntier: !!int law\nrules: []\n"], ids=["nul", "tag"]
    )
    def test_hostile_pack_is_never_a_traceback(self, run: Run, tmp_path: Path, text: str) -> None:
        """A NUL byte or a bad tag is a diagnostic (1) or at worst an internal-error report (70)."""
        pack = tmp_path / "bad.yaml"
        pack.write_text(text, encoding="utf-8")
        result = run("check", "--manifest", "rules/packset.yaml", str(pack))
        assert result.code in (1, cli.EXIT_INTERNAL), result
        assert "Traceback" not in result.out + result.err
        if result.code == cli.EXIT_INTERNAL:
            assert "internal error" in result.err


class TestEval:
    @pytest.mark.parametrize("name", sorted(EXPECTED))
    def test_examples_give_stated_decisions(self, run: Run, name: str) -> None:
        """Every example context gives its stated effect and model through the CLI."""
        result = run("eval", "--rules", "rules/", "--format", "json", str(CONTEXTS / name))
        assert result.code == 0, result.err
        decision = json.loads(result.out)
        want = EXPECTED[name]
        assert decision["effect"] == want["effect"]
        if "model" in want:
            assert decision["model"] == want["model"]

    def test_json_has_the_core_fields(self, run: Run) -> None:
        """`--format json` prints the decision record."""
        path = CONTEXTS / "fable5-unknown-nationality-after-directive.json"
        decision = json.loads(run("eval", "-r", "rules/", "--format", "json", str(path)).out)
        assert decision["effect"] == "deny"
        assert "principal.nationalities" in decision["missing"]
        assert decision["pack_set_digest"].startswith("sha256:")
        assert decision["context_digest"].startswith("sha256:")

    def test_explain(self, run: Run) -> None:
        """`--explain` says per rule why it did not apply."""
        path = CONTEXTS / "fable5-french-national-before-directive.json"
        result = run("eval", "-r", "rules/", "--explain", str(path))
        assert "foreign-national-suspension: not-effective" in result.out

    def test_stdin(self, run: Run) -> None:
        """`-` reads the context from standard input."""
        result = run("eval", "-r", "rules/", "--format", "json", "-", stdin=IRAN.read_bytes())
        assert json.loads(result.out)["effect"] == "deny"

    def test_invalid_json(self, run: Run) -> None:
        """Invalid JSON exits 2 with line and column."""
        result = run("eval", "-r", "rules/", "-", stdin='{"request": {"model": }}')
        assert_one_line_error(result, 2, "<stdin>:1:", "invalid JSON")

    def test_wrong_types_name_the_attribute(self, run: Run) -> None:
        """A context with wrongly typed values names each attribute."""
        ctx = {"request": {"time": "yesterday", "model": 5}, "principal": {"nationalities": "US"}}
        result = run("eval", "-r", "rules/", "-", stdin=json.dumps(ctx))
        assert result.code == 2
        for attribute in ["`request.time`", "`request.model`", "`principal.nationalities`"]:
            assert attribute in result.err
        assert "Traceback" not in result.err

    @pytest.mark.parametrize("text", ["[1, 2]", '"text"', "3", "null", "true"])
    def test_not_an_object(self, run: Run, text: str) -> None:
        """A JSON document that is not an object is not a context."""
        assert_one_line_error(run("eval", "-r", "rules/", "-", stdin=text), 2, "JSON object")

    def test_missing_file(self, run: Run) -> None:
        """An unreadable context file exits 2."""
        assert_one_line_error(run("eval", "-r", "rules/", "nope.json"), 2, "nope.json")

    def test_missing_rules_is_a_usage_error(self, run: Run) -> None:
        """`eval --rules /nonexistent` exits 2, like `check`."""
        result = run("eval", "-r", "/nonexistent", str(IRAN))
        assert_one_line_error(result, 2, "/nonexistent", "no such file")

    def test_device_as_context_is_refused(self, run: Run) -> None:
        """A device is refused without reading it (it could be endless, like /dev/zero)."""
        assert_one_line_error(run("eval", "-r", "rules/", os.devnull), 2, "not a regular file")

    def test_directory_as_context_is_refused(self, run: Run, tmp_path: Path) -> None:
        """A directory is not a context file."""
        assert_one_line_error(run("eval", "-r", "rules/", str(tmp_path)), 2, "is a directory")

    def test_context_size_is_bounded(self, run: Run) -> None:
        """`--max-context-bytes` refuses a larger document, from a file or from stdin."""
        size = IRAN.stat().st_size
        limit = str(size - 1)
        assert_one_line_error(run("eval", "-r", "rules/", "--max-context-bytes", limit,
                                  str(IRAN)), 2, "limit", limit)
        assert_one_line_error(run("eval", "-r", "rules/", "--max-context-bytes", limit, "-",
                                  stdin=IRAN.read_bytes()), 2, "limit")
        assert run("eval", "-r", "rules/", "--max-context-bytes", str(size), str(IRAN)).code == 0

    def test_context_size_option_must_be_positive(self, run: Run) -> None:
        """A non-positive or non-numeric limit is a usage error."""
        for value in ["0", "-5", "lots"]:
            assert run("eval", "-r", "rules/", "--max-context-bytes", value, str(IRAN)).code == 2

    BAD_CONTEXTS: ClassVar[dict[str, tuple[str, str]]] = {
        "deep-nesting": ('{"a":' * 3000 + "1" + "}" * 3000, "nested"),
        "deep-array": ('{"a":' + "[" * 5000 + "]" * 5000 + "}", "nested"),
        "long-integer": ('{"request": {"amount": ' + "9" * 5000 + "}}", "digits"),
        "lone-surrogate": ('{"request": {"model": "\\ud800"}}', "surrogate"),
        "surrogate-key": ('{"\\udfff": 1}', "surrogate"),
        "nan": ('{"request": {"amount": NaN}}', "NaN"),
        "infinity": ('{"request": {"amount": -Infinity}}', "Infinity"),
        "overflowing-float": ('{"request": {"amount": 1e999}}', "out of range"),
        "duplicate-key": ('{"request": {}, "request": {}}', "duplicate key"),
    }

    @pytest.mark.parametrize("case", sorted(BAD_CONTEXTS))
    @pytest.mark.parametrize("with_log", [False, True], ids=["", "log"])
    def test_hostile_context(self, run: Run, tmp_path: Path, case: str, with_log: bool) -> None:
        """Each hostile document exits 2 with one line; nothing is logged."""
        text, fragment = self.BAD_CONTEXTS[case]
        log = tmp_path / "d.jsonl"
        args = ["--log", str(log)] if with_log else []
        result = run("eval", "-r", "rules/", *args, "-", stdin=text)
        assert_one_line_error(result, 2, "<stdin>", fragment)
        assert not log.exists()

    def test_depth_limit(self, run: Run) -> None:
        """A document exactly at the reader's depth limit is read; one level more is refused."""
        def nested(depth: int) -> str:
            return '{"extra": ' + "[" * (depth - 1) + "]" * (depth - 1) + "}"

        assert run("eval", "-r", "rules/", "-", stdin=nested(MAX_JSON_DEPTH)).code == 0
        result = run("eval", "-r", "rules/", "-", stdin=nested(MAX_JSON_DEPTH + 1))
        assert_one_line_error(result, 2, f"the limit is {MAX_JSON_DEPTH}")

    def test_integer_limit_admits_int64(self, run: Run) -> None:
        """Integers up to the digit limit are read (the schema then judges the range)."""
        ctx = IRAN.read_text(encoding="utf-8")
        assert run("eval", "-r", "rules/", "-", stdin=ctx).code == 0
        big = '{"extra": ' + "9" * MAX_INT_DIGITS + "}"
        assert run("eval", "-r", "rules/", "-", stdin=big).code == 0

    def test_non_utf8_context(self, run: Run) -> None:
        """Bytes that are not UTF-8 exit 2."""
        result = run("eval", "-r", "rules/", "-", stdin=b'{"a": "\xff\xfe"}')
        assert_one_line_error(result, 2, "UTF-8")

    def test_log_and_replay(self, run: Run, tmp_path: Path) -> None:
        """`--log` appends to a chain that `log verify` and `replay` accept."""
        log = tmp_path / "d.jsonl"
        for name in ["iran-origin.json", "zdr-org-on-fable5.json"]:
            assert run("eval", "-r", "rules/", "--log", str(log), str(CONTEXTS / name)).code == 0
        assert run("log", "verify", str(log)).out.startswith("ok: 6 records (2 decisions, ")
        result = run("replay", "-r", "rules/", str(log))
        assert result.code == 0, result.out
        assert "2 of 2 records" in result.out

    def test_log_is_a_directory(self, run: Run, tmp_path: Path) -> None:
        """`--log DIR` exits 2 before evaluating."""
        result = run("eval", "-r", "rules/", "--log", str(tmp_path), str(IRAN))
        assert_one_line_error(result, 2, "is a directory")
        assert result.out == ""

    def test_log_is_a_device(self, run: Run) -> None:
        """`--log` on a device (say /dev/full) is refused before evaluating."""
        result = run("eval", "-r", "rules/", "--log", os.devnull, str(IRAN))
        assert_one_line_error(result, 2, "not a regular file")

    @pytest.mark.parametrize("content", [b"\x89PNG\x00\xff\xfe garbage", b"not json\n",
                                         b'{"seq": 7}\n'], ids=["binary", "text", "gap"])
    def test_log_is_garbage(self, run: Run, tmp_path: Path, content: bytes) -> None:
        """`--log` on a file that is not an intact decision log refuses to append (exit 2)."""
        log = tmp_path / "d.jsonl"
        log.write_bytes(content)
        result = run("eval", "-r", "rules/", "--log", str(log), str(IRAN))
        assert_one_line_error(result, 2, "not an intact decision log")
        assert log.read_bytes() == content


def _chained(records: list[dict[str, object]]) -> bytes:
    """Records linked into a valid hash chain (as `audit` writes them), one JSON line each."""
    prev, lines = GENESIS, []
    for seq, fields in enumerate(records):
        line = canonical({**fields, "seq": seq, "prev": prev, "chain": "c0ffee",
                          "record_version": 1})
        prev = line_hash(line)
        lines.append(line + b"\n")
    return b"".join(lines)


class TestLogs:
    GARBAGE: ClassVar[dict[str, tuple[bytes, str]]] = {
        "binary": (b"\x89PNG\r\n\x1a\n\xff\xd8" + bytes(range(128, 256)) * 4, "UTF-8"),
        "long-integer": (b'{"seq": ' + b"9" * 5000 + b"}\n", "integer"),
        "deep-nesting": (b'{"seq": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n", "nested"),
        "not-json": (b"hello\n", "not a JSON record"),
        "not-an-object": (b"[1, 2]\n", "not a JSON object"),
        "nan": (b'{"seq": 0, "prev_hash": "' + GENESIS.encode() + b'", "x": NaN}\n', "record"),
    }

    @pytest.mark.parametrize("case", sorted(GARBAGE))
    @pytest.mark.parametrize("command", ["verify", "replay"])
    def test_garbage_log(self, run: Run, tmp_path: Path, case: str, command: str) -> None:
        """`log verify` and `replay` on garbage exit 1 with one line naming the file."""
        content, fragment = self.GARBAGE[case]
        log = tmp_path / "d.jsonl"
        log.write_bytes(content)
        args = ["log", "verify", str(log)] if command == "verify" else ["replay", "-r", "rules/",
                                                                        str(log)]
        assert_one_line_error(run(*args), 1, str(log), fragment)

    def test_chained_record_of_the_wrong_shape(self, run: Run, tmp_path: Path) -> None:
        """A chain that verifies but holds no decision record cannot be replayed: exit 1."""
        from compliance.engine import Engine

        digest = Engine.from_path(REPO / "rules").pack_set_digest
        log = tmp_path / "d.jsonl"
        log.write_bytes(_chained([
            {"kind": "decision", "pack_set_digest": digest, "context": {}, "decision": 5},
            {"kind": "checkpoint", "closing": True, "sig": None},
        ]))
        assert run("log", "verify", str(log)).code == 0
        assert_one_line_error(run("replay", "-r", "rules/", str(log)), 1,
                              "not a version 1 record")

    @pytest.mark.parametrize("command", ["verify", "replay"])
    def test_unusable_path(self, run: Run, tmp_path: Path, command: str) -> None:
        """A missing file, a directory or a device is a usage error (2)."""
        for path, fragment in [(tmp_path / "none", "cannot read"), (tmp_path, "directory"),
                               (Path(os.devnull), "not a regular file")]:
            args = (["log", "verify"] if command == "verify" else ["replay", "-r", "rules/"])
            assert_one_line_error(run(*args, str(path)), 2, fragment)


class TestInternalErrors:
    @pytest.fixture
    def broken(self, monkeypatch: pytest.MonkeyPatch) -> None:
        def fail(*_: object, **__: object) -> None:
            raise RuntimeError("boom\nsecond line")

        monkeypatch.setattr(cli, "check_paths", fail)

    @pytest.mark.usefixtures("broken")
    def test_report_without_traceback(self, run: Run) -> None:
        """An unexpected exception exits 70 with its type and first line and asks for a report."""
        result = run("check", "rules/")
        assert result.code == cli.EXIT_INTERNAL == 70
        assert result.err.splitlines()[0] == "error: internal error: RuntimeError: boom"
        assert "report" in result.err
        assert "second line" not in result.err
        assert "Traceback" not in result.err

    @pytest.mark.usefixtures("broken")
    @pytest.mark.parametrize("how", ["top", "sub", "env"])
    def test_debug_prints_the_traceback(self, run: Run, monkeypatch: pytest.MonkeyPatch,
                                        how: str) -> None:
        """--debug (before or after the command) or COMPLIANCE_DEBUG=1 adds the traceback."""
        args = {"top": ["--debug", "check", "rules/"], "sub": ["check", "--debug", "rules/"],
                "env": ["check", "rules/"]}[how]
        if how == "env":
            monkeypatch.setenv(cli.DEBUG_ENV, "1")
        result = run(*args)
        assert result.code == 70
        assert "Traceback" in result.err
        assert "RuntimeError: boom" in result.err

    def test_interrupt(self, run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
        """Ctrl-C exits 130 with one line."""
        def interrupt(*_: object, **__: object) -> None:
            raise KeyboardInterrupt

        monkeypatch.setattr(cli, "check_paths", interrupt)
        result = run("check", "rules/")
        assert result.code == 130
        assert result.err == "interrupted\n"


class TestSettings:
    def test_a_misspelt_setting_is_a_usage_error(self, run: Run,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
        """A bad COMPLIANCE_CODE_NAMES is the user's to fix: exit 2 naming it, not a bug."""
        monkeypatch.setenv("COMPLIANCE_CODE_NAMES", "rules")
        result = run("eval", "--rules", "rules/",
                     "examples/contexts/fable5-french-national-after-directive.json")
        assert_one_line_error(result, 2, "COMPLIANCE_CODE_NAMES", "`shape` or `rule`", "'rules'")
        assert "bug" not in result.err


class TestHelpAndDocs:
    def test_help_teaches(self, run: Run) -> None:
        """`--help` shows examples, the subcommands and every exit code."""
        result = run("--help")
        assert result.code == 0
        assert "examples:" in result.out
        for command in ["check", "eval", "log", "replay"]:
            assert command in result.out
        for code in [cli.EXIT_OK, cli.EXIT_ERRORS, cli.EXIT_USAGE, cli.EXIT_INTERNAL]:
            assert f"\n  {code} " in result.out

    def test_usage_error_returns_2(self, run: Run) -> None:
        """argparse errors are returned as 2, not raised as SystemExit."""
        assert run("frobnicate").code == 2
        assert run("eval", str(IRAN)).code == 2  # --rules is required
        assert run().code == 2

    def test_docs_cover_every_command_option_and_exit_code(self) -> None:
        """docs/cli.md documents each subcommand, each of its options and each exit code."""
        doc = (REPO / "docs" / "cli.md").read_text(encoding="utf-8")
        for name, parser in _commands(cli._parser(), "compliance"):
            assert f"`{name}" in doc, name
            for action in parser._actions:
                for option in action.option_strings:
                    assert f"`{option}" in doc, f"{name} {option}"
        for code in [cli.EXIT_OK, cli.EXIT_ERRORS, cli.EXIT_USAGE, cli.EXIT_INTERNAL,
                     cli.EXIT_INTERRUPTED]:
            assert f"| {code} |" in doc, code


def _commands(parser: argparse.ArgumentParser, name: str
              ) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                yield from _commands(sub, f"{name} {sub_name}")


def _spawn(*args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    kwargs.setdefault("timeout", 120)
    return subprocess.run(  # type: ignore[call-overload, no-any-return]
        [sys.executable, "-m", "compliance", *args], cwd=REPO, text=True, check=False, **kwargs
    )


CHECK_ARGS = ("check", "--format", "json", "rules/", SILENT)
EVAL_ARGS = ("eval", "-r", "rules/", "--explain", str(IRAN))


class _FailingStdout(io.StringIO):
    """A standard output whose writes fail the way a full disk or a closed pipe fails."""

    def __init__(self, error: OSError) -> None:
        super().__init__()
        self.error = error

    def write(self, _text: str) -> int:
        raise self.error


class TestOutputFailures:
    """In process: every command turns a failing standard output into exit 2 and one line."""

    @pytest.mark.parametrize("args", [CHECK_ARGS, EVAL_ARGS], ids=["check", "eval"])
    @pytest.mark.parametrize("stdout", ["closed", "full", "broken-pipe"])
    def test_unwritable_stdout(self, capsys: pytest.CaptureFixture[str],
                               monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...],
                               stdout: str) -> None:
        """Closed (None), ENOSPC or EPIPE: `error: cannot write to standard output: …`."""
        fake = {"closed": None,
                "full": _FailingStdout(OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))),
                "broken-pipe": _FailingStdout(BrokenPipeError(errno.EPIPE, "Broken pipe"))}
        monkeypatch.setattr(sys, "stdout", fake[stdout])
        code = cli.main(list(args))
        err = capsys.readouterr().err
        assert code == 2
        assert err.startswith("error: cannot write to standard output: ")
        assert len(err.splitlines()) == 1, err


class TestEndToEnd:
    """Real processes, for what the interpreter does at start and at exit."""

    def test_exit_code_through_main_module(self) -> None:
        """`python -m compliance` exits with main's code."""
        result = _spawn("check", "no/such", capture_output=True)
        assert result.returncode == 2
        assert result.stderr == "error: no/such: no such file or directory\n"

    def test_closed_stdin(self) -> None:
        """`eval -` with standard input closed exits 2 with one line."""
        result = _spawn("eval", "-r", "rules/", "-", stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                        preexec_fn=lambda: os.close(0))
        assert result.returncode == 2
        assert result.stderr == "error: <stdin>: standard input is closed\n"

    def test_closed_stdout(self) -> None:
        """With standard output closed: exit 2 and one line on stderr."""
        result = _spawn(*EVAL_ARGS, stderr=subprocess.PIPE, preexec_fn=lambda: os.close(1))
        assert result.returncode == 2
        want = "error: cannot write to standard output: standard output is closed\n"
        assert result.stderr == want

    @pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
    def test_full_disk(self) -> None:
        """Standard output on a full device: exit 2, one line, nothing from the interpreter."""
        with open("/dev/full", "w") as full:
            result = _spawn(*CHECK_ARGS, stdout=full, stderr=subprocess.PIPE)
        assert result.returncode == 2
        assert result.stderr == "error: cannot write to standard output: No space left on device\n"

    def test_broken_pipe(self) -> None:
        """A pipe whose reader has gone: exit 2, one line, no BrokenPipeError report at exit."""
        read_end, write_end = os.pipe()
        os.close(read_end)
        try:
            result = _spawn(*EVAL_ARGS, stdout=write_end, stderr=subprocess.PIPE)
        finally:
            os.close(write_end)
        assert result.returncode == 2
        assert result.stderr == "error: cannot write to standard output: Broken pipe\n"

    def test_fifo_context_does_not_block(self, tmp_path: Path) -> None:
        """A FIFO with no writer is refused instead of blocking in `open` (timeout guards)."""
        fifo = tmp_path / "ctx"
        os.mkfifo(fifo)
        result = _spawn("eval", "-r", "rules/", str(fifo), capture_output=True, timeout=60)
        assert result.returncode == 2
        assert "not a regular file" in result.stderr
