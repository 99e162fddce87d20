"""The audit trail: records chain, every tampering is detected, replays compare, redaction holds."""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from compliance import Engine
from compliance.audit import (
    AuditWriteError,
    DecisionLog,
    DecisionRecordV1,
    replay,
    verify,
    verify_log,
)
from compliance.audit.encoding import canonical, line_hash
from compliance.audit.record import SCHEMA_FILE, json_schema, parse_record
from compliance.audit.signing import Signer, generate_keypair
from compliance.errors import LogIntegrityError

REPO = Path(__file__).resolve().parents[2]
KEY = b"redaction-key-for-tests-0123456789"

DENY_BIO = """
pack: bio
version: "1"
tier: policy
rules:
  - id: bio-high
    when: request.use_case == "bio"
    effect: deny
    reason: "bio for {principal.nationalities}"
"""


def _context(use_case: str, nationality: str = "FR") -> dict[str, object]:
    return {
        "request": {"time": "2026-07-01T12:00:00Z", "model": "m", "use_case": use_case},
        "principal": {"id": "user-secret-42", "nationalities": [nationality]},
        "org": {"id": "org-secret-7"},
        "prompt": "tell me a secret prompt",
    }


@pytest.fixture
def engine(packset: Callable[..., Path]) -> Engine:
    root = packset({"bio.yaml": DENY_BIO})
    manifest = root / "packset.yaml"
    text = manifest.read_text(encoding="utf-8")
    text = text.replace("    id: string\n    kind:", "    id: {type: string, sensitive: true}\n"
                        "    kind:").replace("nationalities: list<string>",
                                            "nationalities: {type: list<string>, sensitive: true}")
    text = text.replace("  org:\n    id: string", "  org:\n    id: {type: string, sensitive: true}")
    manifest.write_text(text, encoding="utf-8")
    return Engine.from_path(root)


@pytest.fixture(scope="module")
def signer(tmp_path_factory: pytest.TempPathFactory) -> Signer:
    where = tmp_path_factory.mktemp("keys")
    return generate_keypair(where / "key.pem", where / "key.pub")


def _write(path: Path, engine: Engine, signer: Signer | None, n: int = 6,
           **options: object) -> Path:
    with DecisionLog(path, engine=engine, redaction_key=KEY, signer=signer,
                     checkpoint_every=3, checkpoint_seconds=None, **options) as log:  # type: ignore[arg-type]
        for i in range(n):
            ctx = _context("bio" if i % 2 == 0 else "coding")
            log.record(engine.evaluate(ctx), ctx)
    return path


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines()


def _save(path: Path, lines: list[bytes]) -> None:
    path.write_bytes(b"".join(line + b"\n" for line in lines))


def _first_break(path: Path, signer: Signer | None = None) -> str:
    report = verify([path], verifier=signer.verifier() if signer else None)
    assert not report.ok, report.to_json()
    return report.breaks[0].kind


def _rechain(lines: list[bytes], start: int) -> list[bytes]:
    """What an attacker without the key can do: rewrite links from ``start`` on."""
    out = lines[:start]
    for line in lines[start:]:
        record = json.loads(line)
        record["prev"] = line_hash(out[-1])
        out.append(canonical(record))
    return out


class TestRecords:
    def test_intact_log_verifies_with_key(self, engine: Engine, signer: Signer,
                                          tmp_path: Path) -> None:
        """A log written and closed verifies, signatures included, and says what it proved."""
        path = _write(tmp_path / "d.jsonl", engine, signer)
        report = verify([path], verifier=signer.verifier())
        assert report.ok, report.to_json()
        assert report.decisions == 6
        assert report.signed_through == report.records - 1
        assert verify_log(path) == report.records

    def test_every_line_is_a_valid_v1_record(self, engine: Engine, tmp_path: Path) -> None:
        """The writer's plain dicts validate against the models; decisions round-trip."""
        path = _write(tmp_path / "d.jsonl", engine, None)
        records = [parse_record(json.loads(line)) for line in _lines(path)]
        decisions = [r for r in records if isinstance(r, DecisionRecordV1)]
        assert [r.decision.effect for r in decisions if r.decision] == ["deny", "allow"] * 3
        assert {r.pack_set_digest for r in decisions} == {engine.pack_set_digest}
        assert all(r.engine_version for r in decisions)

    def test_json_schema_file_matches_the_models(self) -> None:
        """The committed JSON Schema is exactly the one the models produce."""
        assert json.loads(SCHEMA_FILE.read_text(encoding="utf-8")) == json_schema()

    def test_docs_name_every_break_kind(self) -> None:
        """docs/audit.md documents every kind `log verify` can report."""
        from compliance.audit.verify import BREAK_KINDS

        text = (REPO / "docs" / "audit.md").read_text(encoding="utf-8")
        assert [k for k in BREAK_KINDS if f"`{k}`" not in text] == []

    def test_lines_are_canonical(self, engine: Engine, tmp_path: Path) -> None:
        """Each line is the canonical encoding of itself (sorted keys, no spaces, ASCII)."""
        path = _write(tmp_path / "d.jsonl", engine, None)
        for line in _lines(path):
            assert canonical(json.loads(line)) == line


