"""rules/zdr-contract.yaml and rules/safety-retention.yaml: obligations, merge and the conflict."""

from __future__ import annotations

import pytest
from policy_helpers import RESTRICTED, SAFETY, ZDR, foreign, make_context, matched

ZDR_ORG = {"org.zdr": True, "org.plan": "enterprise"}


def test_plain_org_on_other_model_has_no_retention_obligation(engine):
    d = engine.evaluate(make_context(request__model="opus-4.8"))
    assert d.effect == "allow"
    assert d.obligations.retention_min_days is None
    assert d.obligations.retention_max_days is None
    assert d.obligations.training is None
    assert ZDR not in matched(d)
    assert SAFETY not in matched(d)
    assert d.conflicts == []


def test_zdr_org_on_other_model_retains_nothing(engine):
    d = engine.evaluate(make_context({**ZDR_ORG, "request.model": "opus-4.8"}))
    assert d.effect == "allow"
    assert d.obligations.retention_max_days == 0
    assert d.obligations.retention_min_days is None
    assert d.obligations.training == "prohibited"
    assert d.conflicts == []
    assert ZDR in matched(d)
    assert SAFETY not in matched(d)


@pytest.mark.parametrize("model", RESTRICTED)
def test_safety_retention_on_frontier_models(engine, model):
    d = engine.evaluate(make_context(request__model=model))
    assert d.effect == "allow"
    assert d.obligations.retention_min_days == 30
    assert d.obligations.retention_max_days is None
    assert d.obligations.training == "prohibited"
    assert d.obligations.retention_purpose == ["safety-review"]
    assert d.conflicts == []
    assert SAFETY in matched(d)
    match = next(m for m in d.matched if (m.pack, m.rule) == SAFETY)
    assert match.effect == "obligate"


@pytest.mark.parametrize("model", RESTRICTED)
def test_zdr_org_on_frontier_model_safety_retention_wins(engine, model):
    d = engine.evaluate(make_context({**ZDR_ORG, "request.model": model}))
    assert d.effect == "allow"
    assert d.model == model
    assert d.obligations.retention_min_days == 30
    assert d.obligations.retention_max_days is None
    assert d.obligations.training == "prohibited"
    assert {ZDR, SAFETY} <= matched(d)
    assert len(d.conflicts) == 1
    conflict = d.conflicts[0]
    assert conflict.obligation.startswith("retention")
    assert (conflict.winner.pack, conflict.winner.rule) == SAFETY
    assert [(o.pack, o.rule) for o in conflict.overridden] == [ZDR]
    # the conflict record cites the override's justification
    assert "Safety review of frontier-model misuse" in conflict.why


def test_obligations_kept_when_denied(engine):
    """Obligations are merged for denied requests too (docs/semantics.md, "Obligations")."""
    d = engine.evaluate(foreign("FR", org__zdr=True))
    assert d.effect == "deny"
    assert d.obligations.retention_min_days == 30
    assert d.obligations.training == "prohibited"
    assert len(d.conflicts) == 1


def test_zdr_missing_does_not_deny_and_is_reported(engine):
    from policy_helpers import ABSENT

    d = engine.evaluate(make_context({"org.zdr": ABSENT, "request.model": "opus-4.8"}))
    assert d.effect == "allow"
    assert ZDR not in matched(d)
    assert d.obligations.retention_max_days is None
    # an obligation-only rule skips on unknown; its absence could change the obligations,
    # so reporting it is allowed, but nothing else may be missing
    assert set(d.missing) <= {"org.zdr"}


def test_routed_request_keeps_frontier_retention(engine):
    """llm-dev on fable-5 is routed to opus-4.8; the first pass's obligations still apply."""
    d = engine.evaluate(make_context({**ZDR_ORG, "request.use_case": "llm-dev"}))
    assert d.effect == "allow"
    assert d.model == "opus-4.8"
    assert d.obligations.retention_min_days == 30
    assert d.obligations.training == "prohibited"
