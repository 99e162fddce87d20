"""Up-front context validation: every problem, named by attribute path."""

from __future__ import annotations

from compliance.cel.types import (
    BOOL,
    DOUBLE,
    DURATION,
    STRING,
    TIMESTAMP,
    CelType,
    ContextSchema,
    list_of,
    map_of,
    object_of,
)
from compliance.contexts import validate_context

SCHEMA = ContextSchema({"request": object_of("request", {
    "time": TIMESTAMP,
    "ttl": DURATION,
    "surface": CelType("string", enum=("api", "chat")),
    "tags": list_of(STRING),
    "scores": map_of(STRING, DOUBLE),
    "flag": BOOL,
})})


def problems(request: dict[str, object]) -> dict[str, str]:
    return {p.path: p.message for p in validate_context(SCHEMA, {"request": request})}


class TestValidateContext:
    def test_clean_context(self) -> None:
        """A well-typed context has no problems."""
        assert problems({"time": "2026-07-01T12:00:00Z", "ttl": "1.5s", "surface": "api",
                         "tags": ["a"], "scores": {"bio": 1, "x": 0.5}, "flag": True}) == {}

    def test_each_problem_names_its_attribute(self) -> None:
        """Every wrong value is reported with its full path, lists and maps included."""
        found = problems({"time": "yesterday", "ttl": "soon", "surface": "fax",
                          "tags": ["a", 3], "scores": {"bio": "high"}, "flag": "yes"})
        assert set(found) == {"request.time", "request.ttl", "request.surface",
                              "request.tags[1]", 'request.scores["bio"]', "request.flag"}
        assert "api, chat" in found["request.surface"]

    def test_null_is_absent_not_wrong(self) -> None:
        """A null value reads as an unknown attribute, so validation accepts it."""
        assert problems({"time": None, "flag": None}) == {}

    def test_not_an_object(self) -> None:
        """A context that is not an object is one problem with an empty path."""
        [problem] = validate_context(SCHEMA, ["request"])
        assert problem.path == ""
        assert "JSON object" in problem.message

    def test_bool_is_not_a_number(self) -> None:
        """`true` is not a double, although Python's bool is an int."""
        assert set(problems({"scores": {"bio": True}})) == {'request.scores["bio"]'}


class TestUndeclaredAndUnread:
    def test_undeclared_key_with_did_you_mean(self) -> None:
        """A typo of a declared field is reported with the closest declared name."""
        found = problems({"flg": True, "unrelated": 1})
        assert found["request.flg"] == (
            "is not declared in the schema; did you mean `request.flag`?")
        assert found["request.unrelated"] == "is not declared in the schema"

    def test_shipped_schema_typo_and_unread_values(self) -> None:
        """`nationalites`, `kind: "robot"` and a string score are all reported up front."""
        from pathlib import Path

        from compliance import Engine

        engine = Engine.from_path(Path(__file__).resolve().parents[2] / "rules")
        context = {"principal": {"nationalites": ["FR"], "kind": "robot"},
                   "request": {"risk_scores": {"bio": "0.9"}}}
        found = {p.path: p.message for p in engine.validate(context)}
        assert found["principal.nationalites"].endswith(
            "did you mean `principal.nationalities`?")
        assert found["principal.kind"].startswith("must be one of customer")
        assert found['request.risk_scores["bio"]'] == "must be a number, got a string `0.9`"
        assert set(found) == {"principal.nationalites", "principal.kind",
                              'request.risk_scores["bio"]'}
