"""Tests for ``compliance.cel.interpreter``: cel-python as a backend, the compiler's contract."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping

import pytest

from compliance.cel.ast import Expr
from compliance.cel.interpreter import attribute_reads, interpreted_program, substitute_variables
from compliance.cel.parser import parse
from compliance.cel.types import (
    BOOL,
    BYTES,
    DOUBLE,
    DURATION,
    DYN,
    INT,
    STRING,
    TIMESTAMP,
    UINT,
    ContextSchema,
    list_of,
    map_of,
    object_of,
)
from compliance.cel.unparse import unparse
from compliance.cel.values import CelEvalError, CelTypeValue, CelUnknown, Duration, Timestamp, UInt

SCHEMA = ContextSchema({
    "principal": object_of("principal", {
        "nationalities": list_of(STRING), "authorizations": list_of(STRING), "age": INT,
    }),
    "request": object_of("request", {
        "model": STRING, "time": TIMESTAMP, "risk_scores": map_of(STRING, DOUBLE),
        "budget": UINT, "ttl": DURATION, "blob": BYTES, "flag": BOOL, "extra": DYN,
    }),
})
VARIABLES: dict[str, Expr] = {
    "restricted": parse('request.model in ["fable-5", "mythos-5"]'),
    "us": parse('"US" in principal.nationalities'),
    "blocked": parse("vars.restricted && !vars.us"),
}
CONTEXT: dict[str, object] = {
    "principal": {"nationalities": ["FR"], "authorizations": [], "age": 40},
    "request": {
        "model": "fable-5", "time": "2026-06-15T21:21:00.5Z", "risk_scores": {"cyber": 0.9},
        "budget": 7, "ttl": "90s", "blob": b"\x00\xff", "flag": True,
        "extra": {"k": [1, 2.5, "s"]},
    },
}


def run(text: str, context: Mapping[str, object] = CONTEXT) -> object:
    """Evaluate ``text`` on the interpreter backend."""
    return interpreted_program(parse(text), SCHEMA, VARIABLES)(context)


class TestValues:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("vars.blocked", True),
            ("principal.age + 2", 42),
            ("request.budget + 1u", UInt(8)),
            ("request.risk_scores['cyber'] * 2.0", 1.8),
            ("request.time", Timestamp(1_781_558_460_500_000_000)),
            ("request.ttl", Duration(90_000_000_000)),
            ("request.blob", b"\x00\xff"),
            ("request.extra.k", [1, 2.5, "s"]),
            ("{'a': [1u, null]}", {"a": [UInt(1), None]}),
            ("type(principal.age)", CelTypeValue("int")),
            ("principal.nationalities.map(n, n + '!')", ["FR!"]),
            ("has(request.model)", True),
        ],
    )
    def test_results_are_compliance_values(self, text: str, expected: object) -> None:
        """Results come back as ``compliance.cel.values`` types, not celpy wrappers."""
        got = run(text)
        assert got == expected
        assert type(got) is type(expected)


class TestErrorsAndUnknowns:
    @pytest.mark.parametrize(
        ("text", "code"),
        [
            ("principal.age / 0", "division-by-zero"),
            ("principal.age + 9223372036854775807", "overflow"),
            ("request.risk_scores[request.model]", "no-such-key"),
            ("principal.age + 'a'", "no-matching-overload"),
        ],
    )
    def test_celpy_errors_get_codes(self, text: str, code: str) -> None:
        """celpy's errors become ``CelEvalError`` with a stable code."""
        with pytest.raises(CelEvalError) as info:
            run(text)
        assert info.value.code == code

    def test_absent_attributes_are_unknown(self) -> None:
        """An absent attribute the expression reads makes the result unknown, naming it."""
        context = {"request": {"model": "fable-5"}}
        with pytest.raises(CelUnknown) as info:
            run("vars.blocked", context)
        assert info.value.paths == {"principal.nationalities"}

    def test_null_reads_as_absent(self) -> None:
        """A null attribute is unknown, as in the compiled backend."""
        with pytest.raises(CelUnknown):
            run("request.model == 'x'", {"request": {"model": None}})

    def test_unknowns_are_coarse(self) -> None:
        """`a || b` with `a` absent is unknown even when `b` is true (documented limitation)."""
        with pytest.raises(CelUnknown):
            run("principal.age > 1 || true", {"principal": {}})

    def test_has_on_absent_field_is_false(self) -> None:
        """`has()` tests presence without making the expression unknown."""
        assert run("has(request.model)", {"request": {}}) is False
        assert run("has(request.model)", {}) is False

    def test_has_on_null_attribute_is_false(self) -> None:
        """`has()` on a declared path holding null is false, as null counts as absent."""
        assert run("has(request.model)", {"request": {"model": None}}) is False
        scores: dict[str, object] = {"request": {"risk_scores": {"bio": None, "cyber": 0.1}}}
        assert run("has(request.risk_scores.bio)", scores) is False
        assert run("has(request.risk_scores.cyber)", scores) is True
        assert run("has(request.extra.k)", {"request": {"extra": {"k": None}}}) is False
        assert run("[{'k': null}].exists(request, has(request.k))", {"request": {}}) is True

    def test_malformed_context_is_bad_context(self) -> None:
        """A context value of the wrong type is a ``bad-context`` error, only where it is read."""
        with pytest.raises(CelEvalError) as info:
            run("principal.age > 1", {"principal": {"age": "old"}})
        assert info.value.code == "bad-context"
        assert run("request.model == 'x'", {"request": {"model": "x", "budget": "lots"}}) is True


class TestPlanTime:
    def test_variables_are_substituted_recursively(self) -> None:
        """``vars.x`` is replaced by the variable's tree, nested variables included."""
        text = unparse(substitute_variables(parse("vars.blocked"), VARIABLES))
        expected = 'request.model in ["fable-5", "mythos-5"] && !("US" in principal.nationalities)'
        assert text == expected

    def test_macro_variable_named_vars_shadows(self) -> None:
        """A comprehension variable called ``vars`` is not a pack variable reference."""
        tree = parse("[{'us': 1}].all(vars, vars.us == 1)")
        assert unparse(substitute_variables(tree, VARIABLES)) == unparse(tree)

    def test_cyclic_variables_are_rejected(self) -> None:
        """A variable that refers to itself is an error at plan time."""
        with pytest.raises(ValueError, match="refers to itself"):
            substitute_variables(parse("vars.a"), {"a": parse("vars.b"), "b": parse("vars.a")})

    def test_attribute_reads(self) -> None:
        """Name chains are reads, `has` operands are tests, macro variables are local."""
        tree = parse("request.risk_scores.cyber > 0.5 && has(request.model) "
                     "&& principal.nationalities.all(request, request != '')")
        reads, tested = attribute_reads(tree, SCHEMA)
        assert reads == (("principal", "nationalities"), ("request", "risk_scores", "cyber"))
        assert tested == (("request", "model"),)

    def test_environment_is_not_used(self) -> None:
        """Building and running a program leaves the process recursion limit alone."""
        before = sys.getrecursionlimit()
        run("vars.blocked")
        assert sys.getrecursionlimit() == before

    def test_import_compliance_does_not_import_celpy_evaluation(self) -> None:
        """`import compliance` does not load this backend or celpy's evaluator."""
        code = ("import sys, compliance; "
                "assert 'compliance.cel.interpreter' not in sys.modules; "
                "assert 'celpy.evaluation' not in sys.modules")
        subprocess.run([sys.executable, "-c", code], check=True)
