"""From an HTTP request to the canonical context: the declarative header/claim mapping.

A mapped header is trusted input: only an edge that sets (and strips) it may be in front of
the gateway. Values are converted by the schema's declared type, so ``x-nationalities: FR,
DE`` reads as ``["FR", "DE"]``; a value that does not convert is a ``invalid-header`` 400,
never a guess.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from compliance.cel.types import CelType, ContextSchema
from compliance.jsonread import JsonReadError, read_json

__all__ = ["AttributeMap", "MappingError", "deep_merge", "set_path"]

_MAX_HEADER_CHARS = 4096
_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}


class MappingError(ValueError):
    """A mapped header or claim whose value does not fit the declared type of its path."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class AttributeMap:
    """Where request headers and verified token claims go in the context.

    ``headers`` maps a header name (any case) to a dotted context path, e.g.
    ``{"x-org-id": "org.id"}``; ``claims`` maps a claim name (dotted for nested claims) to a
    path, e.g. ``{"nationality": "principal.nationalities"}``. Paths must be declared by the
    pack set's schema (checked when the gateway starts).
    """

    headers: Mapping[str, str] = field(default_factory=dict)
    claims: Mapping[str, str] = field(default_factory=dict)

    def check(self, schema: ContextSchema) -> None:
        """Raise ``ValueError`` naming every mapped path the schema does not declare."""
        unknown = sorted(p for p in (*self.headers.values(), *self.claims.values())
                         if schema.lookup(p) is None)
        if unknown:
            raise ValueError(f"mapped context paths not in the schema: {', '.join(unknown)}")

    def apply(self, schema: ContextSchema, headers: Mapping[str, str],
              claims: Mapping[str, Any] | None, into: dict[str, Any]) -> None:
        """Set every mapped attribute present in ``headers`` / ``claims`` on ``into``."""
        for name, path in self.headers.items():
            raw = headers.get(name.lower())
            if raw is None:
                continue
            set_path(into, path, _from_header(raw, schema.lookup(path), name))
        if claims:
            for name, path in self.claims.items():
                value = _claim(claims, name)
                if value is not None:
                    set_path(into, path, value)


def _from_header(raw: str, t: CelType | None, name: str) -> Any:
    """A header's text as a value of type ``t`` (strings stay strings; lists split on ``,``)."""
    if len(raw) > _MAX_HEADER_CHARS:
        raise MappingError("invalid-header", f"header `{name}` is longer than "
                                             f"{_MAX_HEADER_CHARS} characters")
    kind = t.kind if t is not None else "string"
    text = raw.strip()
    if kind == "string":
        return text
    if kind == "bool":
        low = text.lower()
        if low in _TRUE or low in _FALSE:
            return low in _TRUE
        raise MappingError("invalid-header", f"header `{name}` must be true or false")
    if kind == "list" and t is not None and t.params and t.params[0].kind == "string":
        return [part.strip() for part in text.split(",") if part.strip()]
    if kind in ("int", "uint"):
        try:
            return int(text)
        except ValueError:
            raise MappingError("invalid-header", f"header `{name}` must be an integer") from None
    try:  # double, maps, other lists: a JSON value, read with the strict reader
        return read_json(text, max_bytes=_MAX_HEADER_CHARS, max_depth=8)
    except JsonReadError as exc:
        raise MappingError("invalid-header",
                           f"header `{name}` must be a JSON {t}: {exc.message}") from None


def _claim(claims: Mapping[str, Any], name: str) -> Any:
    value: Any = claims
    for part in name.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def set_path(into: dict[str, Any], path: str, value: Any) -> None:
    """``into[a][b][c] = value`` for ``path`` ``a.b.c``, creating objects on the way."""
    parts = path.split(".")
    node = into
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[parts[-1]] = value


def deep_merge(into: dict[str, Any], values: Mapping[str, Any]) -> None:
    """Merge ``values`` over ``into``: objects merge key by key, anything else replaces."""
    for key, value in values.items():
        current = into.get(key)
        if isinstance(value, Mapping) and isinstance(current, dict):
            deep_merge(current, value)
        elif isinstance(value, Mapping):
            fresh: dict[str, Any] = {}
            deep_merge(fresh, value)
            into[key] = fresh
        else:
            into[key] = value
