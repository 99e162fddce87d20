"""Unit tests for ``compliance.index``: which conjuncts are indexed and what a context selects."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import pytest

from compliance.cel.ast import Call, Expr, Literal
from compliance.cel.parser import parse
from compliance.cel.types import BOOL, DOUBLE, INT, STRING, UINT, ContextSchema, map_of, object_of
from compliance.cel.values import UInt
from compliance.index import RuleIndex

SCHEMA = ContextSchema({
    "request": object_of("request", {
        "model": STRING, "use_case": STRING, "tokens": INT, "n": UINT, "score": DOUBLE,
        "streaming": BOOL, "risk_scores": map_of(STRING, DOUBLE),
    }),
    "org": object_of("org", {"id": STRING}),
})


def build(*whens: str | None, variables: Mapping[str, str] | None = None) -> RuleIndex:
    """An index over rules written as CEL text, all in one pack with ``variables``."""
    parsed_vars: dict[str, Expr] = {k: parse(v) for k, v in (variables or {}).items()}
    return RuleIndex.build(
        [(parse(w) if w is not None else None, parsed_vars) for w in whens], schema=SCHEMA
    )


class TestSelection:
    """What a context selects."""

    def test_equality_selects_only_matching_rules(self) -> None:
        """A rule on `request.model == "a"` runs for model `a` only, alongside unindexed rules."""
        index = build('request.model == "a"', 'request.model == "b"', "true")
        assert index.candidates({"request": {"model": "a"}}) == (0, 2)
        assert index.candidates({"request": {"model": "b"}}) == (1, 2)
        assert index.candidates({"request": {"model": "zzz"}}) == (2,)

    def test_every_read_path_of_a_conjunction_narrows_it(self) -> None:
        """`model == "a" && use_case == "bio"` is dropped when either is certainly unequal.

        The rule is filed under one path; its conjunct on the other path, which the index
        reads for another rule, drops it too - also for a value only that conjunct names.
        """
        index = build('request.model == "a" && request.use_case == "bio"',
                      'request.use_case == "chem"', 'request.model == "a"')
        assert set(index.paths) == {"request.model", "request.use_case"}
        assert index.candidates({"request": {"model": "a", "use_case": "bio"}}) == (0, 2)
        assert index.candidates({"request": {"model": "a", "use_case": "chem"}}) == (1, 2)
        assert index.candidates({"request": {"model": "a", "use_case": "other"}}) == (2,)
        assert index.candidates({"request": {"model": "b", "use_case": "bio"}}) == ()
        # unknown on the second path: the rule must run and report it
        assert index.candidates({"request": {"model": "a"}}) == (0, 1, 2)
        assert index.candidates({"request": {"model": "a", "use_case": 7}}) == (0, 1, 2)

    def test_a_has_guard_makes_an_absent_value_false_not_unknown(self) -> None:
        """`has(org.id) && org.id in [..]` is false when `org.id` is absent or null (has()
        is false there), so the rule is skipped; without the guard an absent value is
        unknown and the rule runs to report it. A wrong-typed value or an absent parent
        proves nothing: the rule runs."""
        index = build('has(org.id) && org.id in ["acme"]', 'org.id in ["acme"]')
        assert index.candidates({"org": {"id": "acme"}}) == (0, 1)
        assert index.candidates({"org": {"id": "other"}}) == ()
        assert index.candidates({"org": {}}) == (1,)
        assert index.candidates({"org": {"id": None}}) == (1,)
        assert index.candidates({"org": {"id": 7}}) == (0, 1)
        assert index.candidates({}) == (0, 1)

    def test_a_guarded_disjunct_of_an_or_across_paths(self) -> None:
        """`request.model in [..] || (has(org.id) && org.id in [..])`: with the model
        certainly unequal and `org.id` absent, both alternatives are false."""
        index = build('request.model in ["a"] || (has(org.id) && org.id in ["acme"])',
                      'request.model in ["a"] || org.id in ["acme"]')
        assert index.candidates({"request": {"model": "b"}, "org": {}}) == (1,)
        assert index.candidates({"request": {"model": "b"}, "org": {"id": "x"}}) == ()
        assert index.candidates({"request": {"model": "a"}, "org": {}}) == (0, 1)
        assert index.candidates({"request": {}, "org": {}}) == (0, 1)

    def test_a_guard_on_one_alternative_only_keeps_the_other_unknown(self) -> None:
        """Two alternatives on one path merge: false when absent only if both are guarded."""
        index = build('(has(org.id) && org.id == "a") || org.id == "b"',
                      '(has(org.id) && org.id == "a") || (has(org.id) && org.id == "b")')
        assert index.candidates({"org": {}}) == (0,)
        assert index.candidates({"org": {"id": "c"}}) == ()

    def test_in_list_selects_each_member(self) -> None:
        """`in [..]` indexes every member of the literal list."""
        index = build('request.model in ["fable-5", "mythos-5"]')
        assert index.candidates({"request": {"model": "mythos-5"}}) == (0,)
        assert index.candidates({"request": {"model": "opus-4.8"}}) == ()

    def test_constant_on_the_left_is_indexed(self) -> None:
        """`"bio" == request.use_case` is the same constraint as its mirror image."""
        index = build('"bio" == request.use_case')
        assert index.candidates({"request": {"use_case": "chem"}}) == ()

    def test_absent_attribute_makes_a_candidate(self) -> None:
        """An absent attribute is unknown: the rule must run to report it as missing."""
        index = build('request.model == "a"')
        assert index.candidates({"request": {}}) == (0,)
        assert index.candidates({}) == (0,)

    def test_null_attribute_makes_a_candidate(self) -> None:
        """A null attribute is unknown as well."""
        index = build('request.model == "a"')
        assert index.candidates({"request": {"model": None}}) == (0,)

    @pytest.mark.parametrize("value", [1, True, ["a"], {"x": 1}, b"a"], ids=repr)
    def test_wrong_type_makes_a_candidate(self, value: object) -> None:
        """A value the string getter rejects is an evaluation error the rule must report."""
        index = build('request.model == "a"')
        assert index.candidates({"request": {"model": value}}) == (0,)

    def test_non_mapping_parent_makes_a_candidate(self) -> None:
        """`request` being a string is a bad context, reported by the rule."""
        index = build('request.model == "a"')
        assert index.candidates({"request": "oops"}) == (0,)

    def test_rule_without_when_always_runs(self) -> None:
        """`when` omitted means always: never indexed."""
        index = build(None, 'org.id == "x"')
        assert index.candidates({"org": {"id": "y"}}) == (0,)
        assert index.always == frozenset({0})


class TestConjuncts:
    """Which conjuncts are indexable."""

    def test_conjunction_picks_the_most_selective_conjunct(self) -> None:
        """Of `model in [2 values] && use_case == "bio"` the single-value conjunct is indexed."""
        index = build('request.model in ["a", "b"] && request.use_case == "bio"')
        assert index.paths == ("request.use_case",)
        assert index.candidates({"request": {"model": "a", "use_case": "chem"}}) == ()

    def test_variables_are_inlined(self) -> None:
        """`vars.restricted && !vars.us` indexes the variable's `in` list."""
        index = build("vars.restricted && !vars.us",
                      variables={"restricted": 'request.model in ["fable-5", "mythos-5"]',
                                 "us": '"US" in request.model'})
        assert index.candidates({"request": {"model": "opus"}}) == ()
        assert index.candidates({"request": {"model": "fable-5"}}) == (0,)

    def test_variable_aliasing_a_path_is_followed(self) -> None:
        """`vars.m == "a"` where `m` is `request.model` indexes `request.model`."""
        index = build('vars.m == "a"', variables={"m": "request.model"})
        assert index.paths == ("request.model",)

    def test_same_path_disjunction_is_a_set(self) -> None:
        """`m == "a" || m == "b"` is the set {a, b}."""
        index = build('request.model == "a" || request.model == "b"')
        assert index.candidates({"request": {"model": "b"}}) == (0,)
        assert index.candidates({"request": {"model": "c"}}) == ()

    def test_disjunction_across_paths_runs_when_either_may_hold(self) -> None:
        """`model == "a" || org.id == "b"` is ruled out only when both sides are certainly
        false: it is filed under both paths, and an unknown on either makes it run."""
        index = build('request.model == "a" || org.id == "b"', 'request.model == "c"')
        assert set(index.paths) == {"request.model", "org.id"}
        assert index.candidates({"request": {"model": "a"}, "org": {"id": "z"}}) == (0,)
        assert index.candidates({"request": {"model": "z"}, "org": {"id": "b"}}) == (0,)
        assert index.candidates({"request": {"model": "c"}, "org": {"id": "z"}}) == (1,)
        assert index.candidates({"request": {"model": "z"}}) == (0,)  # org.id unknown
        assert index.candidates({"org": {"id": "z"}}) == (0, 1)  # request.model unknown

    def test_guarded_disjunct_stands_for_its_indexable_conjunct(self) -> None:
        """In `a in [..] || (has(b) && b in [..])` the second side is certainly false when
        `b` certainly is not in its list, so the rule indexes on both paths; a shared path
        merges its constants."""
        index = build('request.model in ["a"] || (has(org.id) && org.id in ["x", "y"]) '
                      '|| request.model == "b"')
        assert index.always == frozenset()
        assert index.candidates({"request": {"model": "b"}, "org": {"id": "z"}}) == (0,)
        assert index.candidates({"request": {"model": "q"}, "org": {"id": "y"}}) == (0,)
        assert index.candidates({"request": {"model": "q"}, "org": {"id": "z"}}) == ()

    def test_disjunction_with_a_conjunct_elsewhere_is_narrowed_by_it(self) -> None:
        """`(model == "a" || org.id == "b") && use_case == "bio"`: the one-path conjunct
        drops the rule too, whichever alternative brought it in."""
        index = build('(request.model == "a" || org.id == "b") && request.use_case == "bio"',
                      'request.use_case == "chem"')
        ctx = {"request": {"model": "a", "use_case": "chem"}, "org": {"id": "b"}}
        assert index.candidates(ctx) == (1,)
        ctx["request"]["use_case"] = "bio"
        assert index.candidates(ctx) == (0,)

    @pytest.mark.parametrize("when", [
        'request.model != "a"',
        '!(request.model == "a")',
        'request.model == "a" || org.id.startsWith("b")',
        'request.model == request.use_case',
        'request.model.startsWith("a")',
        'request.risk_scores["bio"] == 1.0',
        'request.score == double("NaN")',
        "request.tokens == 9007199254740992",
    ], ids=str)
    def test_unindexable_shapes_always_run(self, when: str) -> None:
        """Negations, `||` with an unindexable side, calls, map indexing, non-literal and
        huge constants."""
        assert build(when).always == frozenset({0})

    def test_every_useful_path_is_indexed(self) -> None:
        """No cap: twelve rules on twelve paths are all indexed, none runs for every context."""
        schema = ContextSchema({"o": object_of("o", {f"f{i}": STRING for i in range(12)})})
        whens = [(parse(f'o.f{i} == "x"'), {}) for i in range(12)]
        index = RuleIndex.build(whens, schema=schema)
        assert len(index.paths) == 12
        assert index.always == frozenset()
        assert index.candidates({"o": {f"f{i}": "y" for i in range(12)}}) == ()
        assert index.candidates({"o": {"f3": "x", **{f"f{i}": "y" for i in range(3)}}}) == (
            3, *range(4, 12))  # f4..f11 absent: unknown, so those rules run

    def test_the_splitting_path_is_chosen_over_the_popular_one(self) -> None:
        """Rules on one model each, all also on `streaming`: indexed by model, not streaming."""
        whens = [f'request.model == "m{i}" && request.streaming' for i in range(10)]
        index = build(*whens, 'request.streaming')
        assert index.paths == ("request.model", "request.streaming")
        assert index.candidates({"request": {"model": "m3", "streaming": True}}) == (3, 10)
        assert index.candidates({"request": {"model": "zz", "streaming": True}}) == (10,)

    def test_sanctions_pack_is_indexed_beside_many_popular_paths(self) -> None:
        """Country-only rules are indexed however many paths other, more numerous rules use."""
        fields = {f"f{i}": STRING for i in range(10)}
        schema = ContextSchema({
            "o": object_of("o", fields),
            "request": object_of("request", {"origin_country": STRING}),
        })
        whens = [(parse(f'o.f{i} == "v{k}"'), {}) for i in range(10) for k in range(5)]
        sanctions = [(parse(f'request.origin_country == "{c}"'), {})
                     for c in ("AA", "BB", "CC")]
        index = RuleIndex.build(whens + sanctions, schema=schema)
        assert "request.origin_country" in index.paths
        assert index.always == frozenset()
        ctx = {"o": {f"f{i}": "none" for i in range(10)}, "request": {"origin_country": "US"}}
        assert index.candidates(ctx) == ()
        ctx["request"]["origin_country"] = "BB"
        assert index.candidates(ctx) == (51,)


