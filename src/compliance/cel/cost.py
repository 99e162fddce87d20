"""Static cost bounds: a rule file must never be able to make one decision slow.

``estimate_cost`` gives an upper bound on the work one evaluation of an expression can do,
in abstract *steps* (roughly one closure call of the compiled program each), computed from
the syntax tree alone so ``compliance check`` can reject a pack before it ships. Like
cel-go's cost estimator it propagates a *size bound* (characters of a string, elements of a
list or map, and the size of those elements) through the expression, so operations whose
output grows with their input (``replace``, ``+``, ``split``, ``join``, ``format``, ``map``)
are charged for what they build, and whatever consumes their output is charged for its
real size:

* every node costs 1; a ``vars.<name>`` reference costs the variable's expression again
  at each use (the compiled program evaluates it at each use);
* scanning or building ``n`` characters costs ``ceil(n / CHARS_PER_UNIT)`` (10): string
  functions scan their inputs, string producers also pay for their output;
* a string read from the context is ``SizeAssumptions.max_string`` characters, a list or
  map ``max_list`` elements, unless ``SizeAssumptions.sizes`` declares a smaller bound for
  its dotted path; literals have their own sizes;
* ``replace(old, new)`` can insert ``new`` at every match (at every position when ``old``
  may be empty); ``a + b`` is as long as both; ``split`` gives up to ``size + 1`` pieces;
  ``join`` is the elements times their size plus separators; ``map`` is as long as its
  range with elements as big as its body;
* ``matches`` adds ``ceil(size / 10) * ceil(pattern / 4)``: RE2 is linear in the subject
  for a fixed pattern, and its per-character work grows with the pattern;
* a comprehension (``all``, ``exists``, ``exists_one``, ``map``, ``filter``) costs its range
  plus, per element, its body and predicate plus one, with the iteration variable as big
  as the range's elements. Nested comprehensions therefore multiply;
* ``in`` over a list scans it (its element bound); over a map it is a hash look-up, and
  over a literal list a hash look-up in the compiled program (its nodes only).

The numbers are bounds for comparison against a budget, not predictions of time; the unit
tests pin them down on concrete expressions so a change to the model is a visible diff.
The checker's cost pass (``compliance.checker._cost``) turns them into ``cost-exceeded``
diagnostics, per rule and for the set.
The run-time side, which charges actual sizes against a per-decision budget in the same
units, is ``compliance.cel.budget``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Final, TypeVar

from compliance.cel.ast import (
    Call,
    Comprehension,
    CreateList,
    CreateMap,
    CreateStruct,
    Expr,
    Ident,
    Literal,
    Select,
    attribute_path,
    children,
)
from compliance.cel.budget import CHARS_PER_UNIT
from compliance.cel.types import CelType, ContextSchema, Limits

__all__ = [
    "DEFAULT_MAX_LIST",
    "DEFAULT_MAX_STRING",
    "DEFAULT_RULE_BUDGET",
    "DEFAULT_SIZES",
    "DEFAULT_TOTAL_BUDGET",
    "UNBOUNDED",
    "ZERO_SIZES",
    "SizeAssumptions",
    "estimate_cost",
    "sizes_from_limits",
]

DEFAULT_MAX_LIST: Final = Limits().max_list
"""Elements assumed for a list or map from the context: the default context-value limit."""

DEFAULT_MAX_STRING: Final = Limits().max_string
"""Characters assumed for a string from the context: the default context-value limit."""

DEFAULT_RULE_BUDGET: Final = 50_000
"""Steps one rule (``when`` plus ``unless``) may cost: a 1000-element scan with a 40-node body."""

DEFAULT_TOTAL_BUDGET: Final = 2_000_000
"""Steps the whole pack set may cost when every rule runs (the index usually runs few)."""

UNBOUNDED: Final = 10**18
"""The cost given to expressions too deep to analyse (the checker rejects those anyway)."""


@dataclass(frozen=True, slots=True)
class SizeAssumptions:
    """The sizes the static model assumes for values read from the context.

    The one place these assumptions live: the context-value limits (string length, list
    length) are meant to be the same numbers, so that a context within the configured limits
    is also within what ``check`` assumed.
    """

    max_string: int = DEFAULT_MAX_STRING
    max_list: int = DEFAULT_MAX_LIST
    sizes: Mapping[str, int] = field(default_factory=dict)
    """Declared maxima per dotted context path (elements, or characters for strings)."""


DEFAULT_SIZES: Final = SizeAssumptions()


def sizes_from_limits(limits: Limits) -> SizeAssumptions:
    """The static model's assumptions for a context read within ``limits``: one set of numbers."""
    return SizeAssumptions(max_string=limits.max_string,
                           max_list=max(limits.max_list, limits.max_map))
