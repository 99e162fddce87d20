"""The decision log writer: one hash chain per file, across threads (and processes).

A writer holds an exclusive ``fcntl`` lock on ``<log>.writers`` for its lifetime, so a
second writer on the file (in this process or another) is refused with ``AuditWriteError``;
threads share one writer. With ``shared=True`` writers in several processes share the
chain instead (they hold ``<log>.writers`` shared): every append then takes an ``fcntl``
lock on ``<log>.lock``, re-reads the chain head when another process wrote since, and
releases it. Each record is one ``write``
on an ``O_APPEND`` descriptor. Opening a log resumes from its last complete line: bytes
after it (a torn write from a crash) are moved to ``<log>.torn-<seq>-<time>`` and the
``start`` record says so. Checkpoints (every N records, every T seconds, at rotation and
at close) carry the chain head signed with Ed25519 and go to the anchor too.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import orjson
import structlog

from compliance.audit.archive import DEFAULT_ARCHIVE, PackArchive
from compliance.audit.dump import cleaner, decision_bytes, plain_decision
from compliance.audit.encoding import (
    MAX_LINE_BYTES,
    LineError,
    canonical,
    fast_canonical,
    line_hash,
    read_line,
    sanitize,
)
from compliance.audit.record import RECORD_VERSION
from compliance.audit.redaction import Redactor
from compliance.errors import ComplianceError, LogIntegrityError

if TYPE_CHECKING:
    from compliance.audit.signing import Signer
    from compliance.cel.types import ContextSchema
    from compliance.decision import Decision
    from compliance.engine import Engine

__all__ = ["GENESIS", "AuditWriteError", "DecisionLog", "Durability", "OnError"]

GENESIS = "sha256:" + "0" * 64
Durability = Literal["flush", "fsync", "checkpoint"]
OnError = Literal["fail-closed", "alarm"]
_log = structlog.get_logger("compliance.audit")


class AuditWriteError(ComplianceError, OSError):
    """A record could not be written; with ``on_error="fail-closed"`` the host must deny.

    An ``OSError`` too, so hosts (and the CLI) that already handle I/O failures catch it.
    """


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _engine_version() -> str:
    from compliance import __version__  # noqa: PLC0415 - the package imports us lazily

    return __version__


class DecisionLog:
    """An append-only, hash-chained, checkpointed decision log (see the module docstring).

    ``record()`` never raises because of what a decision or context holds; it raises
    ``AuditWriteError`` only when the write itself fails and ``on_error="fail-closed"``
    (the default), so the host can fail the request closed. With ``on_error="alarm"`` the
    failure goes to ``alarm`` (and structlog) and ``record()`` returns None.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        engine: Engine | None = None,
        schema: ContextSchema | None = None,
        redaction_key: bytes | None = None,
        keep_sensitive: bool = False,
        include_context: bool = True,
        signer: Signer | None = None,
        checkpoint_every: int = 1000,
        checkpoint_seconds: float | None = 60.0,
        anchor: str | Path | Callable[[dict[str, Any]], None] | None = None,
        durability: Durability = "flush",
        rotate_bytes: int | None = None,
        rotate_seconds: float | None = None,
        on_error: OnError = "fail-closed",
        alarm: Callable[[BaseException], None] | None = None,
        archive: str | Path | Literal[False] | None = None,
        shared: bool = False,
    ) -> None:
        self.path = Path(path)
        self.include_context = include_context
        self.signer = signer
        self.checkpoint_every = max(1, checkpoint_every)
        self.anchor = anchor
        self.durability = durability
        self.rotate_bytes = rotate_bytes
        self.rotate_seconds = rotate_seconds
        self.on_error = on_error
        self.alarm = alarm
        self.failures = 0
        self.writer_id = secrets.token_hex(8)
        self._redaction_key = redaction_key
        self._keep_sensitive = keep_sensitive
        self._default = Redactor(engine.schema if engine else schema, redaction_key,
                                 keep_sensitive=keep_sensitive)
        self._redactors: dict[str, Redactor] = {}
        self.archive = None if archive is False else PackArchive(
            archive if archive is not None else self.path.parent / DEFAULT_ARCHIVE
        )
        self._version = _engine_version()
        self._tlock = threading.RLock()
        self._since_checkpoint = 0
        self._closed = False
        self._seq, self._prev, self._chain, self._size = 0, GENESIS, "", -1
        self._file_started = time.monotonic()
        self.shared = shared
        # Held for the writer's lifetime: shared by writers that share the chain, exclusive
        # for one that writes alone; either kind is refused at once where the other holds it.
        self._writers_fd = os.open(f"{self.path}.writers", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._writers_fd,
                        (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        except OSError:
            os.close(self._writers_fd)
            holder = "a writer without shared=True" if shared else "another writer"
            raise AuditWriteError(
                f"{self.path}: {holder} holds this log; use one DecisionLog per file "
                "(threads may share it), or shared=True in every process that writes it"
            ) from None
        self._lock_fd: int | None = None
        self._lock: _FileLock | threading.RLock = self._tlock  # alone: the thread lock only
        if shared:  # each append locks the file (stateless: one serves every append)
            self._lock_fd = os.open(f"{self.path}.lock", os.O_RDWR | os.O_CREAT, 0o644)
            self._lock = _FileLock(self._tlock, self._lock_fd)
        self._fd = self._open_fd()
        with self._locked():
            self._start()
        if engine is not None:
            self.use(engine)
        self._stop = threading.Event()
        self._timer: threading.Thread | None = None
        if checkpoint_seconds:
            self._timer = threading.Thread(
                target=self._tick, args=(checkpoint_seconds,), daemon=True,
                name="compliance-audit-checkpoint",
            )
            self._timer.start()

    # --- public API ----------------------------------------------------------------------

    def use(self, engine: Engine) -> None:
        """Register an engine: archive its packs and redact with its schema."""
        digest = engine.pack_set_digest
        if digest in self._redactors:
            return
        self._redactors[digest] = Redactor(engine.schema, self._redaction_key,
                                           keep_sensitive=self._keep_sensitive)
        if self.archive is not None:
            try:
                self.archive.store(engine)
            except OSError as exc:
                self._failed(AuditWriteError(f"cannot archive pack set {digest}: {exc}"))

    def record(
        self, decision: Decision, context: Mapping[str, Any] | None = None,
        *, engine: Engine | None = None,
    ) -> int | None:
        """Append one decision: its sequence number, or None when an alarm took a failure."""
        if engine is not None:
            self.use(engine)
        try:
            fields = self._fields(decision, context)
        except Exception as exc:  # a decision is logged whatever it holds
            fields = self._fallback(decision, exc)
        seq = self._append(fields)
        if seq is not None:
            self._since_checkpoint += 1
            if self._since_checkpoint >= self.checkpoint_every:
                self.checkpoint()
        return seq

    def checkpoint(self, *, closing: bool = False) -> int | None:
        """Write a signed checkpoint now (also sent to the anchor)."""
        fields: dict[str, Any] = {
            "kind": "checkpoint", "time": _now(), "writer": self.writer_id,
            "closing": closing, "rotated_to": None,
            "key_id": self.signer.key_id if self.signer else None,
        }
        return self._append(fields, sign=True)

    def close(self) -> None:
        """Write the closing checkpoint and release the file (idempotent)."""
        with self._tlock:
            if self._closed:
                return
            self._stop.set()
            self.checkpoint(closing=True)
            self._closed = True
            os.close(self._fd)
            if self._lock_fd is not None:
                os.close(self._lock_fd)
            os.close(self._writers_fd)
        if self._timer is not None and self._timer is not threading.current_thread():
            self._timer.join(timeout=1.0)

    def __enter__(self) -> DecisionLog:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # --- building records ----------------------------------------------------------------

    def _fields(self, decision: Decision, context: Mapping[str, Any] | None) -> dict[str, Any]:
        """The record's fields, the decision and context as their canonical bytes when orjson
        writes them (``decision_bytes``); ``_encode`` puts those ``Fragment``s in the line as
        they are, so the line is the one ``_plain_fields`` gives.
        """
        fields, secrets = self._redacted(decision, context)
        encoded = decision_bytes(decision, cleaner(secrets))
        kept = fast_canonical(fields["context"]) if encoded is not None else None
        if encoded is None or kept is None:  # orjson refuses something: the plain data
            fields["decision"] = plain_decision(decision, secrets)
        else:
            fields["decision"] = orjson.Fragment(encoded)
            fields["context"] = orjson.Fragment(kept)
        return fields

    def _plain_fields(self, decision: Decision,
                      context: Mapping[str, Any] | None) -> dict[str, Any]:
        """The record's fields as plain data: the definition ``_fields`` must encode alike."""
        fields, secrets = self._redacted(decision, context)
        fields["decision"] = plain_decision(decision, secrets)
        return fields

    def _redacted(self, decision: Decision, context: Mapping[str, Any] | None,
                  ) -> tuple[dict[str, Any], tuple[str, ...]]:
        """Every field but ``decision``, and the clear sensitive strings to scrub from it."""
        redactor = self._redactors.get(decision.pack_set_digest, self._default)
        fields: dict[str, Any] = {
            "kind": "decision", "engine_version": self._version,
            "pack_set_digest": decision.pack_set_digest, "decision": None,
            "redaction": redactor.mode, "redaction_key_id": redactor.key_id,
            "context_digest": None, "context": None,
            "redacted": [], "undeclared": [], "lossy": [],
        }
        if context is None:
            return fields, ()
        logged = redactor.apply(context)
        fields["context_digest"] = logged.digest
        fields["redacted"] = logged.redacted
        fields["undeclared"] = logged.undeclared
        fields["lossy"] = logged.lossy
        if self.include_context:
            fields["context"] = logged.context
        return fields, logged.secrets

    def _fallback(self, decision: Decision, exc: BaseException) -> dict[str, Any]:
        """The record of a decision that could not be dumped: what it decided, and why not more."""
        return {
            "kind": "decision", "engine_version": self._version,
            "pack_set_digest": str(getattr(decision, "pack_set_digest", GENESIS)),
            "decision": None, "redaction": "drop", "redaction_key_id": None,
            "context_digest": None, "context": None, "redacted": [], "undeclared": [],
            "lossy": ["decision", "context"],
            "encoding_error": f"{type(exc).__name__}: {exc}"[:500],
        }

    # --- the chain -----------------------------------------------------------------------

    def _open_fd(self) -> int:
        return os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def _locked(self) -> _FileLock | threading.RLock:
        return self._lock

    def _start(self) -> None:
        """Resume the chain (moving a torn tail aside) and record this writer's start."""
        size = os.fstat(self._fd).st_size
        previous, torn_file, torn_bytes = "new", None, 0
        if size > 0:
            last, torn = _tail(self.path, size)
            if torn and not torn.startswith(b'{"chain":'):  # every record starts so
                raise LogIntegrityError(f"{self.path}: not a decision log (its last line is "
                                        "not a record); not appending")
            if torn:
                torn_bytes = len(torn)
                stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
                name = f"{self.path.name}.torn-{stamp}"
                (self.path.parent / name).write_bytes(torn)
                os.truncate(self.path, size - torn_bytes)
                torn_file, previous = name, "torn"
            if last is None:
                self._seq, self._prev = 0, GENESIS
                self._chain = secrets.token_hex(8)
            else:
                record = self._adopt(last)
                if previous != "torn":
                    closed = record.get("kind") == "checkpoint" and record.get("closing")
                    previous = "closed" if closed else "unclosed"
        else:
            self._chain = secrets.token_hex(8)
        self._size = os.fstat(self._fd).st_size
        self._append_locked(self._start_fields(previous, None, torn_file, torn_bytes))

    def _start_fields(self, previous: str, continues: str | None, torn_file: str | None,
                      torn_bytes: int) -> dict[str, Any]:
        return {
            "kind": "start", "time": _now(), "engine_version": self._version,
            "writer": self.writer_id, "pid": os.getpid(), "previous": previous,
            "continues": continues, "torn_file": torn_file, "torn_bytes": torn_bytes,
            "key_id": self.signer.key_id if self.signer else None,
        }

    def _adopt(self, line: bytes) -> dict[str, Any]:
        """Take the chain head from the last complete line."""
        try:
            record = read_line(line)
            seq, chain = record["seq"], record["chain"]
        except (LineError, KeyError) as exc:
            raise LogIntegrityError(
                f"{self.path}: the last complete record is unreadable ({exc}); "
                "run `compliance log verify` and repair the file before writing to it"
            ) from None
        self._seq, self._prev, self._chain = int(seq) + 1, line_hash(line), str(chain)
        return record

    def _sync(self) -> None:
        """Catch up with other processes: a rotated file, or records they appended."""
        if not self.shared and self._size >= 0:
            return  # no other writer can append: the file lock is ours
        if self._size >= 0 and _size(self._fd) == self._size:
            return  # nobody wrote since us (a rotation writes a checkpoint first)
        try:
            if os.stat(self.path).st_ino != os.fstat(self._fd).st_ino:
                os.close(self._fd)
                self._fd = self._open_fd()
                self._size = -1
        except FileNotFoundError:
            os.close(self._fd)
            self._fd = self._open_fd()
            self._size = -1
        size = os.fstat(self._fd).st_size
        if size != self._size:
            last, torn = _tail(self.path, size)
            if torn:
                raise LogIntegrityError(f"{self.path}: another writer left a torn record")
            if last is not None:
                self._adopt(last)
            self._size = size

    def _append(self, fields: dict[str, Any], *, sign: bool = False) -> int | None:
        try:
            with self._locked():
                if self._closed:
                    raise AuditWriteError(f"{self.path}: the log is closed")
                return self._append_locked(fields, sign=sign)
        except (OSError, AuditWriteError, LogIntegrityError) as exc:
            self._failed(exc)
            return None

    def _append_locked(self, fields: dict[str, Any], *, sign: bool = False) -> int:
        self._sync()
        seq = self._seq
        fields["record_version"] = RECORD_VERSION
        fields["seq"] = seq
        fields["prev"] = self._prev
        fields["chain"] = self._chain
        if sign:
            fields["sig"] = self.signer.sign(canonical(fields)) if self.signer else None
        line = _encode(fields)
        self._write(line + b"\n")
        self._seq, self._prev = seq + 1, line_hash(line)
        if fields["kind"] == "checkpoint":
            self._since_checkpoint = 0
            if self.durability == "checkpoint":
                os.fsync(self._fd)
            self._anchor(fields)
        if self.durability == "fsync":
            os.fsync(self._fd)
        rotating = self.rotate_bytes is not None or self.rotate_seconds is not None
        if rotating and (fields["kind"] != "checkpoint" or not fields.get("closing")):
            self._maybe_rotate()
        return seq

    def _write(self, data: bytes) -> None:
        before = self._size
        try:
            written = os.write(self._fd, data)
            if written < len(data):  # a short write: the rest, never a torn record
                view = memoryview(data)[written:]
                while view:
                    view = view[os.write(self._fd, view):]
        except OSError:
            if before >= 0:  # leave no torn record behind us
                with contextlib.suppress(OSError):
                    os.ftruncate(self._fd, before)
            raise
        self._size = before + len(data) if before >= 0 else os.fstat(self._fd).st_size

    def _anchor(self, checkpoint: dict[str, Any]) -> None:
        if self.anchor is None:
            return
        try:
            if callable(self.anchor):
                self.anchor(dict(checkpoint))
            else:
                with open(self.anchor, "ab") as handle:
                    handle.write(canonical(checkpoint) + b"\n")
        except Exception as exc:  # a failing anchor is surfaced, never fatal here
            self._failed(AuditWriteError(f"anchor failed: {exc}"), raise_=False)

    def _maybe_rotate(self) -> None:
        too_big = self.rotate_bytes is not None and self._size >= self.rotate_bytes
        too_old = (self.rotate_seconds is not None
                   and time.monotonic() - self._file_started >= self.rotate_seconds)
        if not (too_big or too_old):
            return
        rotated = self.path.with_name(f"{self.path.stem}.{self._seq + 1:012d}{self.path.suffix}")
        fields: dict[str, Any] = {
            "kind": "checkpoint", "time": _now(), "writer": self.writer_id,
            "closing": False, "rotated_to": rotated.name,
            "key_id": self.signer.key_id if self.signer else None,
        }
        saved = self.rotate_bytes, self.rotate_seconds
        self.rotate_bytes = self.rotate_seconds = None  # no rotation inside the rotation
        try:
            self._append_locked(fields, sign=True)
            os.fsync(self._fd)
            os.rename(self.path, rotated)
            os.close(self._fd)
            self._fd = self._open_fd()
            self._size = 0
            self._file_started = time.monotonic()
            self._append_locked(self._start_fields("rotated", rotated.name, None, 0))
        finally:
            self.rotate_bytes, self.rotate_seconds = saved

    def _failed(self, exc: BaseException, *, raise_: bool = True) -> None:
        """Surface a write failure: raise (fail closed) or alarm, never drop it silently."""
        self.failures += 1
        _log.error("audit-write-failed", path=str(self.path), error=str(exc))
        if self.on_error == "fail-closed" and raise_:
            if isinstance(exc, AuditWriteError):
                raise exc
            raise AuditWriteError(f"{self.path}: cannot write the decision log: {exc}") from exc
        if self.alarm is not None:
            self.alarm(exc)

    def _tick(self, seconds: float) -> None:
        while not self._stop.wait(seconds):
            if self._since_checkpoint:
                try:
                    self.checkpoint()
                except AuditWriteError:
                    continue  # already counted and logged by _failed


def _size(fd: int) -> int:
    """The file's size: where ``O_APPEND`` writes go (``lseek``: a third of ``fstat``'s cost)."""
    return os.lseek(fd, 0, os.SEEK_END)


def _encode(fields: dict[str, Any]) -> bytes:
    """The canonical line of a record (``Fragment``s are canonical bytes already)."""
    line = fast_canonical(fields)
    if line is None:  # a lone surrogate or a huge int in the decision: keep what we can
        fields = _unfragment(fields)
        lost: list[str] = []
        clean = sanitize(fields, "", lost)
        if lost and isinstance(clean, dict) and isinstance(clean.get("lossy"), list):
            clean["lossy"].append("decision")
        line = canonical(clean)
    if len(line) >= MAX_LINE_BYTES:
        fields = _unfragment(fields)
        fields["context"] = None
        fields.setdefault("lossy", []).append("context")
        line = canonical(fields)
    return line


def _unfragment(fields: dict[str, Any]) -> dict[str, Any]:
    """``fields`` with each ``Fragment`` read back into the data it encodes."""
    return {k: orjson.loads(v.contents) if isinstance(v, orjson.Fragment) else v
            for k, v in fields.items()}


class _FileLock:
    """Thread lock, then an exclusive ``flock`` on the lock file (released in reverse)."""

    def __init__(self, tlock: threading.RLock, fd: int) -> None:
        self._tlock, self._fd = tlock, fd

    def __enter__(self) -> None:
        self._tlock.acquire()
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        except BaseException:
            self._tlock.release()
            raise

    def __exit__(self, *_: object) -> None:
        try:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._tlock.release()


def _tail(path: Path, size: int) -> tuple[bytes | None, bytes]:
    """(last complete line without its newline or None, bytes after it) of a log file."""
    with open(path, "rb") as handle:
        chunk = min(size, MAX_LINE_BYTES + 1)
        handle.seek(size - chunk)
        data = handle.read(chunk)
    end = data.rfind(b"\n")
    if end < 0:
        if chunk < size:
            raise LogIntegrityError(f"{path}: no record boundary in the last {chunk} bytes")
        return None, data
    torn = data[end + 1:]
    start = data.rfind(b"\n", 0, end) + 1
    if start == 0 and chunk < size:
        raise LogIntegrityError(f"{path}: the last record is longer than {MAX_LINE_BYTES} bytes")
    return data[start:end], torn
