"""``compliance log verify|show|keygen`` and ``compliance replay``: the audit commands.

Exit codes: 0 ok, 1 a verification failure or a replay difference, 2 usage or input
problems (unreadable file or key, packs that do not load). Nothing here prints a
traceback: every failure is a one-line ``error:`` message naming the file.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from compliance.cli.rules_option import add_rules_options, load_checked
from compliance.cli.streams import require_regular_file, write_err, write_out
from compliance.errors import LogIntegrityError

__all__ = ["add_audit_commands"]

EXIT_OK, EXIT_BROKEN, EXIT_USAGE = 0, 1, 2


def add_audit_commands(sub: Any, parents: Sequence[argparse.ArgumentParser] = ()) -> None:
    """Register ``log`` (verify, show, keygen) and ``replay`` on the CLI's subparsers."""
    common = list(parents)
    p = sub.add_parser("log", help="verify, search and sign decision logs", parents=common)
    verbs = p.add_subparsers(dest="log_command", metavar="VERB", required=True)
    raw = argparse.RawDescriptionHelpFormatter
    v = verbs.add_parser(
        "verify", parents=common,
        help="find the first broken record (edited, deleted, truncated, ...)",
        description="Verify decision log files as one chain (rotated files first, in order).\n"
                    "Without --public-key only the links are checked, and the output says what "
                    "that cannot prove.\n\nexit codes: 0 intact, 1 broken, 2 I/O or key error",
        formatter_class=raw,
    )
    v.add_argument("logs", nargs="+", metavar="FILE")
    v.add_argument("--public-key", metavar="KEY", help="PEM Ed25519 key that signs checkpoints")
    v.add_argument("--anchor", metavar="FILE", help="anchor file the writer copied checkpoints to")
    v.add_argument("--format", choices=["text", "json"], default="text")
    v.set_defaults(run=_run_verify)
    s = verbs.add_parser(
        "show", parents=common, help="filter decision records for an auditor",
        description="Show decision records, filtered. --org matches the logged org id; when "
                    "ids are redacted pass --redaction-key to match its HMAC.\n\n"
                    "exit codes: 0 shown (even none), 1 the log is broken, 2 usage or I/O error",
        formatter_class=raw,
    )
    s.add_argument("logs", nargs="+", metavar="FILE")
    s.add_argument("--since", metavar="TIME", help="RFC 3339; records evaluated at or after")
    s.add_argument("--until", metavar="TIME", help="RFC 3339; records evaluated before")
    s.add_argument("--effect", choices=["allow", "deny"])
    s.add_argument("--rule", metavar="ID", help="a matched rule: `rule` or `pack/rule`")
    s.add_argument("--org", metavar="ID")
    s.add_argument("--redaction-key", metavar="FILE", help="the key the log redacted ids with")
    s.add_argument("--format", choices=["text", "json"], default="text")
    s.set_defaults(run=_run_show)
    k = verbs.add_parser("keygen", parents=common,
                         help="create an Ed25519 key pair for signing checkpoints",
                         description="exit codes: 0 written, 2 a file exists or cannot be written")
    k.add_argument("private", metavar="PRIVATE_PEM")
    k.add_argument("public", metavar="PUBLIC_PEM")
    k.set_defaults(run=_run_keygen)
    r = sub.add_parser(
        "replay", parents=common,
        help="re-evaluate logged contexts and compare with the logged decisions",
        description="Replay decision logs against the pack sets archived under their digests "
                    "(--archive, default: .compliance/packs next to the first log), or with "
                    "--rules against other packs to see which decisions would change.\n\n"
                    "exit codes: 0 no differences, 1 differences or a broken log, "
                    "2 usage or I/O error",
        formatter_class=raw,
    )
    r.add_argument("logs", nargs="+", metavar="FILE")
    r.add_argument("--archive", metavar="DIR")
    add_rules_options(r, required=False,
                      help="evaluate against these packs instead: pack files or pack-set "
                           "directories (repeatable), or one signed bundle")
    r.add_argument("--format", choices=["text", "json"], default="text")
    r.set_defaults(run=_run_replay)


def _error(message: str) -> int:
    write_err(f"error: {message}")
    return EXIT_USAGE


def _missing(paths: list[str]) -> int | None:
    """Refuse a missing file, a directory or a device (``InputError``: exit 2, one line)."""
    for path in paths:
        require_regular_file(Path(path), path)
    return None


