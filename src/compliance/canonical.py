"""Canonical JSON and content digests: a digest names a pack's *meaning*, not its bytes.

Two pack files that differ only in formatting, comments or key order mean the same thing
and must get the same digest, so an audit record that names a digest can be replayed
against any copy of the pack. The loader builds plain data (dicts, lists, scalars) from
the YAML nodes, and this module hashes its canonical JSON: sorted keys, no whitespace,
UTF-8 without ASCII escaping, floats by ``repr`` and no NaN or infinity.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, cast

import orjson

from compliance.cel.types import CelType, ContextSchema

if TYPE_CHECKING:
    from compliance.pack import Pack, PackSet

__all__ = ["canonical_json", "context_json", "digest", "digest_bytes", "digest_json",
           "pack_set_digest", "schema_to_data"]

_PREFIX = "sha256:"


def canonical_json(obj: object) -> bytes:
    """The canonical UTF-8 JSON bytes of ``obj`` (raises ``ValueError`` for NaN/infinity)."""
    text = json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return text.encode("utf-8")


def digest(obj: object) -> str:
    """``sha256:<hex>`` of the canonical JSON of ``obj``."""
    return _PREFIX + hashlib.sha256(canonical_json(obj)).hexdigest()


def digest_json(obj: object) -> str:
    """``sha256:<hex>`` of a request context in its canonical form; never raises.

    The canonical form is ``context_json``'s bytes.
    """
    return digest_bytes(context_json(obj))


def digest_bytes(data: bytes) -> str:
    """``sha256:<hex>`` of ``data``: how a context digest is spelled."""
    return _PREFIX + hashlib.sha256(data).hexdigest()


def context_json(obj: object) -> bytes:
    """The canonical bytes of a request context (what its digest hashes); never raises.

    Contexts come from hosts, not from our loader, so every value gets a defined spelling.
    The canonical form is orjson's sorted-key JSON of the context. What orjson cannot
    encode is first replaced, by ``_representable``, with plain data: a datetime by its
    ISO 8601 text, bytes by ``{"bytes": "<hex>"}``, and anything else (a lone surrogate,
    a non-finite float, an integer beyond 64 bits, a non-string key, nesting deeper than
    ``MAX_DIGEST_DEPTH``, a cycle, an unknown object) by the marker string
    ``<unrepresentable KIND at PATH>`` naming where it was. The fallback encodes with
    orjson too, so a context orjson accepts digests to the same bytes either way.
    """
    try:
        text: bytes = orjson.dumps(obj, option=_ORJSON_OPTIONS)
        # orjson writes NaN and infinities as `null`: look closer only when one may hide.
        # (`find`, not `in`: `bytes in` first tries the needle as an int, raising inside.)
        if text.find(b"null") < 0 or not _has_non_finite(obj):
            return text
    except (TypeError, ValueError, OverflowError, RecursionError):  # orjson.JSONEncodeError
        pass
    fallback: bytes = orjson.dumps(_representable(obj), option=_ORJSON_OPTIONS)
    return fallback


MAX_DIGEST_DEPTH = 254
"""Containers at this depth (root = 0) digest as a marker: orjson encodes no deeper."""

_ORJSON_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME


def _has_non_finite(obj: object) -> bool:
    """Whether a NaN or an infinity lies anywhere in ``obj`` (orjson wrote it as ``null``).

    Run on every decision whose context holds a ``null``, so it walks containers only:
    each container's values are tested in place by exact type (the common scalars are
    skipped without a push), and ``v - v != 0.0`` is true exactly for NaN and infinities.
    A subclass of float, dict, list or tuple takes the general branch.
    """
    stack = [obj]
    pop, push = stack.pop, stack.append
    while stack:
        item = pop()
        kind = type(item)
        values: Iterable[object]
        if kind is dict:
            values = item.values()  # type: ignore[attr-defined]
        elif kind is list or kind is tuple:
            values = item  # type: ignore[assignment]
        elif isinstance(item, float):
            if not math.isfinite(item):
                return True
            continue
        elif isinstance(item, dict):
            values = item.values()
        elif isinstance(item, list | tuple):
            values = item
        else:
            continue
        for value in values:
            kind = type(value)
            if kind is str or kind is int or kind is bool or value is None:
                continue
            if kind is float:
                if value - value != 0.0:  # type: ignore[operator]
                    return True
            else:
                push(value)
    return False


def _marker(kind: str, path: str) -> str:
    return f"<unrepresentable {kind} at {path or '$'}>"


def _representable(root: object) -> object:
    """``root`` as data orjson encodes, markers in place of the rest (iterative: no depth limit)."""
    out: list[object] = [None]
    # (value, container to fill, key in it, path, depth, ids of the enclosing containers)
    stack: list[tuple[object, list[object] | dict[str, object], int | str, str, int,
                      frozenset[int]]] = [(root, out, 0, "", 0, frozenset())]
    while stack:
        value, parent, key, path, depth, seen = stack.pop()
        result: object
        if isinstance(value, dict | list | tuple):
            if id(value) in seen:
                result = _marker("cycle", path)
            elif depth >= MAX_DIGEST_DEPTH:
                result = _marker("nesting-too-deep", path)
            else:
                inner = seen | {id(value)}
                if isinstance(value, dict):
                    box: dict[str, object] = {}
                    for k, v in value.items():
                        name = k if isinstance(k, str) and _encodable(k) else _marker(
                            f"key {type(k).__name__}", f"{path}[{_safe_repr(k)}]")
                        stack.append((v, box, name, f"{path}.{name}" if path else name,
                                      depth + 1, inner))
                    result = box
                else:
                    items: list[object] = [None] * len(value)
                    for i, v in enumerate(value):
                        stack.append((v, items, i, f"{path}[{i}]", depth + 1, inner))
                    result = items
        else:
            result = _scalar(value, path)
        if isinstance(parent, dict):
            parent[str(key)] = result
        else:
            parent[int(key)] = result
    return out[0]


def _scalar(value: object, path: str) -> object:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value if _encodable(value) else _marker("string", path)
    if isinstance(value, int):
        return value if -(2**63) <= value < 2**64 else _marker("integer", path)
    if isinstance(value, float):
        return value if math.isfinite(value) else _marker(repr(value), path)
    if isinstance(value, bytes):
        return {"bytes": value.hex()}
    iso = getattr(value, "isoformat", None)
    if callable(iso):
        try:
            text = iso()
        except Exception:  # a host object: any failure is just unrepresentable
            text = None
        if isinstance(text, str) and _encodable(text):
            return text
    return _marker(type(value).__name__, path)


def _encodable(text: str) -> bool:
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _safe_repr(value: object) -> str:
    text = type(value).__name__
    if isinstance(value, int | float | bool) or value is None:
        text = repr(value) if not isinstance(value, int) or value.bit_length() < 64 else text
    return text


def schema_to_data(schema: ContextSchema) -> dict[str, object]:
    """The context schema as plain data, so it can be hashed with the packs it checks."""
    return {name: _type_to_data(t) for name, t in schema.variables.items()}


def _type_to_data(t: CelType) -> object:
    if t.kind == "object":
        return {name: _type_to_data(f) for name, f in t.fields}
    if t.kind in ("list", "map") and _type_to_data(t.params[-1]) != str(t.params[-1]):
        return {"type": str(t), "of": _type_to_data(t.params[-1])}  # constrained elements
    data: dict[str, object] = {}
    if t.enum:
        data["enum"] = list(t.enum)
    c = t.constraint
    if c.pattern:
        data["pattern"] = c.pattern
    if c.normalize:
        data["normalize"] = list(c.normalize)
    if c.empty_absent:
        data["empty"] = "absent"
    if not c.finite:
        data["finite"] = False
    return {"type": str(t), **data} if data else str(t)


def pack_set_digest(
    packs: PackSet | Iterable[Pack],
    schema: ContextSchema | None = None,
    default_effect: str | None = None,
) -> str:
    """One digest for a whole pack set: pack digests (order-free), schema, default, shared vars.

    Pass a ``PackSet`` alone, or its packs, schema and default effect. Pack order does not
    change what a set decides, so the digests are sorted first.
    """
    items: Iterable[Pack]
    shared: dict[str, str] = {}
    events: dict[str, object] = {}
    if schema is None:
        pack_set = cast("PackSet", packs)
        items, schema = pack_set.packs, pack_set.schema
        default_effect = pack_set.default_effect
        shared = {v.name: v.expr.text for v in pack_set.variables}
        if pack_set.signals and pack_set.events is not None:  # what signal predicates read
            events = schema_to_data(pack_set.events)
    else:
        items = cast("Iterable[Pack]", packs)
    data: dict[str, object] = {
        "default_effect": default_effect or "allow",
        "packs": sorted(p.digest for p in items),
        "schema": schema_to_data(schema),
    }
    if shared:  # absent when empty, so sets without shared variables keep their digest
        data["variables"] = shared
    if events:  # likewise absent without signals
        data["events"] = events
    return digest(data)
