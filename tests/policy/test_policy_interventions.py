"""rules/interventions.yaml, rules/acceptable-use.yaml, rules/transparency.yaml, and routing."""

from __future__ import annotations

import pytest
from policy_helpers import (
    ABSENT,
    AUDIT_LOG,
    AUP,
    BIO_CHEM,
    CYBER,
    DISTILL,
    EXPORT,
    LLM_DEV,
    RESTRICTED,
    SANCTIONS,
    foreign,
    intervention_kinds,
    make_context,
    matched,
)


def uc(use_case, model="opus-4.8", **kw):
    base = {"request.use_case": use_case, "request.model": model}
    base.update({k.replace("__", "."): v for k, v in kw.items()})
    return make_context(base)


# --- bio / chem -------------------------------------------------------------------------


@pytest.mark.parametrize("category", ["bio", "chem"])
@pytest.mark.parametrize("score", [0.8, 0.93, 1.0])
def test_high_risk_bio_chem_refused(engine, category, score):
    d = engine.evaluate(uc(category, request__risk_scores={category: score}))
    assert d.effect == "deny"
    assert d.model is None
    assert BIO_CHEM in matched(d)
    assert intervention_kinds(d) == ["refuse"]
    refusal = d.interventions[0]
    assert refusal.disclosure == "visible"
    assert refusal.message
    assert category in refusal.message
    assert (refusal.pack, refusal.rule) == BIO_CHEM
    assert d.reasons


@pytest.mark.parametrize("category", ["bio", "chem"])
@pytest.mark.parametrize("score", [0.0, 0.5, 0.79, 0.7999])
def test_low_risk_bio_chem_allowed(engine, category, score):
    d = engine.evaluate(uc(category, request__risk_scores={category: score}))
    assert d.effect == "allow"
    assert BIO_CHEM not in matched(d)
    assert d.interventions == []


def test_score_of_other_category_does_not_count(engine):
    d = engine.evaluate(uc("bio", request__risk_scores={"bio": 0.1, "chem": 0.99}))
    assert d.effect == "allow"
    assert d.missing == []


def test_high_bio_score_on_non_bio_request_ignored(engine):
    d = engine.evaluate(uc("coding", request__risk_scores={"bio": 0.99}))
    assert d.effect == "allow"
    assert BIO_CHEM not in matched(d)


@pytest.mark.parametrize("category", ["bio", "chem"])
def test_missing_score_fails_closed(engine, category):
    d = engine.evaluate(uc(category, request__risk_scores={"cyber": 0.2}))
    assert d.effect == "deny"
    assert BIO_CHEM in matched(d)
    assert d.missing == [f"request.risk_scores.{category}"]


def test_missing_risk_scores_map_fails_closed_for_bio(engine):
    d = engine.evaluate(uc("bio", request__risk_scores=ABSENT))
    assert d.effect == "deny"
    assert any(m.startswith("request.risk_scores") for m in d.missing)


def test_missing_scores_irrelevant_for_other_use_cases(engine):
    d = engine.evaluate(uc("general", request__risk_scores=ABSENT))
    assert d.effect == "allow"
    assert d.missing == []


# --- distillation -----------------------------------------------------------------------


@pytest.mark.parametrize("model", ["opus-4.8", "fable-5"])
def test_distillation_refused(engine, model):
    d = engine.evaluate(uc("distillation", model=model))
    assert d.effect == "deny"
    assert DISTILL in matched(d)
    assert intervention_kinds(d) == ["refuse"]
    assert d.interventions[0].disclosure == "visible"
    assert d.interventions[0].message


# --- cyber ------------------------------------------------------------------------------


@pytest.mark.parametrize("model", RESTRICTED)
def test_high_risk_cyber_on_frontier_routed_to_opus(engine, model):
    d = engine.evaluate(uc("cyber", model=model, request__risk_scores={"cyber": 0.91}))
    assert d.effect == "allow"
    assert d.model == "opus-4.8"
    assert CYBER in matched(d)
    assert len(d.interventions) == 1
    route = d.interventions[0]
    assert (route.kind, route.target, route.disclosure) == ("route", "opus-4.8", "visible")
    assert (route.pack, route.rule) == CYBER
    assert route.message
    assert "opus-4.8" in route.message
    assert model in route.message
    assert len(d.passes) == 2
    assert d.passes[0].model == model
    assert d.passes[1].model == "opus-4.8"


def test_low_risk_cyber_on_frontier_served(engine):
    d = engine.evaluate(uc("cyber", model="fable-5", request__risk_scores={"cyber": 0.79}))
    assert d.effect == "allow"
    assert d.model == "fable-5"
    assert d.interventions == []
    assert len(d.passes) == 1


def test_high_risk_cyber_on_other_model_served(engine):
    d = engine.evaluate(uc("cyber", model="opus-4.8", request__risk_scores={"cyber": 0.99}))
    assert d.effect == "allow"
    assert d.model == "opus-4.8"
    assert CYBER not in matched(d)


def test_missing_cyber_score_on_frontier_fails_closed_to_the_route(engine):
    """An intervene rule fails closed by applying: the request goes to opus-4.8."""
    d = engine.evaluate(uc("cyber", model="fable-5", request__risk_scores={}))
    assert d.model == "opus-4.8"
    assert d.missing == ["request.risk_scores.cyber"]


# --- llm-dev: the reversed policy --------------------------------------------------------