ZERO_SIZES: Final = SizeAssumptions(max_string=0, max_list=0)
"""Nodes only: what the compiler charges per comprehension element (sizes charge themselves)."""

_SCANS: Final = frozenset({
    "contains", "startsWith", "endsWith", "indexOf", "lastIndexOf", "int", "uint", "double",
    "bool", "timestamp", "duration",
})
"""Functions that read their string operands (``size`` does not: it is O(1))."""

_PRODUCERS: Final = frozenset({
    "lowerAscii", "upperAscii", "trim", "reverse", "substring", "charAt", "replace",
    "split", "join", "format", "strings.quote", "string", "bytes",
})
"""Functions that scan their string operands and build a new value (charged for both)."""

_COMPARISONS: Final = frozenset({"_==_", "_!=_", "_<_", "_<=_", "_>_", "_>=_"})
_DISPLAY: Final = 32
"""Characters a scalar argument of ``format`` or ``string`` can print as (a double, an int)."""


@dataclass(frozen=True, slots=True)
class _Size:
    """A bound on a value's size: characters or elements, and the size of its elements."""

    n: int
    item: _Size | None = None

    def element(self, m: _Model) -> _Size:
        return self.item if self.item is not None else _unknown_size(m)


@dataclass(slots=True)
class _Model:
    """The inputs of one estimate, the variables being expanded and the macro variables."""

    schema: ContextSchema | None
    variables: Mapping[str, Expr]
    sizes: SizeAssumptions
    expanding: list[str] = field(default_factory=list)
    scopes: list[tuple[str, _Size]] = field(default_factory=list)


_T = TypeVar("_T")


def estimate_cost(expr: Expr, schema: ContextSchema | None, variables: Mapping[str, Expr], *,
                  sizes: SizeAssumptions = DEFAULT_SIZES) -> int:
    """An upper bound on the steps one evaluation of ``expr`` takes (see the module doc)."""
    model = _Model(schema, variables, sizes)
    try:
        return _cost(expr, model)
    except RecursionError:
        return UNBOUNDED


def _cost(node: Expr, m: _Model) -> int:
    if isinstance(node, Select) and (name := _var_name(node, m)) is not None:
        return _with_var(name, m, lambda e, mm: 1 + _cost(e, mm), 1)
    if isinstance(node, Comprehension):
        rng = _size(node.range, m)
        m.scopes.append((node.var, rng.element(m)))
        try:
            per_element = _cost(node.body, m) + 1
            if node.predicate is not None:
                per_element += _cost(node.predicate, m)
        finally:
            m.scopes.pop()
        return 1 + _cost(node.range, m) + rng.n * per_element
    own = 1 + sum(_cost(child, m) for child in children(node))
    if isinstance(node, Call):
        own += _call_extra(node, m)
    return own


def _var_name(node: Select, m: _Model) -> str | None:
    if isinstance(node.operand, Ident) and node.operand.name == "vars" and not node.test_only:
        return node.field if node.field in m.variables else None
    return None


def _with_var(name: str, m: _Model, measure: Callable[[Expr, _Model], _T], default: _T) -> _T:
    """Measure a variable's expression at its use; a cycle (a check error) gives ``default``."""
    if name in m.expanding:
        return default
    m.expanding.append(name)
    saved, m.scopes = m.scopes, []  # a variable cannot see the macro variables around its use
    try:
        return measure(m.variables[name], m)
    finally:
        m.scopes = saved
        m.expanding.pop()


def _operands(node: Call) -> tuple[Expr, ...]:
    return ((node.target,) if node.target is not None else ()) + node.args


def _call_extra(node: Call, m: _Model) -> int:
    """What a call costs beyond its nodes: scanning and building strings and lists."""
    fn = node.function
    operands = _operands(node)
    if fn == "matches" and len(operands) == 2:
        pattern_size = _size(operands[1], m).n
        return _scan(_size(operands[0], m).n) * _ceil_div(pattern_size, 4)
    if fn in _SCANS:
        return sum(_scan(_size(o, m).n) for o in operands if _maybe_string(o, m))
    if fn in _PRODUCERS:
        scanned = sum(_scan(_size(o, m).n) for o in operands if _maybe_string(o, m))
        out = _size(node, m)
        if fn == "split":  # the pieces hold the subject's characters, plus one element each
            return 2 * scanned + out.n
        return scanned + _scan(out.n)
    if fn == "_+_":
        if any(_is_list(o, m) for o in operands):
            return _size(node, m).n  # concatenation copies both
        return _scan(_size(node, m).n) if any(_maybe_string(o, m) for o in operands) else 0
    if fn in _COMPARISONS:
        literals = [o for o in operands if _is_str_literal(o)]
        if literals:  # comparison stops at the shorter string
            return _scan(min(_size(o, m).n for o in literals))
        if all(_known_string(o, m) for o in operands):
            return _scan(min(_size(o, m).n for o in operands))
        if any(_is_list(o, m) or _is_map(o, m) for o in operands):  # element by element
            return min(_size(o, m).n for o in operands)
        return 0
    if fn == "@in" and len(node.args) == 2:
        container = node.args[1]
        return 0 if isinstance(container, CreateList | CreateMap) else _in_scan(container, m)
    return 0


