"""The context schema: which attributes a pack set reads, and the CEL type lattice.

A pack set declares its context in ``packset.yaml`` (``context:``) or passes a pydantic
model. Types are spelled as in CEL type-checkers: ``int``, ``uint``, ``double``, ``bool``,
``string``, ``bytes``, ``timestamp``, ``duration``, ``dyn``, ``null_type``, ``list<T>``,
``map<K, V>``; nested mappings declare objects.
"""

from __future__ import annotations

import enum
import types
from collections import abc
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any, Union, get_args, get_origin
from typing import Literal as TypingLiteral

if TYPE_CHECKING:
    from pydantic import BaseModel

SCALAR_KINDS = frozenset(
    {"int", "uint", "double", "bool", "string", "bytes", "timestamp", "duration", "dyn",
     "null_type", "type", "error"}
)


NORMALIZERS = ("trim", "casefold", "lower", "upper")
"""The string normalisations a schema may apply, in the order they are written."""


@dataclass(frozen=True, slots=True)
class Constraint:
    """What a declared scalar must satisfy beyond its type, and how it is normalised first.

    ``normalize`` runs first (``trim``, then case), then ``empty_absent`` turns ``""`` into
    an absent attribute, then ``enum``/``pattern`` (an RE2 full match) are checked. A
    ``double`` rejects NaN and infinities unless ``finite`` is False.
    """

    pattern: str = ""
    normalize: tuple[str, ...] = ()
    empty_absent: bool = False
    finite: bool = True