def _run_verify(args: argparse.Namespace) -> int:
    from compliance.audit.signing import KeyFileError, Verifier  # noqa: PLC0415
    from compliance.audit.verify import verify  # noqa: PLC0415

    if (code := _missing(args.logs + ([args.anchor] if args.anchor else []))) is not None:
        return code
    try:
        verifier = Verifier.from_file(args.public_key) if args.public_key else None
        report = verify(args.logs, verifier=verifier, anchor=args.anchor)
    except KeyFileError as exc:
        return _error(str(exc))
    except LogIntegrityError as exc:
        return _error(str(exc))
    except OSError as exc:
        return _error(f"{exc.filename or args.logs[0]}: {exc.strerror or exc}")
    if args.format == "json":
        write_out(json.dumps(report.to_json(), indent=2))
    else:
        for item in report.breaks:
            write_err(f"error: {item}")
        if report.ok:
            signed = f", signed through record {report.signed_through}" if args.public_key else ""
            write_out(f"ok: {report.records} records ({report.decisions} decisions, "
                  f"{report.checkpoints} checkpoints){signed}")
        for line in report.proven:
            write_out(f"proven: {line}")
        for line in report.unproven:
            write_out(f"not proven: {line}")
    return EXIT_OK if report.ok else EXIT_BROKEN


def _time(text: str | None, flag: str) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{flag}: not an RFC 3339 time: {text!r}") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _run_show(args: argparse.Namespace) -> int:
    from compliance.audit.redaction import Redactor  # noqa: PLC0415
    from compliance.audit.replay import decision_records, matches  # noqa: PLC0415

    if (code := _missing(args.logs)) is not None:
        return code
    try:
        since, until = _time(args.since, "--since"), _time(args.until, "--until")
        org = args.org
        if org is not None and args.redaction_key:
            org = Redactor(None, Path(args.redaction_key).read_bytes()).keyed(org)
        shown = [r for r in decision_records(args.logs)
                 if matches(r, since=since, until=until, effect=args.effect, rule=args.rule,
                            org=org)]
    except (ValueError, OSError) as exc:
        return _error(str(exc))
    except LogIntegrityError as exc:
        write_err(f"error: {exc}")
        return EXIT_BROKEN
    for record in shown:
        if args.format == "json":
            write_out(record.model_dump_json())
            continue
        d = record.decision
        if d is None:
            write_out(f"#{record.seq} (not logged in full: {record.encoding_error})")
            continue
        rules = ", ".join(f"{m.pack}/{m.rule}" for m in d.matched) or "-"
        write_out(f"#{record.seq} {d.evaluated_at.isoformat()} {d.effect} rules: {rules}")
        for reason in d.reasons:
            write_out(f"    {reason}")
    if args.format == "text":
        write_err(f"{len(shown)} record{'s' if len(shown) != 1 else ''}")
    return EXIT_OK


def _run_keygen(args: argparse.Namespace) -> int:
    from compliance.audit.signing import generate_keypair  # noqa: PLC0415

    try:
        signer = generate_keypair(args.private, args.public)
    except FileExistsError:
        return _error(f"{args.private}: exists; refusing to overwrite a private key")
    except OSError as exc:
        return _error(f"{exc.filename}: {exc.strerror or exc}")
    write_out(f"ok: key {signer.key_id}: private {args.private}, public {args.public}")
    return EXIT_OK


def _run_replay(args: argparse.Namespace) -> int:
    from compliance.audit.replay import replay  # noqa: PLC0415
    from compliance.engine import Engine  # noqa: PLC0415

    if (code := _missing(args.logs)) is not None:
        return code
    engine = None
    if args.rules:
        checked = load_checked(args.rules, args.public_key)
        if isinstance(checked, int):  # reported; unusable rules are a usage error here
            return EXIT_USAGE
        engine = Engine(checked)
    try:
        results = replay(args.logs, engine, archive=args.archive)
    except LogIntegrityError as exc:
        write_err(f"error: {exc}")
        return EXIT_BROKEN
    except OSError as exc:
        return _error(f"{exc.filename or args.logs[0]}: {exc.strerror or exc}")
    different = [r for r in results if r.status in ("different", "error")]
    if args.format == "json":
        write_out(json.dumps([{"seq": r.seq, "status": r.status, "detail": r.detail,
                           "differences": [{"field": d.field, "logged": d.logged,
                                            "replayed": d.replayed} for d in r.differences]}
                          for r in results], indent=2))
    else:
        for r in results:
            if r.status == "same":
                continue
            write_out(f"record {r.seq}: {r.status}" + (f": {r.detail}" if r.detail else ""))
            for d in r.differences:
                write_out(f"    {d.field}: logged {_short(d.logged)} -> now {_short(d.replayed)}")
        counts: dict[str, int] = {}
        for r in results:
            counts[r.status] = counts.get(r.status, 0) + 1
        verb = "would change" if engine is not None else "differ"
        others = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())
                           if s not in ("same", "different"))
        write_out(f"{counts.get('same', 0)} of {len(results)} records replayed to the same "
              f"decision; {len(different)} {verb}"
              + (f"; not compared: {others}" if others else ""))
    return EXIT_BROKEN if different else EXIT_OK


def _short(value: object) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 120 else text[:117] + "..."
