"""The measured resource attacks of issue 6: each is rejected by ``check`` or stopped at run time.

For each attack the test asserts what bounds it: the static model (``cost-exceeded``) where
the rule is expensive within the assumed sizes, and the run-time budget (``cost-limit``,
fail closed) where only an oversized context makes it expensive. Work is asserted on the
budget's counter (what was spent, and the charge that was refused *before* the work was
done), memory on tracemalloc's peak over ``evaluate()``; no wall-clock assertions.
"""

from __future__ import annotations

import textwrap
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from compliance import Engine, Limits, evaluator
from compliance.cel import budget
from compliance.checker import check_pack_set
from compliance.errors import EvaluationError
from compliance.loader import load_pack_set

MEMORY_BOUND = 10 * 1024 * 1024
"""The issue's goal: no accepted rule takes more than 10 MB (the peak over one decision)."""

REPLACE = "request.model.replace('', request.model).size() > 0"
REPLACE_TWICE = "request.model.replace('', request.model).replace('', request.model).size() > 0"
FORTY = "[" + ", ".join(str(i) for i in range(40)) + "]"
TWENTY = "[" + ", ".join(str(i) for i in range(20)) + "]"
IN_SCAN = FORTY + ".all(i, !('zz' in principal.authorizations))"
DOUBLING = TWENTY + ".map(i, request.model + request.model).size() > 0"


def _pack(when: str) -> str:
    """A one-rule pack denying when ``when`` holds (a folded scalar: no YAML quoting)."""
    return textwrap.dedent("""\
        pack: attack
        version: "1"
        tier: policy
        rules:
          - id: costly
            when: >-
              {when}
            effect: deny
        """).format(when=when)


UNLIMITED = Limits(max_depth=32, max_string=10**9, max_list=10**9, max_map=10**9)
"""Context-value limits raised out of the way, so the run-time budget alone is tested.

With the default limits (1024 characters or elements) the oversized values below are
refused where they are read (``bad-context``), before any rule works on them:
``test_default_limits_refuse_the_attack_values`` shows that first line of defence.
"""


@pytest.fixture
def engine_for(packset: Callable[..., Path]) -> Callable[..., Engine]:
    """An engine for one rule; ``static=False`` skips the static budget (defence in depth)."""

    def make(when: str, *, static: bool = True, limits: Limits = UNLIMITED) -> Engine:
        directory = packset({"attack.yaml": _pack(when)})
        if static:
            return Engine.from_path(directory, limits=limits)
        pack_set, diagnostics = load_pack_set([directory])
        assert pack_set is not None, diagnostics.sorted()
        report = check_pack_set(pack_set, check_costs=False)
        assert report.checked is not None, report.errors
        return Engine(report.checked, limits=limits)

    return make


def _static_codes(packset: Callable[..., Path], when: str) -> set[str]:
    pack_set, _ = load_pack_set([packset({"attack.yaml": _pack(when)})])
    assert pack_set is not None
    return {d.code for d in check_pack_set(pack_set).errors}


