"""Replay and search: re-evaluate logged contexts, and filter records for an auditor.

``replay`` loads each record's pack set from the archive (checking its digest), evaluates
the logged context again and compares the decisions field by field (ids and times aside).
Attributes redacted in the log are absent in the replay; when that changes the decision
the record is reported as ``redacted`` (not comparable), never as a difference.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from compliance.audit.archive import DEFAULT_ARCHIVE, PackArchive
from compliance.audit.encoding import LineError, read_line
from compliance.audit.record import DecisionRecordV1, parse_record
from compliance.audit.verify import iter_lines, verify
from compliance.errors import LogIntegrityError, PackError

if TYPE_CHECKING:
    from compliance.engine import Engine

__all__ = ["Difference", "ReplayResult", "decision_records", "replay"]

_VOLATILE = {"decision_id", "evaluated_at"}
_EXCLUDE = _VOLATILE | {"context_digest"}
_OUTCOME = ("effect", "model", "interventions", "obligations")


@dataclass(frozen=True, slots=True)
class Difference:
    """One decision field that came out differently."""

    field: str
    logged: Any
    replayed: Any


@dataclass(frozen=True, slots=True)
class ReplayResult:
    """How one logged decision compares with evaluating its context again."""

    seq: int
    status: str  # same, different, error, redacted, no-context, lossy, no-archive, archive-mismatch
    detail: str = ""
    differences: list[Difference] = field(default_factory=list)


def decision_records(paths: Sequence[str | Path]) -> Iterator[DecisionRecordV1]:
    """Every decision record, validated; raise ``LogIntegrityError`` on an unreadable one."""
    for name, number, line, complete in iter_lines(paths):
        if not complete:
            raise LogIntegrityError(f"{name}:{number}: torn: the last record is incomplete")
        try:
            record = parse_record(read_line(line))
        except LineError as exc:
            raise LogIntegrityError(f"{name}:{number}: {exc.kind}: {exc}") from None
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise LogIntegrityError(
                f"{name}:{number}: malformed: not a version 1 record: {where}: {first['msg']}"
            ) from None
        if isinstance(record, DecisionRecordV1):
            yield record


def replay(
    paths: str | Path | Sequence[str | Path],
    engine: Engine | None = None,
    *,
    archive: str | Path | None = None,
) -> list[ReplayResult]:
    """Replay against the archived packs, or against ``engine`` (what ``--rules`` would change).

    The log is verified first (its chain, not its signatures); a break raises
    ``LogIntegrityError``. With ``engine``, only the outcome (effect, model, interventions,
    obligations) is compared, since another pack set differs in provenance by design.
    """
    files = [paths] if isinstance(paths, str | Path) else list(paths)
    report = verify(files)
    if not report.ok and report.breaks[0].kind != "truncated":
        raise LogIntegrityError(str(report.breaks[0]))
    store = PackArchive(archive if archive is not None else Path(files[0]).parent
                        / DEFAULT_ARCHIVE)
    engines: dict[str, Engine | str] = {}
    return [_one(r, engine, store, engines) for r in decision_records(files)]


def _one(record: DecisionRecordV1, engine: Engine | None, store: PackArchive,
         engines: dict[str, Engine | str]) -> ReplayResult:
    seq = record.seq
    if record.decision is None or record.encoding_error:
        return ReplayResult(seq, "lossy", record.encoding_error or "no decision logged")
    if record.context is None:
        return ReplayResult(seq, "no-context", "the log was written without contexts")
    if record.lossy:
        return ReplayResult(seq, "lossy", "inputs JSON cannot hold: " + ", ".join(record.lossy))
    context = _unredacted(record.context, record.redacted)
    logged = record.decision.model_dump(mode="json", exclude=_VOLATILE | {"context_digest"})
    archived = None
    if engine is None or record.redacted:
        archived = _archived(record.pack_set_digest, store, engines)
        if isinstance(archived, str):
            status, _, detail = archived.partition(":")
            if engine is not None:  # redacted inputs and no baseline to compare with
                return ReplayResult(seq, "redacted", "redacted inputs, and " + detail.strip())
            return ReplayResult(seq, status, detail.strip())
        if engine is not None:
            # Redacted inputs are absent in both runs: compare the new packs with the old
            # packs on the same (redacted) context, not with what the full context decided.
            logged = archived.evaluate(context).model_dump(mode="json", exclude=_EXCLUDE)
    target = engine if engine is not None else archived
    assert target is not None
    assert not isinstance(target, str)
    try:
        fresh = target.evaluate(context).model_dump(mode="json", exclude=_EXCLUDE)
    except Exception as exc:  # an engine failure is this record's result, not a crash
        return ReplayResult(seq, "error", f"re-evaluation raised {type(exc).__name__}: {exc}")
    logged, fresh = _placeless(logged), _placeless(fresh)
    keys = _OUTCOME if engine is not None else sorted(fresh.keys() | logged.keys())
    diffs = [Difference(k, logged.get(k), fresh.get(k)) for k in keys
             if fresh.get(k) != logged.get(k)]
    if record.redacted and engine is None:
        diffs = [d for d in diffs if d.field != "reasons"]  # reasons are scrubbed in the log
    if not diffs:
        return ReplayResult(seq, "same")
    if record.redacted and engine is None:
        return ReplayResult(seq, "redacted", "the decision depends on redacted attributes: "
                            + ", ".join(record.redacted))
    return ReplayResult(seq, "different", ", ".join(d.field for d in diffs), diffs)


def _placeless(decision: dict[str, Any]) -> dict[str, Any]:
    """``decision`` with each error's location cut to ``line:col`` in its pack.

    A location names the pack file it was read from (``rules/export-control.yaml:25:11``);
    the archive holds the same pack under another name. The pack is the error's ``pack``
    and the record's digests, so the file name is no part of what was decided.
    """
    errors = decision.get("errors")
    if not errors:
        return decision
    out = dict(decision)
    out["errors"] = [
        {**e, "location": ":".join(e["location"].rsplit(":", 2)[-2:])}
        if isinstance(e, dict) and isinstance(e.get("location"), str)
        and e["location"].count(":") >= 2 else e
        for e in errors
    ]
    return out


def _unredacted(context: dict[str, Any], redacted: list[str]) -> dict[str, Any]:
    """The logged context with redacted attributes removed (they are unknown to replay)."""
    if not redacted:
        return context
    out: dict[str, Any] = {k: (dict(v) if isinstance(v, dict) else v) for k, v in
                           context.items()}
    for path in redacted:
        parts = path.split(".")
        node: Any = out
        for part in parts[:-1]:
            child = node.get(part) if isinstance(node, dict) else None
            if not isinstance(child, dict):
                node = None
                break
            node[part] = dict(child)
            node = node[part]
        if isinstance(node, dict):
            node.pop(parts[-1], None)
    return out


def _archived(digest: str, store: PackArchive, engines: dict[str, Engine | str]) -> Engine | str:
    if digest in engines:
        return engines[digest]
    from compliance.engine import Engine  # noqa: PLC0415 - replay is the only user here

    result: Engine | str
    try:
        path = store.path_for(digest)
    except ValueError as exc:
        engines[digest] = f"no-archive: {exc}"
        return engines[digest]
    if not store.has(digest):
        result = f"no-archive: pack set {digest} is not in {store.root}"
    else:
        try:
            loaded = Engine.from_path(path)
        except PackError as exc:
            result = f"archive-mismatch: archived packs no longer load: {exc}"
        else:
            result = loaded if loaded.pack_set_digest == digest else (
                f"archive-mismatch: {path} holds pack set {loaded.pack_set_digest}")
    engines[digest] = result
    return result


def matches(record: DecisionRecordV1, *, since: datetime | None = None,
            until: datetime | None = None, effect: str | None = None,
            rule: str | None = None, org: str | None = None) -> bool:
    """True when a record passes ``log show``'s filters (``org`` as logged: clear or HMAC)."""
    decision = record.decision
    if decision is None:
        return since is None and until is None and effect is None and rule is None \
            and org is None
    if since is not None and decision.evaluated_at < since:
        return False
    if until is not None and decision.evaluated_at >= until:
        return False
    if effect is not None and decision.effect != effect:
        return False
    if rule is not None and not any(rule in (m.rule, f"{m.pack}/{m.rule}")
                                    for m in decision.matched):
        return False
    if org is not None:
        logged_org = (record.context or {}).get("org")
        if not isinstance(logged_org, dict) or logged_org.get("id") != org:
            return False
    return True
