"""``compliance diff OLD NEW --traffic FILE...``: the impact of a pack change on traffic.

Registered by ``cli`` with ``add_diff_command``; problems surface as ``InputError`` (exit 2)
like every other command's, and the guards (``--fail-on-change``,
``--max-changed-fraction``) exit 1 so that a CI job can block a pull request.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from compliance.cli.rules_option import add_public_key_option, is_bundle_argument, open_bundle
from compliance.cli.streams import InputError, require_regular_file, write_err, write_out
from compliance.impact import default_workers, make_job, run
from compliance.impact.html import render_html
from compliance.impact.packsets import Checked, PackSource, PackSourceError, check_source, resolve
from compliance.impact.report import percent, render_json, render_markdown, render_text
from compliance.impact.traffic import DEFAULT_PARTITION_BYTES
from compliance.render import render_text as render_diagnostics

EXIT_OK = 0
EXIT_GUARD = 1
"""A guard tripped (or a pack set has errors)."""
EXIT_USAGE = 2

_RENDERERS = {"text": render_text, "json": render_json, "markdown": render_markdown,
              "html": render_html}


def add_diff_command(sub: Any, common: argparse.ArgumentParser | None = None) -> None:
    """Add ``diff`` to the ``compliance`` subcommands."""
    p = sub.add_parser(
        "diff", help="measure what a pack change does to recorded traffic",
        parents=[common] if common is not None else [],
        description="Decide every recorded context with pack sets OLD and NEW and report what "
                    "changes: effect, served model, interventions (kind, target, disclosure) "
                    "or obligation values. OLD and NEW are directories, git:REV:PATH or "
                    "bundles (verified with --public-key first).\n\n"
                    "exit codes: 0 report written (and no guard tripped), 1 a guard tripped "
                    "(--fail-on-change, --max-changed-fraction) or a pack set has errors, "
                    "2 usage or input error, 70 internal error",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("old", metavar="OLD",
                   help="pack set before: a directory, git:REV:PATH or a signed bundle")
    p.add_argument("new", metavar="NEW",
                   help="pack set after: a directory, git:REV:PATH or a signed bundle")
    add_public_key_option(p)
    p.add_argument("--traffic", "-t", nargs="+", action="extend", required=True,
                   metavar="FILE", help="JSON Lines of contexts (gzip too) or decision logs")
    p.add_argument("--format", choices=sorted(_RENDERERS), default="text")
    p.add_argument("--out", "-o", metavar="PATH", help="write the report here, not stdout")
    p.add_argument("--workers", "-w", type=_positive_int, default=None, metavar="N",
                   help="local processes (default: all cores); with --cluster local, "
                        "the LocalCluster's workers")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--scheduler", metavar="URL",
                       help="run on the Dask cluster at URL (tcp://host:8786); needs "
                            "compliance[dask]")
    where.add_argument("--cluster", choices=["local"],
                       help="start a Dask LocalCluster of --workers processes")
    p.add_argument("--sample", type=_non_negative_int, default=5, metavar="K",
                   help="example contexts kept per transition (default 5; ids redacted)")
    p.add_argument("--fail-on-change", action="store_true",
                   help="exit 1 when any context changes")
    p.add_argument("--max-changed-fraction", type=_fraction, metavar="F",
                   help="exit 1 when more than F (0..1) of the contexts change")
    p.add_argument("--partition-bytes", type=_positive_int, default=DEFAULT_PARTITION_BYTES,
                   metavar="N", help="cut plain traffic files into tasks of about N bytes "
                                     "(tuning only: the report does not depend on it)")
    p.add_argument("--quiet", "-q", action="store_true",
                   help="no progress and no summary line on standard error")
    p.set_defaults(run=run_diff_command)


def _positive_int(text: str) -> int:
    value = _non_negative_int(text)
    if value == 0:
        raise argparse.ArgumentTypeError(f"must be positive: {text}")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative: {text}")
    return value


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1: {text}")
    return value


def run_diff_command(args: argparse.Namespace) -> int:
    """Run ``compliance diff``; returns the exit code."""
    for name in args.traffic:
        require_regular_file(Path(name), name)
    sources = []
    for spec in (args.old, args.new):
        source = _source(spec, args.public_key)
        if isinstance(source, int):  # a refused bundle (reported)
            return source
        sources.append(source)
    checked = [check_source(s) for s in sources]
    if any(c.engine is None for c in checked):
        for source, result in zip(sources, checked, strict=True):
            if result.engine is None:
                _print_pack_errors(source, result)
        return EXIT_GUARD
    old, new = (c.engine for c in checked)
    assert old is not None
    assert new is not None
    job = make_job(sources[0], old, sources[1], new, sample=args.sample)
    dask = args.scheduler is not None or args.cluster == "local"
    workers = args.workers or (2 if dask else default_workers())
    progress = None if args.quiet or not _is_tty() else _Progress(args.traffic)
    try:
        summary = run(job, args.traffic, workers=workers, dask=dask, scheduler=args.scheduler,
                      partition_bytes=args.partition_bytes, progress=progress)
    except ImportError as exc:
        if dask:
            raise InputError("the Dask runner needs the optional dependency: "
                             "pip install 'compliance[dask]'") from exc
        raise
    except OSError as exc:
        raise InputError(f"{getattr(exc, 'filename', None) or 'traffic'}: cannot read: "
                         f"{exc.strerror or exc}") from None
    finally:
        if progress is not None:
            progress.finish()
    report = summary.report(list(args.traffic), old=args.old, new=args.new)
    _emit(_RENDERERS[args.format](report), args.out)
    return _guards(report, args)


def _source(spec: str, public_key: str | None) -> PackSource | int:
    if not spec.startswith("git:") and is_bundle_argument([spec]):
        opened = open_bundle([spec], public_key)  # verified in full, then its bytes diffed
        return opened if isinstance(opened, int) else PackSource(
            spec, tuple(opened[0].pack_files()))
    try:
        return resolve(spec)
    except PackSourceError as exc:
        raise InputError(str(exc)) from None


def _print_pack_errors(source: PackSource, result: Checked) -> None:
    """The pack set's diagnostics, with file names under its own label (not a temp dir)."""
    errors = result.diagnostics.errors or result.diagnostics.sorted()
    prefix = source.label.rstrip("/") + "/"
    text = render_diagnostics(errors, result.sources).replace(result.root + "/", prefix)
    write_err(f"error: {source.label}: the pack set has errors")
    write_err(text)


