"""Signed pack-set bundles: one file to ship a pack set to a fleet and know it arrived intact.

A bundle is an uncompressed tar with a fixed layout (docs/bundles.md)::

    bundle.json        the manifest: format, pack-set digest, sha256 of every file
    bundle.sig         Ed25519 signature of bundle.json (absent in an unsigned bundle)
    packs/...          packset.yaml and the pack files, as the loader read them

A bundle is untrusted input. Reading it never extracts anything to disk: members are read
into memory within size limits, only regular files with plain relative names are accepted
(no links, no absolute paths, no ``..``), and loading verifies *everything* before parsing
any pack: the signature over the manifest, then every member against the manifest, with
extra, missing and changed files all refused (a manifest that covers only some files
verifies nothing). The packs are then parsed from the verified bytes, never re-read.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tarfile
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from compliance.canonical import pack_set_digest
from compliance.checker import CheckedPackSet, check_pack_set
from compliance.diagnostics import Diagnostic, DiagnosticSet
from compliance.errors import ComplianceError, PackError
from compliance.jsonread import JsonReadError, read_json
from compliance.loader import (
    DEFAULT_LIMITS,
    MANIFEST_NAMES,
    load_pack_set,
    load_pack_set_bytes,
    read_limited,
)
from compliance.loader import Limits as LoaderLimits
from compliance.signing import KeyFileError, Signer, Verifier

__all__ = [
    "FORMAT",
    "SIGNING_DOMAIN",
    "BundleCode",
    "BundleError",
    "BundleKeyError",
    "BundleLimits",
    "BundleManifest",
    "BundleProblem",
    "Contents",
    "build_bundle",
    "bundle_verifier",
    "check_bundle",
    "check_contents",
    "file_digest",
    "looks_like_bundle",
    "read_bundle",
    "read_bundle_bytes",
    "verify_contents",
]

FORMAT = "compliance-bundle/1"
MANIFEST_MEMBER = "bundle.json"
SIGNATURE_MEMBER = "bundle.sig"
PACKS_DIR = "packs/"
SIGNING_DOMAIN = FORMAT.encode() + b"\n"
"""Prefixed to the manifest before signing, so a checkpoint signature made with the same
key can never pass for a bundle signature (nor the other way round)."""

BundleCode = Literal[
    "bundle-bad-key",
    "bundle-bad-signature",
    "bundle-changed-file",
    "bundle-digest-mismatch",
    "bundle-duplicate-member",
    "bundle-extra-file",
    "bundle-malformed",
    "bundle-missing-file",
    "bundle-no-manifest",
    "bundle-too-large",
    "bundle-unreadable",
    "bundle-unsafe-member",
    "bundle-unsigned",
    "bundle-unsupported-format",
]
"""Every code a refused bundle can carry (docs/bundles.md lists what each means)."""

_SEGMENT = r"[A-Za-z0-9_][A-Za-z0-9._-]*"
_SAFE_NAME = re.compile(rf"{_SEGMENT}(?:/{_SEGMENT})*")
"""A plain relative name: no leading ``/``, no empty, hidden, ``.`` or ``..`` segments, no
backslashes or control characters; the same on every operating system."""
_PACK_SUFFIXES = (".yaml", ".yml")
_TAR_MAGIC_AT = 257


@dataclass(frozen=True, slots=True)
class BundleLimits:
    """Bounds on reading a bundle (every bundle is untrusted input)."""

    max_bytes: int = 32 << 20          # the whole file
    max_members: int = 1024
    max_name_chars: int = 255
    max_depth: int = 16                # directory levels in a member name
    max_manifest_bytes: int = 1 << 20
    loader: LoaderLimits = DEFAULT_LIMITS   # each pack file (max_file_bytes, YAML depth, ...)


DEFAULT_BUNDLE_LIMITS = BundleLimits()


@dataclass(frozen=True, slots=True)
class BundleProblem:
    """One reason a bundle was refused."""

    code: BundleCode
    message: str

    def __str__(self) -> str:
        return f"{self.message} [{self.code}]"


class BundleError(ComplianceError, ValueError):
    """A bundle that cannot be trusted or read; ``problems`` lists every reason found.

    ``str()`` is one line: the first problem, and how many more there are.
    """

    def __init__(self, source: str, problems: Sequence[BundleProblem]) -> None:
        self.source = source
        self.problems: tuple[BundleProblem, ...] = tuple(problems)
        self.code: BundleCode = self.problems[0].code
        more = len(self.problems) - 1
        tail = f" (and {more} more problem{'s' if more != 1 else ''})" if more else ""
        super().__init__(f"{source}: {self.problems[0]}{tail}")


class BundleKeyError(BundleError, KeyFileError):
    """The key a bundle is to be verified with is unreadable or not an Ed25519 public key.

    A ``BundleError`` (code ``bundle-bad-key``: nothing was verified) and a ``KeyFileError``
    (what ``Verifier.from_file`` raises), so either ``except`` catches it.
    """


def bundle_verifier(public_key: str | Path | Verifier) -> Verifier:
    """The verifier for ``public_key`` (a PEM SubjectPublicKeyInfo file, or a ``Verifier``)."""
    if isinstance(public_key, Verifier):
        return public_key
    try:
        return Verifier.from_file(public_key)
    except KeyFileError as exc:
        raise BundleKeyError(str(public_key), [BundleProblem(
            "bundle-bad-key", f"{str(exc).removeprefix(f'{public_key}: ')}; "
                              "no bundle can be verified with it")]) from None


@dataclass(frozen=True, slots=True)
class Signature:
    """``bundle.sig``: who claims to have signed, and the signature (hex)."""

    key_id: str
    signature: str


@dataclass(frozen=True, slots=True)
class BundleManifest:
    """``bundle.json``: what the bundle claims to hold."""

    format: str
    pack_set_digest: str
    files: Mapping[str, str]   # member name -> "sha256:<hex>" of its bytes
    created_by: str


@dataclass(frozen=True, slots=True)
class Contents:
    """A bundle read into memory and checked for a safe layout, *not yet verified*."""

    source: str
    manifest_bytes: bytes
    manifest: BundleManifest
    signature: Signature | None
    files: Mapping[str, bytes]   # every member under packs/, by member name

    def pack_files(self) -> list[tuple[str, bytes]]:
        """The YAML files under packs/, by path relative to the pack set's root, sorted."""
        return sorted((name.removeprefix(PACKS_DIR), data) for name, data in self.files.items()
                      if name.endswith(_PACK_SUFFIXES))


