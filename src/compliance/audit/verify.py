"""Verification: the first broken record and its kind, and what the check did and did not prove.

Links are checked on bytes: record ``n+1``'s ``prev`` must be the sha256 of line ``n``
exactly as stored, and every line must be canonical JSON (so a duplicate key or a
reformatted number is an edit). Without a public key this proves the records are
consistent with each other; anyone can recompute sha256, so only a signed checkpoint
(and an anchor kept elsewhere) proves the log is the one the writer wrote.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compliance.audit.encoding import MAX_LINE_BYTES, LineError, canonical, line_hash, read_line
from compliance.audit.signing import Verifier
from compliance.audit.writer import GENESIS
from compliance.errors import LogIntegrityError

__all__ = ["BREAK_KINDS", "Break", "VerifyReport", "iter_lines", "verify", "verify_log"]

BREAK_KINDS = (
    "edited", "deleted", "reordered", "truncated", "inserted", "unsigned-tail", "rewritten",
    "torn", "malformed",
)
_KINDS = {"decision", "start", "checkpoint"}
_SIG = re.compile(r"[0-9a-f]{128}")


@dataclass(frozen=True, slots=True)
class Break:
    """The first place the log stops verifying."""

    kind: str
    file: str
    line: int
    seq: int | None
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.kind}: {self.message}"


@dataclass(slots=True)
class VerifyReport:
    """What ``verify`` found, proved, and could not prove."""

    files: list[str]
    records: int = 0
    decisions: int = 0
    checkpoints: int = 0
    signed_through: int | None = None  # last seq covered by a valid signature
    key_id: str | None = None
    breaks: list[Break] = field(default_factory=list)
    proven: list[str] = field(default_factory=list)
    unproven: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing is broken."""
        return not self.breaks

    def to_json(self) -> dict[str, Any]:
        """The report as JSON data (``log verify --format json``)."""
        return {
            "ok": self.ok, "files": self.files, "records": self.records,
            "decisions": self.decisions, "checkpoints": self.checkpoints,
            "signed_through": self.signed_through, "key_id": self.key_id,
            "breaks": [{"kind": b.kind, "file": b.file, "line": b.line, "seq": b.seq,
                        "message": b.message} for b in self.breaks],
            "proven": self.proven, "unproven": self.unproven,
        }


def iter_lines(paths: Sequence[str | Path]) -> Iterator[tuple[str, int, bytes, bool]]:
    """(file, 1-based line, bytes without newline, complete) for every line of every file."""
    for path in paths:
        with open(path, "rb") as handle:
            number = 0
            while True:
                raw = handle.readline(MAX_LINE_BYTES + 2)
                if not raw:
                    break
                number += 1
                complete = raw.endswith(b"\n")
                yield str(path), number, raw[:-1] if complete else raw, complete


class _State:
    def __init__(self) -> None:
        self.expected = 0
        self.prev = GENESIS
        self.chain: str | None = None
        self.seen: set[str] = set()
        self.last: dict[str, Any] | None = None
        self.unsigned_from = 0


def verify(
    paths: Sequence[str | Path],
    *,
    verifier: Verifier | None = None,
    anchor: str | Path | None = None,
) -> VerifyReport:
    """Verify log files (in chain order: rotated files first); raises only ``OSError``."""
    report = VerifyReport(files=[str(p) for p in paths],
                          key_id=verifier.key_id if verifier else None)
    state = _State()
    lines = list(_index(paths))
    for position, (name, number, line, complete) in enumerate(lines):
        problem = _check(line, complete, state, report, verifier=verifier, lines=lines,
                         position=position)
        if problem is not None:
            kind, message = problem
            report.breaks.append(Break(kind, name, number, state.expected, message))
            break
    if report.ok:
        _check_end(state, report, verifier, lines)
    if report.ok and anchor is not None:
        _check_anchor(Path(anchor), lines, report)
    _explain(report, verifier, anchor)
    return report


def _index(paths: Sequence[str | Path]) -> Iterator[tuple[str, int, bytes, bool]]:
    yield from iter_lines(paths)


def _check(
    line: bytes, complete: bool, state: _State, report: VerifyReport,
    *, verifier: Verifier | None, lines: list[tuple[str, int, bytes, bool]], position: int,
) -> tuple[str, str] | None:
    if not complete:
        return "torn", ("the last record is incomplete (a write cut short, e.g. by a crash); "
                        f"records before it verify; {len(line)} bytes after record "
                        f"{state.expected - 1}")
    try:
        record = read_line(line)
    except LineError as exc:
        return exc.kind, f"record {state.expected}: {exc}"
    seq, prev, chain, kind = (record.get(k) for k in ("seq", "prev", "chain", "kind"))
    if (not isinstance(seq, int) or isinstance(seq, bool) or not isinstance(prev, str)
            or not isinstance(chain, str) or kind not in _KINDS):
        return "malformed", "not a log record (seq, prev, chain or kind missing or mistyped)"
    digest = line_hash(line)
    if state.chain is None:
        state.chain = chain
        if seq != 0:
            if kind == "start" and record.get("previous") == "rotated":
                report.unproven.append(
                    f"the first file continues a chain at record {seq}: earlier files "
                    f"({record.get('continues')} and before) were not checked")
                state.expected, state.prev = seq, prev
                state.unsigned_from = seq
            else:
                return "deleted", f"the log starts at record {seq}: records 0-{seq - 1} are missing"
        elif prev != GENESIS:
            return "edited", "record 0 does not start at the genesis hash"
    if chain != state.chain:
        return "inserted", f"record {seq} belongs to another chain ({chain}, not {state.chain})"
    if seq > state.expected:
        later = any(_seq_of(x[2]) == state.expected for x in lines[position + 1:])
        if later:
            return "reordered", f"record {seq} appears where record {state.expected} belongs"
        missing = f"{state.expected}" if seq == state.expected + 1 else \
            f"{state.expected}-{seq - 1}"
        return "deleted", f"record{'s' if '-' in missing else ''} {missing} missing before {seq}"
    if seq < state.expected:
        if digest in state.seen:
            return "reordered", f"record {seq} appears again after record {state.expected - 1}"
        return "inserted", f"a second record {seq} after record {state.expected - 1}"
    if prev != state.prev:
        return "edited", (f"record {seq - 1} does not match the link in record {seq} "
                          "(one of them was altered)")
    if kind == "checkpoint":
        problem = _checkpoint(record, state, report, verifier)
        if problem is not None:
            return problem
    report.records += 1
    report.decisions += kind == "decision"
    state.seen.add(digest)
    state.expected, state.prev, state.last = seq + 1, digest, record
    return None


