"""``compliance bundle build | verify | inspect`` (other commands read bundles through
``compliance.cli.rules_option``).

Exit codes as for every command: 0 success; 1 the bundle does not verify (every problem
found is printed, one line each) or its packs have errors; 2 usage or I/O problems (a
missing file, an unreadable key, an unwritable output); 70 an internal error.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from compliance.bundle import (
    BundleError,
    build_bundle,
    bundle_verifier,
    check_bundle,
    read_bundle,
    verify_contents,
)
from compliance.cli.rules_option import report_pack_errors, report_refused
from compliance.cli.streams import write_err, write_out
from compliance.errors import PackError
from compliance.signing import KeyFileError, Signer, Verifier

EXIT_OK, EXIT_ERRORS, EXIT_USAGE = 0, 1, 2


def add_bundle_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """Register ``bundle`` and its subcommands."""
    p = sub.add_parser("bundle", help="build, verify and inspect signed pack-set bundles",
                       parents=[common], description="Signed pack-set bundles (docs/bundles.md)."
                       "\n\nexit codes: 0 ok, 1 the bundle does not verify or its packs have "
                       "errors, 2 usage or I/O error, 70 internal error",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = p.add_subparsers(dest="bundle_command", metavar="ACTION", required=True)
    build = actions.add_parser("build", parents=[common],
                               help="bundle a pack-set directory into one (signed) file")
    build.add_argument("directory", metavar="DIR", help="the pack-set directory")
    build.add_argument("-o", "--output", required=True, metavar="FILE",
                       help="the bundle to write (replaced atomically)")
    build.add_argument("--sign", metavar="KEY.pem",
                       help="Ed25519 private key (PEM, PKCS#8) to sign with")
    build.set_defaults(run=_run_build)
    verify = actions.add_parser("verify", parents=[common],
                                help="exit 0 only for an intact bundle signed by the key")
    verify.add_argument("bundle", metavar="FILE")
    verify.add_argument("--public-key", required=True, metavar="PUB.pem",
                        help="Ed25519 public key (PEM, SubjectPublicKeyInfo)")
    verify.set_defaults(run=_run_verify)
    inspect = actions.add_parser("inspect", parents=[common],
                                 help="show a bundle's manifest (verified only with a key)")
    inspect.add_argument("bundle", metavar="FILE")
    inspect.add_argument("--public-key", metavar="PUB.pem",
                         help="also verify against this key")
    inspect.add_argument("--format", choices=["text", "json"], default="text")
    inspect.set_defaults(run=_run_inspect)


def _run_build(args: argparse.Namespace) -> int:
    from compliance.cli import _print_diagnostics, _version  # noqa: PLC0415

    signer = None
    if args.sign:
        try:
            signer = Signer.from_file(args.sign)
        except KeyFileError as exc:
            return _fail(EXIT_USAGE, f"error: {exc}")
    try:
        manifest = build_bundle(args.directory, args.output, signer=signer,
                                created_by=f"compliance {_version()}")
    except PackError as exc:
        _print_diagnostics(exc.diagnostics, "text", err=True)
        return _fail(EXIT_ERRORS, f"error: {args.directory}: not bundled: the packs have errors")
    except OSError as exc:
        return _fail(EXIT_USAGE, f"error: {exc.filename or args.output}: "
                                 f"{exc.strerror or exc}")
    signed = f"signed with {signer.key_id}" if signer else "UNSIGNED (verify will refuse it)"
    write_out(f"ok: {args.output}: {len(manifest.files)} files, pack set "
              f"{manifest.pack_set_digest}, {signed}")
    return EXIT_OK


def _run_verify(args: argparse.Namespace) -> int:
    verifier = _verifier(args.public_key)
    if verifier is None:
        return EXIT_USAGE
    try:
        checked = check_bundle(args.bundle, verifier)
    except BundleError as exc:
        return report_refused(exc)
    except PackError as exc:
        return report_pack_errors(args.bundle, exc)
    write_out(f"ok: {args.bundle}: signed by {verifier.key_id}, every file matches, "
              f"{len(checked.packs)} packs check")
    return EXIT_OK


def _run_inspect(args: argparse.Namespace) -> int:
    try:
        contents = read_bundle(args.bundle)
    except BundleError as exc:
        return report_refused(exc)
    verified: str | list[str] = "not checked (no --public-key)"
    code = EXIT_OK
    if args.public_key:
        verifier = _verifier(args.public_key)
        if verifier is None:
            return EXIT_USAGE
        problems = verify_contents(contents, verifier)
        verified = [str(p) for p in problems] or f"signature and files verify ({verifier.key_id})"
        code = EXIT_ERRORS if problems else EXIT_OK
    m, sig = contents.manifest, contents.signature
    if args.format == "json":
        write_out(json.dumps({
            "bundle": args.bundle, "format": m.format, "pack_set_digest": m.pack_set_digest,
            "created_by": m.created_by, "signed_by": sig.key_id if sig else None,
            "files": dict(m.files), "verified": verified}, indent=2))
        return code
    lines = [f"bundle: {args.bundle}", f"format: {m.format}",
             f"pack set: {m.pack_set_digest} (as stated by the manifest)",
             f"created by: {m.created_by}",
             f"signature: {'claims key ' + sig.key_id if sig else 'none (unsigned)'}",
             f"files ({len(m.files)}):", *(f"  {d}  {name}" for name, d in m.files.items())]
    if isinstance(verified, str):
        lines.append(f"verified: {verified}")
    else:
        lines += ["verified: NO", *(f"  {p}" for p in verified)]
    write_out("\n".join(lines))
    return code


def _verifier(path: str) -> Verifier | None:
    try:
        return bundle_verifier(path)
    except BundleError as exc:  # bundle-bad-key
        report_refused(exc)
        return None


def _fail(code: int, message: str) -> int:
    write_err(message)
    return code
