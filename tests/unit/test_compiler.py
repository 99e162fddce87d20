"""The compiler: CEL semantics of compiled closures, attribute paths, unknowns and limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from compliance.cel.compiler import CelCompileError, CompileEnv, compile_expr, free_attributes
from compliance.cel.parser import parse
from compliance.cel.types import ContextSchema, object_of, parse_type
from compliance.cel.values import (
    CelEvalError,
    CelUnknown,
    Duration,
    Timestamp,
    UInt,
    parse_timestamp,
)

SCHEMA = ContextSchema({
    "principal": object_of("principal", {
        "nationalities": parse_type("list<string>"), "kind": parse_type("string"),
    }),
    "request": object_of("request", {
        "model": parse_type("string"), "time": parse_type("timestamp"),
        "risk_scores": parse_type("map<string, double>"), "tokens": parse_type("int"),
        "budget": parse_type("double"),
    }),
})
ENV = CompileEnv(schema=SCHEMA)


def run(text: str, act: dict[str, Any] | None = None, env: CompileEnv = ENV) -> object:
    return compile_expr(parse(text), env)(act or {})


def error(text: str, act: dict[str, Any] | None = None, env: CompileEnv = ENV) -> CelEvalError:
    with pytest.raises(CelEvalError) as info:
        run(text, act, env)
    return info.value


def unknown(text: str, act: dict[str, Any] | None = None) -> frozenset[str]:
    with pytest.raises(CelUnknown) as info:
        run(text, act)
    return info.value.paths


ERR = "1 / 0 > 0"
UNK = "request.model == 'x'"
UNK2 = "principal.kind == 'x'"


class TestLogic:
    @pytest.mark.parametrize(
        ("text", "want"),
        [
            (f"false && ({ERR})", False), (f"({ERR}) && false", False),
            (f"true || ({ERR})", True), (f"({ERR}) || true", True),
            (f"false && {UNK}", False), (f"{UNK} && false", False),
            (f"true || {UNK}", True), (f"{UNK} || true", True),
        ],
    )
    def test_absorbing_values_win_in_either_order(self, text: str, want: bool) -> None:
        """`false &&` and `true ||` absorb errors and unknowns on either side."""
        assert run(text) is want

    def test_unknown_beats_error(self) -> None:
        """An unknown and an error combine to the unknown."""
        assert unknown(f"({ERR}) && {UNK}") == {"request.model"}
        assert unknown(f"{UNK} || ({ERR})") == {"request.model"}

    def test_two_unknowns_merge(self) -> None:
        """Two unknown sides report both attribute paths."""
        assert unknown(f"{UNK} && {UNK2}") == {"request.model", "principal.kind"}

    def test_error_and_true_is_the_error(self) -> None:
        """`error && true` is the error, with the failing node's offsets."""
        err = error(f"({ERR}) && true")
        assert err.code == "division-by-zero"
        assert (err.start, err.end) == (1, 6)

    def test_quantifiers_absorb_errors(self) -> None:
        """`exists` ignores erroring elements once one element is true."""
        assert run("[0, 1].exists(x, 1 / x == 1)") is True
        assert error("[0, 2].exists(x, 1 / x == 1)").code == "division-by-zero"


class TestArithmetic:
    @pytest.mark.parametrize(
        "text",
        ["9223372036854775807 + 1", "-9223372036854775808 - 1", "0u - 1u",
         "-9223372036854775808 / -1", "18446744073709551615u * 2u"],
    )
    def test_overflow_is_an_error(self, text: str) -> None:
        """int64 and uint64 overflow raise `overflow`."""
        assert error(text).code == "overflow"

    def test_numeric_equality_crosses_types(self) -> None:
        """`1 == 1.0` and `1u == 1` are true; `1 == true` is false."""
        assert run("1 == 1.0 && 1u == 1 && [1] == [1.0]") is True
        assert run("dyn(1) == dyn(true)") is False

    def test_mixed_arithmetic_has_no_overload(self) -> None:
        """`1 + 1.0` is a no-matching-overload error."""
        assert error("1 + dyn(1.0)").code == "no-matching-overload"


