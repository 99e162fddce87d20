"""Stage 1, the loader: YAML files → ``Pack`` / ``PackSet`` plus diagnostics.

Nothing here parses CEL; conditions become ``CelSource`` with an exact source map and
the checker (stage 2) parses and type-checks them. The loader never raises for a bad
pack: every problem is a ``Diagnostic``. Whatever could be built is returned even when
there are errors, so the checker can report more in the same run. **Never evaluate a
pack set while its diagnostics contain errors.**

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from yaml.nodes import MappingNode, Node, ScalarNode

from compliance.cel.types import BOOL, ContextSchema, object_of
from compliance.diagnostics import Diagnostic, DiagnosticSet
from compliance.loader._manifest import Manifest, build_manifest, build_schema, event_schema
from compliance.loader._nodes import Ctx
from compliance.loader._pack import build_pack
from compliance.loader._yaml import (
    DEFAULT_LIMITS,
    Limits,
    compose_text,
    file_too_large,
    read_yaml,
    split_lines,
)
from compliance.pack import Pack, PackSet, Variable
from compliance.source import SourceFile

__all__ = [
    "DEFAULT_LIMITS",
    "MANIFEST_NAMES",
    "SUITE_DIR",
    "SUITE_SUFFIXES",
    "Limits",
    "is_suite_file",
    "load_pack_bytes",
    "load_pack_file",
    "load_pack_set",
    "load_pack_set_bytes",
    "load_pack_text",
    "load_schema_file",
]

MANIFEST_NAMES = ("packset.yaml", "packset.yml")
_SUFFIXES = (".yaml", ".yml")
SUITE_DIR = "tests"
"""YAML files under a folder of this name inside a pack set are policy suites, not packs."""
SUITE_SUFFIXES = (".test.yaml", ".test.yml")


def load_pack_text(
    text: str, filename: str = "<pack>", limits: Limits = DEFAULT_LIMITS
) -> tuple[Pack | None, list[Diagnostic]]:
    """Load one pack from text (tests, editors); ``filename`` is used in diagnostics."""
    parsed = compose_text(text, filename, limits)
    if parsed.root is None:
        return None, parsed.diagnostics
    ctx = Ctx(filename, split_lines(text))
    pack = build_pack(ctx, parsed.root, SourceFile(filename, text))
    return pack, ctx.diagnostics


def load_pack_file(
    path: str | Path, limits: Limits = DEFAULT_LIMITS
) -> tuple[Pack | None, list[Diagnostic]]:
    """Load one pack file; the pack is None when the file has no usable YAML or id."""
    name = str(path)
    data, diags = read_limited(Path(path), name, limits)
    if data is None:
        return None, diags
    return load_pack_bytes(data, name, limits)


def load_pack_bytes(
    data: bytes, name: str, limits: Limits = DEFAULT_LIMITS
) -> tuple[Pack | None, list[Diagnostic]]:
    """Load one pack from the bytes of a file called ``name`` (a bundle member, say)."""
    parsed = read_yaml(data, name, limits)
    if parsed.root is None or parsed.text is None:
        return None, parsed.diagnostics
    ctx = Ctx(name, split_lines(parsed.text))
    pack = build_pack(ctx, parsed.root, SourceFile(name, parsed.text))
    return pack, ctx.diagnostics


def load_schema_file(
    path: str | Path, limits: Limits = DEFAULT_LIMITS
) -> tuple[ContextSchema | None, list[Diagnostic]]:
    """Load a context schema from a manifest (its ``context:``) or a bare context file."""
    manifest, diags = _load_manifest(Path(path), limits, bare_context=True)
    return (manifest.schema if manifest else None), diags


def load_pack_set(
    paths: Sequence[str | Path],
    schema: ContextSchema | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> tuple[PackSet | None, DiagnosticSet]:
    """Load files and directories as one pack set.

    Directories are searched recursively in sorted order; the manifest comes from the
    first directory holding ``packset.yaml`` (or a manifest file named explicitly). A
    ``schema`` passed in replaces the manifest's ``context:`` and makes the manifest
    optional. The set is None only when no schema is available.
    """
    diags = DiagnosticSet()
    manifest_path, pack_paths = _discover(paths, diags)
    read: tuple[Manifest | None, SourceFile | None, list[Diagnostic]] | None = None
    if manifest_path is not None:
        read = _read_manifest(manifest_path, limits, bare_context=False)
    packs = [load_pack_file(path, limits) for path in pack_paths]
    return _assemble(read, packs, schema, diags)


def load_pack_set_bytes(
    manifest: tuple[str, bytes] | None,
    packs: Sequence[tuple[str, bytes]],
    schema: ContextSchema | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> tuple[PackSet | None, DiagnosticSet]:
    """``load_pack_set`` over file contents already in memory, as ``(name, bytes)`` pairs.

    A signed bundle is loaded this way: the bytes checked against its manifest are the
    bytes parsed, with no file system in between, and diagnostics name the members.
    """
    read = None
    if manifest is not None:
        read = _manifest_from_bytes(manifest[1], manifest[0], limits, bare_context=False)
    loaded = [load_pack_bytes(data, name, limits) for name, data in packs]
    return _assemble(read, loaded, schema, DiagnosticSet())


def _assemble(
    read: tuple[Manifest | None, SourceFile | None, list[Diagnostic]] | None,
    loaded: Sequence[tuple[Pack | None, list[Diagnostic]]],
    schema: ContextSchema | None,
    diags: DiagnosticSet,
) -> tuple[PackSet | None, DiagnosticSet]:
    """The pack set from a read manifest (None: none found) and loaded pack files."""
    manifest: Manifest | None = None
    manifest_source: SourceFile | None = None
    if read is not None:
        manifest, manifest_source, found = read
        diags.extend(found)
    elif schema is None:
        diags.add(
            Diagnostic(
                "missing-manifest",
                "no `packset.yaml` found in the given directories",
                help="add a `packset.yaml` declaring `packset` and `context`, or pass a schema",
            )
        )
    packs = _unique_packs(loaded, diags)
    schema = schema or (manifest.schema if manifest else None)
    if schema is None:
        return None, diags
    effect = manifest.default_effect if manifest else "allow"
    shared = manifest.variables if manifest else ()
    packs = [_with_shared(pack, shared, diags) for pack in packs]
    events = manifest.events if manifest else None
    return PackSet(tuple(packs), _with_facts(schema, packs, diags), effect, manifest_source,
                   shared, events or event_schema()), diags


def _with_facts(schema: ContextSchema, packs: list[Pack], diags: DiagnosticSet) -> ContextSchema:
    """The schema plus ``facts``: one bool per fact the packs' signals raise (absent = false).

    Facts are data to the checker and the compiler, a declared object like ``org``, so
    ``facts.under_review`` type-checks and a misspelt fact is an undeclared reference. The
    engine fills ``facts`` from the store on every request; a context cannot set it.
    """
    names = sorted({s.fact for p in packs for s in p.signals})
    if not names:
        return schema
    if "facts" in schema.variables:
        diags.add(Diagnostic(
            "invalid-value", "the context schema declares `facts`, which the engine fills "
            "from the facts signals raise", help="rename the context variable `facts`"))
        return schema
    facts = object_of("facts", dict.fromkeys(names, BOOL))
    return replace(schema, variables={**schema.variables, "facts": facts})


def _with_shared(pack: Pack, shared: tuple[Variable, ...], diags: DiagnosticSet) -> Pack:
    """``pack`` reading the manifest's shared variables; redeclaring one is an error."""
    if not shared:
        return pack
    names = {v.name: v for v in shared}
    for own in pack.variables:
        if own.name in names:
            first = names[own.name].span
            diags.add(Diagnostic(
                "duplicate-variable",
                f"variable `{own.name}` is already declared by the pack set's manifest",
                own.span,
                notes=(f"declared in {first.file}:{first.start.line + 1}:{first.start.col + 1}",),
                help="use the shared `vars." + own.name + "` or give this variable another name",
            ))
    own_vars = tuple(v for v in pack.variables if v.name not in names)
    return replace(pack, variables=shared + own_vars)


