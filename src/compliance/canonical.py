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

from compliance.schema import CelType, ContextSchema

if TYPE_CHECKING:
    from compliance.pack import Pack, PackSet

__all__ = ["canonical_json", "digest", "digest_json", "pack_set_digest", "schema_to_data"]

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
    """``digest`` of a request context: values JSON lacks (datetimes, NaN) hash by spelling.

    Contexts come from hosts, not from our loader, so this never raises: a datetime hashes
    as its ISO 8601 text, bytes as hex, NaN and infinities as their names.
    """
    return digest(_plain(obj))


def _plain(obj: object) -> object:
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return repr(obj)
    if isinstance(obj, bytes):
        return {"bytes": obj.hex()}
    if obj is None or isinstance(obj, str | int | float | bool):
        return obj
    iso = getattr(obj, "isoformat", None)
    return iso() if callable(iso) else str(obj)


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
    """One digest for a whole pack set: its pack digests (order-free), schema and default.

    Pass a ``PackSet`` alone, or its packs, schema and default effect. Pack order does not
    change what a set decides, so the digests are sorted first.
    """
    items: Iterable[Pack]
    if schema is None:
        pack_set = cast("PackSet", packs)
        items, schema = pack_set.packs, pack_set.schema
        default_effect = pack_set.default_effect
    else:
        items = cast("Iterable[Pack]", packs)
    return digest(
        {
            "default_effect": default_effect or "allow",
            "packs": sorted(p.digest for p in items),
            "schema": schema_to_data(schema),
        }
    )