def file_digest(data: bytes) -> str:
    """The digest a manifest records for a member."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


# --- building ------------------------------------------------------------------------------


def build_bundle(directory: str | Path, output: str | Path, *, signer: Signer | None = None,
                 created_by: str = "compliance") -> BundleManifest:
    """Bundle the pack set in ``directory`` as ``output``; raise ``PackError`` if it has errors.

    The files bundled are exactly the ones the loader reads (the manifest and the packs,
    not suites); they are checked again from the bytes bundled, so a file edited while the
    bundle is built cannot slip in unchecked. ``output`` is replaced atomically (a watcher
    never sees half a bundle), and the same packs and key always give the same bytes.
    """
    root = Path(directory)
    pack_set, diagnostics = load_pack_set([root])
    if pack_set is None or diagnostics.errors:
        raise PackError(diagnostics.errors or diagnostics.sorted())
    names = [s.path for s in (pack_set.manifest, *(p.source for p in pack_set.packs)) if s]
    files: dict[str, bytes] = {}
    for name in names:
        data, found = read_limited(Path(name), name)
        if data is None:
            raise PackError(found)
        member = PACKS_DIR + Path(name).relative_to(root).as_posix()
        files[member] = data
    checked = _check_files(files, f"{root.as_posix().rstrip('/')}/", DEFAULT_LIMITS)
    manifest = BundleManifest(FORMAT, pack_set_digest(checked.pack_set),
                              {m: file_digest(d) for m, d in sorted(files.items())}, created_by)
    manifest_bytes = _manifest_json(manifest)
    members = {MANIFEST_MEMBER: manifest_bytes}
    if signer is not None:
        sig = {"alg": "ed25519", "key_id": signer.key_id,
               "signature": signer.sign(SIGNING_DOMAIN + manifest_bytes)}
        members[SIGNATURE_MEMBER] = _json_bytes(sig)
    members.update(sorted(files.items()))
    _write_atomically(Path(output), _tar_bytes(members))
    return manifest


def _manifest_json(manifest: BundleManifest) -> bytes:
    return _json_bytes({
        "format": manifest.format, "pack_set_digest": manifest.pack_set_digest,
        "files": dict(manifest.files), "created_by": manifest.created_by,
    })


def _json_bytes(obj: object) -> bytes:
    import json  # noqa: PLC0415

    return (json.dumps(obj, sort_keys=True, indent=2, ensure_ascii=True) + "\n").encode()


def _tar_bytes(members: Mapping[str, bytes]) -> bytes:
    """A reproducible tar: fixed order, times, owners and modes."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            info.mtime = 0
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _write_atomically(path: Path, data: bytes) -> None:
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