class TestRedaction:
    def test_no_sensitive_value_in_the_file(self, engine: Engine, tmp_path: Path) -> None:
        """Ids, nationalities and prompt text never reach the file, not even in reasons."""
        text = _write(tmp_path / "d.jsonl", engine, None).read_text(encoding="utf-8")
        for secret in ["user-secret-42", "org-secret-7", '"FR"', "secret prompt", "for FR"]:
            assert secret not in text
        record = json.loads(text.splitlines()[1])
        assert record["redacted"] == ["principal.id", "principal.nationalities", "org.id"]
        assert record["undeclared"] == ["prompt"]
        assert record["context"]["principal"]["id"].startswith("hmac-sha256:")

    def test_digests_are_keyed(self, engine: Engine, tmp_path: Path) -> None:
        """Equal values link under one key; another key differs; none is a plain sha256."""
        one = json.loads(_lines(_write(tmp_path / "a.jsonl", engine, None))[1])
        with DecisionLog(tmp_path / "b.jsonl", engine=engine, redaction_key=b"another-key-" * 3,
                         checkpoint_seconds=None) as log:
            ctx = _context("bio")
            log.record(engine.evaluate(ctx), ctx)
        two = json.loads(_lines(tmp_path / "b.jsonl")[1])
        plain = engine.evaluate(_context("bio")).context_digest
        assert one["context_digest"] != two["context_digest"]
        assert plain not in {one["context_digest"], two["context_digest"]}
        assert one["context"]["org"]["id"] != two["context"]["org"]["id"]
        again = json.loads(_lines(tmp_path / "a.jsonl")[3])
        assert again["context"]["org"]["id"] == one["context"]["org"]["id"]

    def test_manifest_marks_sensitive_paths(self, tmp_path: Path) -> None:
        """`sensitive: true` lands in ContextSchema.sensitive_paths; a non-bool is an error."""
        from compliance.loader import load_pack_set

        (tmp_path / "packset.yaml").write_text(
            "packset: t\ncontext:\n  principal:\n    id: {type: string, sensitive: true}\n"
            "    name: {type: string, sensitive: false}\n  request:\n    id: string\n",
            encoding="utf-8")
        pack_set, diags = load_pack_set([tmp_path])
        assert pack_set is not None
        assert not diags.errors
        assert pack_set.schema.sensitive_paths == {"principal.id"}
        (tmp_path / "packset.yaml").write_text(
            "packset: t\ncontext:\n  principal:\n    id: {type: string, sensitive: \"true\"}\n",
            encoding="utf-8")
        pack_set, diags = load_pack_set([tmp_path])
        assert [d.code for d in diags.errors] == ["wrong-type"]

    @pytest.mark.parametrize("key", [b"k" * 16, b"k" * 64, b"long-key-" * 20])
    def test_keyed_hash_is_standard_hmac(self, key: bytes) -> None:
        """The keyed hash is HMAC-SHA256 of the canonical value, so others can recompute it."""
        import hashlib
        import hmac

        from compliance.audit.redaction import Redactor

        expected = hmac.new(key, canonical(["FR", "US"]), hashlib.sha256).hexdigest()
        assert Redactor(None, key).keyed(["FR", "US"]) == "hmac-sha256:" + expected

    def test_without_a_key_sensitive_values_are_dropped(self, engine: Engine,
                                                         tmp_path: Path) -> None:
        """No key: sensitive attributes are left out and no digest is written."""
        with DecisionLog(tmp_path / "d.jsonl", engine=engine, checkpoint_seconds=None) as log:
            ctx = _context("bio")
            log.record(engine.evaluate(ctx), ctx)
        record = json.loads(_lines(tmp_path / "d.jsonl")[1])
        assert record["redaction"] == "drop"
        assert record["context_digest"] is None
        assert "id" not in record["context"]["principal"]


