"""The explain trace (an instrumented evaluation) agrees with the normal path, rule by rule.

The trace's top value of ``when``/``unless`` must be what the generated code decided: the
rule's explanation status follows from it (applied, condition false, exception held, unknown).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from compliance.cel.trace import trace_lines
from compliance.decision import Decision
from compliance.engine import Engine

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples" / "contexts").glob("*.json"))


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine.from_path(ROOT / "rules")


def _agrees(decision: Decision) -> int:
    """Check every explained rule against its trace; the number of traced rules."""
    traced = 0
    assert decision.explanation is not None
    for x in decision.explanation:
        if x.status == "not-effective":
            assert x.trace is None
            continue
        assert x.trace is not None, x
        traced += 1
        when, unless = x.trace.when, x.trace.unless
        if x.status == "condition-false":
            assert when is not None
            assert when["state"] == "value"
            assert when["value"] is False
            assert unless is None or unless["state"] == "not-evaluated"
        elif x.status == "exception-held":
            # A held exception wins over a `when` that was true, unknown or an error (a bad
            # value it read): the rule does not apply either way, as the evaluator decides.
            assert when is None or when.get("value") is True or when["state"] in (
                "unknown", "error")
            assert unless is not None
            assert unless.get("value") is True
        elif x.status == "applied":
            assert when is None or (when["state"] == "value" and when["value"] is True)
            assert unless is None or (unless["state"] == "value" and unless["value"] is False)
        elif x.status in ("unknown-applied", "unknown-skipped"):
            tops = [t for t in (when, unless) if t is not None]
            assert any(t["state"] == "unknown" for t in tops) or x.missing == ["request.time"]
            assert not any(t.get("value") is False and t is when for t in tops)
            missing = {m for t in tops for m in t.get("missing", ())}
            # a window left undecided by an absent request.time adds only that path
            assert missing <= set(x.missing) <= missing | {"request.time"}
        elif x.status == "error":
            tops = [t for t in (when, unless) if t is not None]
            assert any(t["state"] in ("error", "unknown") for t in tops)
        trace_lines(when, unless)  # renders without failing
    return traced


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_trace_agrees_on_examples(engine: Engine, path: Path) -> None:
    context = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(context, dict) or "request" not in context:
        pytest.skip("not a context")
    assert _agrees(engine.evaluate(context, explain=True)) > 0


def test_explain_does_not_change_the_decision(engine: Engine) -> None:
    for path in EXAMPLES:
        context = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(context, dict) or "request" not in context:
            continue
        plain, explained = engine.evaluate(context), engine.evaluate(context, explain=True)
        assert (plain.effect, plain.matched, plain.missing) == (
            explained.effect, explained.matched, explained.missing)


_COUNTRIES = st.sampled_from(["US", "FR", "DE", "CU", "IR", "SY", "GB"])
_SCORE = st.one_of(st.floats(0, 1, allow_nan=False), st.just("high"), st.none())


@st.composite
def _contexts(draw: Any) -> dict[str, Any]:
    request: dict[str, Any] = {
        "time": draw(st.sampled_from(["2026-01-01T00:00:00Z", "2026-07-01T00:00:00Z"])),
        "model": draw(st.sampled_from(["fable-5", "mythos-5", "haiku-3", 7])),
        "use_case": draw(st.sampled_from(["coding", "bio", "chem", "cyber", "llm-dev",
                                          "distillation", "surveillance"])),
        "origin_country": draw(_COUNTRIES),
    }
    if draw(st.booleans()):
        request["risk_scores"] = {k: v for k in ("bio", "chem", "cyber")
                                  if (v := draw(_SCORE)) is not None}
    principal: dict[str, Any] = {}
    if draw(st.booleans()):
        principal["nationalities"] = draw(st.lists(_COUNTRIES, max_size=2))
    if draw(st.booleans()):
        principal["permanent_residence"] = draw(st.lists(_COUNTRIES, max_size=2))
    if draw(st.booleans()):
        principal["nationality_verified"] = draw(st.one_of(st.booleans(), st.just("yes")))
    if draw(st.booleans()):
        principal["authorizations"] = draw(st.lists(st.sampled_from(
            ["BIS-LICENSE-FABLE", "OTHER"]), max_size=2))
    context: dict[str, Any] = {"request": request, "principal": principal}
    if draw(st.booleans()):
        context["org"] = {"zdr": draw(st.one_of(st.booleans(), st.just(1)))}
    if draw(st.booleans()):
        del context["request"][draw(st.sampled_from(sorted(request)))]
    return context


@given(context=_contexts())
def test_trace_agrees_on_generated_contexts(context: dict[str, Any]) -> None:
    engine = _ENGINE.get("e") or _ENGINE.setdefault("e", Engine.from_path(ROOT / "rules"))
    _agrees(engine.evaluate(context, explain=True))


_ENGINE: dict[str, Engine] = {}