# --- reading -------------------------------------------------------------------------------


def looks_like_bundle(path: str | Path) -> bool:
    """True for a regular file that starts like a tar (a pack is YAML and never does)."""
    candidate = Path(path)
    try:
        if not candidate.is_file():
            return False
        with candidate.open("rb") as handle:
            head = handle.read(_TAR_MAGIC_AT + 5)
    except OSError:
        return False
    return head[_TAR_MAGIC_AT:] == b"ustar"


def read_bundle(path: str | Path, limits: BundleLimits = DEFAULT_BUNDLE_LIMITS) -> Contents:
    """Read a bundle into memory and check its layout; raise ``BundleError`` if unsafe.

    This does not verify the signature or the digests: ``check_bundle`` does.
    """
    source = str(path)
    data, found = read_limited(Path(path), source, replace(limits.loader,
                                                            max_file_bytes=limits.max_bytes))
    if data is None:
        code: BundleCode = ("bundle-too-large" if found and found[0].code == "file-too-large"
                            else "bundle-unreadable")
        raise BundleError(source, [BundleProblem(code, found[0].message if found else
                                                 "cannot be read")])
    return read_bundle_bytes(data, source, limits)


def read_bundle_bytes(data: bytes, source: str = "<bundle>",
                      limits: BundleLimits = DEFAULT_BUNDLE_LIMITS) -> Contents:
    """``read_bundle`` over bytes already in memory."""
    if len(data) > limits.max_bytes:
        raise BundleError(source, [BundleProblem(
            "bundle-too-large", f"bundle is {len(data)} bytes, over the limit of "
                                f"{limits.max_bytes}")])
    members = _members(data, source, limits)
    manifest_bytes = members.pop(MANIFEST_MEMBER, None)
    if manifest_bytes is None:
        raise BundleError(source, [BundleProblem(
            "bundle-no-manifest", f"no `{MANIFEST_MEMBER}`: not a compliance bundle")])
    manifest = _parse_manifest(manifest_bytes, source, limits)
    signature_bytes = members.pop(SIGNATURE_MEMBER, None)
    signature = None if signature_bytes is None else _parse_signature(signature_bytes, source)
    stray = sorted(name for name in members if not name.startswith(PACKS_DIR))
    if stray:
        raise BundleError(source, [BundleProblem(
            "bundle-extra-file", f"`{name}` is outside `{PACKS_DIR}` and not part of the format")
            for name in stray])
    return Contents(source, manifest_bytes, manifest, signature, members)


_READ_ERRORS = (tarfile.TarError, EOFError, ValueError, OverflowError, OSError, UnicodeError)
"""What ``tarfile`` raises on a corrupt archive (found by fuzzing; see tests/fuzz)."""