class TestTampering:
    @pytest.mark.parametrize(("edit", "kind"), [
        (lambda ls: [ls[0], ls[1].replace(b'"deny"', b'"allow"'), *ls[2:]], "edited"),
        (lambda ls: [ls[0], *ls[2:]], "deleted"),
        (lambda ls: [ls[0], ls[2], ls[1], *ls[3:]], "reordered"),
        (lambda ls: [*ls[:3], ls[2], *ls[3:]], "reordered"),
        (lambda ls: [ls[0], ls[1].replace(b'{"chain"', b'{"effect":"allow","chain"', 1),
                     *ls[2:]], "edited"),
        (lambda ls: [ls[0], ls[1].replace(b'"effect":"deny"', b'"effect":"allow",'
                                          b'"effect":"deny"', 1), *ls[2:]], "edited"),
        (lambda ls: ls[:-1], "truncated"),
        (lambda ls: ls[:-20] or ls[:1], "truncated"),
        (lambda ls: [], "truncated"),
    ])
    def test_without_key(self, engine: Engine, tmp_path: Path,
                         edit: Callable[[list[bytes]], list[bytes]], kind: str) -> None:
        """Edits, gaps, swaps, duplicate keys and truncation are caught by the links alone."""
        path = _write(tmp_path / "d.jsonl", engine, None, n=8)
        _save(path, edit(_lines(path)))
        assert _first_break(path) == kind

    def test_forged_append_needs_the_key(self, engine: Engine, signer: Signer,
                                         tmp_path: Path) -> None:
        """A correctly chained forged record (and forged closing checkpoint) after the end."""
        path = _write(tmp_path / "d.jsonl", engine, signer)
        lines = _lines(path)
        forged = json.loads(lines[1])
        forged.update(seq=len(lines), prev=line_hash(lines[-1]))
        closing = json.loads(lines[-1])
        lines += [canonical(forged)]
        closing.update(seq=len(lines), prev=line_hash(lines[-1]), sig=None)
        lines += [canonical(closing)]
        _save(path, lines)
        assert verify([path]).ok  # the links alone cannot tell
        assert _first_break(path, signer) == "unsigned-tail"

    def test_chain_rewrite_needs_the_key(self, engine: Engine, signer: Signer,
                                         tmp_path: Path) -> None:
        """Rewriting record 2 and recomputing every later link breaks the next signature."""
        path = _write(tmp_path / "d.jsonl", engine, signer)
        lines = _lines(path)
        lines[2] = lines[2].replace(b'"effect":"allow"', b'"effect":"deny"')
        _save(path, _rechain(lines, 2))
        assert verify([path]).ok
        assert _first_break(path, signer) == "rewritten"

    def test_anchor_detects_cutting_back(self, engine: Engine, signer: Signer,
                                         tmp_path: Path) -> None:
        """Cut back to an earlier signed checkpoint: only the anchor kept elsewhere can tell."""
        anchor = tmp_path / "anchor.jsonl"
        path = _write(tmp_path / "d.jsonl", engine, signer, anchor=anchor)
        lines = _lines(path)
        first_closing = next(i for i, x in enumerate(lines) if b'"kind":"checkpoint"' in x)
        cut = [*lines[:first_closing], lines[first_closing].replace(b'"closing":false',
                                                                    b'"closing":true')]
        _save(path, cut)
        assert _first_break(path, signer) == "rewritten"  # the closing flag is signed
        _save(path, lines[: first_closing + 1])
        report = verify([path], verifier=signer.verifier(), anchor=anchor)
        assert not report.ok
        assert report.breaks[0].kind == "truncated"

    def test_signature_spelling_is_fixed(self, engine: Engine, signer: Signer,
                                         tmp_path: Path) -> None:
        """Upper-casing the closing checkpoint's hex signature is an edit, though it decodes."""
        path = _write(tmp_path / "d.jsonl", engine, signer)
        lines = _lines(path)
        record = json.loads(lines[-1])
        record["sig"] = record["sig"].upper()
        _save(path, [*lines[:-1], canonical(record)])
        assert _first_break(path, signer) == "rewritten"

    def test_random_bit_flips_never_crash(self, engine: Engine, signer: Signer,
                                          tmp_path: Path) -> None:
        """200 single bit flips: verify reports a break (or a still-valid log), never raises."""
        path = _write(tmp_path / "d.jsonl", engine, signer)
        data = path.read_bytes()
        rng = random.Random(7)
        for _ in range(400):
            flipped = bytearray(data)
            i = rng.randrange(len(flipped))
            flipped[i] ^= 1 << rng.randrange(8)
            path.write_bytes(bytes(flipped))
            report = verify([path], verifier=signer.verifier())
            assert not report.ok, (i, data[max(0, i - 60):i + 20])

    @pytest.mark.parametrize("junk", [
        b"\xff\xfe not utf-8", b'{"seq":NaN}', b'{"seq":' + b"9" * 5000 + b"}",
        b"[" * 100_000 + b"]" * 100_000, b'{"a":1e999}', b"null", b"",
    ])
    def test_hostile_lines_are_reported(self, engine: Engine, tmp_path: Path,
                                        junk: bytes) -> None:
        """Invalid UTF-8, NaN, huge numbers and deep nesting are breaks, not tracebacks."""
        path = _write(tmp_path / "d.jsonl", engine, None)
        lines = _lines(path)
        _save(path, [*lines[:2], junk, *lines[2:]])
        assert _first_break(path) in {"malformed", "edited"}


