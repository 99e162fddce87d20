"""The ``compliance`` command line: check packs, evaluate contexts.

Exit codes: 0 success (for ``check``: no errors), 1 the packs have errors,
2 usage or input problems (unreadable file, invalid JSON, a context of the wrong shape).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from compliance.decision import Decision
from compliance.diagnostics import Diagnostic, Severity
from compliance.engine import Engine, check_paths
from compliance.errors import EvaluationError
from compliance.render import render_github, render_json, render_sarif, render_summary, render_text

EXIT_OK, EXIT_ERRORS, EXIT_USAGE = 0, 1, 2

_DESCRIPTION = """\
Compliance rules engine: declarative rule packs (YAML + CEL) in, auditable decisions out.

examples:
  compliance check rules/                         validate the shipped pack set
  compliance check --format github rules/         annotations for GitHub Actions
  compliance eval --rules rules/ examples/contexts/fable5-french-national-after-directive.json
  echo '{"request": {...}}' | compliance eval --rules rules/ --explain -
"""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        code: int = args.run(args)
    except BrokenPipeError:
        return EXIT_OK
    return code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="compliance", description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_check(sub)
    _add_eval(sub)
    _add_audit(sub)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415

    try:
        return version("compliance")
    except PackageNotFoundError:
        return "unknown"


# --- check --------------------------------------------------------------------------------


def _add_check(sub: Any) -> None:
    p = sub.add_parser(
        "check", help="parse, type-check and lint rule packs",
        description="Parse, type-check and lint rule packs. Directories are searched for "
                    "*.yaml packs and a packset.yaml manifest (the context schema).\n\n"
                    "exit codes: 0 clean, 1 errors found (or warnings with --strict), "
                    "2 usage or I/O error",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="pack files or pack-set directories")
    p.add_argument("--format", choices=["text", "json", "github", "sarif"], default="text",
                   help="output format (default: text with source snippets)")
    p.add_argument("--strict", action="store_true", help="treat warnings as errors")
    p.add_argument("--quiet", "-q", action="store_true", help="print only errors and warnings")
    p.set_defaults(run=_run_check)


def _run_check(args: argparse.Namespace) -> int:
    missing = [p for p in args.paths if not Path(p).exists()]
    if missing:
        for p in missing:
            print(f"error: {p}: no such file or directory", file=sys.stderr)
        return EXIT_USAGE
    diagnostics, checked = check_paths(args.paths)
    shown = [d for d in diagnostics if not (args.quiet and d.severity is Severity.NOTE)]
    _print_diagnostics(shown, args.format, sys.stdout)
    failed = bool(diagnostics.errors) or (args.strict and bool(diagnostics.warnings))
    if args.format == "text" and not failed and checked is not None:
        n_rules = sum(len(p.rules) for p in checked.packs)
        print(f"ok: {len(checked.packs)} packs, {n_rules} rules checked", file=sys.stderr)
    return EXIT_ERRORS if failed else EXIT_OK


def _print_diagnostics(diagnostics: Sequence[Diagnostic], fmt: str, out: TextIO) -> None:
    sources = _sources(diagnostics)
    if fmt == "json":
        out.write(render_json(diagnostics) + "\n")
    elif fmt == "github":
        text = render_github(diagnostics)
        out.write(text + ("\n" if text else ""))
    elif fmt == "sarif":
        out.write(render_sarif(diagnostics, sources) + "\n")
    elif diagnostics:
        out.write(render_text(diagnostics, sources) + "\n")
        out.write(render_summary(diagnostics) + "\n")


def _sources(diagnostics: Sequence[Diagnostic]) -> dict[str, str]:
    files = {d.span.file for d in diagnostics if d.span is not None}
    sources: dict[str, str] = {}
    for name in files:
        try:
            sources[name] = Path(name).read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
    return sources


# --- eval ---------------------------------------------------------------------------------


def _add_eval(sub: Any) -> None:
    p = sub.add_parser(
        "eval", help="evaluate one request context and print the decision",
        description="Evaluate one request context (a JSON file, or - for standard input) "
                    "against a pack set and print the decision.\n\n"
                    "exit codes: 0 a decision was printed (allow or deny), 1 the packs have "
                    "errors, 2 usage error or a malformed context",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("context", metavar="CONTEXT", help="context JSON file, or - for stdin")
    p.add_argument("--rules", "-r", action="append", required=True, metavar="PATH",
                   help="pack file or pack-set directory (repeatable)")
    p.add_argument("--format", choices=["text", "json"], default="text",
                   help="json prints exactly the decision record (PRODUCT.md section 5)")
    p.add_argument("--explain", action="store_true",
                   help="show, per rule, whether it applied and why not")
    p.add_argument("--strict", action="store_true",
                   help="fail (exit 1) on evaluation errors instead of a fail-closed decision")
    p.add_argument("--backend", choices=["compiled", "interpreter"], default="compiled",
                   help="CEL backend: compiled closures (default) or cel-python's interpreter")
    p.add_argument("--log", metavar="FILE",
                   help="also append the decision and its context to a hash-chained log")
    p.set_defaults(run=_run_eval)


def _run_eval(args: argparse.Namespace) -> int:
    context = _read_context(args.context)
    if context is None:
        return EXIT_USAGE
    diagnostics, checked = check_paths(args.rules)
    if checked is None:
        _print_diagnostics(diagnostics.errors or diagnostics.sorted(), "text", sys.stderr)
        return EXIT_ERRORS
    engine = Engine(checked, backend=args.backend)
    problems = engine.validate(context)
    if problems:
        for problem in problems:
            print(f"error: {args.context}: {problem}", file=sys.stderr)
        return EXIT_USAGE
    try:
        decision = engine.evaluate(context, strict=args.strict, explain=args.explain)
    except EvaluationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERRORS
    if args.log:
        from compliance.audit import DecisionLog  # noqa: PLC0415

        with DecisionLog(args.log, engine=engine) as log:
            log.record(decision, context)
    if args.format == "json":
        print(decision_json(decision))
    else:
        print(render_decision(decision))
    return EXIT_OK


# --- audit logs: `log` and `replay` live in compliance.cli_audit ------------------------


def _add_audit(sub: Any) -> None:
    from compliance.cli_audit import add_audit_commands  # noqa: PLC0415

    add_audit_commands(sub)


def _read_context(name: str) -> Any:
    try:
        text = sys.stdin.read() if name == "-" else Path(name).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"error: {name}: cannot read: {getattr(exc, 'strerror', None) or exc}",
              file=sys.stderr)
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        label = "<stdin>" if name == "-" else name
        print(f"error: {label}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}", file=sys.stderr)
        return None


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
    if decision.valid_until:
        lines.append(f"valid until: {decision.valid_until.isoformat()}")
    if decision.explanation is not None:
        lines.append("explanation:")
        lines += [f"  pass {x.routing_pass} {x.pack}/{x.rule}: {x.status}"
                  + (f" ({x.detail})" if x.detail else "")
                  + (f" missing: {', '.join(x.missing)}" if x.missing else "")
                  for x in decision.explanation]
    lines.append(f"pack set: {decision.pack_set_digest}")
    return "\n".join(lines)


__all__ = ["main"]