def _seq_of(line: bytes) -> int | None:
    try:
        value = read_line(line).get("seq")
    except LineError:
        return None
    return value if isinstance(value, int) else None


def _checkpoint(record: dict[str, Any], state: _State, report: VerifyReport,
                verifier: Verifier | None) -> tuple[str, str] | None:
    report.checkpoints += 1
    if verifier is None:
        return None
    seq = record["seq"]
    sig = record.get("sig")
    if sig is None:
        return None  # an unsigned checkpoint covers nothing; the tail check reports it
    if not isinstance(sig, str) or not _SIG.fullmatch(sig):  # one spelling per signature
        return "rewritten", f"checkpoint {seq}: the signature is not 128 lowercase hex digits"
    body = {k: v for k, v in record.items() if k != "sig"}
    if record.get("key_id") != verifier.key_id or not verifier.verify(canonical(body), sig):
        return "rewritten", (f"checkpoint {seq} is not signed by {verifier.key_id}: the chain "
                             "up to it is not the one that was signed (rewritten or forged)")
    report.signed_through = seq
    state.unsigned_from = seq + 1
    return None


def _check_end(state: _State, report: VerifyReport, verifier: Verifier | None,
               lines: list[tuple[str, int, bytes, bool]]) -> None:
    name, number = (lines[-1][0], lines[-1][1]) if lines else (report.files[-1], 0)
    if report.records == 0:
        report.breaks.append(Break("truncated", name, number, 0,
                                   "the log is empty; a log starts with a `start` record"))
        return
    if verifier is not None and state.unsigned_from < state.expected:
        first, final = state.unsigned_from, state.expected - 1
        report.breaks.append(Break(
            "unsigned-tail", name, number, first,
            f"records {first}-{final} are not covered by a checkpoint signed by "
            f"{verifier.key_id} (appended by someone else, or the writer stopped before "
            "checkpointing)"))
        return
    last = state.last or {}
    if not (last.get("kind") == "checkpoint" and last.get("closing")):
        report.breaks.append(Break(
            "truncated", name, number, state.expected,
            f"the log ends at record {state.expected - 1} without a closing checkpoint: it was "
            "cut short, or its writer crashed or is still writing"))


def _check_anchor(anchor: Path, lines: list[tuple[str, int, bytes, bool]],
                  report: VerifyReport) -> None:
    try:
        anchored = [read_line(x[2]) for x in iter_lines([anchor]) if x[3]]
    except (OSError, LineError) as exc:
        raise LogIntegrityError(f"{anchor}: cannot read the anchor: {exc}") from None
    if any(not isinstance(r.get("seq"), int) or r.get("kind") != "checkpoint"
           for r in anchored):
        raise LogIntegrityError(f"{anchor}: not an anchor file (lines must be checkpoints)")
    if not anchored:
        return
    head: dict[str, Any] = max(anchored, key=lambda r: int(r["seq"]))
    wanted = canonical(head)
    if any(x[2] == wanted for x in lines):
        report.proven.append(f"the anchor's latest checkpoint (record {head.get('seq')}) is in "
                             "the log, byte for byte")
        return
    name, number = lines[-1][0], lines[-1][1]
    last_seq: int = report.records - 1
    if int(head.get("seq", -1)) > last_seq:
        report.breaks.append(Break("truncated", name, number, last_seq + 1,
                                   f"the anchor holds checkpoint {head.get('seq')} but the log "
                                   f"ends at record {last_seq}"))
    else:
        report.breaks.append(Break("rewritten", name, number, int(head.get("seq", 0)),
                                   f"checkpoint {head.get('seq')} in the log differs from the "
                                   "anchored one"))


def _explain(report: VerifyReport, verifier: Verifier | None, anchor: str | Path | None) -> None:
    if not report.ok:
        return
    report.proven.append(
        f"{report.records} records link to each other byte for byte: none was edited, "
        "removed, reordered or inserted without recomputing every later link, and the log "
        "ends with a closing checkpoint")
    if verifier is None:
        report.unproven.append(
            "without --public-key nothing proves who wrote the log: anyone can recompute the "
            "sha256 links, so records appended or cut from the end (with a new closing "
            "checkpoint) or a chain rewritten from some record on would not be detected")
    else:
        report.proven.append(
            f"checkpoints signed by {verifier.key_id} cover records 0-{report.signed_through}: "
            "without the private key nobody could edit, remove, insert or append records there")
    if anchor is None:
        report.unproven.append(
            "without --anchor, cutting the log back to an earlier signed closing checkpoint "
            "(dropping a later writer's records) cannot be detected")


def verify_log(path: str | Path, *, verifier: Verifier | None = None) -> int:
    """Verify one file: its record count, or ``LogIntegrityError`` at the first break."""
    report = verify([path], verifier=verifier)
    if not report.ok:
        raise LogIntegrityError(str(report.breaks[0]))
    return report.records