NO_CONSTRAINT = Constraint()


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on context values, enforced where a value is read (``compliance.cel.conform``).

    A value beyond a limit is an error on its path, so no rule meets a 10 MB string or a
    million-item list. ``max_string`` matches the cost model's string assumption.

    .. versionadded:: 0.1.0
    """

    max_depth: int = 32
    max_string: int = 1024
    max_list: int = 1024
    max_map: int = 1024


@dataclass(frozen=True, slots=True)
class CelType:
    """A CEL type. ``params`` for list/map, ``fields`` for objects, ``enum`` for closed strings.

    ``constraint`` holds a declared scalar's pattern, normalisation and finiteness.
    """

    kind: str
    params: tuple[CelType, ...] = ()
    fields: tuple[tuple[str, CelType], ...] = ()
    name: str = ""
    enum: tuple[str, ...] = ()
    constraint: Constraint = NO_CONSTRAINT

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
        text = self.text
        while self.pos < len(text) and (text[self.pos].isalnum() or text[self.pos] in "_."):
            self.pos += 1
        return self.text[start:self.pos]

    def expect(self, char: str) -> None:
        self.skip_space()
        alternative = {"<": "(", ">": ")"}.get(char, char)
        if self.pos >= len(self.text) or self.text[self.pos] not in (char, alternative):
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
                message = f"map keys must be string, int, uint or bool, not `{key}`"
                raise TypeSyntaxError(message, start)
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
    limits: Limits = field(default_factory=Limits, compare=False)
    #: Dotted paths the manifest marks ``sensitive: true``; audit logs redact them.
    sensitive_paths: frozenset[str] = field(default=frozenset(), compare=False)
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


def _flatten(
    fields: Mapping[str, CelType], prefix: tuple[str, ...]
) -> Iterator[tuple[str, CelType]]:
    for name, t in fields.items():
        path = (*prefix, name)
        yield ".".join(path), t
        if t.kind == "object":
            yield from _flatten(dict(t.fields), path)


# ---------------------------------------------------------------------------------------------
# pydantic models as schemas


def schema_from_pydantic(model: type[BaseModel]) -> ContextSchema:
    """The ``ContextSchema`` a pydantic v2 model class describes (its fields are the variables).

    Hosts that already validate contexts with pydantic can check packs against the same
    model instead of restating it in ``packset.yaml``. Nested models become objects,
    ``list[X]``/``dict[K, V]`` become ``list<X>``/``map<K, V>``, ``datetime``/``timedelta``
    become ``timestamp``/``duration``, ``Literal["a", "b"]`` (or a ``str`` enum) becomes a
    string with an ``enum``, ``Optional[X]`` is ``X`` (absence is CEL's unknown, not null) and
    ``Any`` is ``dyn``. Anything else raises ``TypeError`` naming the field.

    .. versionadded:: 0.1.0
    """
    fields = _model_fields(model, "", frozenset())
    return ContextSchema(fields, source=f"pydantic model `{model.__qualname__}`")


def _model_fields(
    model: type[BaseModel], prefix: str, seen: frozenset[type[Any]]
) -> dict[str, CelType]:
    """The CEL types of a model's fields, keyed by the name a context dict uses."""
    if model in seen:
        raise TypeError(f"field `{prefix.rstrip('.')}`: recursive model `{model.__name__}`")
    out: dict[str, CelType] = {}
    for name, info in model.model_fields.items():
        key = info.alias or name
        out[key] = _annotation_type(info.annotation, prefix + key, seen | {model})
    return out


_SCALARS: dict[object, CelType] = {
    bool: BOOL, int: INT, float: DOUBLE, str: STRING, bytes: BYTES,
    datetime: TIMESTAMP, timedelta: DURATION, Any: DYN, object: DYN,
}


def _annotation_type(ann: object, path: str, seen: frozenset[type[Any]]) -> CelType:
    """One annotation as a CEL type; ``path`` names the field in error messages."""
    from pydantic import BaseModel  # noqa: PLC0415 - keep `import compliance.cel.types` light

    if ann in _SCALARS:
        return _SCALARS[ann]
    origin = get_origin(ann)
    if origin is not None:
        return _generic_type(ann, origin, path, seen)
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return object_of(path, _model_fields(ann, path + ".", seen))
    if isinstance(ann, type) and issubclass(ann, enum.Enum):
        return _enum_type([m.value for m in ann], path)
    raise TypeError(f"field `{path}`: unsupported annotation `{_spell(ann)}` for a CEL context")


def _generic_type(ann: object, origin: object, path: str, seen: frozenset[type[Any]]) -> CelType:
    """``list[X]``, ``dict[K, V]``, ``Optional[X]``, ``Literal[...]``, ``Annotated[X, ...]``."""
    args = get_args(ann)
    if origin is Annotated:
        return _annotation_type(args[0], path, seen)
    if origin in (Union, types.UnionType):
        present = [a for a in args if a is not type(None)]
        if len(present) != 1:
            raise TypeError(f"field `{path}`: union `{_spell(ann)}` has no single CEL type")
        return _annotation_type(present[0], path, seen)
    if origin is TypingLiteral:
        return _enum_type(list(args), path)
    if origin in (list, set, frozenset, tuple, abc.Sequence, abc.Set):
        if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            raise TypeError(f"field `{path}`: only `tuple[X, ...]` maps to a CEL list")
        return list_of(_annotation_type(args[0], path + "[]", seen) if args else DYN)
    if origin in (dict, abc.Mapping):
        key, value = (_annotation_type(a, path + "{}", seen) for a in args) if args else (DYN, DYN)
        if key.kind not in {"string", "int", "uint", "bool", "dyn"}:
            raise TypeError(f"field `{path}`: map keys must be string, int, uint or bool")
        return map_of(replace(key, enum=()), value)
    raise TypeError(f"field `{path}`: unsupported annotation `{_spell(ann)}` for a CEL context")


def _enum_type(values: list[object], path: str) -> CelType:
    """A closed set of literals: strings keep their ``enum``; bools and ints lose it."""
    if values and all(isinstance(v, str) for v in values):
        return replace(STRING, enum=tuple(str(v) for v in values))
    if values and all(isinstance(v, bool) for v in values):
        return BOOL
    if values and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return INT
    raise TypeError(f"field `{path}`: literal values {values!r} do not share one CEL type")


def _spell(ann: object) -> str:
    """A readable spelling of an annotation (``int``, ``list[str]``, ``Decimal``)."""
    return ann.__name__ if isinstance(ann, type) and not get_args(ann) else repr(ann)
