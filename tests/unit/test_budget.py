"""Unit tests for ``compliance.cel.budget``: what each operation charges, and when it is refused."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from compliance import Engine, Limits
from compliance.cel import budget
from compliance.cel.compiler import CompileEnv, compile_expr
from compliance.cel.parser import parse
from compliance.cel.values import CelEvalError


@pytest.fixture
def meter() -> Callable[..., tuple[Any, budget.CostBudget]]:
    """Run CEL text under a fresh budget: ``(value or CelEvalError, the budget)``."""

    def run(text: str, bindings: Mapping[str, Any] | None = None,
            limit: int = budget.DEFAULT_DECISION_BUDGET) -> tuple[Any, budget.CostBudget]:
        program = compile_expr(parse(text), CompileEnv())
        token = budget.start(limit)
        opened = budget.current()
        assert opened is not None
        try:
            try:
                value: Any = program(dict(bindings or {}))
            except CelEvalError as err:
                value = err
            return value, opened.copy()
        finally:
            budget.finish(token)

    return run


class TestCharges:
    """Each size-dependent operation charges what it scans or builds, in static-model steps."""

    def test_small_values_are_free(self, meter: Callable[..., Any]) -> None:
        """Everyday operations on short strings and lists do not touch the budget."""
        value, spent = meter('s + "x" == "abx" && "b" in xs && s.replace("a", "c") == "cb"',
                             {"s": "ab", "xs": ["a", "b"]})
        assert value is True
        assert spent.spent == 0

    def test_concatenation_charges_its_output(self, meter: Callable[..., Any]) -> None:
        """`s + s` of 1000 characters builds 2000: 200 steps."""
        value, spent = meter("size(s + s)", {"s": "x" * 1000})
        assert value == 2000
        assert spent.spent == 200

    def test_list_concatenation_charges_its_elements(self, meter: Callable[..., Any]) -> None:
        """`xs + xs` of 300 elements copies 600."""
        value, spent = meter("size(xs + xs)", {"xs": list(range(300))})
        assert value == 600
        assert spent.spent == 600

    def test_replace_charges_the_scan_and_the_output(self, meter: Callable[..., Any]) -> None:
        """`replace("", "ab")` on 500 chars: scan 50 steps, output 500 + 501 x 2 chars."""
        value, spent = meter('size(s.replace("", "ab"))', {"s": "x" * 500})
        assert value == 500 + 501 * 2
        assert spent.spent == 50 + -(-(500 + 501 * 2) // 10)

    def test_replace_is_refused_before_it_builds(self, meter: Callable[..., Any]) -> None:
        """A 10 000-char `replace('', s)` would build 100M characters: refused, not built."""
        err, spent = meter("s.replace('', s).size()", {"s": "y" * 10_000})
        assert isinstance(err, CelEvalError)
        assert err.code == "cost-limit"
        assert spent.refused == -(-(10_000 + 10_001 * 10_000) // 10)
        assert spent.spent == 1000  # only the scan was spent

    def test_split_and_join_charge_pieces_and_characters(self, meter: Callable[..., Any]) -> None:
        """`split` charges the scan, the pieces' characters and one step per piece; `join` too."""
        text = "a," * 200
        value, spent = meter('s.split(",").join("-").size()', {"s": text})
        assert value == 400
        pieces = 201
        split = 2 * -(-len(text) // 10) + 0  # 201 pieces are under the free size: not charged
        join = -(-400 // 10)
        assert pieces < budget.FREE_SIZE
        assert spent.spent == split + join

    def test_in_over_a_long_list_charges_its_length(self, meter: Callable[..., Any]) -> None:
        """`x in xs` scans the list: one step per element."""
        value, spent = meter('"zz" in xs', {"xs": ["a"] * 5000})
        assert value is False
        assert spent.spent == 5000

    def test_comprehensions_charge_per_element_up_front(self, meter: Callable[..., Any]) -> None:
        """`exists` over 1000 elements charges 1000 x (body nodes + 1) before looping."""
        value, spent = meter("xs.exists(x, x == 3)", {"xs": list(range(1000))})
        assert value is True
        assert spent.spent == 1000 * (3 + 1)

    def test_format_charges_what_it_prints(self, meter: Callable[..., Any]) -> None:
        """`"%s-%s".format([s, s])` with 400-char strings: template free, each piece 40 steps."""
        value, spent = meter('"%s-%s".format([s, s]).size()', {"s": "q" * 400})
        assert value == 801
        assert spent.spent == 40 + 40

    def test_matches_scales_with_the_pattern(self, meter: Callable[..., Any]) -> None:
        """RE2 on 1000 chars with an 8-char pattern: ceil(1000 x 2 / 10) steps."""
        value, spent = meter('s.matches("^x+$abcd")', {"s": "x" * 1000})
        assert value is False
        assert spent.spent == 200


class TestRefusal:
    """What happens once a charge does not fit."""

    def test_the_decision_budget_is_cumulative(self, meter: Callable[..., Any]) -> None:
        """Two 600-step scans fit a 1000-step budget one at a time, not together."""
        value, spent = meter('"zz" in xs', {"xs": ["a"] * 600}, limit=1000)
        assert value is False
        err, spent = meter('"zz" in xs || "zz" in ys', {"xs": ["a"] * 600, "ys": ["a"] * 600},
                           limit=1000)
        assert isinstance(err, CelEvalError)
        assert err.code == "cost-limit"
        assert (spent.spent, spent.refused) == (600, 600)

    def test_a_refusal_inside_a_macro_is_not_absorbed(self, meter: Callable[..., Any]) -> None:
        """`exists` would let a later `true` absorb an element's error; not a refused charge."""
        err, _ = meter("[1, 2].exists(i, i == 2 || size(s + s) > 0)", {"s": "x" * 1_000_000})
        assert isinstance(err, CelEvalError)
        assert err.code == "cost-limit"
        value, _ = meter("[1, 2].exists(i, i == 2 || size(s + s) > 0)", {"s": "x"})
        assert value is True

    def test_outside_a_decision_only_single_huge_operations_fail(self) -> None:
        """A program called directly keeps no total, but one oversized operation still fails."""
        assert budget.current() is None
        program = compile_expr(parse('"zz" in xs'), CompileEnv())
        assert program({"xs": ["a"] * 50_000}) is False
        with pytest.raises(CelEvalError) as info:
            program({"xs": ["a"] * (budget.DEFAULT_DECISION_BUDGET + 1)})
        assert info.value.code == "cost-limit"

    def test_budgets_nest_and_restore(self) -> None:
        """`finish` restores the enclosing budget (a decision inside a decision)."""
        outer = budget.start(10)
        inner = budget.start(20)
        opened = budget.current()
        assert opened is not None
        assert opened.limit == 20
        budget.finish(inner)
        restored = budget.current()
        assert restored is not None
        assert restored.limit == 10
        budget.finish(outer)
        assert budget.current() is None


ABSORBED = """\
pack: p
version: "1"
tier: policy
rules:
  - id: absorbed
    when: >-
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map(i, request.model + request.model).size() > 0
      || request.model.startsWith("x")
    effect: allow
"""


def test_a_refused_charge_absorbed_by_logic_still_fails_closed(
    packset: Callable[..., Path]
) -> None:
    """`error || true` is true in CEL, but work was refused: the rule fails closed anyway."""
    roomy = Limits(max_string=10_000_000)  # the default limit would refuse the value first
    engine = Engine.from_path(packset({"p.yaml": ABSORBED}, default="deny"), limits=roomy)
    decision = engine.evaluate({"request": {"model": "x" * 1_000_000}})
    assert decision.effect == "deny"
    assert [(e.rule, e.code) for e in decision.errors] == [("absorbed", "cost-limit")]
    small = engine.evaluate({"request": {"model": "x"}})
    assert (small.effect, small.errors) == ("allow", [])