@pytest.mark.parametrize("model", RESTRICTED)
def test_llm_dev_on_frontier_routed_visibly(engine, model):
    d = engine.evaluate(uc("llm-dev", model=model))
    assert d.effect == "allow"
    assert d.model == "opus-4.8"
    assert LLM_DEV in matched(d)
    assert [(i.kind, i.target, i.disclosure) for i in d.interventions] == [
        ("route", "opus-4.8", "visible")]
    assert "frontier-development policy" in d.interventions[0].message
    assert any("opus-4.8" in r for r in d.reasons)
    assert len(d.passes) == 2


def test_llm_dev_on_other_model_served(engine):
    d = engine.evaluate(uc("llm-dev", model="opus-4.8"))
    assert d.effect == "allow"
    assert d.model == "opus-4.8"
    assert d.interventions == []
    assert len(d.passes) == 1


def test_llm_dev_route_does_not_bypass_export_control(engine):
    """A foreign national asking fable-5 for llm-dev is still denied: deny beats route."""
    d = engine.evaluate(foreign("FR", request__use_case="llm-dev"))
    assert d.effect == "deny"
    assert EXPORT in matched(d)
    assert d.model is None
    assert all(i.kind != "route" for i in d.interventions)


# --- deny beats route -------------------------------------------------------------------


def test_routed_and_sanctioned_is_denied(engine):
    d = engine.evaluate(uc("llm-dev", model="fable-5", request__origin_country="IR"))
    assert d.effect == "deny"
    assert d.model is None
    assert SANCTIONS in matched(d)
    assert [i for i in d.interventions if i.kind == "route"] == []


def test_routed_and_refused_is_denied(engine):
    d = engine.evaluate(uc("cyber", model="fable-5",
                           request__risk_scores={"cyber": 0.95},
                           request__origin_region="UA-43", request__origin_country="UA"))
    assert d.effect == "deny"
    assert d.model is None


# --- route re-evaluation ----------------------------------------------------------------


def test_route_target_is_allowed_by_the_packs(engine):
    """Second pass with opus-4.8: nothing restricts it, so the route stands."""
    d = engine.evaluate(uc("llm-dev", model="mythos-5"))
    assert d.passes[0].route_to == "opus-4.8"
    assert d.passes[1].effect == "allow"
    assert d.passes[1].route_to is None


def test_route_into_a_denied_model_ends_in_deny(routing_engine):
    d = routing_engine.evaluate(foreign("FR", request__model="sonnet-probe",
                                        request__use_case="route-probe"))
    assert d.effect == "deny"
    assert d.model is None
    assert len(d.passes) == 2
    first, second = d.passes
    assert first.model == "sonnet-probe"
    assert first.route_to == "fable-5"
    assert first.effect == "allow"
    assert second.model == "fable-5"
    assert second.effect == "deny"
    assert any((r.pack, r.rule) == EXPORT for r in second.matched)
    assert EXPORT in matched(d)


def test_route_into_a_model_the_principal_may_use_is_allowed(routing_engine):
    d = routing_engine.evaluate(make_context(request__model="sonnet-probe",
                                             request__use_case="route-probe"))
    assert d.effect == "allow"
    assert d.model == "fable-5"
    assert len(d.passes) == 2
    # the second pass saw fable-5: its safety retention applies
    assert d.obligations.retention_min_days == 30


def test_second_route_fails_closed(routing_engine):
    """sonnet-probe -> fable-5 (probe), then llm-dev on fable-5 -> opus-4.8: a second route."""
    d = routing_engine.evaluate(make_context(request__model="sonnet-probe",
                                             request__use_case="llm-dev"))
    assert d.effect == "deny"
    assert d.model is None
    assert d.errors
    assert len(d.passes) == 2


def test_probe_pack_does_not_touch_other_models(routing_engine):
    d = routing_engine.evaluate(make_context(request__model="opus-4.8",
                                             request__use_case="route-probe"))
    assert d.effect == "allow"
    assert len(d.passes) == 1


# --- acceptable use ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["customer", "employee", "service", "government"])
@pytest.mark.parametrize("use_case", ["surveillance", "weapons"])
def test_prohibited_use_cases_denied_for_every_principal_kind(engine, kind, use_case):
    org_plan = "government" if kind == "government" else "enterprise"
    d = engine.evaluate(uc(use_case, principal__kind=kind, org__plan=org_plan))
    assert d.effect == "deny"
    assert AUP in matched(d)
    assert any(use_case in r for r in d.reasons)


@pytest.mark.parametrize(
    "use_case", ["general", "coding", "security-research", "surveillance-review"])
def test_other_use_cases_not_prohibited(engine, use_case):
    d = engine.evaluate(uc(use_case, principal__kind="government", org__plan="government"))
    assert d.effect == "allow"
    assert AUP not in matched(d)


# --- transparency -----------------------------------------------------------------------


@pytest.mark.parametrize("use_case", ["cyber", "bio", "chem", "distillation", "llm-dev"])
def test_intervened_categories_logged_at_metadata_level(engine, use_case):
    d = engine.evaluate(uc(use_case, request__risk_scores={use_case: 0.1}))
    assert AUDIT_LOG in matched(d)
    assert d.obligations.logging_level == "metadata"


def test_other_categories_not_logged_by_transparency(engine):
    d = engine.evaluate(uc("coding"))
    assert AUDIT_LOG not in matched(d)
    assert d.obligations.logging_level is None


def test_no_shipped_intervention_is_silent(engine):
    for ctx in (uc("cyber", model="fable-5", request__risk_scores={"cyber": 0.99}),
                uc("llm-dev", model="mythos-5"), uc("distillation"),
                uc("bio", request__risk_scores={"bio": 0.99})):
        d = engine.evaluate(ctx)
        assert d.interventions
        assert all(i.disclosure == "visible" and i.message for i in d.interventions)