class TestNumbersAndBools:
    """CEL numeric equality and bool/int distinctness."""

    def test_int_constant_matches_a_double_value(self) -> None:
        """`request.score == 1` holds for a score of 1.0 (numbers compare across types)."""
        index = build("request.score == 1")
        assert index.candidates({"request": {"score": 1.0}}) == (0,)
        assert index.candidates({"request": {"score": 1}}) == (0,)
        assert index.candidates({"request": {"score": 1.5}}) == ()

    def test_uint_attribute_accepts_non_negative_ints(self) -> None:
        """A uint attribute given as `2` is coerced and compared; `-1` is a context error."""
        index = build("request.n == 2u")
        assert index.candidates({"request": {"n": 2}}) == (0,)
        assert index.candidates({"request": {"n": UInt(3)}}) == ()
        assert index.candidates({"request": {"n": -1}}) == (0,)

    def test_int_attribute_rejects_doubles_and_bools(self) -> None:
        """An int attribute given as 2.0 or True is a context error: the rule runs."""
        index = build("request.tokens == 3")
        assert index.candidates({"request": {"tokens": 2.0}}) == (0,)
        assert index.candidates({"request": {"tokens": True}}) == (0,)
        assert index.candidates({"request": {"tokens": 2}}) == ()

    def test_bool_constant_is_not_the_number_one(self) -> None:
        """`streaming == true` is indexed apart from numbers (True == 1 only in Python)."""
        index = build("request.streaming == true")
        assert index.candidates({"request": {"streaming": True}}) == (0,)
        assert index.candidates({"request": {"streaming": False}}) == ()

    def test_huge_double_value_matches_no_exact_constant(self) -> None:
        """A double beyond 2**53 cannot equal an exactly indexed integer constant."""
        index = build("request.score == 9007199254740991")
        assert index.candidates({"request": {"score": 1e300}}) == ()
        # NaN is not a value of a finite `double`: the rule runs and reports the error
        assert index.candidates({"request": {"score": float("nan")}}) == (0,)

    def test_without_schema_every_path_is_dyn(self) -> None:
        """With no schema a value is compared as it is: 1.0 meets an int constant 1."""
        index = RuleIndex.build([(parse("request.x == 1"), {})])
        assert index.candidates({"request": {"x": 1.0}}) == (0,)
        assert index.candidates({"request": {"x": "1"}}) == ()
        assert index.candidates({"request": {"x": True}}) == ()


