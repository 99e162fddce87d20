"""Work done once per pack (merges, skeletons, missing lists, failed-closed reasons) never
changes a decision.

The plan memoizes what depends only on which rules applied: the obligation merge and the
decision skeleton (effect, model, matches, routing passes). A plan whose memos hold
nothing (``Memo(0)``) recomputes everything on every request: the uncached path. The
shipped example contexts, and contexts bent from them, are decided by both - the cached
plan sees every context twice, after many others, so its answers come from the memo -
and the decisions must be equal field for field (ids and clock aside).
"""

from __future__ import annotations

import copy
import json
import pickle
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from _bending import bend
from compliance import Engine
from compliance.evaluator import evaluate
from compliance.planner import Memo, Plan

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = [json.loads(p.read_text(encoding="utf-8"))
            for p in sorted((ROOT / "examples" / "contexts").glob("*.json"))
            if p.name != "expected.json"]
_VOLATILE = {"decision_id", "evaluated_at"}

_BENDS: dict[tuple[str, str], list[object]] = {
    ("request", "model"): ["fable-5", "mythos-5", "opus-4.8", "haiku-4.5", " Fable-5", 3, None],
    ("request", "use_case"): ["bio", "cyber", "llm-dev", "distillation", "surveillance",
                              "general", True],
    ("request", "origin_country"): ["US", "CU", "IR", "SY", "FR", "RU", None, 1.5],
    ("request", "origin_region"): ["UA-43", "UA-01", None],
    ("request", "time"): ["2026-07-01T12:00:00Z", "2024-01-01T00:00:00Z", "2026-13-01T00:00:00Z",
                          "2026-06-12T21:21:00.000000001Z", 17],
    ("org", "zdr"): [True, False, "yes"],
    ("principal", "nationalities"): [["US"], ["FR"], ["DE", "US"], [], "US"],
    ("principal", "authorizations"): [[], ["BIS-LICENSE-FABLE"]],
}


@st.composite
def bent_contexts(draw: st.DrawFn) -> dict[str, Any]:
    """An example context with a few attributes changed, nulled or removed."""
    return bend(draw, EXAMPLES, _BENDS)


def uncached(plan: Plan) -> Plan:
    """The same plan with memos that store nothing."""
    reasons: Memo[Any, str] = Memo(0)
    rules = tuple(replace(rule, failed_reasons=reasons) for rule in plan.rules)
    return replace(plan, rules=rules, merges=Memo(0), skeletons=Memo(0),
                   missing_lists=Memo(0))


@pytest.fixture(scope="module", params=["default-allow", "default-deny"])
def engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Engine:
    """The shipped packs as shipped, and with the pack set's default effect turned to deny."""
    if request.param == "default-allow":
        return Engine.from_path(ROOT / "rules")
    copy_dir = tmp_path_factory.mktemp("deny") / "rules"
    shutil.copytree(ROOT / "rules", copy_dir)
    manifest = copy_dir / "packset.yaml"
    text = manifest.read_text(encoding="utf-8")
    assert "default_effect: allow" in text
    manifest.write_text(text.replace("default_effect: allow", "default_effect: deny"),
                        encoding="utf-8")
    return Engine.from_path(copy_dir)


def dump(plan: Plan, ctx: dict[str, Any], explain: bool = False) -> dict[str, Any]:
    """A decision as a plain dict, without the fields that differ on every call."""
    out: dict[str, Any] = evaluate(plan, ctx, explain=explain).model_dump(exclude=_VOLATILE)
    return out


def test_examples_decide_the_same_from_the_memo(engine: Engine) -> None:
    """Every example, decided after all the others (memo warm), equals the uncached decision."""
    plan, plain = engine.plan, uncached(engine.plan)
    for ctx in EXAMPLES:
        dump(plan, ctx)
    assert len(plan.skeletons) > 0
    for ctx in EXAMPLES:
        for explain in (False, True):
            assert dump(plan, ctx, explain) == dump(plain, ctx, explain), ctx
    assert len(plain.skeletons) == 0
    assert len(plain.merges) == 0
    assert len(plain.missing_lists) == 0
    assert not any(rule.failed_reasons for rule in plain.rules)
    assert len(plan.missing_lists) > 0
    assert any(rule.failed_reasons for rule in plan.rules)


