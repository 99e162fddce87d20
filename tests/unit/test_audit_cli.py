"""`compliance log verify|show|keygen` and `compliance replay` in-process: exit codes, output."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import pytest

from compliance import Engine
from compliance.audit import DecisionLog
from compliance.audit.signing import Signer
from compliance.cli import main

REPO = Path(__file__).resolve().parents[2]
CONTEXTS = sorted((REPO / "examples" / "contexts").glob("*.json"))
KEY = b"cli-redaction-key-0123456789abcdef"


def _contexts() -> list[dict[str, object]]:
    out = []
    for path in CONTEXTS:
        ctx = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(ctx, dict) and "request" in ctx:
            out.append(ctx)
    return out


@pytest.fixture(scope="module")
def shipped(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """A signed log of every example context against the shipped packs: (log, key, public)."""
    where = tmp_path_factory.mktemp("shipped")
    private, public = where / "key.pem", where / "key.pub"
    assert main(["log", "keygen", str(private), str(public)]) == 0
    engine = Engine.from_path(REPO / "rules")
    with DecisionLog(where / "d.jsonl", engine=engine, redaction_key=KEY,
                     signer=Signer.from_file(private), checkpoint_seconds=None) as log:
        for ctx in _contexts():
            log.record(engine.evaluate(ctx), ctx)
    (where / "redaction.key").write_bytes(KEY)
    return where / "d.jsonl", private, public


def _copy(log: Path, tmp_path: Path) -> Path:
    target = tmp_path / "copy.jsonl"
    shutil.copy(log, target)
    shutil.copytree(log.parent / ".compliance", tmp_path / ".compliance", dirs_exist_ok=True)
    return target


class TestVerify:
    def test_intact_with_key(self, shipped: tuple[Path, Path, Path],
                             capsys: pytest.CaptureFixture[str]) -> None:
        """Exit 0, the count, and what the key proves."""
        log, _, public = shipped
        assert main(["log", "verify", str(log), "--public-key", str(public)]) == 0
        out = capsys.readouterr().out
        assert out.startswith("ok: ")
        assert "signed through record" in out
        assert "not proven: without --anchor" in out

    def test_without_key_says_what_it_cannot_prove(self, shipped: tuple[Path, Path, Path],
                                                   capsys: pytest.CaptureFixture[str]) -> None:
        """Without a key the output names forged appends and rewrites as not proven."""
        assert main(["log", "verify", str(shipped[0])]) == 0
        out = capsys.readouterr().out
        assert "not proven: without --public-key" in out
        assert "rewritten" in out

    def test_break_is_named_with_file_and_line(self, shipped: tuple[Path, Path, Path],
                                               tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
        """A deleted record: exit 1, `file:line: deleted: ...` on stderr."""
        log = _copy(shipped[0], tmp_path)
        lines = log.read_bytes().splitlines(keepends=True)
        log.write_bytes(b"".join([lines[0], *lines[2:]]))
        assert main(["log", "verify", str(log), "--format", "text"]) == 1
        assert f"{log}:2: deleted:" in capsys.readouterr().err

    def test_json_format(self, shipped: tuple[Path, Path, Path],
                         capsys: pytest.CaptureFixture[str]) -> None:
        """`--format json` prints the report as one JSON object."""
        assert main(["log", "verify", str(shipped[0]), "--format", "json"]) == 0
        report = json.loads(capsys.readouterr().out)
        assert report["ok"] is True
        assert report["decisions"] == len(_contexts())

    def test_fuzzed_logs_never_traceback(self, shipped: tuple[Path, Path, Path],
                                         tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
        """Bit flips, invalid UTF-8, NaN, huge numbers, deep nesting: exit 1, never an exception."""
        log, _, public = shipped
        data = log.read_bytes()
        rng = random.Random(11)
        target = tmp_path / "fuzz.jsonl"
        junk = [b"\xc3\x28", b'{"seq":NaN}', b'{"seq":1' + b"0" * 10_000 + b"}",
                b'{"a":' * 5000 + b"1" + b"}" * 5000, b"-1e99999"]
        for i in range(120):
            mutated = bytearray(data)
            if i < len(junk):
                cut = data.index(b"\n", len(data) // 2) + 1
                mutated[cut:cut] = junk[i] + b"\n"
            else:
                spot = rng.randrange(len(mutated))
                mutated[spot] ^= 1 << rng.randrange(8)
            target.write_bytes(bytes(mutated))
            assert main(["log", "verify", str(target), "--public-key", str(public)]) == 1
        capsys.readouterr()

    def test_usage_problems_exit_2(self, shipped: tuple[Path, Path, Path], tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
        """A missing log or an unreadable key is exit 2 with a one-line error."""
        assert main(["log", "verify", str(tmp_path / "nope.jsonl")]) == 2
        bad = tmp_path / "bad.pub"
        bad.write_text("not a key", encoding="utf-8")
        assert main(["log", "verify", str(shipped[0]), "--public-key", str(bad)]) == 2
        err = capsys.readouterr().err
        assert "cannot read" in err
        assert "not a readable PEM public key" in err

    def test_bad_anchor_is_exit_2(self, shipped: tuple[Path, Path, Path], tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
        """An anchor file that holds no checkpoints is an input problem, not a traceback."""
        for text in ['{"seq":"x"}\n', "not json\n", '{"kind":"decision","seq":1}\n']:
            anchor = tmp_path / "anchor.jsonl"
            anchor.write_text(text, encoding="utf-8")
            assert main(["log", "verify", str(shipped[0]), "--anchor", str(anchor)]) == 2
            assert "anchor" in capsys.readouterr().err

    def test_keygen_refuses_to_overwrite(self, shipped: tuple[Path, Path, Path],
                                         capsys: pytest.CaptureFixture[str]) -> None:
        """An existing private key is never overwritten."""
        _, private, public = shipped
        assert main(["log", "keygen", str(private), str(public)]) == 2
        assert "refusing to overwrite" in capsys.readouterr().err


class TestReplay:
    def test_zero_differences_from_the_archive(self, shipped: tuple[Path, Path, Path],
                                               capsys: pytest.CaptureFixture[str]) -> None:
        """The shipped packs, archived next to the log, replay with no difference."""
        assert main(["replay", str(shipped[0])]) == 0
        out = capsys.readouterr().out
        assert "; 0 differ" in out

    def test_pack_edit_names_changed_records(self, shipped: tuple[Path, Path, Path],
                                             tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
        """Dropping the sanctions pack: the records it denied are named, exit 1."""
        rules = tmp_path / "rules"
        shutil.copytree(REPO / "rules", rules)
        (rules / "sanctions.yaml").unlink()
        assert main(["replay", str(shipped[0]), "--rules", str(rules)]) == 1
        out = capsys.readouterr().out
        assert "different: effect" in out
        assert "would change" in out

    def test_broken_log_exit_1(self, shipped: tuple[Path, Path, Path], tmp_path: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
        """Replay refuses a log whose chain is broken."""
        log = _copy(shipped[0], tmp_path)
        lines = log.read_bytes().splitlines(keepends=True)
        log.write_bytes(b"".join([lines[0], lines[2], lines[1], *lines[3:]]))
        assert main(["replay", str(log)]) == 1
        assert "reordered" in capsys.readouterr().err


class TestShow:
    def test_filters(self, shipped: tuple[Path, Path, Path],
                     capsys: pytest.CaptureFixture[str]) -> None:
        """--effect and --rule narrow the records; JSON lines are v1 records."""
        log = str(shipped[0])
        assert main(["log", "show", log, "--effect", "deny", "--format", "json"]) == 0
        denied = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
        assert denied
        assert {r["decision"]["effect"] for r in denied} == {"deny"}
        rule = denied[0]["decision"]["matched"][0]["rule"]
        assert main(["log", "show", log, "--rule", rule]) == 0
        text = capsys.readouterr().out
        assert rule in text
        assert main(["log", "show", log, "--since", "2999-01-01T00:00:00Z"]) == 0
        assert capsys.readouterr().out == ""

    def test_org_needs_the_redaction_key(self, shipped: tuple[Path, Path, Path],
                                         capsys: pytest.CaptureFixture[str]) -> None:
        """Org ids are redacted: --org finds them only with --redaction-key."""
        orgs = {c["org"]["id"] for c in _contexts()  # type: ignore[index]
                if isinstance(c.get("org"), dict) and "id" in c["org"]}  # type: ignore[operator]
        org = sorted(orgs)[0]
        log = str(shipped[0])
        assert main(["log", "show", log, "--org", org, "--format", "json"]) == 0
        assert capsys.readouterr().out == ""
        key = str(shipped[0].parent / "redaction.key")
        assert main(["log", "show", log, "--org", org, "--redaction-key", key,
                     "--format", "json"]) == 0
        assert capsys.readouterr().out.strip()

    def test_bad_time_is_exit_2(self, shipped: tuple[Path, Path, Path],
                                capsys: pytest.CaptureFixture[str]) -> None:
        """An unparsable --since is a usage error, not a traceback."""
        assert main(["log", "show", str(shipped[0]), "--since", "yesterday"]) == 2
        assert "--since" in capsys.readouterr().err


def test_benchmark_still_runs() -> None:
    """`benchmarks/audit.py` runs end to end on a few records (its numbers are not asserted)."""
    import subprocess
    import sys

    result = subprocess.run([sys.executable, str(REPO / "benchmarks" / "audit.py"),
                             "--records", "200"], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "records/s" in result.stdout