def _in_scan(container: Expr, m: _Model) -> int:
    """``x in c``: a map is a hash look-up, a list read from the context is scanned."""
    t = _declared_type(container, m)
    if t is not None and t.kind == "map":
        return 0
    return _size(container, m).n


def _scan(size: int) -> int:
    return _ceil_div(size, CHARS_PER_UNIT)


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _is_str_literal(node: Expr) -> bool:
    return isinstance(node, Literal) and type(node.value) in (str, bytes)


def _maybe_string(node: Expr, m: _Model) -> bool:
    """False only when the operand is statically something other than a string."""
    if isinstance(node, Literal):
        return type(node.value) in (str, bytes)
    if isinstance(node, CreateList | CreateMap | CreateStruct | Comprehension):
        return False
    t = _declared_type(node, m)
    return t is None or t.kind in ("string", "bytes", "dyn")


def _known_string(node: Expr, m: _Model) -> bool:
    """True when the operand is statically a string (literal or declared)."""
    if _is_str_literal(node):
        return True
    t = _declared_type(node, m)
    return t is not None and t.kind in ("string", "bytes")


def _is_map(node: Expr, m: _Model) -> bool:
    if isinstance(node, CreateMap):
        return True
    t = _declared_type(node, m)
    return t is not None and t.kind == "map"


def _is_list(node: Expr, m: _Model) -> bool:
    if isinstance(node, CreateList):
        return True
    if isinstance(node, Comprehension):
        return node.kind in ("map", "filter")
    if isinstance(node, Call) and node.function == "split":
        return True
    if isinstance(node, Call) and node.function == "_+_":
        return any(_is_list(a, m) for a in node.args)
    t = _declared_type(node, m)
    return t is not None and t.kind == "list"


# --- size bounds ---------------------------------------------------------------------------


def _unknown_size(m: _Model) -> _Size:
    """A value of unknown shape read from the context: as big as a string or a list."""
    s = m.sizes
    return _Size(max(s.max_string, s.max_list), _Size(max(s.max_string, s.max_list)))


def _size(node: Expr, m: _Model) -> _Size:
    """The largest the value of ``node`` can be (characters or elements)."""
    if isinstance(node, Literal):
        value = node.value
        return _Size(len(value)) if isinstance(value, str | bytes) else _Size(0)
    if isinstance(node, CreateList):
        items = [_size(e, m) for e in node.elements]
        return _Size(len(items), _max_size(items))
    if isinstance(node, CreateMap):
        values = [_size(v, m) for _, v in node.entries]
        return _Size(len(values), _max_size(values))
    if isinstance(node, Comprehension):
        return _comprehension_size(node, m)
    if isinstance(node, Ident):
        for var, bound in reversed(m.scopes):
            if var == node.name:
                return bound
    if isinstance(node, Select) and (name := _var_name(node, m)) is not None:
        return _with_var(name, m, _size, _unknown_size(m))
    if isinstance(node, Call):
        built = _call_size(node, m)
        if built is not None:
            return built
    return _context_size(node, m)


def _max_size(sizes: list[_Size]) -> _Size | None:
    if not sizes:
        return None
    items = [s.item for s in sizes if s.item is not None]
    return _Size(max(s.n for s in sizes), _max_size(items) if items else None)


def _comprehension_size(node: Comprehension, m: _Model) -> _Size:
    rng = _size(node.range, m)
    if node.kind == "filter":
        return rng
    if node.kind == "map":
        m.scopes.append((node.var, rng.element(m)))
        try:
            return _Size(rng.n, _size(node.body, m))
        finally:
            m.scopes.pop()
    return _Size(0)  # all, exists, exists_one: a bool