class _Spy:
    """Records the budget of each decision ``evaluate`` closes (to read its counters)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.budgets: list[budget.CostBudget] = []
        real = budget.finish

        def finish(saved: Any) -> None:
            live = budget.current()
            assert live is not None
            self.budgets.append(live.copy())
            real(saved)

        monkeypatch.setattr(budget, "finish", finish)


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> _Spy:
    return _Spy(monkeypatch)


@pytest.fixture(autouse=True)
def _no_context_digest(monkeypatch: pytest.MonkeyPatch) -> None:
    """Leave the context digest out of the memory measured here.

    The digest encodes the whole document (its cost is proportional to the document's size,
    which hosts and the CLI's reader bound), not work a rule does; what these tests bound is
    the work of rules.
    """
    monkeypatch.setattr(evaluator, "context_json", lambda _obj: b"{}")


def _decide(engine: Engine, context: dict[str, Any]) -> tuple[Any, int]:
    """Evaluate once under tracemalloc; the decision and the peak bytes allocated meanwhile."""
    tracemalloc.start()
    try:
        decision = engine.evaluate(context)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return decision, peak


def _assert_stopped(decision: Any, peak: int, spy: _Spy, *, refused_at_least: int) -> None:
    """Failed closed with `cost-limit`, within the memory bound, the big charge refused."""
    assert decision.effect == "deny"
    assert [e.code for e in decision.errors] == ["cost-limit"]
    assert decision.errors[0].rule == "costly"
    assert peak < MEMORY_BOUND
    (spent,) = spy.budgets
    assert spent.spent <= spent.limit == budget.DEFAULT_DECISION_BUDGET
    assert spent.refused >= refused_at_least  # the work it would have done was counted first


@pytest.mark.parametrize("when", [REPLACE, REPLACE_TWICE], ids=["replace", "replace-twice"])
def test_replace_growth_is_rejected_by_check(packset: Callable[..., Path], when: str) -> None:
    """`replace('', s)` squares its input: over the per-rule budget at the assumed 1024 chars."""
    assert _static_codes(packset, when) == {"cost-exceeded"}


@pytest.mark.parametrize("size", [30_000, 100_000])
def test_replace_on_a_long_model_is_stopped_at_run_time(
    engine_for: Callable[..., Engine], spy: _Spy, size: int
) -> None:
    """Without the static check, the budget refuses the 900M-character output before building it."""
    engine = engine_for(REPLACE, static=False)
    decision, peak = _decide(engine, {"request": {"model": "m" * size}})
    _assert_stopped(decision, peak, spy, refused_at_least=size * size // budget.CHARS_PER_UNIT)


def test_replace_twice_at_1000_chars_is_stopped_at_run_time(
    engine_for: Callable[..., Engine], spy: _Spy
) -> None:
    """Inside the 1024-character assumption, the first million-character output is refused."""
    engine = engine_for(REPLACE_TWICE, static=False)
    decision, peak = _decide(engine, {"request": {"model": "m" * 1000}})
    _assert_stopped(decision, peak, spy, refused_at_least=100_000)


def test_in_over_a_huge_list_is_stopped_at_run_time(
    engine_for: Callable[..., Engine], spy: _Spy
) -> None:
    """40 scans of a 10M-item list: accepted (1000 items assumed), the first scan refused."""
    engine = engine_for(IN_SCAN)  # the static model accepts it: the list is assumed bounded
    authorizations = [f"a{i}" for i in range(10_000_000)]
    decision, peak = _decide(engine, {"principal": {"authorizations": authorizations}})
    _assert_stopped(decision, peak, spy, refused_at_least=10_000_000)


def test_doubling_a_huge_string_in_map_is_stopped_at_run_time(
    engine_for: Callable[..., Engine], spy: _Spy
) -> None:
    """`m + m` twenty times on a 40 MB string: the first 80M-character concatenation refused."""
    engine = engine_for(DOUBLING)
    decision, peak = _decide(engine, {"request": {"model": "m" * 40_000_000}})
    _assert_stopped(decision, peak, spy, refused_at_least=8_000_000)


@pytest.mark.parametrize("when", [IN_SCAN, DOUBLING], ids=["in-scan", "doubling"])
def test_attacks_within_the_assumed_sizes_are_decided(
    engine_for: Callable[..., Engine], spy: _Spy, when: str
) -> None:
    """The same accepted rules on contexts within the assumptions decide normally, in bounds."""
    engine = engine_for(when)
    context = {"request": {"model": "m" * 1024},
               "principal": {"authorizations": [f"a{i}" for i in range(1000)]}}
    decision, peak = _decide(engine, context)
    assert decision.errors == []
    assert decision.effect == "deny"  # both conditions hold: the deny rule applies
    assert peak < MEMORY_BOUND
    assert spy.budgets[0].refused == 0


def test_strict_mode_raises_cost_limit(engine_for: Callable[..., Engine]) -> None:
    """`strict=True` turns the refused charge into an `EvaluationError` with the code."""
    engine = engine_for(DOUBLING)
    with pytest.raises(EvaluationError) as info:
        engine.evaluate({"request": {"model": "m" * 1_000_000}}, strict=True)
    assert info.value.code == "cost-limit"


def test_the_limit_is_configurable(packset: Callable[..., Path]) -> None:
    """A larger `cost_limit` lets the 2M-character doubling run; the default refuses it."""
    directory = packset({"attack.yaml": _pack(DOUBLING)})
    context = {"request": {"model": "m" * 100_000}}
    default = Engine.from_path(directory, limits=UNLIMITED)
    assert [e.code for e in default.evaluate(context).errors] == ["cost-limit"]
    roomy = Engine.from_path(directory, cost_limit=10_000_000, limits=UNLIMITED)
    assert roomy.evaluate(context).errors == []


@pytest.mark.parametrize(("when", "context"), [
    (IN_SCAN, {"principal": {"authorizations": [f"a{i}" for i in range(100_000)]}}),
    (DOUBLING, {"request": {"model": "m" * 4_000_000}}),
], ids=["in-scan", "doubling"])
def test_default_limits_refuse_the_attack_values(
    engine_for: Callable[..., Engine], when: str, context: dict[str, Any]
) -> None:
    """Within the default limits the oversized value never reaches a rule: `bad-context`."""
    engine = engine_for(when, limits=Limits())
    decision, peak = _decide(engine, context)
    assert decision.effect == "deny"
    assert [e.code for e in decision.errors] == ["bad-context"]
    assert peak < MEMORY_BOUND
