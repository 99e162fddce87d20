"""The ``compliance`` command line: check packs, evaluate contexts, verify and replay logs.

No input makes it print a traceback: every problem is one ``error:`` line on standard error
and one of the exit codes below (``docs/cli.md`` documents each command and option). An
exception nobody expected is a bug, reported as such with its own exit code.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from compliance.cel.trace import trace_lines
from compliance.cli.diff_command import add_diff_command
from compliance.cli.rules_option import (
    add_public_key_option,
    add_rules_options,
    is_bundle_argument,
    load_checked,
    open_bundle,
)
from compliance.cli.signal_commands import add_events_option, add_observe_command, replayed_engine
from compliance.cli.streams import (
    DEFAULT_MAX_CONTEXT_BYTES,
    InputError,
    OutputError,
    parse_json_object,
    read_bounded,
    require_regular_file,
    silence_stdout,
    write_err,
    write_out,
)
from compliance.cli.test_command import add_test_command
from compliance.decision import Decision
from compliance.diagnostics import Diagnostic, DiagnosticSet, Severity
from compliance.engine import Engine, check_paths
from compliance.errors import ConfigurationError, EvaluationError, LogIntegrityError
from compliance.render import render_github, render_json, render_sarif, render_summary, render_text

EXIT_OK = 0
EXIT_ERRORS = 1
"""The packs have errors, a strict evaluation failed, a log does not verify or replay."""
EXIT_USAGE = 2
"""Usage, input or output problems: bad options, unreadable or malformed files, a closed pipe."""
EXIT_INTERNAL = 70
"""An unexpected exception, i.e. a bug in compliance (``EX_SOFTWARE`` of sysexits.h)."""
EXIT_INTERRUPTED = 130
"""Interrupted with Ctrl-C (128 + SIGINT, as shells report it)."""

DEBUG_ENV = "COMPLIANCE_DEBUG"

_EXIT_CODES = f"""\
exit codes:
  {EXIT_OK}    success (check: no errors; eval: a decision was printed, allow or deny)
  {EXIT_ERRORS}    the packs have errors (check --strict: or warnings); eval --strict: a rule failed
       to evaluate; log verify / replay: the log is broken or a decision differs
  {EXIT_USAGE}    usage, input or output problem: bad options, a missing or unreadable file,
       malformed JSON, a context of the wrong shape, standard output closed or full
  {EXIT_INTERNAL}   internal error (a bug in compliance): please report it; --debug or
       {DEBUG_ENV}=1 prints the traceback
  {EXIT_INTERRUPTED}  interrupted (Ctrl-C)
"""

_DESCRIPTION = """\
Compliance rules engine: declarative rule packs (YAML + CEL) in, auditable decisions out.

examples:
  compliance check rules/                         validate the shipped pack set
  compliance check --format github rules/         annotations for GitHub Actions
  compliance check --manifest rules/packset.yaml my-pack.yaml
  compliance eval --rules rules/ examples/contexts/fable5-french-national-after-directive.json
  echo '{"request": {...}}' | compliance eval --rules rules/ --explain -
  compliance log verify decisions.jsonl
  compliance bundle build rules/ -o rules.bundle --sign key.pem
  compliance eval --rules rules.bundle --public-key pub.pem context.json
"""

def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (it never raises, ``SystemExit`` included)."""
    code = _main(argv)
    try:
        if sys.stdout is not None:
            sys.stdout.flush()
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        write_err(f"error: cannot write to standard output: {reason}")
        silence_stdout()
        code = code or EXIT_USAGE
    return code


