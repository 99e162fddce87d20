"""Tests for ``compliance.cel.unparse``: CEL text that parses back to the same tree."""

from __future__ import annotations

import dataclasses
import json
import math
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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
)
from compliance.cel.parser import RESERVED, CelSyntaxError, parse
from compliance.cel.unparse import unparse
from compliance.cel.values import UInt

CASES = Path(os.environ.get(
    "COMPLIANCE_CEL_CORPUS",
    Path(__file__).resolve().parents[1] / "conformance" / "data" / "cases.jsonl",
))
"""The vendored CEL conformance corpus (``COMPLIANCE_CEL_CORPUS`` overrides, as in cel_corpus)."""


def shape(node: object) -> object:
    """A comparable form of a tree that ignores offsets and tells -0.0, 1 and 1.0 apart."""
    if isinstance(node, tuple):
        return tuple(shape(x) for x in node)
    if dataclasses.is_dataclass(node) and not isinstance(node, type):
        fields = dataclasses.fields(node)
        return (type(node).__name__, *(
            shape(getattr(node, f.name)) for f in fields if f.name not in ("start", "end")
        ))
    if isinstance(node, float):
        return ("double", "nan" if math.isnan(node) else repr(node))
    return (type(node).__name__, node)


def same_tree(a: Expr, b: Expr) -> bool:
    """Structural equality of two trees, ignoring ``start``/``end`` offsets."""
    return shape(a) == shape(b)


def _lit(value: object) -> Literal:
    return Literal(0, 0, value)


# --- a generator for trees in the image of `parse` ------------------------------------------

_NAMES = st.sampled_from(["a", "b", "request", "x", "_y", "vars", "has", "size", "int", "dyn"])
_FIELDS = st.sampled_from(["model", "b", "f_1", "all", "size", "time", "in_"])
_FUNCTIONS = st.sampled_from(["size", "f", "int", "matches", "startsWith", "double"])
_STRINGS = st.text(st.characters(exclude_categories=("Cs",)), max_size=8)

LITERALS = st.one_of(
    st.integers(-(2**63), 2**63 - 1),
    st.integers(0, 2**64 - 1).map(UInt),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
    _STRINGS,
    st.binary(max_size=8),
).map(_lit)

_BINARY_OPS = ["_||_", "_&&_", "_<_", "_<=_", "_>_", "_>=_", "_==_", "_!=_", "@in",
               "_+_", "_-_", "_*_", "_/_", "_%_", "_[_]"]


def _trees(children: st.SearchStrategy[Expr]) -> st.SearchStrategy[Expr]:
    args = st.lists(children, max_size=3).map(tuple)
    return st.one_of(
        st.builds(lambda op, a, b: Call(0, 0, op, (a, b)), st.sampled_from(_BINARY_OPS),
                  children, children),
        st.builds(lambda op, a: Call(0, 0, op, (a,)), st.sampled_from(["!_", "-_"]), children),
        st.builds(lambda c, t, e: Call(0, 0, "_?_:_", (c, t, e)), children, children, children),
        st.builds(lambda f, a: Call(0, 0, f, a), _FUNCTIONS, args),
        st.builds(lambda t, f, a: Call(0, 0, f, a, t), children, _FUNCTIONS, args),
        st.builds(lambda o, f, t: Select(0, 0, o, f, t), children, _FIELDS, st.booleans()),
        st.builds(lambda e: CreateList(0, 0, e), args),
        st.builds(lambda e: CreateMap(0, 0, tuple(e)), st.lists(st.tuples(children, children),
                                                                 max_size=2)),
        st.builds(lambda n, f: CreateStruct(0, 0, n, tuple(f)), st.sampled_from(["T", "a.b.M"]),
                  st.lists(st.tuples(_FIELDS, children), max_size=2)),
        st.builds(lambda k, r, v, b: Comprehension(0, 0, k, r, v, b),
                  st.sampled_from(["all", "exists", "exists_one", "map", "filter"]),
                  children, _NAMES, children),
        st.builds(lambda r, v, p, b: Comprehension(0, 0, "map", r, v, b, p),
                  children, _NAMES, children, children),
    )


PARSEABLE_TREES: st.SearchStrategy[Expr] = st.recursive(
    st.one_of(LITERALS, st.builds(lambda n: Ident(0, 0, n), _NAMES)), _trees, max_leaves=12
)