def _unique_packs(
    loaded: Sequence[tuple[Pack | None, list[Diagnostic]]], diags: DiagnosticSet
) -> list[Pack]:
    """The loaded packs, keeping the first of any two packs with the same id."""
    packs: dict[str, Pack] = {}
    for pack, found in loaded:
        diags.extend(found)
        if pack is None:
            continue
        if pack.id in packs:
            first = packs[pack.id].span
            diags.add(
                Diagnostic(
                    "duplicate-pack-id",
                    f"duplicate pack id `{pack.id}`",
                    pack.span,
                    notes=(
                        f"pack `{pack.id}` is first defined in {first.file}:{first.start.line + 1}",
                    ),
                )
            )
            continue
        packs[pack.id] = pack
    return list(packs.values())


def _discover(paths: Sequence[str | Path], diags: DiagnosticSet) -> tuple[Path | None, list[Path]]:
    """The manifest and the pack files named by ``paths``, de-duplicated, in given order."""
    manifest: Path | None = None
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        try:
            if path.is_dir():
                for name in MANIFEST_NAMES:
                    if manifest is None and (path / name).is_file():
                        manifest = path / name
                files.extend(sorted(p for p in path.rglob("*")
                                    if _is_pack_file(p) and not is_suite_file(p, path)))
            elif path.name in MANIFEST_NAMES:
                manifest = manifest or path
            elif path.exists():
                files.append(path)
            else:
                diags.add(Diagnostic("file-not-found", f"no such file or directory `{raw}`"))
        except OSError as exc:  # a name too long, a loop of symlinks, an unreadable directory
            shown = str(raw) if len(str(raw)) <= 120 else f"{str(raw)[:100]}..."
            diags.add(Diagnostic("io-error", f"cannot read `{shown}`: {exc.strerror or exc}"))
    unique: dict[Path, Path] = {}
    for f in files:
        try:
            unique.setdefault(f.resolve(), f)
        except OSError:
            unique.setdefault(f, f)
    return manifest, list(unique.values())