class TestWriter:
    def test_record_never_raises_on_odd_contexts(self, engine: Engine, tmp_path: Path) -> None:
        """NaN, lone surrogates, bytes and huge ints are logged (as text) and flagged lossy."""
        ctx = {"request": {"time": "2026-07-01T12:00:00Z", "model": "m\ud800",
                           "use_case": "bio", "risk_scores": {"bio": float("nan")}},
               "principal": {"id": b"raw"}, "org": {"zdr": 10**5000}}
        with DecisionLog(tmp_path / "d.jsonl", engine=engine, checkpoint_seconds=None) as log:
            assert log.record(engine.evaluate(ctx), ctx) == 1
        record = json.loads(_lines(tmp_path / "d.jsonl")[1])
        assert record["context"]["request"]["model"] == "m\\ud800"  # the escape, as text
        assert {"request.model", "request.risk_scores.bio", "principal.id"} <= set(
            record["lossy"])
        assert verify([tmp_path / "d.jsonl"]).ok

    def test_nan_inside_a_decision_is_logged(self, engine: Engine,
                                                    tmp_path: Path) -> None:
        """A NaN in custom obligations cannot be JSON: the record is kept (as null) and verifies."""
        ctx = _context("bio")
        decision = engine.evaluate(ctx)
        odd = decision.model_copy(update={"obligations": decision.obligations.model_copy(
            update={"custom": {"score": float("nan")}})})
        with DecisionLog(tmp_path / "d.jsonl", engine=engine, checkpoint_seconds=None) as log:
            assert log.record(odd, ctx) == 1
        record = json.loads(_lines(tmp_path / "d.jsonl")[1])
        assert record["decision"]["obligations"]["custom"] == {"score": None}
        assert verify([tmp_path / "d.jsonl"]).ok

    def test_reopening_records_the_restart(self, engine: Engine, tmp_path: Path) -> None:
        """A second writer continues the chain and says the previous one closed."""
        path = _write(tmp_path / "d.jsonl", engine, None)
        _write(path, engine, None)
        starts = [json.loads(x) for x in _lines(path) if b'"kind":"start"' in x]
        assert [s["previous"] for s in starts] == ["new", "closed"]
        assert verify([path]).ok

    def test_torn_tail_is_moved_aside(self, engine: Engine, tmp_path: Path) -> None:
        """A half-written last record is kept in a side file; the chain resumes before it."""
        path = _write(tmp_path / "d.jsonl", engine, None)
        torn = _lines(path)[1][:40]
        with path.open("ab") as handle:
            handle.write(torn)
        assert _first_break(path) == "torn"
        _write(path, engine, None, n=1)
        assert verify([path]).ok
        start = [json.loads(x) for x in _lines(path) if b'"kind":"start"' in x][-1]
        assert start["previous"] == "torn"
        assert (tmp_path / start["torn_file"]).read_bytes() == torn

    def test_eight_threads_one_chain(self, engine: Engine, tmp_path: Path) -> None:
        """8 threads x 200 records into one log: one intact chain with every record."""
        path = tmp_path / "d.jsonl"
        with DecisionLog(path, engine=engine, checkpoint_every=50, checkpoint_seconds=None) as log:
            def work() -> None:
                for i in range(200):
                    ctx = _context("bio" if i % 3 else "coding")
                    log.record(engine.evaluate(ctx), ctx)
            threads = [threading.Thread(target=work) for _ in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        report = verify([path])
        assert report.ok, report.to_json()
        assert report.decisions == 1600

    def test_a_second_writer_is_refused_until_the_first_closes(self, engine: Engine,
                                                                tmp_path: Path) -> None:
        """By default a writer holds its log alone: a second one is refused, clearly."""
        path = tmp_path / "d.jsonl"
        first = DecisionLog(path, engine=engine, checkpoint_seconds=None)
        with pytest.raises(AuditWriteError, match="another writer holds this log"):
            DecisionLog(path, engine=engine, checkpoint_seconds=None)
        with pytest.raises(AuditWriteError, match="without shared=True holds this log"):
            DecisionLog(path, engine=engine, checkpoint_seconds=None, shared=True)
        ctx = _context("bio")
        first.record(engine.evaluate(ctx), ctx)
        first.close()
        with DecisionLog(path, engine=engine, checkpoint_seconds=None) as second:
            second.record(engine.evaluate(ctx), ctx)
        report = verify([path])
        assert report.ok, report.to_json()
        assert report.decisions == 2

    def test_two_writers_share_one_chain(self, engine: Engine, tmp_path: Path) -> None:
        """Two open DecisionLogs on one file interleave without breaking the chain."""
        path = tmp_path / "d.jsonl"
        a = DecisionLog(path, engine=engine, checkpoint_seconds=None, shared=True)
        b = DecisionLog(path, engine=engine, checkpoint_seconds=None, shared=True)
        for i in range(10):
            ctx = _context("bio")
            (a if i % 2 else b).record(engine.evaluate(ctx), ctx)
        a.close()
        b.close()
        assert verify([path]).decisions == 10

    def test_shared_writers_refuse_one_that_would_write_alone(self, engine: Engine,
                                                              tmp_path: Path) -> None:
        """A writer without ``shared`` is refused while shared writers hold the log."""
        path = tmp_path / "d.jsonl"
        with (DecisionLog(path, engine=engine, checkpoint_seconds=None, shared=True),
              pytest.raises(AuditWriteError, match="another writer holds this log")):
            DecisionLog(path, engine=engine, checkpoint_seconds=None)
        assert verify([path]).ok

    def test_rotation_continues_the_chain(self, engine: Engine, signer: Signer,
                                          tmp_path: Path) -> None:
        """Rotated files verify as one chain in name order; the active file continues it."""
        path = _write(tmp_path / "d.jsonl", engine, signer, n=20, rotate_bytes=8_000)
        files = [*sorted(tmp_path.glob("d.*.jsonl")), path]
        assert len(files) > 2
        report = verify(files, verifier=signer.verifier())
        assert report.ok, report.to_json()
        assert report.decisions == 20
        alone = verify([path])
        assert alone.ok
        assert any("continues a chain" in line for line in alone.unproven)

    def test_timed_checkpoints_reach_the_anchor_callback(self, engine: Engine, signer: Signer,
                                                         tmp_path: Path) -> None:
        """With checkpoint_seconds, an idle writer still checkpoints; the callback gets each."""
        import time

        seen: list[dict[str, object]] = []
        path = tmp_path / "d.jsonl"
        log = DecisionLog(path, engine=engine, signer=signer, checkpoint_seconds=0.02,
                          anchor=seen.append, durability="fsync")
        ctx = _context("bio")
        log.record(engine.evaluate(ctx), ctx)
        deadline = time.monotonic() + 10
        while not seen and time.monotonic() < deadline:
            time.sleep(0.01)
        log.close()
        assert seen
        assert seen[0]["closing"] is False
        assert seen[-1]["closing"] is True
        lines = _lines(path)
        assert canonical(seen[-1]) == lines[-1]
        assert verify([path], verifier=signer.verifier()).ok

    def test_write_failure_fails_closed_or_alarms(self, engine: Engine, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
        """A failed write raises AuditWriteError by default, or goes to the alarm; no torn line."""
        import errno
        import os

        from compliance.audit import AuditWriteError

        ctx = _context("bio")
        path = tmp_path / "d.jsonl"
        log = DecisionLog(path, engine=engine, checkpoint_seconds=None)
        log.record(engine.evaluate(ctx), ctx)
        real_write = os.write

        def disk_full(fd: int, data: bytes) -> int:
            real_write(fd, bytes(data)[:10])  # a partial write, then the error
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(os, "write", disk_full)
        with pytest.raises(AuditWriteError, match="No space"):
            log.record(engine.evaluate(ctx), ctx)
        seen: list[BaseException] = []
        log.on_error, log.alarm = "alarm", seen.append
        assert log.record(engine.evaluate(ctx), ctx) is None
        assert len(seen) == 1
        assert log.failures == 2
        monkeypatch.setattr(os, "write", real_write)
        log.record(engine.evaluate(ctx), ctx)
        log.close()
        report = verify([path])
        assert report.ok, report.to_json()
        assert report.decisions == 2


class TestReplay:
    def test_zero_differences_on_the_shipped_packs(self, tmp_path: Path) -> None:
        """Every example context, logged with the shipped packs, replays to the same decision."""
        engine = Engine.from_path(REPO / "rules")
        path = tmp_path / "d.jsonl"
        with DecisionLog(path, engine=engine, redaction_key=KEY, checkpoint_seconds=None) as log:
            for name in sorted((REPO / "examples" / "contexts").glob("*.json")):
                ctx = json.loads(name.read_text(encoding="utf-8"))
                if "request" in ctx:
                    log.record(engine.evaluate(ctx), ctx)
        results = replay(path)
        assert results
        assert not [r for r in results if r.status == "different"]
        assert {r.status for r in results} <= {"same", "redacted"}
        assert sum(r.status == "same" for r in results) >= len(results) // 2
        with DecisionLog(tmp_path / "clear.jsonl", engine=engine, keep_sensitive=True,
                         checkpoint_seconds=None) as log:
            for name in sorted((REPO / "examples" / "contexts").glob("*.json")):
                ctx = json.loads(name.read_text(encoding="utf-8"))
                if "request" in ctx:
                    log.record(engine.evaluate(ctx), ctx)
        assert {r.status for r in replay(tmp_path / "clear.jsonl")} == {"same"}

    def test_an_error_replays_the_same_from_the_archive(self, tmp_path: Path) -> None:
        """An error names its pack file; the archive's copy has another name: still same."""
        engine = Engine.from_path(REPO / "rules")
        ctx = json.loads((REPO / "examples" / "contexts"
                          / "fable5-french-national-after-directive.json").read_text("utf-8"))
        ctx["principal"]["nationalities"] = 7  # a bad value: an error with a location
        decision = engine.evaluate(ctx)
        assert decision.errors
        assert all(e.location and "rules" in e.location for e in decision.errors)
        path = tmp_path / "errors.jsonl"
        with DecisionLog(path, engine=engine, keep_sensitive=True,
                         checkpoint_seconds=None) as log:
            log.record(decision, ctx)
        assert [r.status for r in replay(path)] == ["same"]

    def test_pack_edit_names_changed_records(self, engine: Engine, packset: Callable[..., Path],
                                             tmp_path: Path) -> None:
        """Against edited packs, exactly the records whose decision changes are named."""
        path = _write(tmp_path / "d.jsonl", engine, None)
        other = Engine.from_path(packset({"bio.yaml": DENY_BIO.replace('"bio"', '"coding"')}))
        changed = [r for r in replay(path, other) if r.status == "different"]
        assert len(changed) == 6
        assert all("effect" in r.detail for r in changed)

    def test_broken_log_is_not_replayed(self, engine: Engine, tmp_path: Path) -> None:
        """Replay verifies first: an edited log raises instead of comparing."""
        path = _write(tmp_path / "d.jsonl", engine, None)
        lines = _lines(path)
        _save(path, [lines[0], *lines[2:]])
        with pytest.raises(LogIntegrityError, match="deleted"):
            replay(path)
