"""The CEL parse adapter: lark trees become ``expr`` nodes with offsets; errors read well."""

from __future__ import annotations

import subprocess
import sys

import pytest

from compliance.cel.ast import Call, Comprehension, Ident, Literal, Select
from compliance.cel.parser import CelSyntaxError, parse
from compliance.cel.values import UInt


class TestNodes:
    def test_operators_are_calls_with_cel_go_names(self) -> None:
        """`a + b` is the call `_+_` with both operands."""
        node = parse("a + b")
        assert isinstance(node, Call)
        assert node.function == "_+_"
        assert [a.name for a in node.args] == ["a", "b"]  # type: ignore[union-attr]

    def test_offsets_cover_the_source_text(self) -> None:
        """Every node carries the offsets of the text it came from."""
        text = 'request.model in ["x"]'
        node = parse(text)
        assert isinstance(node, Call)
        assert (node.start, node.end) == (0, len(text))
        target = node.args[0]
        assert text[target.start:target.end] == "request.model"

    def test_bool_literal_offsets_are_found(self) -> None:
        """`true` (re-made by celpy's lexer callback) still gets its own offsets."""
        text = "x && true"
        node = parse(text)
        assert isinstance(node, Call)
        lit = node.args[1]
        assert text[lit.start:lit.end] == "true"

    def test_has_becomes_test_only_select(self) -> None:
        """`has(a.b)` is a test-only selection."""
        node = parse("has(a.b)")
        assert node == Select(0, 8, Ident(4, 5, "a"), "b", test_only=True)

    def test_macros_become_comprehensions(self) -> None:
        """`xs.all(x, x > 0)` is an `all` comprehension over `xs` binding `x`."""
        node = parse("xs.all(x, x > 0)")
        assert isinstance(node, Comprehension)
        assert (node.kind, node.var) == ("all", "x")

    def test_three_argument_map_keeps_the_filter(self) -> None:
        """`map(x, p, f)` puts `p` in `predicate`."""
        node = parse("xs.map(x, x > 0, x * 2)")
        assert isinstance(node, Comprehension)
        assert node.predicate is not None


class TestLiterals:
    @pytest.mark.parametrize(
        ("text", "value"),
        [
            ("1u", UInt(1)),
            ("-9223372036854775808", -(2**63)),
            ("0x1F", 31),
            ("1.5e3", 1500.0),
            (r'"\x41\u00e9\U0001F600\101"', "Aé😀A"),
            (r'r"\n"', "\\n"),
            ("'''a\nb'''", "a\nb"),
            (r'b"\377"', b"\xff"),
            ('b"é"', "é".encode()),
            ("null", None),
        ],
    )
    def test_literal_values(self, text: str, value: object) -> None:
        """Literals become runtime values with CEL's escape rules."""
        node = parse(text)
        assert isinstance(node, Literal)
        assert node.value == value
        assert type(node.value) is type(value)

    @pytest.mark.parametrize("text", ["9223372036854775808", "18446744073709551616u", "-1u"])
    def test_out_of_range_integers_are_syntax_errors(self, text: str) -> None:
        """Integer literals outside int64/uint64 are rejected at parse, as cel-go does."""
        with pytest.raises(CelSyntaxError, match=r"range|negative"):
            parse(text)

    @pytest.mark.parametrize("text", [r'"\q"', r'b"\u00e9"', r'"\ud800"'])
    def test_invalid_escapes_are_syntax_errors(self, text: str) -> None:
        """Unknown escapes, `\\u` in bytes and surrogate code points are rejected."""
        with pytest.raises(CelSyntaxError):
            parse(text)


class TestErrors:
    @pytest.mark.parametrize(
        ("text", "message", "start"),
        [
            ("1 +", "unexpected end of expression, expected an operand", 3),
            ("(1", "unexpected end of expression, expected `)`", 2),
            ("1 2", "unexpected `2`, expected an operator", 2),
            ('"abc', "unterminated string literal", 0),
            ("if", "`if` is a reserved word", 0),
        ],
    )
    def test_messages_are_written_for_people(self, text: str, message: str, start: int) -> None:
        """Syntax errors say what was unexpected and what was expected, with offsets."""
        with pytest.raises(CelSyntaxError) as info:
            parse(text)
        assert info.value.message == message
        assert info.value.start == start

    def test_deep_nesting_is_an_error_not_a_crash(self) -> None:
        """Thousands of nested parentheses raise a syntax error, never RecursionError."""
        with pytest.raises(CelSyntaxError, match="nested too deeply"):
            parse("(" * 3000 + "1" + ")" * 3000)

    def test_overlong_text_is_rejected(self) -> None:
        """Text over 100 000 characters is refused before parsing."""
        with pytest.raises(CelSyntaxError, match="too long"):
            parse("1" + " " * 100_001)


class TestParserLoading:
    def test_parsing_does_not_import_the_celpy_package(self) -> None:
        """The parser module is loaded alone: celpy's evaluator (pendulum, ...) stays out."""
        code = ("import sys\nfrom compliance.cel.parser import parse\nparse('a.b > 1')\n"
                "print(sorted(m for m in ('celpy', 'pendulum') if m in sys.modules))")
        out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                             text=True)
        assert out.stdout.strip() == "[]"

    def test_without_the_file_layout_the_package_is_imported(
            self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A cel-python whose package cannot be found as files still parses (fallback)."""
        from compliance.cel import parser

        monkeypatch.setattr(parser.importlib.util, "find_spec", lambda name: None)
        module = parser._celparser_module()
        assert module.__name__ == "celpy.celparser"
        assert module.CELParser().parse("a > 1") is not None
