"""The host API on decisions and the engine: allowed, raise_for_deny, require_understood, async."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import pytest

import compliance
from compliance import Engine, ObligationNotUnderstood, RequestDenied

REPO = Path(__file__).resolve().parents[2]
CONTEXTS = REPO / "examples" / "contexts"


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine.from_path(REPO / "rules")


def _context(name: str) -> dict[str, object]:
    data: dict[str, object] = json.loads((CONTEXTS / f"{name}.json").read_text(encoding="utf-8"))
    return data


def test_allowed_and_raise_for_deny_carry_only_user_facing_reasons(engine: Engine) -> None:
    """A deny raises RequestDenied with the rule's reason and the id; an allow does nothing."""
    denied = engine.evaluate(_context("fable5-french-national-after-directive"))
    assert not denied.allowed
    with pytest.raises(RequestDenied) as info:
        denied.raise_for_deny()
    assert info.value.decision_id == denied.decision_id
    assert info.value.reasons == tuple(denied.user_reasons)
    assert any("fable-5 is suspended" in r for r in info.value.reasons)
    assert isinstance(info.value, PermissionError)
    allowed = engine.evaluate(_context("llm-dev-on-mythos5"))
    assert allowed.allowed
    assert allowed.user_reasons == []
    allowed.raise_for_deny()


def test_user_reasons_prefer_refusal_messages_and_hide_fail_closed_internals(
    engine: Engine,
) -> None:
    """A failed-closed refusal shows its honest message, never pack, rule or attribute names."""
    decision = engine.evaluate(_context("bio-missing-risk-score"))
    assert any("risk_scores.bio" in r for r in decision.reasons)  # the audit text names it
    shown = decision.user_reasons
    assert shown == ["This request was declined because our safety checks could not be completed."]
    assert not any("`" in r or "risk_scores" in r for r in shown)


def test_user_reasons_of_a_failed_closed_deny_claim_nothing(packset: Callable[..., Path]) -> None:
    """A deny rule that failed closed does not show its reason (it claims an unknown fact)."""
    root = packset({"p.yaml": """\
        pack: geo
        version: "1"
        tier: policy
        rules:
          - id: no-fr
            when: request.use_case == "weapons"
            effect: deny
            reason: "Weapons requests are not served"
        """})
    engine = Engine.from_path(root)
    base = {"principal": {"id": "p", "kind": "customer", "nationalities": [],
                          "authorizations": []},
            "org": {"id": "o", "zdr": False},
            "request": {"time": "2026-07-01T12:00:00Z", "model": "m", "risk_scores": {}}}
    unknown = engine.evaluate(base)
    assert not unknown.allowed
    assert unknown.user_reasons == [compliance.decision.UNEVALUATED_DENIAL]
    known = engine.evaluate({**base, "request": {**base["request"], "use_case": "weapons"}})
    assert known.user_reasons == ["Weapons requests are not served"]


def test_require_understood_fails_closed_on_an_undeclared_kind(engine: Engine) -> None:
    """A host that cannot discharge `retention_max_days` must not serve a ZDR request."""
    decision = engine.evaluate(_context("zdr-org-on-other-model"))
    kinds = {d.kind for d in decision.obligation_details}
    assert kinds == {"retention_max_days", "training"}
    decision.require_understood(kinds)
    with pytest.raises(ObligationNotUnderstood) as info:
        decision.require_understood(["training"])
    assert info.value.kinds == ("retention_max_days",)
    assert info.value.decision_id == decision.decision_id
    assert "obligation-not-understood" in str(info.value)


def test_evaluate_async_gives_the_sync_decision(engine: Engine) -> None:
    """The async path decides exactly as the sync one (ids and timestamps aside)."""
    for name in ("fable5-french-national-after-directive", "llm-dev-on-mythos5",
                 "zdr-org-on-other-model"):
        context = _context(name)
        sync = engine.evaluate(context)
        got = asyncio.run(engine.evaluate_async(context))
        skip = {"decision_id", "evaluated_at"}
        assert got.model_dump(exclude=skip) == sync.model_dump(exclude=skip)


def test_every_decision_field_type_is_exported() -> None:
    """Every pydantic model a Decision field holds can be imported from `compliance`."""
    from pydantic import BaseModel

    def models(annotation: object) -> set[type[BaseModel]]:
        found: set[type[BaseModel]] = set()
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            found.add(annotation)
            for field in annotation.model_fields.values():
                found |= models(field.annotation)
        for arg in getattr(annotation, "__args__", ()):
            found |= models(arg)
        return found

    for model in models(compliance.Decision):
        assert getattr(compliance, model.__name__, None) is model, model.__name__