def _emit(text: str, out: str | None) -> None:
    if out is None:
        write_out(text)
        return
    try:
        Path(out).write_text(text + "\n", encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{out}: cannot write: {exc.strerror or exc}") from None


def _guards(report: dict[str, Any], args: argparse.Namespace) -> int:
    changed, fraction = report["changed"], report["changed_fraction"]
    code = EXIT_OK
    if args.fail_on_change and changed:
        write_err(f"error: --fail-on-change: {changed:,} contexts change ({percent(fraction)})")
        code = EXIT_GUARD
    limit = args.max_changed_fraction
    if limit is not None and fraction > limit:
        write_err(f"error: --max-changed-fraction {limit}: {percent(fraction)} of the contexts "
                  f"change ({changed:,} of {report['total']:,})")
        code = EXIT_GUARD
    if not args.quiet and (args.out is not None or args.format != "text"):
        write_err(f"{changed:,} of {report['total']:,} contexts change ({percent(fraction)}); "
                  f"{report['errors']:,} errors")
    return code


def _is_tty() -> bool:
    stream = sys.stderr
    try:
        return stream is not None and stream.isatty()
    except (OSError, ValueError):
        return False


class _Progress:
    """Records per second and an ETA from bytes read, on one terminal line of stderr."""

    def __init__(self, files: list[str]) -> None:
        self.total_bytes = sum(Path(f).stat().st_size for f in files)
        self.bytes = 0
        self.records = 0
        self.start = time.monotonic()
        self.shown = False

    def __call__(self, size: int, records: int) -> None:
        self.bytes += size
        self.records += records
        elapsed = max(time.monotonic() - self.start, 1e-9)
        rate = self.records / elapsed
        done = self.bytes / self.total_bytes if self.total_bytes else 1.0
        eta = elapsed * (1 - done) / done if done else 0.0
        sys.stderr.write(f"\r{self.records:,} records  {rate:,.0f} records/s  "
                         f"{done:.0%}  ETA {int(eta) // 60}:{int(eta) % 60:02d}   ")
        sys.stderr.flush()
        self.shown = True

    def finish(self) -> None:
        if self.shown:
            sys.stderr.write("\n")
            sys.stderr.flush()


__all__ = ["add_diff_command", "run_diff_command"]
