"""Unit tests for ``compliance.cel.cost``: concrete bounds for concrete expressions."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from compliance.cel.ast import Expr
from compliance.cel.cost import (
    DEFAULT_MAX_LIST,
    DEFAULT_MAX_STRING,
    SizeAssumptions,
    estimate_cost,
)
from compliance.cel.parser import parse
from compliance.cel.types import Limits
from compliance.checker import CheckedPackSet, check_pack_set
from compliance.checker._cost import check_cost
from compliance.loader import load_pack_set, load_schema_file

REPO = Path(__file__).resolve().parents[2]
SCHEMA, _ = load_schema_file(REPO / "rules" / "packset.yaml")
RESTRICTED = {"restricted": parse('request.model in ["a", "b"]')}
ROUND = SizeAssumptions(max_string=1024, max_list=1000)
"""Round sizes the formulas below are written for (the defaults follow ``Limits``)."""


def cost(text: str, variables: Mapping[str, Expr] | None = None, **kw: Any) -> int:
    """The estimate for CEL ``text`` against the canonical context schema, at ``ROUND`` sizes."""
    kw.setdefault("sizes", ROUND)
    return estimate_cost(parse(text), SCHEMA, variables or {}, **kw)


class TestEstimate:
    """Concrete numbers: each node is 1, plus scans."""

    @pytest.mark.parametrize(("expected", "text"), [
        (5, 'request.model == "fable-5"'),  # 4 nodes + one 10-char chunk of the literal
        (6, 'request.model in ["fable-5", "mythos-5"]'),  # a literal list is a hash look-up
        (6, 'request.risk_scores["bio"] >= 0.8'),
        (4, '"bio" in request.risk_scores'),  # map membership is a hash look-up
        (1004, '"US" in principal.nationalities'),  # a context list is scanned: 1000
        (17, "[1, 2, 3].map(x, x * 2)"),  # 1 + range 4 + 3 elements x (body 3 + 1)
    ], ids=str)
    def test_simple_expressions(self, expected: int, text: str) -> None:
        """Node counts and list scans for everyday conditions."""
        assert cost(text) == expected

    def test_comprehension_over_unknown_list_counts_the_default_maximum(self) -> None:
        """`exists` over a context list: 1 + range 2 + max_list x (body 4 + 1)."""
        text = 'principal.nationalities.exists(n, n == "US")'
        assert cost(text) == 5003
        assert cost(text, sizes=SizeAssumptions()) == 3 + DEFAULT_MAX_LIST * 5

    def test_default_sizes_are_the_context_value_limits(self) -> None:
        """What `check` assumes is what the reader enforces: one set of numbers."""
        assert (Limits().max_string, Limits().max_list) == (DEFAULT_MAX_STRING, DEFAULT_MAX_LIST)

    def test_declared_maximum_replaces_the_default(self) -> None:
        """A declared maximum of 4 nationalities bounds the same comprehension at 23."""
        sizes = SizeAssumptions(sizes={"principal.nationalities": 4})
        assert cost('principal.nationalities.exists(n, n == "US")', sizes=sizes) == 23

    def test_nested_comprehensions_multiply(self) -> None:
        """An `all` inside an `exists` over two unknown lists costs a million-odd steps."""
        text = "principal.nationalities.all(a, principal.authorizations.exists(b, a == b))"
        assert cost(text) == 1 + 2 + 1000 * (1 + (1 + 2 + 1000 * (3 + 1)))

    def test_matches_scales_with_subject_and_pattern(self) -> None:
        """`matches` on a context string: 4 nodes + ceil(1024/10) x ceil(14/4)."""
        assert cost('request.model.matches("^fable-[0-9]+$")') == 4 + 103 * 4
        short = SizeAssumptions(max_string=10)
        assert cost('request.model.matches("^fable-[0-9]+$")', sizes=short) == 4 + 1 * 4

    def test_string_functions_scan_their_strings(self) -> None:
        """`startsWith` scans the context string (103) and the literal (1)."""
        assert cost('request.model.startsWith("fable")') == 4 + 103 + 1

    def test_variables_count_where_used(self) -> None:
        """Each use of `vars.restricted` (6) costs it again, plus the reference node."""
        assert cost("vars.restricted && vars.restricted", RESTRICTED) == 1 + 2 * (1 + 6)

    def test_self_referencing_variable_does_not_loop(self) -> None:
        """A variable cycle (a check error elsewhere) still gives a finite estimate."""
        loop = {"a": parse("vars.a && true")}
        assert cost("vars.a", loop) == 1 + (1 + 1 + 1)

    def test_list_concatenation_counts_both_lists(self) -> None:
        """`exists` over `list + [x]` iterates the sum of both bounds."""
        text = '(principal.nationalities + ["US"]).exists(n, n == "US")'
        assert cost(text) == 1 + (1 + 2 + 2 + 1000 + 1) + 1001 * 5


class TestSizePropagation:
    """Output sizes flow through the expression: what consumes a built value pays its size."""

    def test_replace_with_an_empty_pattern_squares_the_input(self) -> None:
        """1024 chars + 1025 insertions of 1024 chars: 9 nodes, two scans, ~1M chars built."""
        out = 1024 + 1025 * 1024
        assert cost("request.model.replace('', request.model).size() > 0") == (
            9 + 2 * 103 + -(-out // 10))

    def test_replace_chained_twice_is_far_over_the_rule_budget(self) -> None:
        """The second replace inserts 1024 chars at each of ~1M positions."""
        once = cost("request.model.replace('', request.model).size() > 0")
        twice = cost("request.model.replace('', request.model).replace('', request.model)"
                     ".size() > 0")
        assert twice > 1000 * once

    def test_replace_with_a_literal_pattern_is_bounded_by_its_matches(self) -> None:
        """`replace("ab", "xyz")` grows by at most 1 char per 2: 1024 + 512 characters out."""
        out = 1024 + 512
        assert cost('request.model.replace("ab", "xyz") == "q"') == (
            7 + 103 + 1 + 1 + -(-out // 10) + 1)

    def test_concatenation_size_reaches_the_consumer(self) -> None:
        """`(m + m).contains("x")` scans 2048 characters, built by the `+` (205 each)."""
        assert cost('(request.model + request.model).contains("x")') == 7 + 205 + 205 + 1

    def test_map_elements_are_as_big_as_the_body(self) -> None:
        """`join` of a `map` of `m + m` builds 3 x 2048 characters."""
        text = '[1, 2, 3].map(i, request.model + request.model).join() == ""'
        body = 1 + 2 + 2 + 205  # `+`, two selects, the concatenation
        comprehension = 1 + 4 + 3 * (body + 1)
        joined = -(-3 * 2048 // 10)
        assert cost(text) == 1 + 1 + (1 + comprehension + joined) + 0

    def test_in_over_split_scans_its_pieces(self) -> None:
        """`split` of a context string gives up to 1025 pieces: `in` scans them all."""
        text = '"a" in request.model.split(",")'
        split = 1 + 2 + 1 + 2 * (103 + 1) + 1025
        assert cost(text) == 1 + 1 + split + 1025

    def test_list_concatenation_feeds_in(self) -> None:
        """`x in list + list` scans both lists' bounds (and copies them)."""
        text = '"a" in principal.nationalities + principal.authorizations'
        assert cost(text) == 1 + 1 + (1 + 2 + 2 + 2000) + 2000

    def test_iteration_variable_has_the_element_size(self) -> None:
        """Each element of a context `list<string>` is a 1024-char string when it is scanned."""
        text = 'principal.nationalities.exists(n, n.contains("x"))'
        assert cost(text) == 1 + 2 + 1000 * (1 + 1 + 1 + 103 + 1 + 1)

    def test_list_equality_compares_element_by_element(self) -> None:
        """`==` between two context lists may compare up to 1000 elements."""
        text = "principal.nationalities == principal.authorizations"
        assert cost(text) == 5 + 1000

    def test_declared_string_size_bounds_replace(self) -> None:
        """A declared 10-character model keeps `replace('', m)` small."""
        sizes = SizeAssumptions(sizes={"request.model": 10})
        out = 10 + 11 * 10
        assert cost("request.model.replace('', request.model).size() > 0", sizes=sizes) == (
            9 + 2 * 1 + -(-out // 10))


def _checked(directory: Path) -> CheckedPackSet:
    """Load and check a pack set directory (it must be free of check errors)."""
    pack_set, diagnostics = load_pack_set([directory])
    assert pack_set is not None, diagnostics.sorted()
    report = check_pack_set(pack_set, check_costs=False)
    assert report.checked is not None, report.errors
    return report.checked


NESTED = """\
pack: p
version: "1"
tier: policy
rules:
  - id: cheap
    when: request.model == "a"
    effect: deny
  - id: quadratic
    when: >-
      principal.nationalities.all(a, principal.authorizations.exists(b, a == b))
    effect: deny
"""


class TestCheckCost:
    """The `cost-exceeded` check pass."""

    def test_shipped_rules_are_within_budget(self) -> None:
        """Every pack in rules/ passes the default budgets."""
        assert check_cost(_checked(REPO / "rules")) == []

    def test_quadratic_rule_is_reported_at_its_when(self, packset: Callable[..., Path]) -> None:
        """A nested comprehension over two unknown lists exceeds the per-rule budget."""
        checked = _checked(packset({"p.yaml": NESTED}))
        diagnostics = check_cost(checked)
        assert [d.code for d in diagnostics] == ["cost-exceeded", "cost-exceeded"]
        per_rule = diagnostics[0]
        assert "`quadratic`" in per_rule.message
        when = checked.packs[0].rules[1].rule.when
        assert when is not None
        assert per_rule.span == when.span

    def test_check_pack_set_applies_the_budget(self, packset: Callable[..., Path]) -> None:
        """By default the checker reports `cost-exceeded` and withholds the checked set."""
        pack_set, _ = load_pack_set([packset({"p.yaml": NESTED})])
        assert pack_set is not None
        report = check_pack_set(pack_set)
        assert report.checked is None
        assert {d.code for d in report.errors} == {"cost-exceeded"}

    def test_total_budget_names_the_most_expensive_rule(self,
                                                        packset: Callable[..., Path]) -> None:
        """Over the set budget only: one diagnostic naming the worst rule."""
        diagnostics = check_cost(_checked(packset({"p.yaml": NESTED})),
                                 budget_per_rule=10**9, budget_total=100)
        assert len(diagnostics) == 1
        assert "`quadratic`" in diagnostics[0].message
