"""The two pack sets of a diff: a directory, or ``git:REV:PATH`` read from a git revision.

A pack set is captured as its files' bytes (``PackSource``) so that it travels to worker
processes and cluster workers, which need no checkout and no shared file system for the
packs; each worker compiles it once (``engine_for``) and checks that it got the pack set
digest the driver checked.
"""

from __future__ import annotations

import hashlib
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from compliance.diagnostics import DiagnosticSet
from compliance.engine import Engine, check_paths

PACK_SUFFIXES = (".yaml", ".yml")
MAX_PACK_SET_BYTES = 64 << 20
_GIT_TIMEOUT_S = 60


class PackSourceError(Exception):
    """A pack set that cannot be read (a missing directory, a bad revision)."""


@dataclass(frozen=True, slots=True)
class PackSource:
    """The YAML files of a pack set, by path relative to its root."""

    label: str
    files: tuple[tuple[str, bytes], ...]

    @property
    def key(self) -> str:
        """sha256 over the files, to cache the compiled engine per worker process."""
        h = hashlib.sha256()
        for name, data in self.files:
            h.update(name.encode() + b"\0" + str(len(data)).encode() + b"\0" + data)
        return h.hexdigest()


def resolve(spec: str, cwd: Path | None = None) -> PackSource:
    """Read the pack set ``spec`` names: a directory or file, or ``git:REV:PATH``."""
    if spec.startswith("git:"):
        rev, sep, path = spec[4:].partition(":")
        if not sep or not rev or not path:
            raise PackSourceError(f"{spec}: expected git:REV:PATH, e.g. git:main:rules")
        return PackSource(spec, _from_git(spec, rev, path, cwd or Path.cwd()))
    return PackSource(spec, _from_path(spec, Path(cwd or Path.cwd()) / spec))


def _from_path(spec: str, root: Path) -> tuple[tuple[str, bytes], ...]:
    if not root.exists():
        raise PackSourceError(f"{spec}: no such file or directory")
    if root.is_file():
        found = [(root.name, root)]
    elif root.is_dir():
        found = sorted((p.relative_to(root).as_posix(), p) for p in root.rglob("*")
                       if p.suffix in PACK_SUFFIXES and p.is_file())
    else:
        raise PackSourceError(f"{spec}: not a regular file or directory")
    files, total = [], 0
    for name, path in found:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise PackSourceError(f"{spec}: {name}: cannot read: {exc.strerror or exc}") from None
        total += len(data)
        if total > MAX_PACK_SET_BYTES:
            raise PackSourceError(f"{spec}: larger than {MAX_PACK_SET_BYTES} bytes of packs")
        files.append((name, data))
    if not files:
        raise PackSourceError(f"{spec}: no pack files (*.yaml, *.yml)")
    return tuple(files)


def _git(args: list[str], cwd: Path, spec: str) -> bytes:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=False,
                              timeout=_GIT_TIMEOUT_S)
    except FileNotFoundError:
        raise PackSourceError(f"{spec}: git is not installed") from None
    except subprocess.TimeoutExpired:
        raise PackSourceError(f"{spec}: git did not answer in {_GIT_TIMEOUT_S} s") from None
    if done.returncode != 0:
        reason = done.stderr.decode("utf-8", "replace").strip().splitlines() or ["failed"]
        raise PackSourceError(f"{spec}: git {args[0]}: {reason[-1][:200]}")
    return done.stdout


def _from_git(spec: str, rev: str, path: str, cwd: Path) -> tuple[tuple[str, bytes], ...]:
    """The pack files under ``path`` (relative to ``cwd``) at revision ``rev``."""
    if rev.startswith("-"):
        raise PackSourceError(f"{spec}: a revision may not start with `-`")
    top = Path(_git(["rev-parse", "--show-toplevel"], cwd, spec).decode().strip())
    prefix = _git(["rev-parse", "--show-prefix"], cwd, spec).decode().strip()
    full = PurePosixPath(prefix or ".", path)
    parts: list[str] = []
    for part in full.parts:  # normalise `..` without touching the file system
        if part == "..":
            if not parts:
                raise PackSourceError(f"{spec}: the path leaves the repository")
            parts.pop()
        elif part != ".":
            parts.append(part)
    target = "/".join(parts)
    try:
        commit = _git(["rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"], top, spec)
    except PackSourceError:
        raise PackSourceError(f"{spec}: `{rev}` is not a commit in {top}") from None
    listing = _git(["ls-tree", "-r", "-z", "--full-tree", commit.decode().strip(), "--",
                    target or "."], top, spec)
    files, total = [], 0
    for entry in listing.split(b"\0"):
        if not entry:
            continue
        meta, _, name = entry.decode("utf-8", "surrogateescape").partition("\t")
        _, kind, blob = meta.split(" ")
        if kind != "blob" or PurePosixPath(name).suffix not in PACK_SUFFIXES:
            continue
        rel = PurePosixPath(name).name if name == target else \
            str(PurePosixPath(name).relative_to(target)) if target else name
        data = _git(["cat-file", "blob", blob], top, spec)
        total += len(data)
        if total > MAX_PACK_SET_BYTES:
            raise PackSourceError(f"{spec}: larger than {MAX_PACK_SET_BYTES} bytes of packs")
        files.append((rel, data))
    if not files:
        raise PackSourceError(f"{spec}: no pack files (*.yaml, *.yml) at `{path}` in {rev}")
    return tuple(sorted(files))


@contextmanager
def materialized(source: PackSource) -> Iterator[Path]:
    """The pack set written to a temporary directory (removed afterwards)."""
    with tempfile.TemporaryDirectory(prefix="compliance-packs-") as tmp:
        root = Path(tmp)
        for name, data in source.files:
            target = root / name
            if root not in target.resolve().parents:
                raise PackSourceError(f"{source.label}: a file name leaves the pack set: {name}")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        yield root


_ENGINES: dict[str, Engine] = {}


@dataclass(frozen=True, slots=True)
class Checked:
    """The result of checking a pack source: diagnostics, the engine when clean, and the
    temporary root the diagnostics' file names start with (with each file's text)."""

    diagnostics: DiagnosticSet
    engine: Engine | None
    root: str
    sources: dict[str, str]


def check_source(source: PackSource) -> Checked:
    """Load, check and compile ``source``; a clean one is remembered for ``engine_for``."""
    with materialized(source) as root:
        diagnostics, checked = check_paths([root])
        texts = {str(root / name): data.decode("utf-8", "replace") for name, data in source.files}
        engine = Engine(checked) if checked is not None else None
    if engine is not None:
        _ENGINES[source.key] = engine
    return Checked(diagnostics, engine, str(root), texts)


def engine_for(source: PackSource, expected_digest: str | None = None) -> Engine:
    """The compiled engine of ``source`` in this process (built once per process); raises
    ``PackError`` if it has errors, ``PackSourceError`` if its digest is not the expected."""
    engine = _ENGINES.get(source.key)
    if engine is None:
        with materialized(source) as root:
            engine = Engine.from_path(root)
        _ENGINES[source.key] = engine
    if expected_digest is not None and engine.pack_set_digest != expected_digest:
        raise PackSourceError(f"{source.label}: compiled to pack set digest "
                              f"{engine.pack_set_digest}, the driver checked {expected_digest}")
    return engine


__all__ = ["Checked", "PackSource", "PackSourceError", "check_source", "engine_for",
           "materialized", "resolve"]