def _members(data: bytes, source: str, limits: BundleLimits) -> dict[str, bytes]:
    """Every member's bytes by name, refusing anything but plain, safely named files."""
    members: dict[str, bytes] = {}
    problems: list[BundleProblem] = []
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
            count = 0
            while (info := tar.next()) is not None:
                count += 1
                if count > limits.max_members:
                    raise BundleError(source, [BundleProblem(
                        "bundle-too-large", f"more than {limits.max_members} members")])
                problem = _unsafe(info, limits)
                if problem is not None:
                    problems.append(BundleProblem("bundle-unsafe-member", problem))
                    continue
                if info.name in members:
                    problems.append(BundleProblem(
                        "bundle-duplicate-member", f"`{info.name}` appears twice"))
                    continue
                if info.size > max(limits.loader.max_file_bytes, limits.max_manifest_bytes):
                    problems.append(BundleProblem(
                        "bundle-too-large", f"`{info.name}` is {info.size} bytes, over the "
                                            f"limit of {limits.loader.max_file_bytes}"))
                    continue
                handle = tar.extractfile(info)
                body = handle.read() if handle is not None else b""
                if len(body) != info.size:
                    raise tarfile.ReadError(f"`{info.name}` is cut short")
                members[info.name] = body
    except BundleError:
        raise
    except _READ_ERRORS as exc:
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise BundleError(source, [BundleProblem(
            "bundle-malformed", f"not a readable bundle (tar): {reason}")]) from None
    if problems:
        raise BundleError(source, problems)
    if not members:
        raise BundleError(source, [BundleProblem("bundle-malformed", "an empty archive")])
    return members


def _unsafe(info: tarfile.TarInfo, limits: BundleLimits) -> str | None:
    """Why a member may not be in a bundle, or None."""
    shown = repr(info.name[:100])
    if info.type not in (tarfile.REGTYPE, tarfile.AREGTYPE):
        kind = ("a link" if info.issym() or info.islnk() else
                "a directory" if info.isdir() else "not a regular file")
        return f"member {shown} is {kind}; a bundle holds regular files only"
    if len(info.name) > limits.max_name_chars or info.name.count("/") >= limits.max_depth:
        return f"member {shown} has a name too long or too deep"
    if not _SAFE_NAME.fullmatch(info.name):
        return (f"member {shown} is not a plain relative name (absolute, `..`, hidden or "
                f"unusual characters)")
    return None


def _parse_manifest(data: bytes, source: str, limits: BundleLimits) -> BundleManifest:
    def bad(message: str) -> BundleError:
        return BundleError(source, [BundleProblem("bundle-malformed",
                                                  f"`{MANIFEST_MEMBER}`: {message}")])

    try:
        raw = read_json(data, max_bytes=limits.max_manifest_bytes)
    except (JsonReadError, UnicodeError) as exc:
        raise bad(str(exc)) from None
    if not isinstance(raw, dict):
        raise bad("not a JSON object")
    fmt = raw.get("format")
    if fmt != FORMAT:
        raise BundleError(source, [BundleProblem(
            "bundle-unsupported-format",
            f"format {str(fmt)[:60]!r} is not {FORMAT!r}; this version reads {FORMAT} only")])
    files = raw.get("files")
    texts = [raw.get(key) for key in ("pack_set_digest", "created_by")]
    if not isinstance(files, dict) or not all(isinstance(t, str) for t in texts):
        raise bad("`files` must be an object, `pack_set_digest` and `created_by` strings")
    if not all(isinstance(v, str) for v in files.values()):
        raise bad("every `files` value must be a digest string")
    digest, created_by = (str(t) for t in texts)
    return BundleManifest(FORMAT, digest, dict(files), created_by)


def _parse_signature(data: bytes, source: str) -> Signature:
    try:
        raw = read_json(data, max_bytes=4096)
    except (JsonReadError, UnicodeError) as exc:
        raw = str(exc)
    if (not isinstance(raw, dict) or raw.get("alg") != "ed25519"
            or not isinstance(raw.get("key_id"), str) or not isinstance(raw.get("signature"), str)):
        raise BundleError(source, [BundleProblem(
            "bundle-bad-signature", f"`{SIGNATURE_MEMBER}` is not an Ed25519 signature record")])
    return Signature(str(raw["key_id"]), str(raw["signature"]))


