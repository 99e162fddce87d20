"""The one type rule for context values: paths, wording, constraints, limits."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from compliance.cel.conform import Nonconforming, conform, problems, reader
from compliance.cel.types import (
    DOUBLE,
    DYN,
    INT,
    STRING,
    TIMESTAMP,
    CelType,
    Constraint,
    Limits,
    list_of,
    map_of,
    object_of,
)
from compliance.cel.values import Timestamp, parse_timestamp

LIMITS = Limits()
COUNTRY = CelType("string", constraint=Constraint(pattern="[A-Z]{2}", normalize=("trim", "upper"),
                                                   empty_absent=True))


def failure(t: CelType, value: object, path: str = "x", limits: Limits = LIMITS) -> Nonconforming:
    with pytest.raises(Nonconforming) as info:
        conform(t, value, path, limits)
    return info.value


class TestPaths:
    def test_list_element_is_named(self) -> None:
        """A wrong element names its index."""
        err = failure(list_of(STRING), ["US", 1], "principal.nationalities")
        assert err.path == "principal.nationalities[1]"
        assert err.message == "must be a string, got an integer `1`"

    def test_map_value_is_named_with_its_key(self) -> None:
        """A wrong map value names its key in brackets, JSON-quoted."""
        err = failure(map_of(STRING, DOUBLE), {"bio": "0.9"}, "request.risk_scores")
        assert err.path == 'request.risk_scores["bio"]'
        assert err.message == "must be a number, got a string `0.9`"

    def test_nested_field_is_named(self) -> None:
        """A wrong field of an object names the field."""
        t = object_of("p", {"q": object_of("p.q", {"n": INT})})
        assert failure(t, {"q": {"n": "1"}}, "p").path == "p.q.n"

    def test_one_wording_for_integers(self) -> None:
        """Every place an int is wrong says `must be an integer`."""
        assert failure(INT, 1.5).message == "must be an integer, got a number `1.5`"
        assert failure(list_of(INT), [True]).message == "must be an integer, got a bool `true`"

    def test_collecting_reports_every_problem(self) -> None:
        """`problems` walks on after the first problem."""
        found = problems(list_of(STRING), [1, "a", 2], "x", LIMITS)
        assert [p.path for p in found] == ["x[0]", "x[2]"]

    def test_null_element_is_wrong(self) -> None:
        """A null inside a list is not a string (a null attribute is absent instead)."""
        assert failure(list_of(STRING), [None]).path == "x[0]"
        assert conform(STRING, None, "x", LIMITS) is None

    def test_null_map_value_is_an_absent_entry(self) -> None:
        """A null map value drops out, as if the key were absent."""
        assert conform(map_of(STRING, DOUBLE), {"a": None, "b": 1}, "x", LIMITS) == {"b": 1.0}


class TestNumbers:
    @pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
    def test_non_finite_double_is_an_error(self, value: float) -> None:
        """NaN and infinities are not values of a finite double."""
        assert "finite" in failure(DOUBLE, value).message

    def test_non_finite_allowed_when_declared(self) -> None:
        """`finite: false` lets them through."""
        t = CelType("double", constraint=Constraint(finite=False))
        assert math.isnan(conform(t, math.nan, "x", LIMITS))

    def test_huge_integers_never_overflow(self) -> None:
        """A 401-digit integer is an error on its path for int and double alike."""
        big = 10**400
        assert "int64" in failure(INT, big).message
        assert "too large for a double" in failure(DOUBLE, big).message
        assert "digits" in failure(INT, big).message  # described, not printed in full

    def test_int_range_edges(self) -> None:
        """int64 is the range of `int`."""
        assert conform(INT, 2**63 - 1, "x", LIMITS) == 2**63 - 1
        assert failure(INT, 2**63).path == "x"

    def test_int_reads_as_double(self) -> None:
        """An integer in a double attribute is converted."""
        value = conform(DOUBLE, 2, "x", LIMITS)
        assert value == 2.0
        assert type(value) is float


class TestStrings:
    @pytest.mark.parametrize(("raw", "read"), [(" ir", "IR"), ("Ir\n", "IR"), ("US", "US")])
    def test_normalised_before_the_pattern(self, raw: str, read: str) -> None:
        """Trim and upper-case run first, then the pattern is a full match."""
        assert conform(COUNTRY, raw, "x", LIMITS) == read

    def test_pattern_is_a_full_match(self) -> None:
        """`IRN` contains `IR` but is no alpha-2 code."""
        assert failure(COUNTRY, "IRN").message == "must match `[A-Z]{2}`, got `IRN`"

    @pytest.mark.parametrize("raw", ["", "  ", "\n"])
    def test_empty_identifier_is_absent(self, raw: str) -> None:
        """An empty (after trimming) constrained identifier reads as absent."""
        assert conform(COUNTRY, raw, "x", LIMITS) is None

    def test_empty_list_element_is_an_error(self) -> None:
        """In a list an empty identifier is not dropped: it is an error on its element."""
        assert failure(list_of(COUNTRY), ["US", ""]).message == "must not be empty"

    def test_enum_after_normalisation(self) -> None:
        """`Chat ` is `chat`; `fax` is no surface."""
        t = CelType("string", enum=("api", "chat"), constraint=Constraint(normalize=("trim",
                                                                                  "lower")))
        assert conform(t, "Chat ", "x", LIMITS) == "chat"
        assert failure(t, "fax").message == "must be one of api, chat, got `fax`"

    def test_lone_surrogate_is_an_error(self) -> None:
        """A string that is not valid Unicode never reaches a rule; the message is clean."""
        err = failure(STRING, "a\ud800")
        assert err.message.startswith("is not valid Unicode text")
        str(err).encode("utf-8")  # the message itself is representable

    def test_long_string_is_an_error(self) -> None:
        """A string beyond `max_string` is an error, and the message does not repeat it."""
        err = failure(STRING, "x" * 2000)
        assert err.message == "is longer than 1024 characters"


class TestLimits:
    def test_deep_nesting_is_an_error_not_a_recursion_error(self) -> None:
        """A value nested 1000 deep stops at `max_depth`."""
        value: object = "leaf"
        for _ in range(1000):
            value = [value]
        assert "nested more than 32 levels" in failure(DYN, value).message

    def test_list_and_map_sizes(self) -> None:
        """Lists and maps beyond their limits are errors on their path."""
        small = Limits(max_list=3, max_map=2)
        assert failure(list_of(STRING), ["a"] * 4, limits=small).message == (
            "has more than 3 elements")
        assert failure(map_of(STRING, DOUBLE), {"a": 1, "b": 2, "c": 3}, limits=small).message == (
            "has more than 2 entries")

    def test_dyn_values_are_json_values(self) -> None:
        """`dyn` accepts JSON-like values only, within the limits, finite."""
        assert conform(DYN, {"a": [1, "b", None]}, "x", LIMITS) == {"a": [1, "b", None]}
        assert "finite" in failure(DYN, [math.nan]).message
        assert "JSON value" in failure(DYN, object()).message


class TestTimes:
    def test_timestamp_forms(self) -> None:
        """Text, an aware datetime and a Timestamp all read as the same Timestamp."""
        want = parse_timestamp("2026-06-15T21:21:00Z")
        for value in ("2026-06-15T21:21:00Z", datetime(2026, 6, 15, 21, 21, tzinfo=UTC), want):
            assert conform(TIMESTAMP, value, "x", LIMITS) == want
        assert isinstance(want, Timestamp)

    def test_naive_datetime_is_an_error(self) -> None:
        """A datetime without a zone is no instant."""
        assert "time zone" in failure(TIMESTAMP, datetime(2026, 6, 15)).message

    def test_bad_offset_is_an_error(self) -> None:
        """`+01:90` is no UTC offset."""
        assert "offset" in failure(TIMESTAMP, "2026-06-12T22:50:00+01:90").message


class TestReaderFastPaths:
    @pytest.mark.parametrize(("t", "value"), [
        (STRING, "x" * 2000), (STRING, "\ud800"), (INT, 2**63), (DOUBLE, math.nan),
        (INT, True), (STRING, 7),
    ])
    def test_fast_paths_judge_like_conform(self, t: CelType, value: object) -> None:
        """The getters' fast exits reject exactly what `conform` rejects."""
        read = reader(t, "x", LIMITS)
        with pytest.raises(Nonconforming):
            read(value)
        with pytest.raises(Nonconforming):
            conform(t, value, "x", LIMITS)