class TestCache:
    """The per-key cache."""

    def test_cache_is_bounded(self) -> None:
        """Thousands of distinct matched values never grow the cache past its bound."""
        template = parse('org.id == "o"')
        assert isinstance(template, Call)
        whens: list[tuple[Expr | None, Mapping[str, Expr]]] = [
            (replace(template, args=(template.args[0], Literal(0, 0, f"o{i}"))), {})
            for i in range(5000)
        ]
        index = RuleIndex.build(whens, schema=SCHEMA)
        for i in range(5000):
            assert index.candidates({"org": {"id": f"o{i}"}}) == (i,)
        assert len(index.known) <= 4096
        assert index.candidates({"org": {"id": "nobody"}}) == ()

    def test_repr_names_the_paths(self) -> None:
        """The repr shows rule count and indexed paths, for debugging."""
        assert "org.id" in repr(build('org.id == "a"'))
        assert len(build("true", "false")) == 2


class TestBareBools:
    """`org.zdr` as a conjunct."""

    def test_declared_bool_path_is_indexed(self) -> None:
        """`request.streaming` and `!request.streaming` select by the bool's value."""
        index = build("request.streaming", "!request.streaming")
        assert index.candidates({"request": {"streaming": True}}) == (0,)
        assert index.candidates({"request": {"streaming": False}}) == (1,)
        assert index.candidates({"request": {"streaming": "yes"}}) == (0, 1)

    def test_non_bool_path_is_not_indexed(self) -> None:
        """A bare string path is an error as a condition, never false: it always runs."""
        assert build("request.model").always == frozenset({0})