@settings(max_examples=200)
@given(ctxs=st.lists(bent_contexts(), min_size=1, max_size=6))
def test_bent_contexts_decide_the_same_from_the_memo(engine: Engine,
                                                      ctxs: list[dict[str, Any]]) -> None:
    """Contexts bent from the examples: memo answers equal fresh ones, in any order."""
    plan, plain = engine.plan, uncached(engine.plan)
    first = [dump(plan, ctx) for ctx in ctxs]
    again = [dump(plan, ctx) for ctx in reversed(ctxs)][::-1]
    fresh = [dump(plain, ctx) for ctx in ctxs]
    assert first == again == fresh


def test_shared_lists_refuse_changes_and_the_own_ones_change_nothing_else(engine: Engine
                                                                           ) -> None:
    """The lists a decision shares refuse changes; changing its own ones touches no other."""
    ctx = next(c for c in EXAMPLES if engine.evaluate(c).obligation_details
               and engine.evaluate(c).matched and engine.evaluate(c).reasons)
    first = engine.evaluate(ctx)
    expected = engine.evaluate(ctx).model_dump(exclude=_VOLATILE)
    for shared in (first.matched, first.obligation_details, first.conflicts, first.passes,
                   first.packs):
        for change in (lambda s: s.clear(), lambda s: s.append(None), lambda s: s.pop(),
                       lambda s: s.__setitem__(0, None), lambda s: s.__delitem__(0),
                       lambda s: s.__iadd__([None]), lambda s: s.sort(), lambda s: s.reverse()):
            with pytest.raises(TypeError, match="read-only"):
                change(shared)
    assert list(first.matched) == list(engine.evaluate(ctx).matched)
    first.reasons.clear()
    first.missing.append("request.model")
    first.errors.append(first.errors[0] if first.errors else None)  # type: ignore[arg-type]
    first.interventions.clear()
    assert engine.evaluate(ctx).model_dump(exclude=_VOLATILE) == expected


def test_read_only_lists_copy_and_pickle_as_lists(engine: Engine) -> None:
    """A decision with shared lists deep-copies, pickles and dumps like any other."""
    ctx = next(c for c in EXAMPLES if engine.evaluate(c).matched)
    decision = engine.evaluate(ctx)
    for twin in (copy.deepcopy(decision), pickle.loads(pickle.dumps(decision))):
        assert twin.model_dump() == decision.model_dump()
    assert json.loads(decision.model_dump_json())["matched"] == [
        m.model_dump() for m in decision.matched]


class TestMemo:
    """The bounded memo itself."""

    def test_size_zero_stores_nothing(self) -> None:
        """``Memo(0)`` hands the value back and keeps nothing."""
        memo: Memo[str, int] = Memo(0)
        assert memo.put("a", 1) == 1
        assert memo.get("a") is None
        assert len(memo) == 0

    def test_first_value_wins_and_a_full_memo_starts_over(self) -> None:
        """A second put for a key keeps the first value; the size bound is never exceeded."""
        memo: Memo[int, str] = Memo(3)
        assert memo.put(1, "one") == "one"
        assert memo.put(1, "uno") == "one"
        for k in range(2, 10):
            memo.put(k, str(k))
            assert len(memo) <= 3
        assert memo.get(9) == "9"


def test_threads_sharing_a_small_memo_decide_as_one_thread(engine: Engine) -> None:
    """Four threads over one plan whose memos hold 3 entries (cleared all the time): the same
    decisions as the uncached path, whichever thread filled or emptied the memo."""
    small = replace(engine.plan, merges=Memo(3), skeletons=Memo(3))
    plain = uncached(engine.plan)
    expected = [dump(plain, ctx) for ctx in EXAMPLES]

    def work(_: int) -> list[dict[str, Any]]:
        return [dump(small, ctx) for _ in range(5) for ctx in EXAMPLES]

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(work, range(4)))
    for got in results:
        assert got == expected * 5