# --- verifying -----------------------------------------------------------------------------


def verify_contents(contents: Contents, verifier: Verifier) -> list[BundleProblem]:
    """Every reason ``contents`` is not what the key holder signed (empty: all verified)."""
    problems: list[BundleProblem] = []
    sig = contents.signature
    if sig is None:
        problems.append(BundleProblem(
            "bundle-unsigned", f"no `{SIGNATURE_MEMBER}`: the bundle is not signed"))
    elif not verifier.verify(SIGNING_DOMAIN + contents.manifest_bytes, sig.signature):
        claimed = (f" (it names key {sig.key_id[:40]})" if sig.key_id != verifier.key_id
                   else "")
        problems.append(BundleProblem(
            "bundle-bad-signature",
            f"the signature does not verify with key {verifier.key_id}{claimed}: the "
            f"manifest was changed or signed with another key"))
    listed = contents.manifest.files
    for name in sorted(set(contents.files) - set(listed)):
        problems.append(BundleProblem("bundle-extra-file",
                                      f"`{name}` is in the bundle but not in its manifest"))
    for name in sorted(set(listed) - set(contents.files)):
        problems.append(BundleProblem("bundle-missing-file",
                                      f"`{name[:200]}` is in the manifest but not in the bundle"))
    for name in sorted(set(listed) & set(contents.files)):
        if file_digest(contents.files[name]) != listed[name]:
            problems.append(BundleProblem("bundle-changed-file",
                                          f"`{name}` does not match its manifest digest"))
    return problems


def check_bundle(path: str | Path, verifier: Verifier,
                 limits: BundleLimits = DEFAULT_BUNDLE_LIMITS) -> CheckedPackSet:
    """The checked pack set of a verified bundle; ``BundleError`` or ``PackError`` if not.

    Every check runs before any pack is parsed; the pack-set digest computed from the
    packs must then equal the one the signed manifest states.
    """
    return check_contents(read_bundle(path, limits), verifier, limits)


def check_contents(contents: Contents, verifier: Verifier,
                   limits: BundleLimits = DEFAULT_BUNDLE_LIMITS, *,
                   notes: list[Diagnostic] | None = None) -> CheckedPackSet:
    """``check_bundle`` over a bundle already read (diagnostics name its file's base name).

    ``notes``, when given, receives the packs' warnings and notes (a clean set may have some).
    """
    problems = verify_contents(contents, verifier)
    if problems:
        raise BundleError(contents.source, problems)
    label = f"{Path(contents.source).name}/"
    checked = _check_files(contents.files, label, limits.loader, notes)
    digest = pack_set_digest(checked.pack_set)
    if digest != contents.manifest.pack_set_digest:
        raise BundleError(contents.source, [BundleProblem(
            "bundle-digest-mismatch",
            f"the packs have digest {digest}, the manifest states "
            f"{contents.manifest.pack_set_digest[:80]}")])
    return checked


def _check_files(files: Mapping[str, bytes], label: str, limits: LoaderLimits,
                 notes: list[Diagnostic] | None = None) -> CheckedPackSet:
    """Stages 1 and 2 over bundled files; diagnostics name ``label`` + the packs/ path."""
    manifest: tuple[str, bytes] | None = None
    packs: list[tuple[str, bytes]] = []
    for member, data in sorted(files.items()):
        name = member.removeprefix(PACKS_DIR)
        if name in MANIFEST_NAMES:
            manifest = manifest or (label + name, data)
        elif name.endswith(_PACK_SUFFIXES):
            packs.append((label + name, data))
    pack_set, diagnostics = load_pack_set_bytes(manifest, packs, limits=limits)
    if pack_set is None:
        raise PackError(diagnostics.errors or diagnostics.sorted())
    report = check_pack_set(pack_set)
    found = DiagnosticSet(diagnostics)
    found.extend(report.diagnostics)
    if found.errors or report.checked is None:
        raise PackError(found.errors or found.sorted())
    if notes is not None:
        notes.extend(found.sorted())
    return report.checked
