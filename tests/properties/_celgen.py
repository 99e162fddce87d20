"""Hypothesis strategies for well-typed CEL expressions and matching contexts.

Expressions are built as ``compliance.cel.ast`` trees (offsets 0) over one declared context
variable ``c``; every sub-expression has a static type, so both backends should agree on
every tree, including on which ones fail at run time (overflow, division by zero, index
out of range). Constructs where cel-python is known to deviate from the CEL spec are not
generated; each exclusion points to ``KNOWN_CELPY_BUGS.md``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

from compliance.cel.ast import (
    Call,
    Comprehension,
    CreateList,
    CreateMap,
    Expr,
    Ident,
    Literal,
    Select,
)
from compliance.cel.functions import cel_eq
from compliance.cel.types import (
    BOOL,
    DOUBLE,
    DURATION,
    INT,
    STRING,
    TIMESTAMP,
    UINT,
    ContextSchema,
    list_of,
    map_of,
    object_of,
)
from compliance.cel.values import Duration, Timestamp, UInt, type_of

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
UINT64_MAX = 2**64 - 1

FIELDS = {
    "i": INT, "j": INT, "u": UINT, "d": DOUBLE, "s": STRING, "t": STRING, "b": BOOL,
    "li": list_of(INT), "ls": list_of(STRING), "m": map_of(STRING, INT),
    "ts": TIMESTAMP, "du": DURATION,
}
SCHEMA = ContextSchema({"c": object_of("c", FIELDS)})

# Scalar types the generator knows; lists and maps are `list_int`, `list_string`, `map_int`.
T = str


def lit(value: object) -> Literal:
    """A literal node."""
    return Literal(0, 0, value)


def call(fn: str, *args: Expr, target: Expr | None = None) -> Call:
    """A call or operator node."""
    return Call(0, 0, fn, tuple(args), target)


def field(name: str) -> Select:
    """``c.<name>``."""
    return Select(0, 0, Ident(0, 0, "c"), name)


# --- values ----------------------------------------------------------------------------------

INTS = st.one_of(
    st.sampled_from([0, 1, -1, 2, INT64_MAX, INT64_MIN, INT64_MAX - 1, INT64_MIN + 1, 2**32]),
    st.integers(-1000, 1000),
    st.integers(INT64_MIN, INT64_MAX),
)
UINTS = st.one_of(
    st.sampled_from([0, 1, 2, UINT64_MAX, UINT64_MAX - 1, 2**63]),
    st.integers(0, 1000),
    st.integers(0, UINT64_MAX),
).map(UInt)
# Finite doubles as literals; infinities and NaN still arise from overflow (`1e300 * 1e300`,
# `inf - inf`) and are compared exactly (NaN matches NaN in `same_value`).
DOUBLES = st.one_of(
    st.sampled_from([0.0, 1.0, -1.0, 0.5, 1e300, -1e300, 2.0**63, 5e-324]),
    st.floats(-1e6, 1e6, allow_nan=False),
)
STRINGS = st.text(alphabet="abcAB_- é", max_size=5)
# Microsecond precision: celpy keeps timestamps as datetime (see interpreter docstring).
MICROS = 1000
TS_NANOS = st.integers(0, 4_102_444_800 * 10**6).map(lambda us: us * MICROS)  # 1970..2100
DU_NANOS = st.integers(-(10**15), 10**15).map(lambda us: us * MICROS)


def contexts() -> st.SearchStrategy[dict[str, object]]:
    """A context with every declared attribute present, values at interesting edges."""
    return st.fixed_dictionaries({"c": st.fixed_dictionaries({
        "i": INTS, "j": INTS, "u": UINTS, "d": DOUBLES, "s": STRINGS, "t": STRINGS,
        "b": st.booleans(), "li": st.lists(INTS, max_size=4), "ls": st.lists(STRINGS, max_size=4),
        "m": st.dictionaries(STRINGS, INTS, max_size=3),
        "ts": TS_NANOS.map(Timestamp), "du": DU_NANOS.map(Duration),
    })})


# --- expressions -----------------------------------------------------------------------------

ARITH = {"int": ["_+_", "_-_", "_*_", "_/_", "_%_"], "uint": ["_+_", "_-_", "_*_", "_/_", "_%_"],
         "double": ["_+_", "_-_", "_*_", "_/_"], "string": ["_+_"]}
ORDERED = ["int", "uint", "double", "string", "timestamp", "duration", "bool"]
RELATIONS = ["_<_", "_<=_", "_>_", "_>=_", "_==_", "_!=_"]
REGEXES = ["a", "^a", "b$", "[ab]+", "é", "^$", "A|_"]

Scope = dict[str, T]


class Gen:
    """Draws typed trees; ``scope`` maps macro variables in reach to their types."""

    def __init__(self, draw: Callable[[st.SearchStrategy[Any]], Any]) -> None:
        self.draw = draw

    def expr(self, t: T, depth: int, scope: Scope) -> Expr:
        """A tree of type ``t`` at most ``depth`` levels deep."""
        local = [name for name, vt in scope.items() if vt == t]
        leaf = self.draw(st.integers(0, 3)) == 0 or depth <= 0
        if leaf:
            if local and self.draw(st.booleans()):
                return Ident(0, 0, self.draw(st.sampled_from(local)))
            return self.leaf(t)
        builder = getattr(self, f"_{t}")
        result: Expr = builder(depth - 1, scope)
        return result

    def leaf(self, t: T) -> Expr:
        """A literal or a context attribute of type ``t``."""
        fields = [name for name, ft in FIELDS.items() if _tname(ft) == t]
        if fields and self.draw(st.booleans()):
            return field(self.draw(st.sampled_from(fields)))
        return self.literal(t)

    def literal(self, t: T) -> Expr:
        """A constant of type ``t``."""
        d = self.draw
        match t:
            case "int":
                return lit(d(INTS))
            case "uint":
                return lit(d(UINTS))
            case "double":
                return lit(d(DOUBLES))
            case "string":
                return lit(d(STRINGS))
            case "bool":
                return lit(d(st.booleans()))
            case "timestamp":
                nanos = d(TS_NANOS)
                return call("timestamp", lit(str(Timestamp(nanos))))
            case "duration":
                return call("duration", lit(str(Duration(d(DU_NANOS)))))
            case "list_int":
                return CreateList(0, 0, tuple(lit(x) for x in d(st.lists(INTS, max_size=3))))
            case "list_string":
                return CreateList(0, 0, tuple(lit(x) for x in d(st.lists(STRINGS, max_size=3))))
            case "map_int":
                items = d(st.dictionaries(STRINGS, INTS, max_size=3))
                return CreateMap(0, 0, tuple((lit(k), lit(v)) for k, v in items.items()))
        raise AssertionError(t)

    def safe(self, t: T, scope: Scope) -> Expr:
        """An expression that cannot fail, for `map`/`filter` bodies.

        celpy raises an error inside `map`/`filter` instead of returning it as a value, so
        `false && xs.map(x, 1 / 0) == []` fails where CEL says false (KNOWN_CELPY_BUGS.md #6).
        """
        if t == "bool":
            operand = self.draw(st.sampled_from(["int", "string"]))
            op = self.draw(st.sampled_from(RELATIONS))
            return call(op, self.safe(operand, scope), self.safe(operand, scope))
        local = [name for name, vt in scope.items() if vt == t]
        if local and self.draw(st.booleans()):
            return Ident(0, 0, self.draw(st.sampled_from(local)))
        return self.leaf(t)

    def index(self) -> Expr:
        """A list index, never negative: celpy counts from the end (KNOWN_CELPY_BUGS.md #3)."""
        return lit(self.draw(st.integers(0, 4)))

    def choose(self, options: list[Callable[[], Expr]]) -> Expr:
        """Build one of several alternatives."""
        return self.draw(st.sampled_from(options))()

    def _int(self, depth: int, scope: Scope) -> Expr:
        e = self.expr
        return self.choose([
            lambda: call(self.draw(st.sampled_from(ARITH["int"])), e("int", depth, scope),
                         e("int", depth, scope)),
            lambda: call("-_", e("int", depth, scope)),
            lambda: call("size", e(self.draw(st.sampled_from(
                ["string", "list_int", "list_string", "map_int"])), depth, scope)),
            lambda: call("_?_:_", e("bool", depth, scope), e("int", depth, scope),
                         e("int", depth, scope)),
            lambda: call("_[_]", e("list_int", depth, scope), self.index()),
            # A leaf key: a constant key into a declared map is an attribute (absent means
            # unknown), and what counts as constant depends on the compiler's folding.
            lambda: call("_[_]", e("map_int", depth, scope), self.leaf("string")),
            lambda: call("int", e("uint", depth, scope)),
        ])

    def _uint(self, depth: int, scope: Scope) -> Expr:
        e = self.expr
        return self.choose([
            lambda: call(self.draw(st.sampled_from(ARITH["uint"])), e("uint", depth, scope),
                         e("uint", depth, scope)),
            lambda: call("uint", e("int", depth, scope)),
            lambda: call("_?_:_", e("bool", depth, scope), e("uint", depth, scope),
                         e("uint", depth, scope)),
        ])

    def _double(self, depth: int, scope: Scope) -> Expr:
        e = self.expr
        return self.choose([
            lambda: call(self.draw(st.sampled_from(ARITH["double"][:3])), e("double", depth, scope),
                         e("double", depth, scope)),
            # Division only by a non-zero constant: celpy's `x / 0.0` is +inf whatever the
            # signs (0/0 too), or a division-by-zero error (KNOWN_CELPY_BUGS.md #5).
            lambda: call("_/_", e("double", depth, scope),
                         lit(self.draw(DOUBLES.filter(lambda x: x != 0.0)))),
            lambda: call("-_", e("double", depth, scope)),
            lambda: call("double", e("int", depth, scope)),
        ])

    def _string(self, depth: int, scope: Scope) -> Expr:
        e = self.expr
        return self.choose([
            lambda: call("_+_", e("string", depth, scope), e("string", depth, scope)),
            lambda: call("_[_]", e("list_string", depth, scope), self.index()),
            lambda: call("string", e("int", depth, scope)),
            lambda: call("_?_:_", e("bool", depth, scope), e("string", depth, scope),
                         e("string", depth, scope)),
        ])

    def _bool(self, depth: int, scope: Scope) -> Expr:
        e = self.expr

        def relation() -> Expr:
            t = self.draw(st.sampled_from(ORDERED))
            op = self.draw(st.sampled_from(RELATIONS))
            return call(op, e(t, depth, scope), e(t, depth, scope))

        def string_fn() -> Expr:
            fn = self.draw(st.sampled_from(["contains", "startsWith", "endsWith"]))
            # `contains` gets a leaf receiver: celpy's `+` returns a plain `str`, on which its
            # `contains` has no overload (KNOWN_CELPY_BUGS.md #4).
            receiver = self.leaf("string") if fn == "contains" else e("string", depth, scope)
            return call(fn, e("string", depth, scope), target=receiver)

        def macro() -> Expr:
            kind = self.draw(st.sampled_from(["all", "exists", "exists_one"]))
            elem = self.draw(st.sampled_from(["int", "string"]))
            var = self.draw(st.sampled_from(["x", "y"]))
            body = e("bool", depth, {**scope, var: elem})
            return Comprehension(0, 0, kind, e(f"list_{elem}", depth, scope), var, body)

        return self.choose([
            relation, relation, string_fn, macro,
            lambda: call(self.draw(st.sampled_from(["_&&_", "_||_"])), e("bool", depth, scope),
                         e("bool", depth, scope)),
            lambda: call("!_", e("bool", depth, scope)),
            lambda: call("_?_:_", e("bool", depth, scope), e("bool", depth, scope),
                         e("bool", depth, scope)),
            lambda: call("@in", e("int", depth, scope), e("list_int", depth, scope)),
            lambda: call("@in", e("string", depth, scope), e("list_string", depth, scope)),
            lambda: call("@in", e("string", depth, scope), e("map_int", depth, scope)),
            lambda: call("matches", lit(self.draw(st.sampled_from(REGEXES))),
                         target=e("string", depth, scope)),
            lambda: Select(0, 0, Ident(0, 0, "c"), self.draw(st.sampled_from(sorted(FIELDS))),
                           test_only=True),
        ])

    def _timestamp(self, depth: int, scope: Scope) -> Expr:
        e = self.expr
        return self.choose([
            lambda: call(self.draw(st.sampled_from(["_+_", "_-_"])), e("timestamp", depth, scope),
                         e("duration", depth, scope)),
            lambda: call("_?_:_", e("bool", depth, scope), e("timestamp", depth, scope),
                         e("timestamp", depth, scope)),
        ])

    def _duration(self, depth: int, scope: Scope) -> Expr:
        e = self.expr
        return self.choose([
            lambda: call(self.draw(st.sampled_from(["_+_", "_-_"])), e("duration", depth, scope),
                         e("duration", depth, scope)),
            lambda: call("_-_", e("timestamp", depth, scope), e("timestamp", depth, scope)),
        ])

    def _list_int(self, depth: int, scope: Scope) -> Expr:
        e = self.expr
        var = self.draw(st.sampled_from(["x", "y"]))
        inner = {**scope, var: "int"}
        return self.choose([
            lambda: call("_+_", e("list_int", depth, scope), e("list_int", depth, scope)),
            lambda: Comprehension(0, 0, "map", e("list_int", depth, scope), var,
                                  self.safe("int", inner)),
            lambda: Comprehension(0, 0, "filter", e("list_int", depth, scope), var,
                                  self.safe("bool", inner)),
            lambda: CreateList(0, 0, (e("int", depth, scope), e("int", depth, scope))),
        ])

    def _list_string(self, depth: int, scope: Scope) -> Expr:
        e = self.expr
        var = self.draw(st.sampled_from(["x", "y"]))
        return self.choose([
            lambda: call("_+_", e("list_string", depth, scope), e("list_string", depth, scope)),
            lambda: Comprehension(0, 0, "map", e("list_int", depth, scope), var,
                                  self.safe("string", {**scope, var: "int"})),
            lambda: CreateList(0, 0, (e("string", depth, scope),)),
        ])

    def _map_int(self, depth: int, scope: Scope) -> Expr:
        # Values are leaves: celpy keeps an error inside a map literal as a value instead of
        # failing the literal (KNOWN_CELPY_BUGS.md #2), so a value must not be able to fail.
        key = self.expr("string", depth, scope)
        return CreateMap(0, 0, ((key, self.leaf("int")),))


def _tname(t: object) -> str:
    text = str(t)
    return {"list<int>": "list_int", "list<string>": "list_string",
            "map<string, int>": "map_int"}.get(text, text)


TYPES = ["int", "uint", "double", "string", "bool", "timestamp", "duration", "list_int",
         "map_int"]


@st.composite
def typed_exprs(draw: Callable[[st.SearchStrategy[Any]], Any], max_depth: int = 4) -> Expr:
    """A well-typed expression over context variable ``c``."""
    t = draw(st.sampled_from(TYPES))
    return Gen(draw).expr(t, draw(st.integers(1, max_depth)), {})


@st.composite
def bool_exprs(draw: Callable[[st.SearchStrategy[Any]], Any], max_depth: int = 4) -> Expr:
    """A well-typed boolean expression (a rule condition)."""
    return Gen(draw).expr("bool", draw(st.integers(1, max_depth)), {})


# --- comparing results -----------------------------------------------------------------------


def same_value(a: object, b: object) -> bool:
    """CEL equality plus equal CEL types, recursively; NaN matches NaN."""
    if type_of(a) != type_of(b):
        return False
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return len(a) == len(b) and all(
            k in b and same_value(v, b[k]) for k, v in a.items()
        )
    return cel_eq(a, b)
