"""The project's own CEL syntax tree.

``cel.parse`` turns cel-python's lark tree into these nodes once, so no other module
sees lark. Every node carries ``start``/``end``: 0-based character offsets into the CEL
text it came from (a ``SourceMap`` turns them into file positions).

Operators are ``Call`` nodes with cel-go's function names, so the checker's overload
table and the compiler's implementations share one vocabulary:

    _&&_  _||_  _?_:_  !_  -_  _==_  _!=_  _<_  _<=_  _>_  _>=_  _+_  _-_  _*_  _/_  _%_
    @in  _[_]

Macros are expanded into ``Comprehension`` nodes that keep the macro's name (``all``,
``exists``, ``exists_one``, ``map``, ``filter``); ``has(a.b)`` becomes
``Select(a, "b", test_only=True)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal as TypingLiteral


@dataclass(frozen=True, slots=True)
class Node:
    """Base of every node: the character range it was parsed from."""

    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Literal(Node):
    """A constant: int, ``UInt``, float, str, bytes, bool or None (runtime value types)."""

    value: object


@dataclass(frozen=True, slots=True)
class Ident(Node):
    """A bare name; may be dotted-qualified later by the checker (``a.b.c`` as one name)."""

    name: str


@dataclass(frozen=True, slots=True)
class Select(Node):
    """Field selection ``operand.field``; ``test_only`` marks ``has(operand.field)``."""

    operand: Expr
    field: str
    test_only: bool = False


@dataclass(frozen=True, slots=True)
class Call(Node):
    """A function, method (``target`` set) or operator call."""

    function: str
    args: tuple[Expr, ...]
    target: Expr | None = None


@dataclass(frozen=True, slots=True)
class CreateList(Node):
    """A list literal ``[a, b]``."""

    elements: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class CreateMap(Node):
    """A map literal ``{k: v}``."""

    entries: tuple[tuple[Expr, Expr], ...]


@dataclass(frozen=True, slots=True)
class CreateStruct(Node):
    """A message literal ``Type{field: value}`` (parsed; few types are supported at run time)."""

    type_name: str
    fields: tuple[tuple[str, Expr], ...]


MacroKind = TypingLiteral["all", "exists", "exists_one", "map", "filter"]


@dataclass(frozen=True, slots=True)
class Comprehension(Node):
    """A macro over a list or map: ``range.kind(var, body)``.

    For ``map`` with three arguments ``range.map(var, predicate, body)`` the predicate is
    in ``predicate``; for ``filter`` the body is the predicate.
    """

    kind: MacroKind
    range: Expr
    var: str
    body: Expr
    predicate: Expr | None = None


Expr = Literal | Ident | Select | Call | CreateList | CreateMap | CreateStruct | Comprehension


def walk(node: Expr) -> list[Expr]:
    """Every node of the tree, parents before children (iterative: deep trees are input)."""
    out: list[Expr] = []
    stack: list[Expr] = [node]
    while stack:
        n = stack.pop()
        out.append(n)
        stack.extend(reversed(children(n)))
    return out


def children(node: Expr) -> list[Expr]:
    """The direct sub-expressions of ``node`` in source order."""
    match node:
        case Select(operand=operand):
            return [operand]
        case Call(target=target, args=args):
            return ([target] if target is not None else []) + list(args)
        case CreateList(elements=elements):
            return list(elements)
        case CreateMap(entries=entries):
            return [x for kv in entries for x in kv]
        case CreateStruct(fields=fields):
            return [v for _, v in fields]
        case Comprehension(range=rng, body=body, predicate=predicate):
            return [rng] + ([predicate] if predicate is not None else []) + [body]
        case _:
            return []


def attribute_path(node: Expr) -> tuple[str, ...] | None:
    """``("request", "model")`` for ``request.model``; None if not a plain name chain."""
    parts: list[str] = []
    while isinstance(node, Select) and not node.test_only:
        parts.append(node.field)
        node = node.operand
    if isinstance(node, Ident):
        parts.append(node.name)
        return tuple(reversed(parts))
    return None
