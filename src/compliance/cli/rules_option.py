"""The pack-set arguments every command shares: directories and pack files, or one bundle.

One definition of "the rules a command runs on": ``add_rules_options`` declares ``--rules``
and ``--public-key`` the same way everywhere, and ``load_checked`` turns them into a checked
pack set -- a signed bundle verified in full first (docs/bundles.md), anything else through
the loader and checker -- or an exit code after printing why not. A bundle without
``--public-key`` is refused: nothing unverified is ever loaded from one.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import TYPE_CHECKING

from compliance.cli.streams import write_err
from compliance.errors import PackError

if TYPE_CHECKING:  # compliance.bundle (tarfile) is imported only when a bundle is given
    from compliance.bundle import BundleError, Contents
    from compliance.checker import CheckedPackSet
    from compliance.diagnostics import Diagnostic

__all__ = ["BUNDLE_HELP", "add_public_key_option", "add_rules_options", "is_bundle_argument",
           "load_checked", "open_bundle", "report_pack_errors", "report_refused"]

EXIT_ERRORS, EXIT_USAGE = 1, 2
BUNDLE_HELP = "pack file or pack-set directory (repeatable), or one signed bundle"


def add_public_key_option(p: argparse.ArgumentParser) -> None:
    """``--public-key``: what a bundle given as the rules must be signed with."""
    p.add_argument("--public-key", metavar="PUB.pem",
                   help="Ed25519 public key (PEM) that a bundle given as the pack set "
                        "must be signed with; required with a bundle")


def add_rules_options(p: argparse.ArgumentParser, *, required: bool = True,
                      help: str = BUNDLE_HELP) -> None:
    """``--rules/-r PATH`` (repeatable) and ``--public-key``."""
    p.add_argument("--rules", "-r", action="append", required=required, metavar="PATH",
                   help=help)
    add_public_key_option(p)


def is_bundle_argument(paths: Sequence[str]) -> bool:
    """True when the paths name a bundle (it must then be the only one)."""
    from compliance.bundle import looks_like_bundle  # noqa: PLC0415

    return any(looks_like_bundle(p) for p in paths)


def load_checked(paths: Sequence[str], public_key: str | None) -> CheckedPackSet | int:
    """The checked pack set of ``paths``, or an exit code once the reason is printed.

    2: a path, key or bundle file is unusable (or a bundle came without a key, or not
    alone); 1: a bundle was refused (every problem printed) or the packs have errors.
    """
    from compliance.cli import _load_rules, _print_diagnostics  # noqa: PLC0415

    if not is_bundle_argument(paths):
        loaded = _load_rules(paths)
        if loaded is None:
            return EXIT_USAGE
        diagnostics, checked = loaded
        if checked is None:
            _print_diagnostics(diagnostics.errors or diagnostics.sorted(), "text", err=True)
            return EXIT_ERRORS
        result: CheckedPackSet = checked
        return result
    opened = open_bundle(paths, public_key)
    return opened if isinstance(opened, int) else opened[1]


def open_bundle(paths: Sequence[str], public_key: str | None, *,
                notes: list[Diagnostic] | None = None
                ) -> tuple[Contents, CheckedPackSet] | int:
    """The one bundle in ``paths``, verified in full and checked, or an exit code (reported).

    Its verified bytes come back too, for commands that hand the files on (``diff``);
    ``notes`` receives the packs' warnings and notes (``check`` prints them).
    """
    from compliance.bundle import (  # noqa: PLC0415
        BundleError,
        bundle_verifier,
        check_contents,
        read_bundle,
    )

    if len(paths) != 1:
        write_err("error: a bundle is a whole pack set; give it alone, without other paths")
        return EXIT_USAGE
    if public_key is None:
        write_err(f"error: {paths[0]}: a bundle needs --public-key to verify it")
        return EXIT_USAGE
    try:
        verifier = bundle_verifier(public_key)  # an unusable key first: nothing can verify
        contents = read_bundle(paths[0])
        return contents, check_contents(contents, verifier, notes=notes)
    except BundleError as exc:
        return report_refused(exc)
    except PackError as exc:
        return report_pack_errors(paths[0], exc)


def report_pack_errors(bundle: str, exc: PackError) -> int:
    """Print the diagnostics of a verified bundle whose packs do not check; 1."""
    from compliance.cli import _print_diagnostics  # noqa: PLC0415

    _print_diagnostics(exc.diagnostics, "text", err=True)
    write_err(f"error: {bundle}: verified, but its packs have errors")
    return EXIT_ERRORS


def report_refused(exc: BundleError) -> int:
    """Print every problem of a refused bundle; 2 if it (or the key) is unusable, else 1."""
    usage = exc.code in ("bundle-unreadable", "bundle-bad-key")
    for problem in exc.problems:
        write_err(f"error: {exc.source}: {problem}")
    what = "key refused" if exc.code == "bundle-bad-key" else "refused"
    write_err(f"error: {exc.source}: {what} ({len(exc.problems)} problem"
              f"{'s' if len(exc.problems) != 1 else ''})")
    return EXIT_USAGE if usage else EXIT_ERRORS
