"""``compliance test`` and ``compliance schema``: policy suites and editor schemas.

Registered by ``cli`` through ``add_test_command``; everything else lives in
``compliance.testing``. Exit codes follow the rest of the CLI: 0 every case passed,
1 a case failed (or coverage is below ``--coverage-min``), 2 a malformed suite or pack set,
or a usage problem.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from compliance.cli.streams import InputError, write_err, write_out

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def add_test_command(sub: Any, common: argparse.ArgumentParser | None = None) -> None:
    """Add ``test`` and ``schema`` to the ``compliance`` subcommands."""
    parents = [common] if common is not None else []
    p = sub.add_parser(
        "test", help="run policy test suites, with rule coverage and JUnit output",
        parents=parents, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Run policy test suites: *.test.yaml files, or YAML files under a "
                    "tests/ folder of a pack set (docs/testing.md).\n\n"
                    "exit codes: 0 every case passed, 1 a case failed or coverage is below "
                    "--coverage-min, 2 a malformed suite or pack set, or a usage error, "
                    "70 internal error")
    p.add_argument("paths", nargs="+", metavar="PATH", help="suite files or directories")
    p.add_argument("--filter", "-k", metavar="PATTERN",
                   help="run only cases whose `suite :: name` contains PATTERN "
                        "(a glob when it has * ? or [; case-insensitive)")
    p.add_argument("--format", choices=["text", "json", "junit"], default="text",
                   help="text (default), json (cases, diffs and coverage) or JUnit XML")
    p.add_argument("--coverage", action="store_true",
                   help="report rule coverage: per pack, and every gap with file:line:col")
    p.add_argument("--coverage-min", type=_percent, metavar="PCT",
                   help="fail (exit 1) when rule coverage is below PCT percent "
                        "(implies --coverage)")
    p.add_argument("--lcov", metavar="FILE",
                   help="also write rule coverage as an LCOV tracefile (implies --coverage)")
    p.add_argument("--verbose", "-v", action="store_true", help="list passing cases too")
    p.set_defaults(run=run_test)
    s = sub.add_parser(
        "schema", help="print the JSON Schema of a file format (for editors)", parents=parents,
        description="Print the JSON Schema of rule packs, policy suites or the pack-set "
                    "manifest, generated from the models of those formats "
                    "(docs/testing.md shows the VS Code set-up).\n\n"
                    "exit codes: 0 printed, 2 usage error")
    s.add_argument("kind", choices=["packs", "suites", "manifest"], help="which format")
    s.set_defaults(run=run_schema)


def _percent(text: str) -> float:
    try:
        value = float(text.rstrip("%"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a percentage: {text!r}") from None
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"must be between 0 and 100: {text}")
    return value


def run_test(args: argparse.Namespace) -> int:
    """``compliance test``: load, run, report; the exit code."""
    from compliance.cli import _print_diagnostics  # noqa: PLC0415  (cli imports this module)
    from compliance.testing import RuleCoverage, prepare, run  # noqa: PLC0415
    from compliance.testing._report import (  # noqa: PLC0415
        coverage_lcov,
        render_coverage,
        render_results,
        results_json,
        results_junit,
    )

    prepared = prepare(args.paths)
    if not prepared.ok:
        _print_diagnostics(prepared.diagnostics.sorted(), "text", err=True)
        return EXIT_USAGE
    if not prepared.suites:
        write_err("error: no policy suites found (files named *.test.yaml, or YAML files "
                  "under a tests/ folder) in " + ", ".join(args.paths))
        return EXIT_USAGE
    want_coverage = bool(args.coverage or args.coverage_min is not None or args.lcov)
    exempt = [e for suite, _ in prepared.suites for e in suite.exempt]
    coverage = RuleCoverage(exempt) if want_coverage else None
    results = run(prepared, args.filter, [coverage] if coverage is not None else [])
    if not results:
        write_err(f"error: no case matches --filter {args.filter!r}")
        return EXIT_USAGE
    if args.format == "json":
        write_out(results_json(results, coverage))
    elif args.format == "junit":
        write_out(results_junit(results))
    else:
        write_out(render_results(results, verbose=args.verbose))
        if coverage is not None:
            write_out(render_coverage(coverage))
    if coverage is not None and args.lcov:
        try:
            Path(args.lcov).write_text(coverage_lcov(coverage), encoding="utf-8")
        except OSError as exc:
            raise InputError(f"{args.lcov}: cannot write: {exc.strerror or exc}") from None
    code = EXIT_OK if all(r.passed for r in results) else EXIT_FAILED
    if coverage is not None and args.coverage_min is not None:
        percent = coverage.percent()
        if percent + 1e-9 < args.coverage_min:
            write_err(f"error: rule coverage {percent:.1f}% is below --coverage-min "
                      f"{args.coverage_min:g}%")
            code = EXIT_FAILED
    return code


def run_schema(args: argparse.Namespace) -> int:
    """``compliance schema KIND``: the JSON Schema, pretty-printed."""
    from compliance.testing._schemas import schema_json  # noqa: PLC0415

    write_out(schema_json(args.kind))
    return EXIT_OK