class TestRoundTrip:
    @settings(max_examples=300, deadline=None)
    @given(PARSEABLE_TREES)
    def test_generated_trees_parse_back_to_themselves(self, tree: Expr) -> None:
        """Any tree `parse` could produce prints as text that parses to the same tree."""
        text = unparse(tree)
        assert same_tree(tree, parse(text)), text

    def test_every_parseable_conformance_expression_round_trips(self) -> None:
        """Every cel-spec conformance expression that parses round-trips through unparse."""
        checked = 0
        for line in CASES.read_text(encoding="utf-8").splitlines():
            case = json.loads(line)
            try:
                tree = parse(case["expr"])
            except CelSyntaxError:
                continue
            text = unparse(tree)
            assert same_tree(tree, parse(text)), (case["name"], case["expr"], text)
            checked += 1
        assert checked > 1000

    def test_reserved_words_are_not_generated(self) -> None:
        """The generator's names avoid CEL's reserved words (they would not parse)."""
        assert not RESERVED & {"a", "b", "request", "x", "_y", "vars", "has", "size"}


class TestPrecedence:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("(a || b) && c", "(a || b) && c"),
            ("a || b && c", "a || b && c"),
            ("a - (b - c)", "a - (b - c)"),
            ("(a - b) - c", "a - b - c"),
            ("(a ? b : c) ? d : e", "(a ? b : c) ? d : e"),
            ("a ? b : c ? d : e", "a ? b : c ? d : e"),
            ("a ? (b ? c : d) : e", "a ? (b ? c : d) : e"),
            ("(a + b).size()", "(a + b).size()"),
            ("(-5).foo()", "(-5).foo()"),
            ("-(5)", "-(5)"),
            ("- (-5)", "-(-5)"),
            ("!(!a)", "!!a"),
            ("-(a + b)", "-(a + b)"),
            ("(1 < 2) == true", "1 < 2 == true"),
            ("1 < (2 == true)", "1 < (2 == true)"),
            ("x in [1] && y", "x in [1] && y"),
            ("a[b + 1].c", "a[b + 1].c"),
            ("has(a.b.c)", "has(a.b.c)"),
            ("xs.map(x, x > 1, x * 2)", "xs.map(x, x > 1, x * 2)"),
            (".a.b", ".a.b"),
            ("a.B{f: 1, g: [2]}", "a.B{f: 1, g: [2]}"),
            ("{1: 'a'}[1]", '{1: "a"}[1]'),
        ],
    )
    def test_canonical_text(self, text: str, expected: str) -> None:
        """Parentheses appear exactly where precedence or the lexer needs them."""
        assert unparse(parse(text)) == expected


class TestLiterals:
    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            (123, "123"),
            (-(2**63), "-9223372036854775808"),
            (UInt(2**64 - 1), "18446744073709551615u"),
            (1.0, "1.0"),
            (1e300, "1e+300"),
            (5e-324, "5e-324"),
            (-0.0, "-0.0"),
            (float("nan"), 'double("NaN")'),
            (float("inf"), 'double("Infinity")'),
            (float("-inf"), 'double("-Infinity")'),
            ("a\"b\\c\n", '"a\\"b\\\\c\\n"'),
            ("é😀", '"\\u00e9\\U0001f600"'),
            (b"\x00\xffA\"", 'b"\\x00\\xffA\\""'),
            (True, "true"),
            (None, "null"),
        ],
    )
    def test_spelling(self, value: object, expected: str) -> None:
        """Literals are spelt exactly, and specials use conversions CEL can evaluate."""
        assert unparse(_lit(value)) == expected

    @settings(max_examples=200, deadline=None)
    @given(st.floats(allow_nan=False, allow_infinity=False))
    def test_doubles_read_back_bit_for_bit(self, value: float) -> None:
        """Every finite double prints as a literal that parses to the same bits."""
        back = parse(unparse(_lit(value)))
        assert isinstance(back, Literal)
        assert repr(back.value) == repr(value)

    @settings(max_examples=200, deadline=None)
    @given(_STRINGS, st.binary(max_size=16))
    def test_strings_and_bytes_read_back(self, text: str, data: bytes) -> None:
        """Escaped string and bytes literals decode to the original value."""
        assert parse(unparse(_lit(text))) == Literal(0, len(unparse(_lit(text))), text)
        back = parse(unparse(_lit(data)))
        assert isinstance(back, Literal)
        assert back.value == data

    def test_lone_surrogate_is_refused(self) -> None:
        """A string CEL cannot represent is an error, not silently different text."""
        with pytest.raises(ValueError, match="surrogate"):
            unparse(_lit("\ud800"))

    def test_special_doubles_are_calls(self) -> None:
        """NaN and infinities print as `double("...")`, which parses as a call."""
        tree = parse(unparse(_lit(float("-inf"))))
        assert same_tree(tree, Call(0, 0, "double", (_lit("-Infinity"),)))