class TestTime:
    def test_nanosecond_precision(self) -> None:
        """Timestamps keep nanoseconds through arithmetic."""
        assert run("timestamp('2020-01-01T00:00:00.000000001Z') + duration('1ns')") == (
            parse_timestamp("2020-01-01T00:00:00.000000002Z")
        )

    def test_time_zone_accessors(self) -> None:
        """Accessors take an IANA zone or a fixed offset."""
        ts = "timestamp('2009-02-13T23:31:30Z')"
        assert run(f"{ts}.getHours('Asia/Kolkata')") == 5
        assert run(f"{ts}.getHours('+05:30')") == 5
        assert run(f"{ts}.getDayOfWeek()") == 5

    def test_dst_is_respected(self) -> None:
        """America/New_York is UTC-4 in June and UTC-5 in January."""
        assert run("timestamp('2026-06-15T21:21:00Z').getHours('America/New_York')") == 17
        assert run("timestamp('2026-01-15T21:21:00Z').getHours('America/New_York')") == 16


class TestRegex:
    def test_matches_is_a_partial_match(self) -> None:
        """`matches` finds the pattern anywhere unless anchored."""
        assert run("'fable-5'.matches('ble')") is True

    def test_backreferences_are_rejected(self) -> None:
        """RE2 has no backreferences: the pattern is an invalid-argument error."""
        assert error(r"'aa'.matches('(a)\\1')").code == "invalid-argument"