def _call_size(node: Call, m: _Model) -> _Size | None:
    """The output size of calls that build strings or lists; None for anything else."""
    fn = node.function
    ops = _operands(node)
    sizes = [_size(o, m) for o in ops] if fn in _SIZED_CALLS else []
    if fn == "_+_" and len(sizes) == 2:
        return _Size(sizes[0].n + sizes[1].n, _merge_items(sizes))
    if fn == "replace" and len(sizes) >= 3:
        return _Size(_replace_size(ops, sizes, m))
    if fn == "split" and sizes:
        n = sizes[0].n
        return _Size(n + 1, _Size(n))
    if fn == "join" and sizes:
        items = sizes[0]
        sep = sizes[1].n if len(sizes) > 1 else 0
        return _Size(items.n * items.element(m).n + max(items.n - 1, 0) * sep)
    if fn == "format" and len(sizes) == 2:
        args = sizes[1]
        return _Size(sizes[0].n + args.n * (_DISPLAY + 10 * args.element(m).n))
    if fn == "strings.quote" and sizes:
        return _Size(2 + 10 * sizes[0].n)
    if fn in ("string", "bytes") and sizes:
        return _Size(max(4 * sizes[0].n, _DISPLAY))
    if fn in ("lowerAscii", "upperAscii", "trim", "reverse", "substring", "dyn") and sizes:
        return sizes[0]
    if fn == "charAt":
        return _Size(1)
    if fn == "_?_:_" and len(node.args) == 3:
        return _max_size([_size(node.args[1], m), _size(node.args[2], m)])
    if fn == "_[_]" and len(node.args) == 2:
        return _size(node.args[0], m).element(m)
    if fn in ("size", "_==_", "_!=_", "_<_", "_<=_", "_>_", "_>=_", "@in", "_&&_", "_||_", "!_",
              "contains", "startsWith", "endsWith", "matches", "indexOf", "lastIndexOf"):
        return _Size(0)
    return None


_SIZED_CALLS: Final = frozenset({
    "_+_", "replace", "split", "join", "format", "strings.quote", "string", "bytes",
    "lowerAscii", "upperAscii", "trim", "reverse", "substring", "dyn",
})


def _merge_items(sizes: list[_Size]) -> _Size | None:
    items = [s.item for s in sizes if s.item is not None]
    return _max_size(items) if items else None


def _replace_size(ops: tuple[Expr, ...], sizes: list[_Size], m: _Model) -> int:
    """``s.replace(old, new[, n])``: ``new`` replaces every match, or is inserted at every
    position when ``old`` can be empty (a non-literal ``old`` may be)."""
    subject, new = sizes[0].n, sizes[2].n
    old = ops[1]
    old_len = len(old.value) if isinstance(old, Literal) and isinstance(old.value, str) else 0
    hits = subject + 1 if old_len == 0 else subject // old_len
    limit = ops[3] if len(ops) > 3 else None
    if isinstance(limit, Literal) and type(limit.value) is int and limit.value >= 0:
        hits = min(hits, limit.value)
    return subject + hits * max(new - old_len, 0)


def _context_size(node: Expr, m: _Model) -> _Size:
    """A value read from the context: the declared bound of its path, else the assumption."""
    s = m.sizes
    path = _dotted(node)
    t = _declared_type(node, m)
    declared = s.sizes.get(path) if path is not None else None
    kind = t.kind if t is not None else "dyn"
    if kind in ("string", "bytes"):
        return _Size(declared if declared is not None else s.max_string)
    if kind in ("list", "map"):
        assert t is not None
        inner = t.params[-1] if t.params else None
        inner_kind = inner.kind if inner is not None else "dyn"
        item = (_Size(s.max_string) if inner_kind in ("string", "bytes")
                else _Size(0) if inner_kind in ("bool", "int", "uint", "double", "timestamp",
                                                "duration")
                else _unknown_size(m))
        return _Size(declared if declared is not None else s.max_list, item)
    if kind in ("bool", "int", "uint", "double", "timestamp", "duration"):
        return _Size(0)
    if declared is not None:
        return _Size(declared, _unknown_size(m))
    return _unknown_size(m)


def _dotted(node: Expr) -> str | None:
    path = attribute_path(node) if isinstance(node, Select | Ident) else None
    return ".".join(path) if path is not None else None


def _declared_type(node: Expr, m: _Model) -> CelType | None:
    """The declared type of a context path (None for anything else or undeclared)."""
    if isinstance(node, Select) and (name := _var_name(node, m)) is not None:
        return _with_var(name, m, _declared_type, None)
    path = attribute_path(node) if isinstance(node, Select | Ident) else None
    if path is None or m.schema is None or any(path[0] == name for name, _ in m.scopes):
        return None
    t: CelType | None = m.schema.variables.get(path[0])
    for name in path[1:]:
        if t is None:
            return None
        t = t.field_type(name) if t.kind == "object" else t.value if t.kind == "map" else None
    return t
