"""Resource escapes from reading context values: errors on their path, never exceptions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from compliance import Engine
from compliance.cel.types import Limits
from compliance.errors import EvaluationError

RULES = Path(__file__).resolve().parents[2] / "rules"
ORIGINAL = json.loads((Path(__file__).resolve().parents[2] / "examples" / "contexts"
                       / "fable5-us-citizen-after-directive.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine.from_path(RULES)


def with_request(**values: Any) -> dict[str, Any]:
    context = json.loads(json.dumps(ORIGINAL))
    context["request"].update(values)
    return context


def serialises(decision: Any) -> None:
    """The decision's own fields serialise (the context digest is the evaluator's concern)."""
    json.loads(decision.model_dump_json(exclude={"context_digest"}))


def nested(depth: int) -> object:
    value: object = 0.5
    for _ in range(depth):
        value = {"bio": value}
    return value


class TestEscapes:
    @pytest.mark.parametrize("scores", [
        pytest.param({"bio": 10**400}, id="401-digit-integer"),
        pytest.param(nested(1000), id="nested-1000"),
        pytest.param({f"k{i}": 0.0 for i in range(5000)}, id="oversized-map"),
    ])
    def test_malformed_scores_deny_and_serialise(self, engine: Engine, scores: object) -> None:
        """Each is an error on `request.risk_scores`, and the decision serialises."""
        decision = engine.evaluate(with_request(use_case="bio", risk_scores=scores))
        assert decision.effect == "deny"
        assert any("request.risk_scores" in e.message for e in decision.errors)
        serialises(decision)

    def test_lone_surrogate_string_never_reaches_a_rule(self, engine: Engine) -> None:
        """A model id with a lone surrogate is an error; the message escapes it."""
        decision = engine.evaluate(with_request(model="fable-5\ud800"))
        assert decision.effect == "deny"
        assert any("`request.model` is not valid Unicode" in e.message for e in decision.errors)
        serialises(decision)

    def test_huge_string_is_an_error(self, engine: Engine) -> None:
        """A 10 MB use case is over the string limit: an error naming the limit."""
        decision = engine.evaluate(with_request(use_case="x" * 10_000_000))
        assert decision.effect == "deny"
        assert any("longer than 1024 characters" in e.message for e in decision.errors)

    def test_limits_are_configurable(self) -> None:
        """`Engine(limits=...)` tightens what a context may hold."""
        tight = Engine.from_path(RULES, limits=Limits(max_string=8))
        assert tight.limits.max_string == 8
        decision = tight.evaluate(with_request(use_case="long-use-case"))
        assert decision.effect == "deny"
        assert any("longer than 8 characters" in e.message for e in decision.errors)

    def test_strict_mode_raises_evaluation_error(self, engine: Engine) -> None:
        """Strict mode turns the path error into `EvaluationError`, not OverflowError."""
        with pytest.raises(EvaluationError, match="risk_scores"):
            engine.evaluate(with_request(use_case="bio", risk_scores={"bio": 10**400}),
                            strict=True)

    def test_well_formed_example_is_unchanged(self, engine: Engine) -> None:
        """The shipped example still decides without errors."""
        assert not engine.evaluate(ORIGINAL).errors


class TestRequestTimeObjects:
    def test_aware_datetime_and_timestamp_are_used_as_is(self, engine: Engine) -> None:
        """An aware `datetime` or a `Timestamp` decides like the equivalent RFC 3339 text."""
        from datetime import UTC, datetime

        from compliance.cel.values import parse_timestamp

        text = ORIGINAL["request"]["time"]
        stamp = parse_timestamp(text)
        baseline = engine.evaluate(ORIGINAL)
        for value in (stamp, stamp.to_datetime(), datetime.fromtimestamp(stamp.seconds, UTC)):
            decision = engine.evaluate(with_request(time=value))
            assert (decision.effect, decision.errors) == (baseline.effect, baseline.errors)
            assert decision.valid_until == baseline.valid_until

    def test_naive_datetime_is_an_error(self, engine: Engine) -> None:
        """A naive `datetime` has no instant: an error on `request.time`, failing closed."""
        from datetime import datetime

        decision = engine.evaluate(with_request(time=datetime(2026, 6, 15, 12)))
        assert decision.effect == "deny"
        assert any("`request.time`" in e.message and "time zone" in e.message
                   for e in decision.errors)


def test_reload_keeps_the_limits() -> None:
    """A reloaded engine reads contexts within the same configured limits."""
    from compliance import EngineHolder

    holder = EngineHolder(Engine.from_path(RULES, limits=Limits(max_list=2)))
    assert holder.reload(RULES).limits.max_list == 2


def test_an_unknown_object_in_a_context_is_a_bad_value_not_an_unknown(tmp_path: Path) -> None:
    """Generated conditions return their unknowns as values, and the evaluator reads a
    returned ``CelUnknown`` as undecided. A context cannot use that to make a rule skip
    itself: a ``CelUnknown`` placed in a context is not a JSON value, so reading it is a
    `bad-context` error (the rule fails closed), never an unknown with the paths it names."""
    from compliance.cel.values import CelUnknown

    (tmp_path / "packset.yaml").write_text(
        "packset: t\ncontext:\n  request:\n    x: dyn\n", encoding="utf-8")
    (tmp_path / "p.yaml").write_text(
        'pack: p\nversion: "1"\ntier: policy\nrules:\n  - id: r\n    when: request.x\n'
        "    effect: deny\n    on_unknown: skip\n", encoding="utf-8")
    decision = Engine.from_path(tmp_path).evaluate(
        {"request": {"x": CelUnknown(frozenset({"spoofed"}))}})
    assert decision.effect == "deny"
    assert [e.code for e in decision.errors] == ["bad-context"]
    assert decision.missing == []