def _main(argv: Sequence[str] | None) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help, --version or a usage error (already printed)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    debug = bool(args.debug) or os.environ.get(DEBUG_ENV, "") not in ("", "0")
    try:
        if args.command is None:
            write_out(parser.format_help().rstrip("\n"))
            return EXIT_USAGE
        code: int = args.run(args)
    except (InputError, ConfigurationError) as exc:
        write_err(f"error: {exc}")
        return EXIT_USAGE
    except OutputError as exc:
        write_err(f"error: cannot write to standard output: {exc}")
        silence_stdout()
        return EXIT_USAGE
    except KeyboardInterrupt:
        write_err("interrupted")
        return EXIT_INTERRUPTED
    except Exception as exc:
        _report_internal_error(exc, debug=debug)
        return EXIT_INTERNAL
    return code


def _report_internal_error(exc: BaseException, *, debug: bool) -> None:
    """A short bug report: what was raised, where to report it, how to see the traceback."""
    summary = (str(exc).strip().splitlines() or [""])[0][:200]
    write_err(f"error: internal error: {type(exc).__name__}" + (f": {summary}" if summary else ""))
    write_err(f"  this is a bug in compliance {_version()}: please report it to the maintainers "
              "with the command you ran and its input files")
    if debug:
        write_err("".join(traceback.format_exception(exc)).rstrip("\n"))
    else:
        write_err(f"  (run with --debug or {DEBUG_ENV}=1 to print the traceback)")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="compliance", description=_DESCRIPTION,
        epilog=_EXIT_CODES + "\nreference: docs/cli.md",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    parser.add_argument("--debug", action="store_true",
                        help=f"print the traceback of an internal error (or set {DEBUG_ENV}=1)")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="print the traceback of an internal error")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_check(sub, common)
    _add_eval(sub, common)
    _add_audit(sub, common)
    add_test_command(sub, common)
    add_diff_command(sub, common)
    add_observe_command(sub, parents=[common])
    _add_bundle(sub, common)
    return parser


def _add_bundle(sub: Any, common: argparse.ArgumentParser) -> None:
    from compliance.cli.bundle_commands import add_bundle_commands  # noqa: PLC0415

    add_bundle_commands(sub, common)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415

    try:
        return version("compliance")
    except PackageNotFoundError:
        return "unknown"


def _load_rules(paths: Sequence[str], manifest: str | None = None
                ) -> tuple[DiagnosticSet, Any] | None:
    """``check_paths`` after refusing missing paths and special files (None: already reported)."""
    bad = False
    for name in [*paths, *([manifest] if manifest else [])]:
        path = Path(name)
        if not path.exists():
            write_err(f"error: {name}: no such file or directory")
            bad = True
        elif not path.is_dir():
            try:
                require_regular_file(path, name)
            except InputError as exc:
                write_err(f"error: {exc}")
                bad = True
    if bad:
        return None
    schema = None
    if manifest is not None:
        from compliance.loader import load_schema_file  # noqa: PLC0415

        schema, found = load_schema_file(manifest)
        if schema is None:
            return DiagnosticSet(found), None
    return check_paths(list(paths), schema)


# --- check --------------------------------------------------------------------------------


