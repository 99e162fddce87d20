"""The CEL type checker alone: inferred types and issues at offsets of the CEL text."""

from __future__ import annotations

from dataclasses import replace

import pytest

from compliance.cel.checker import TypeEnv, TypeIssue, infer, literal_issues, spell_type, suggest
from compliance.cel.parser import parse
from compliance.cel.types import (
    BOOL,
    DOUBLE,
    DURATION,
    INT,
    STRING,
    TIMESTAMP,
    CelType,
    ContextSchema,
    list_of,
    map_of,
    object_of,
)

SCHEMA = ContextSchema({
    "principal": object_of("principal", {
        "nationalities": list_of(STRING),
        "kind": replace(STRING, enum=("customer", "employee")),
    }),
    "request": object_of("request", {
        "model": STRING, "time": TIMESTAMP, "risk_scores": map_of(STRING, DOUBLE),
    }),
})
ENV = TypeEnv(SCHEMA, {"restricted": BOOL})


def typed(text: str) -> tuple[CelType, list[tuple[str, str]]]:
    """The type of ``text`` and its issues as ``(code, underlined text)`` pairs."""
    result, issues = infer(parse(text), ENV)
    return result, [(i.code, text[i.start:i.end]) for i in issues]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('request.risk_scores["bio"]', DOUBLE),
        ('principal.nationalities.filter(n, n != "US")', list_of(STRING)),
        ("principal.nationalities.map(n, size(n))", list_of(INT)),
        ("[1, 2]", list_of(INT)),
        ("request.time - request.time", DURATION),
        ('request.time + duration("1h")', TIMESTAMP),
        ("vars.restricted", BOOL),
        ("has(request.model)", BOOL),
        ('strings.quote(request.model)', STRING),
        ("true ? 1 : 2", INT),
        ('{"a": 1}["a"]', INT),
        ("principal.nationalities[0]", STRING),
    ],
    ids=lambda v: v if isinstance(v, str) else str(v),
)
def test_inferred_types(text: str, expected: CelType) -> None:
    """Well-typed expressions infer their CEL type and report nothing."""
    result, issues = typed(text)
    assert issues == []
    assert spell_type(result) == spell_type(expected)


@pytest.mark.parametrize(
    "text",
    ['[1, "a"]', "dyn(1)", 'true ? 1 : "a"', "principal.nationalities.map(n, dyn(n))[0]"],
)
def test_mixed_or_dynamic_is_dyn(text: str) -> None:
    """Mixed and `dyn` values type as `dyn` (or contain it) without errors."""
    result, issues = typed(text)
    assert issues == []
    assert "dyn" in spell_type(result)


@pytest.mark.parametrize(
    ("text", "code", "underlined"),
    [
        ("request.time > 5", "type-mismatch", "5"),
        ("request.model && true", "type-mismatch", "request.model"),
        ('1 in ["a"]', "type-mismatch", "1"),
        ("request.risk_scores[1]", "type-mismatch", "1"),
        ("request.model[0]", "type-mismatch", "request.model[0]"),
        ("request.model.size.x", "type-mismatch", "request.model.size"),
        ("request.model.exists(x, true)", "type-mismatch", "request.model"),
        ("principal.nationalities.all(n, n)", "type-mismatch", "n"),
        ("!request.model", "type-mismatch", "!request.model"),
        ('int("1", 2)', "no-matching-overload", 'int("1", 2)'),
        ("nope(1)", "undeclared-reference", "nope(1)"),
        ("reqest", "undeclared-reference", "reqest"),
        ("vars.nope", "undeclared-reference", "vars.nope"),
        ('principal.kind == "admin"', "enum-mismatch", '"admin"'),
    ],
)
def test_issues(text: str, code: str, underlined: str) -> None:
    """Each ill-typed expression reports one issue at the expected characters."""
    _, issues = typed(text)
    assert issues == [(code, underlined)]


def test_one_error_is_reported_once() -> None:
    """An expression already in error does not cascade into its parents."""
    _, issues = typed('reqest.model == "x" && reqest.model.startsWith("y")')
    assert [code for code, _ in issues] == ["undeclared-reference", "undeclared-reference"]


def test_type_values() -> None:
    """Type names are values of type `type`: `type(x) == int` checks."""
    assert typed("type(1) == int") == (BOOL, [])


def test_null_compares_with_anything() -> None:
    """Comparing with `null` is allowed (it is simply false for a present string)."""
    assert typed("request.model != null")[1] == []


class TestLiteralIssues:
    def test_regex(self) -> None:
        """A bad literal regex is found without type information."""
        text = 'x.matches("a(")'
        (issue,) = literal_issues(parse(text))
        assert isinstance(issue, TypeIssue)
        assert (issue.code, text[issue.start:issue.end]) == ("invalid-regex", '"a("')

    def test_timestamp_out_of_range(self) -> None:
        """An integer timestamp beyond year 9999 is invalid."""
        (issue,) = literal_issues(parse("timestamp(999999999999999)"))
        assert issue.code == "invalid-timestamp"

    def test_non_literal_arguments_are_left_to_run_time(self) -> None:
        """Only constants are checked."""
        assert literal_issues(parse("timestamp(x) < timestamp(y) && s.matches(p)")) == []


def test_suggest_cutoff() -> None:
    """`suggest` proposes only close names."""
    assert suggest("modle", ["model", "time"]) == "did you mean `model`?"
    assert suggest("zzz", ["model", "time"]) is None