class TestAttributes:
    def test_missing_attribute_is_an_unknown_with_its_path(self) -> None:
        """A declared attribute that is absent raises CelUnknown naming the full path."""
        assert unknown('"US" in principal.nationalities', {"principal": {}}) == {
            "principal.nationalities"
        }
        assert unknown("request.model == 'x'") == {"request.model"}

    def test_missing_map_key_is_an_unknown(self) -> None:
        """An absent key of a declared map attribute is an unknown attribute path."""
        act = {"request": {"risk_scores": {"cyber": 0.1}}}
        assert unknown("request.risk_scores['bio'] > 0.5", act) == {"request.risk_scores.bio"}
        assert run("request.risk_scores.cyber < 0.5", act) is True

    def test_missing_map_key_read_with_a_computed_key_is_an_unknown(self) -> None:
        """A computed string key absent from a declared map is an unknown, as a constant key is."""
        act = {"request": {"model": "bio", "risk_scores": {"cyber": 0.1}}}
        assert unknown("request.risk_scores[request.model] > 0.5", act) == {
            "request.risk_scores.bio"
        }
        assert run("request.risk_scores[request.model + ''] > 0.5", {
            "request": {"model": "cyber", "risk_scores": {"cyber": 0.9}}}) is True

    def test_computed_non_string_key_keeps_its_error(self) -> None:
        """A computed non-string key into a declared map is still an evaluation error."""
        act = {"request": {"tokens": 3, "risk_scores": {"cyber": 0.1}}}
        assert error("request.risk_scores[request.tokens] > 0.5", act).code != "unknown"

    def test_computed_key_on_undeclared_map_is_still_no_such_key(self) -> None:
        """A computed key missing from a map literal stays a `no-such-key` error."""
        act = {"request": {"model": "bio"}}
        assert error("{'cyber': 1}[request.model] == 1", act).code == "no-such-key"

    def test_has_on_a_null_attribute_is_false(self) -> None:
        """`has()` on a declared path holding null is false, since null counts as absent."""
        assert run("has(request.model)", {"request": {"model": None}}) is False
        assert run("has(request.risk_scores.bio)", {
            "request": {"risk_scores": {"bio": None}}}) is False
        assert run("has(request.risk_scores.bio)", {
            "request": {"risk_scores": {"bio": 0.0}}}) is True

    def test_has_on_a_null_map_literal_field_is_true(self) -> None:
        """`has()` on a map literal's null field is true: only declared attributes drop nulls."""
        assert run("has({'a': null}.a)") is True

    def test_null_counts_as_absent(self) -> None:
        """A JSON null for a declared attribute is treated as missing."""
        assert unknown("request.model == 'x'", {"request": {"model": None}}) == {"request.model"}

    def test_has_never_raises_unknown(self) -> None:
        """`has()` on a declared path is false when the attribute is absent."""
        assert run("has(principal.nationalities)", {}) is False
        assert run("has(principal.nationalities)", {"principal": {"nationalities": []}}) is True

    @pytest.mark.parametrize(
        "value",
        [parse_timestamp("2026-06-15T21:21:00Z"), datetime(2026, 6, 15, 21, 21, tzinfo=UTC),
         datetime(2026, 6, 15, 17, 21, tzinfo=timezone(timedelta(hours=-4))),
         "2026-06-15T17:21:00-04:00"],
    )
    def test_timestamp_leaves_accept_several_forms(self, value: object) -> None:
        """A timestamp attribute may hold a Timestamp, an aware datetime or an RFC 3339 string."""
        text = "request.time == timestamp('2026-06-15T21:21:00Z')"
        assert run(text, {"request": {"time": value}}) is True

    def test_bad_context_names_the_attribute(self) -> None:
        """A wrong-typed value is `bad-context` with a message naming the attribute."""
        err = error("request.time > timestamp(0)", {"request": {"time": "yesterday"}})
        assert err.code == "bad-context"
        assert err.message == (
            "`request.time` must be an RFC 3339 timestamp: `yesterday` is not an RFC 3339 "
            "timestamp such as `2026-06-15T17:21:00Z`"
        )

    def test_double_leaf_accepts_int(self) -> None:
        """An int in a `double` attribute is converted."""
        assert run("request.budget == 2.0", {"request": {"budget": 2}}) is True

    def test_bool_is_not_an_int(self) -> None:
        """`true` is not accepted where an int is declared."""
        assert error("request.tokens > 1", {"request": {"tokens": True}}).code == "bad-context"

    def test_free_attributes(self) -> None:
        """`free_attributes` lists the attribute paths an expression reads."""
        paths = free_attributes(parse("request.model == 'x' && principal.kind == 'y'"))
        assert {"request.model", "principal.kind"} <= paths


class TestVariables:
    def test_vars_are_compiled_once_and_readable(self) -> None:
        """`vars.name` evaluates the named pack variable."""
        env = CompileEnv(schema=SCHEMA, variables={"big": parse("request.tokens > 10")})
        assert run("vars.big && true", {"request": {"tokens": 11}}, env) is True

    def test_unknown_variable_is_a_compile_error(self) -> None:
        """An undefined `vars.x` fails at compile time."""
        with pytest.raises(CelCompileError, match=r"undefined variable `vars\.nope`"):
            compile_expr(parse("vars.nope"), ENV)


class TestLimits:
    def test_comprehension_work_is_bounded(self) -> None:
        """Nested macros beyond `max_iterations` raise `cost-limit`."""
        env = CompileEnv(max_iterations=100)
        text = "xs.all(x, xs.all(y, true))"
        assert error(text, {"xs": list(range(20))}, env).code == "cost-limit"
        assert run(text, {"xs": list(range(5))}, env) is True


class TestValues:
    def test_runtime_value_types(self) -> None:
        """Literals evaluate to int, UInt, Duration and Timestamp values."""
        assert type(run("1u")) is UInt
        assert run("duration('1.5s')") == Duration(1_500_000_000)
        assert isinstance(run("timestamp(0)"), Timestamp)

    def test_constant_errors_stay_runtime_errors(self) -> None:
        """Folding `1 / 0` does not fail compilation; evaluation raises."""
        program = compile_expr(parse("1 / 0"), ENV)
        with pytest.raises(CelEvalError):
            program({})