def _add_check(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "check", help="parse, type-check and lint rule packs", parents=[common],
        description="Parse, type-check and lint rule packs. Directories are searched for "
                    "*.yaml packs and a packset.yaml manifest (the context schema).\n\n"
                    "exit codes: 0 clean, 1 errors found (or warnings with --strict), "
                    "2 usage or I/O error, 70 internal error",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("paths", nargs="*", metavar="PATH",
                   help="pack files or pack-set directories, or one signed bundle")
    add_public_key_option(p)
    p.add_argument("--format", choices=["text", "json", "github", "sarif"], default="text",
                   help="output format (default: text with source snippets)")
    p.add_argument("--strict", action="store_true", help="treat warnings as errors")
    p.add_argument("--quiet", "-q", action="store_true", help="print only errors and warnings")
    p.add_argument("--manifest", "--schema", metavar="FILE", dest="manifest",
                   help="check against this manifest (its `context:`) or bare context schema, "
                        "instead of a packset.yaml found among the paths")
    p.add_argument("--explain", action="store_true",
                   help="list the checker's passes in run order with the codes each reports")
    p.add_argument("--report", choices=["disclosure", "overrides"],
                   help="on a clean set, list every intervention (disclosure) or tier override "
                        "with its justification, as text or --format json")
    p.set_defaults(run=_run_check)


def _run_check(args: argparse.Namespace) -> int:
    if args.explain:
        write_out(explain_passes())
        return EXIT_OK
    if not args.paths:
        write_err("usage: compliance check [options] PATH [PATH ...]")
        write_err("error: check: at least one PATH is required (or --explain)")
        return EXIT_USAGE
    if is_bundle_argument(args.paths):
        return _check_bundle(args)
    loaded = _load_rules(args.paths, args.manifest)
    if loaded is None:
        return EXIT_USAGE
    diagnostics, checked = loaded
    if args.report:
        from compliance.cli.reports import run_report  # noqa: PLC0415

        return run_report(args, diagnostics, checked)
    shown = [d for d in diagnostics if not (args.quiet and d.severity is Severity.NOTE)]
    _print_diagnostics(shown, args.format)
    failed = bool(diagnostics.errors) or (args.strict and bool(diagnostics.warnings))
    if args.format == "text" and not failed and checked is not None:
        n_rules = sum(len(p.rules) for p in checked.packs)
        write_err(f"ok: {len(checked.packs)} packs, {n_rules} rules checked")
    return EXIT_ERRORS if failed or checked is None else EXIT_OK


def _check_bundle(args: argparse.Namespace) -> int:
    """``check`` of a bundle: verified in full, then its packs checked (errors printed)."""
    if args.manifest or args.report:
        write_err("error: check: --manifest and --report take pack-set directories, "
                  "not a bundle")
        return EXIT_USAGE
    notes: list[Diagnostic] = []
    opened = open_bundle(args.paths, args.public_key, notes=notes)
    if isinstance(opened, int):
        return opened
    checked = opened[1]
    shown = [d for d in notes if not (args.quiet and d.severity is Severity.NOTE)]
    _print_diagnostics(shown, args.format)
    if args.strict and any(d.severity is Severity.WARNING for d in notes):
        return EXIT_ERRORS
    if args.format == "text":
        n_rules = sum(len(p.rules) for p in checked.packs)
        write_err(f"ok: {args.paths[0]}: verified; {len(checked.packs)} packs, {n_rules} "
                  "rules checked")
    return EXIT_OK


_CODE = re.compile(r"``([a-z][a-z0-9]*(?:-[a-z0-9]+)*)``")


def explain_passes() -> str:
    """The checker's pass table as text: each pass and the codes its docstring's summary names."""
    from compliance.checker import PASSES  # noqa: PLC0415
    from compliance.checker._cost import check_cost  # noqa: PLC0415

    rows = [(name, run.__doc__ or "") for name, run in PASSES]
    rows.append(("cost (after the passes, on an error-free set)", check_cost.__doc__ or ""))
    lines = ["checker passes, in run order (every pass sees the same parsed set):"]
    for number, (name, doc) in enumerate(rows, 1):
        summary = doc.split("\n\n", 1)[0]  # the first paragraph names the codes reported
        codes = list(dict.fromkeys(_CODE.findall(summary)))
        lines.append(f"  {number}. {name}: {', '.join(codes) if codes else '-'}")
    lines.append("loading (before the passes) reports YAML, schema and file codes; "
                 "see docs/errors.md for every code")
    return "\n".join(lines)


def _print_diagnostics(diagnostics: Sequence[Diagnostic], fmt: str, *, err: bool = False) -> None:
    emit = write_err if err else write_out
    sources = _sources(diagnostics)
    if fmt == "json":
        emit(render_json(diagnostics))
    elif fmt == "github":
        text = render_github(diagnostics)
        if text:
            emit(text)
    elif fmt == "sarif":
        emit(render_sarif(diagnostics, sources, version=_version()))
    elif diagnostics:
        emit(render_text(diagnostics, sources))
        emit(render_summary(diagnostics))


def _sources(diagnostics: Sequence[Diagnostic]) -> dict[str, str]:
    """The text of each file a diagnostic points into, for snippets (regular files the loader
    would read, never more than its size limit)."""
    from compliance.loader import DEFAULT_LIMITS  # noqa: PLC0415

    files = {d.span.file for d in diagnostics if d.span is not None}
    sources: dict[str, str] = {}
    for name in files:
        path = Path(name)
        try:
            if path.is_file() and path.stat().st_size <= DEFAULT_LIMITS.max_file_bytes:
                sources[name] = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
    return sources


# --- eval ---------------------------------------------------------------------------------


def _add_eval(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "eval", help="evaluate one request context and print the decision", parents=[common],
        description="Evaluate one request context (a JSON file, or - for standard input) "
                    "against a pack set and print the decision.\n\n"
                    "exit codes: 0 a decision was printed (allow or deny), 1 the packs have "
                    "errors (or --strict and a rule failed), 2 usage error, a malformed "
                    "context or an unusable --log, 70 internal error",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("context", metavar="CONTEXT", help="context JSON file, or - for stdin")
    add_rules_options(p)
    p.add_argument("--format", choices=["text", "json"], default="text",
                   help="json prints exactly the decision record (docs/cli.md)")
    p.add_argument("--explain", action="store_true",
                   help="show, per rule, whether it applied and why not")
    p.add_argument("--strict", action="store_true",
                   help="fail (exit 1) on evaluation errors instead of a fail-closed decision")
    p.add_argument("--backend", choices=["compiled", "closures", "interpreter"],
                   default="compiled",
                   help="CEL backend: generated Python per rule (default); the closure compiler "
                        "or cel-python's interpreter, both test oracles")
    p.add_argument("--log", metavar="FILE",
                   help="also append the decision and its context to a hash-chained log")
    p.add_argument("--max-context-bytes", type=_positive_int, default=DEFAULT_MAX_CONTEXT_BYTES,
                   metavar="N", help=f"refuse a context larger than N bytes "
                                     f"(default {DEFAULT_MAX_CONTEXT_BYTES})")
    add_events_option(p)
    p.set_defaults(run=_run_eval)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive: {text}")
    return value


def _run_eval(args: argparse.Namespace) -> int:
    data, label = read_bounded(args.context, args.max_context_bytes)
    context = parse_json_object(data, label)
    checked = load_checked(args.rules, args.public_key)
    if isinstance(checked, int):
        return checked
    engine = (replayed_engine(checked, args.backend, args.events, context) if args.events
              else Engine(checked, backend=args.backend))
    problems = engine.validate(context)
    for problem in problems:
        write_err(f"{problem.severity}: {label}: {problem}")
    if any(problem.severity == "error" for problem in problems):
        return EXIT_USAGE
    log = _open_log(args.log, engine) if args.log else None
    try:
        try:
            decision = engine.evaluate(context, strict=args.strict, explain=args.explain)
        except EvaluationError as exc:
            write_err(f"error: {exc}")
            return EXIT_ERRORS
        if log is not None:
            try:
                log.record(decision, context)
            except OSError as exc:
                raise InputError(f"{args.log}: cannot write: {exc.strerror or exc}") from None
    finally:
        if log is not None:
            _close_log(log, args.log)
    write_out(decision_json(decision) if args.format == "json" else render_decision(decision))
    return EXIT_OK


def _open_log(name: str, engine: Engine) -> Any:
    """The decision log to append to, after checking that it is one (``InputError`` if not)."""
    from compliance.audit import DecisionLog  # noqa: PLC0415

    path = Path(name)
    if path.exists():
        require_regular_file(path, name)
    try:
        # The engine's schema says what to redact; `shared`: several `eval --log` runs (a
        # script's parallel jobs) may append to one log at once.
        return DecisionLog(path, engine=engine, shared=True)
    except OSError as exc:
        raise InputError(f"{name}: cannot open the log: {exc.strerror or exc}") from None
    except (LogIntegrityError, ValueError, RecursionError) as exc:
        raise InputError(f"{name}: not an intact decision log, not appending: "
                         f"{_log_problem(exc)}") from None


def _close_log(log: Any, name: str) -> None:
    try:
        log.close()
    except OSError as exc:  # the final flush of a full disk
        raise InputError(f"{name}: cannot write: {exc.strerror or exc}") from None


def _log_problem(exc: BaseException) -> str:
    """One line for what ``audit`` raised on a file that is not a readable decision log."""
    if isinstance(exc, LogIntegrityError):
        return str(exc)
    if isinstance(exc, UnicodeDecodeError):
        return f"not UTF-8 text (byte {exc.start} of a line)"
    if isinstance(exc, RecursionError):
        return "a record is nested too deeply to read"
    if "integer string conversion" in str(exc):
        return "a record holds an integer too long to read"
    return f"a record cannot be read ({type(exc).__name__}: {_first_line(exc)})"


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [""])[0][:200]


# --- audit logs: `log` and `replay` live in compliance.cli.log_commands ------------------------


def _add_audit(sub: Any, common: argparse.ArgumentParser) -> None:
    from compliance.cli.log_commands import add_audit_commands  # noqa: PLC0415

    add_audit_commands(sub, parents=[common])


def decision_json(decision: Decision) -> str:
    """The decision record as JSON (section 5 fields, plus the explanation when asked)."""
    exclude = {"explanation"} if decision.explanation is None else set()
    return decision.model_dump_json(indent=2, exclude=exclude)


def render_decision(decision: Decision) -> str:
    """A human summary of a decision."""
    model = f"  model: {decision.model}" if decision.model else ""
    lines = [f"effect: {decision.effect}{model}"]
    lines += [f"  reason: {r}" for r in decision.reasons]
    if decision.missing:
        lines.append("missing: " + ", ".join(decision.missing))
    lines += [f"intervention: {i.kind} {i.target or ''} ({i.disclosure}) by {i.pack}/{i.rule}"
              + (f": {i.message}" if i.message else "") for i in decision.interventions]
    obligations = decision.obligations.model_dump(exclude_none=True)
    if not obligations.get("custom"):
        obligations.pop("custom", None)
    if obligations:
        lines.append("obligations: " + ", ".join(f"{k}={v}" for k, v in obligations.items()))
    lines += [f"conflict: {c.obligation}: {c.winner.pack}/{c.winner.rule} won over "
              + ", ".join(f"{o.pack}/{o.rule}" for o in c.overridden) + f" ({c.why})"
              for c in decision.conflicts]
    lines += [f"matched: {m.pack}/{m.rule} ({m.effect}, pass {m.routing_pass}"
              + (", fail-closed" if m.fail_closed else "") + ")" for m in decision.matched]
    lines += [f"error: {e.pack}/{e.rule}: {e.code}: {e.message}"
              + (f" at {e.location}" if e.location else "") for e in decision.errors]
    lines += [f"fact: {f.fact} for `{f.key}` from {f.since.isoformat()} until "
              f"{f.until.isoformat()}" for f in decision.facts]
    if decision.valid_until:
        lines.append(f"valid until: {decision.valid_until.isoformat()}")
    if decision.explanation is not None:
        lines.append("explanation:")
        for x in decision.explanation:
            lines.append(f"  pass {x.routing_pass} {x.pack}/{x.rule}: {x.status}"
                         + (f" ({x.detail})" if x.detail else "")
                         + (f" missing: {', '.join(x.missing)}" if x.missing else ""))
            if x.trace is not None:
                lines += trace_lines(x.trace.when, x.trace.unless, indent="    ")
    lines.append(f"pack set: {decision.pack_set_digest}")
    return "\n".join(lines)


__all__ = ["main"]
