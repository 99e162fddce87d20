"""The context schema: which attributes a pack set reads, and the CEL type lattice.

A pack set declares its context in ``packset.yaml`` (``context:``) or passes a pydantic
model. Types are spelled as in CEL type-checkers: ``int``, ``uint``, ``double``, ``bool``,
``string``, ``bytes``, ``timestamp``, ``duration``, ``dyn``, ``null_type``, ``list<T>``,
``map<K, V>``; nested mappings declare objects.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

SCALAR_KINDS = frozenset(
    {"int", "uint", "double", "bool", "string", "bytes", "timestamp", "duration", "dyn",
     "null_type", "type", "error"}
)


@dataclass(frozen=True, slots=True)
class CelType:
    """A CEL type. ``params`` for list/map, ``fields`` for objects, ``enum`` for closed strings."""

    kind: str
    params: tuple[CelType, ...] = ()
    fields: tuple[tuple[str, CelType], ...] = ()
    name: str = ""
    enum: tuple[str, ...] = ()

    def __str__(self) -> str:
        if self.kind == "list":
            return f"list<{self.params[0]}>"
        if self.kind == "map":
            return f"map<{self.params[0]}, {self.params[1]}>"
        if self.kind == "object":
            return self.name or "object"
        return self.kind

    def field_type(self, name: str) -> CelType | None:
        """The declared type of field ``name`` of an object type, or None."""
        for fname, ftype in self.fields:
            if fname == name:
                return ftype
        return None

    @property
    def elem(self) -> CelType:
        """Element type of a list (``dyn`` otherwise)."""
        return self.params[0] if self.kind == "list" else DYN

    @property
    def key(self) -> CelType:
        """Key type of a map (``dyn`` otherwise)."""
        return self.params[0] if self.kind == "map" else DYN

    @property
    def value(self) -> CelType:
        """Value type of a map (``dyn`` otherwise)."""
        return self.params[1] if self.kind == "map" else DYN


INT = CelType("int")
UINT = CelType("uint")
DOUBLE = CelType("double")
BOOL = CelType("bool")
STRING = CelType("string")
BYTES = CelType("bytes")
TIMESTAMP = CelType("timestamp")
DURATION = CelType("duration")
DYN = CelType("dyn")
NULL = CelType("null_type")
TYPE = CelType("type")
ERROR = CelType("error")


def list_of(elem: CelType) -> CelType:
    """``list<elem>``."""
    return CelType("list", (elem,))


def map_of(key: CelType, value: CelType) -> CelType:
    """``map<key, value>``."""
    return CelType("map", (key, value))


def object_of(name: str, fields: Mapping[str, CelType]) -> CelType:
    """An object (message-like) type with named fields."""
    return CelType("object", fields=tuple(fields.items()), name=name)


class TypeSyntaxError(ValueError):
    """A type string such as ``list<strng>`` that does not parse; ``offset`` is where."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset


def parse_type(text: str) -> CelType:
    """Parse ``list<string>``, ``map<string, double>``, ``timestamp`` … into a ``CelType``."""
    parser = _TypeParser(text)
    result = parser.parse()
    parser.skip_space()
    if parser.pos != len(text):
        raise TypeSyntaxError(f"unexpected `{text[parser.pos:]}` after type", parser.pos)
    return result


class _TypeParser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] == " ":
            self.pos += 1

    def name(self) -> str:
        self.skip_space()
        start = self.pos
        while self.pos < len(self.text) and (self.text[self.pos].isalnum() or self.text[self.pos] in "_."):
            self.pos += 1
        return self.text[start:self.pos]

    def expect(self, char: str) -> None:
        self.skip_space()
        if self.pos >= len(self.text) or self.text[self.pos] not in (char, "(" if char == "<" else ")" if char == ">" else char):
            raise TypeSyntaxError(f"expected `{char}` in type `{self.text}`", self.pos)
        self.pos += 1

    def parse(self) -> CelType:
        start = self.pos
        word = self.name()
        if word == "list":
            self.expect("<")
            elem = self.parse()
            self.expect(">")
            return list_of(elem)
        if word == "map":
            self.expect("<")
            key = self.parse()
            self.expect(",")
            value = self.parse()
            self.expect(">")
            if key.kind not in {"string", "int", "uint", "bool", "dyn"}:
                raise TypeSyntaxError(f"map keys must be string, int, uint or bool, not `{key}`", start)
            return map_of(key, value)
        aliases = {"float": "double", "null": "null_type", "boolean": "bool", "str": "string"}
        kind = aliases.get(word, word)
        if kind in SCALAR_KINDS:
            return CelType(kind)
        raise TypeSyntaxError(f"unknown type `{word}`" if word else "expected a type name", start)


@dataclass(frozen=True, slots=True)
class ContextSchema:
    """The declared context: top-level variables (``principal``, ``request`` …) and their types."""

    variables: Mapping[str, CelType]
    source: str = ""
    _paths: dict[str, CelType] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for path, t in _flatten(self.variables, ()):
            self._paths[path] = t

    def lookup(self, path: str) -> CelType | None:
        """The type of a dotted attribute path such as ``request.model``, or None."""
        return self._paths.get(path)

    def paths(self) -> Iterator[tuple[str, CelType]]:
        """Every declared attribute path with its type, objects included."""
        return iter(self._paths.items())


def _flatten(fields: Mapping[str, CelType], prefix: tuple[str, ...]) -> Iterator[tuple[str, CelType]]:
    for name, t in fields.items():
        path = (*prefix, name)
        yield ".".join(path), t
        if t.kind == "object":
            yield from _flatten(dict(t.fields), path)