def is_suite_file(path: Path, root: Path) -> bool:
    """True for a file that may be a policy suite: ``*.test.yaml``, or YAML in a ``tests/``
    folder below ``root``. ``compliance check`` skips these when it searches a directory for
    packs (``compliance test`` runs those beside a manifest: ``testing._load.is_suite``).
    """
    if path.suffix not in _SUFFIXES:
        return False
    if path.name.endswith(SUITE_SUFFIXES):
        return True
    try:
        parts = path.relative_to(root).parts[:-1]
    except ValueError:
        parts = ()
    return SUITE_DIR in parts


def _is_pack_file(path: Path) -> bool:
    return path.is_file() and path.suffix in _SUFFIXES and path.name not in MANIFEST_NAMES


def read_limited(
    path: Path, name: str, limits: Limits = DEFAULT_LIMITS
) -> tuple[bytes | None, list[Diagnostic]]:
    """The bytes of a regular file no larger than ``limits.max_file_bytes``, or why not.

    The size is checked before reading (a 4 GiB file is never loaded) and the read stops
    one byte past the limit (a file that grows meanwhile cannot exhaust memory). FIFOs,
    devices and directories are refused without reading: opening non-blocking means a
    FIFO with no writer cannot hang the check, and ``/dev/zero`` is never read.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return None, [Diagnostic("file-not-found", f"no such file `{name}`")]
    except IsADirectoryError:
        return None, [_not_a_file(name, "a directory")]
    except OSError as exc:
        return None, [Diagnostic("io-error", f"cannot read `{name}`: {exc.strerror or exc}")]
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None, [_not_a_file(name, _kind(info.st_mode))]
        if info.st_size > limits.max_file_bytes:
            return None, [file_too_large(name, info.st_size, limits)]
        chunks: list[bytes] = []
        left = limits.max_file_bytes + 1
        while left > 0 and (chunk := os.read(fd, min(left, 1 << 16))):
            chunks.append(chunk)
            left -= len(chunk)
    except OSError as exc:
        return None, [Diagnostic("io-error", f"cannot read `{name}`: {exc.strerror or exc}")]
    finally:
        os.close(fd)
    return b"".join(chunks), []


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def _not_a_file(name: str, kind: str) -> Diagnostic:
    return Diagnostic(
        "not-a-file",
        f"`{name}` is {kind}, not a regular file",
        help="give the path of a pack file or of a directory holding pack files",
    )


def _load_manifest(
    path: Path, limits: Limits, *, bare_context: bool
) -> tuple[Manifest | None, list[Diagnostic]]:
    manifest, _, diags = _read_manifest(path, limits, bare_context=bare_context)
    return manifest, diags


def _read_manifest(
    path: Path, limits: Limits, *, bare_context: bool
) -> tuple[Manifest | None, SourceFile | None, list[Diagnostic]]:
    """The manifest, its source text (for quoting in diagnostics) and what went wrong."""
    name = str(path)
    data, diags = read_limited(path, name, limits)
    if data is None:
        return None, None, diags
    return _manifest_from_bytes(data, name, limits, bare_context=bare_context)


def _manifest_from_bytes(
    data: bytes, name: str, limits: Limits, *, bare_context: bool
) -> tuple[Manifest | None, SourceFile | None, list[Diagnostic]]:
    parsed = read_yaml(data, name, limits)
    source = SourceFile(name, parsed.text) if parsed.text is not None else None
    if parsed.root is None or parsed.text is None:
        return None, source, parsed.diagnostics
    ctx = Ctx(name, split_lines(parsed.text))
    root = parsed.root
    if bare_context and isinstance(root, MappingNode) and not _has_key(root, "context"):
        return Manifest("", "allow", build_schema(ctx, root)), source, ctx.diagnostics
    return build_manifest(ctx, root), source, ctx.diagnostics


def _has_key(node: Node, key: str) -> bool:
    return isinstance(node, MappingNode) and any(
        isinstance(k, ScalarNode) and k.value == key for k, _ in node.value
    )

