"""Decision logs: hash-chained JSON lines written through structlog, verified and replayed.

Each record carries ``seq``, ``prev_hash`` and ``hash`` (sha256 over the canonical JSON of
the record without ``hash``), so deleting, reordering or editing a line breaks the chain at
that line. Every record names the pack set digest, and by default carries the context, so
``replay`` can re-run it against the same packs and compare.

The evaluator never logs; hosts (or ``compliance eval --log``) wrap it with this module.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import structlog

from compliance.canonical import canonical_json
from compliance.decision import Decision
from compliance.errors import LogIntegrityError

if TYPE_CHECKING:
    from compliance.engine import Engine

GENESIS = "sha256:" + "0" * 64
RECORD_VERSION = 1
_VOLATILE = {"decision_id", "evaluated_at"}


def _hash(record: Mapping[str, Any]) -> str:
    body = {k: v for k, v in record.items() if k != "hash"}
    return "sha256:" + hashlib.sha256(canonical_json(body)).hexdigest()


class DecisionLog:
    """An append-only decision log file; safe to share between threads of one process."""

    def __init__(self, path: str | Path, *, include_context: bool = True) -> None:
        self.path = Path(path)
        self.include_context = include_context
        self._lock = threading.Lock()
        self._seq, self._prev = _tail(self.path)
        self._file: IO[str] = self.path.open("a", encoding="utf-8")
        self._logger = structlog.wrap_logger(
            structlog.WriteLogger(self._file),
            processors=[self._chain, structlog.processors.JSONRenderer(serializer=_dumps)],
        )

    def _chain(self, _logger: object, _method: str,
               event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        """structlog processor: number the record and link it to the previous one."""
        event["seq"] = self._seq
        event["prev_hash"] = self._prev
        event["hash"] = _hash(event)
        self._prev = event["hash"]
        self._seq += 1
        return event

    def record(self, decision: Decision, context: Mapping[str, Any] | None = None) -> None:
        """Append one decision (and its context, unless the log was opened without)."""
        fields: dict[str, Any] = {
            "record_version": RECORD_VERSION,
            "pack_set_digest": decision.pack_set_digest,
            "decision": decision.model_dump(mode="json"),
        }
        if self.include_context and context is not None:
            fields["context"] = context
        with self._lock:
            self._logger.info("decision", **fields)
            self._file.flush()

    def close(self) -> None:
        """Close the underlying file."""
        self._file.close()

    def __enter__(self) -> DecisionLog:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _dumps(obj: Any, **_: Any) -> str:
    return canonical_json(obj).decode("utf-8")


def _tail(path: Path) -> tuple[int, str]:
    """(next seq, last hash) of an existing log, after verifying it; a new log starts at genesis."""
    if not path.exists() or path.stat().st_size == 0:
        return 0, GENESIS
    count = verify_log(path)
    last: dict[str, Any] = {}
    for record in _records(path):
        last = record
    return count, str(last["hash"])


def _records(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise LogIntegrityError(f"{path}:{number}: not a JSON record: {exc.msg}") from None
            if not isinstance(record, dict):
                raise LogIntegrityError(f"{path}:{number}: not a JSON object")
            yield record


def verify_log(path: str | Path) -> int:
    """Check the whole chain; return the number of records or raise ``LogIntegrityError``."""
    path = Path(path)
    prev, count = GENESIS, 0
    for number, record in enumerate(_records(path), 1):
        where = f"{path}:{number}"
        if record.get("seq") != count:
            raise LogIntegrityError(f"{where}: expected record {count}, found {record.get('seq')}"
                                    " (a record was removed or reordered)")
        if record.get("prev_hash") != prev:
            raise LogIntegrityError(f"{where}: chain broken: prev_hash does not match record "
                                    f"{count - 1}")
        if record.get("hash") != _hash(record):
            raise LogIntegrityError(f"{where}: record {count} was edited (hash mismatch)")
        prev, count = str(record["hash"]), count + 1
    return count


@dataclass(frozen=True, slots=True)
class ReplayResult:
    """How one logged decision compares with re-evaluating its context now."""

    seq: int
    status: str  # "same", "different", "other-pack-set", "no-context"
    detail: str = ""


def replay(path: str | Path, engine: Engine) -> list[ReplayResult]:
    """Re-evaluate every logged context with ``engine`` and compare (ids and times aside)."""
    verify_log(path)
    results: list[ReplayResult] = []
    for record in _records(Path(path)):
        seq = int(record["seq"])
        if record.get("pack_set_digest") != engine.pack_set_digest:
            results.append(ReplayResult(seq, "other-pack-set", str(record.get("pack_set_digest"))))
            continue
        if "context" not in record:
            results.append(ReplayResult(seq, "no-context"))
            continue
        fresh = engine.evaluate(record["context"]).model_dump(mode="json", exclude=_VOLATILE)
        logged = {k: v for k, v in record["decision"].items() if k not in _VOLATILE}
        changed = sorted(k for k in fresh.keys() | logged.keys() if fresh.get(k) != logged.get(k))
        status = "same" if not changed else "different"
        results.append(ReplayResult(seq, status, ", ".join(changed)))
    return results
