"""rules/export-control.yaml: fable-5 and mythos-5 suspended for non-US persons."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from policy_helpers import (
    ABSENT,
    BEFORE_DIRECTIVE,
    EXPORT,
    OTHER_MODEL,
    RESTRICTED,
    foreign,
    make_context,
    matched,
)


@pytest.mark.parametrize("model", RESTRICTED)
def test_verified_us_citizen_keeps_access(engine, model):
    d = engine.evaluate(make_context(request__model=model))
    assert d.effect == "allow"
    assert d.model == model
    assert EXPORT not in matched(d)
    assert d.missing == []
    assert d.errors == []


@pytest.mark.parametrize("model", RESTRICTED)
def test_foreign_national_denied_after_directive(engine, model):
    d = engine.evaluate(foreign("FR", request__model=model))
    assert d.effect == "deny"
    assert d.model is None
    assert EXPORT in matched(d)
    match = next(m for m in d.matched if (m.pack, m.rule) == EXPORT)
    assert match.effect == "deny"
    assert d.missing == []
    # the reason interpolates {request.model}
    assert any(model in r and "verified US person" in r for r in d.reasons)


def test_foreign_national_before_directive_unaffected(engine):
    d = engine.evaluate(foreign("FR", request__time=BEFORE_DIRECTIVE))
    assert d.effect == "allow"
    assert d.model == "fable-5"
    assert EXPORT not in matched(d)


def test_before_directive_decision_expires_at_the_directive(engine):
    d = engine.evaluate(foreign("FR", request__time=BEFORE_DIRECTIVE))
    assert d.valid_until is not None
    assert d.valid_until == datetime(2026, 6, 12, 21, 21, tzinfo=UTC)


@pytest.mark.parametrize("model", [OTHER_MODEL, "opus-4.8", "fable-4"])
def test_other_models_unaffected(engine, model):
    d = engine.evaluate(foreign("FR", request__model=model))
    assert d.effect == "allow"
    assert d.model == model
    assert EXPORT not in matched(d)


def test_other_models_unaffected_even_with_unknown_nationality(engine):
    ctx = make_context({"request.model": OTHER_MODEL, "principal.nationalities": ABSENT,
                        "principal.nationality_verified": ABSENT,
                        "principal.permanent_residence": ABSENT,
                        "principal.authorizations": ABSENT})
    d = engine.evaluate(ctx)
    assert d.effect == "allow"
    assert d.missing == []


# --- US persons ------------------------------------------------------------------------


@pytest.mark.parametrize("nationalities", [["US", "DE"], ["DE", "US"], ["FR", "US", "IL"]])
def test_dual_nationals_with_us_nationality_allowed(engine, nationalities):
    d = engine.evaluate(make_context({"principal.nationalities": nationalities,
                                      "principal.country": "DE", "request.origin_country": "DE",
                                      "request.origin_region": "DE-BE"}))
    assert d.effect == "allow"
    assert EXPORT not in matched(d)


def test_dual_national_without_us_denied(engine):
    d = engine.evaluate(foreign("DE", principal__nationalities=["DE", "FR"]))
    assert d.effect == "deny"
    assert EXPORT in matched(d)


def test_green_card_holder_is_us_person(engine):
    d = engine.evaluate(foreign("DE", principal__permanent_residence=["US"]))
    assert d.effect == "allow"
    assert d.model == "fable-5"
    assert EXPORT not in matched(d)


def test_permanent_residence_elsewhere_does_not_count(engine):
    d = engine.evaluate(foreign("DE", principal__permanent_residence=["CA", "GB"]))
    assert d.effect == "deny"
    assert EXPORT in matched(d)


def test_unverified_us_nationality_denied(engine):
    d = engine.evaluate(make_context(principal__nationality_verified=False))
    assert d.effect == "deny"
    assert EXPORT in matched(d)


def test_unverified_green_card_denied(engine):
    d = engine.evaluate(foreign("DE", principal__permanent_residence=["US"],
                                principal__nationality_verified=False))
    assert d.effect == "deny"
    assert EXPORT in matched(d)


def test_us_origin_does_not_make_a_us_person(engine):
    """'inside or outside the country': a French national in the US is still denied."""
    d = engine.evaluate(foreign("FR", request__origin_country="US", principal__country="US",
                                request__origin_region="US-NY"))
    assert d.effect == "deny"
    assert EXPORT in matched(d)


def test_us_person_abroad_allowed(engine):
    d = engine.evaluate(make_context(request__origin_country="JP", principal__country="JP",
                                     request__origin_region="JP-13"))
    assert d.effect == "allow"


# --- employees and licences ------------------------------------------------------------


@pytest.mark.parametrize("model", RESTRICTED)
def test_foreign_employee_denied(engine, model):
    d = engine.evaluate(foreign("IN", principal__kind="employee", request__model=model,
                                request__origin_country="US"))
    assert d.effect == "deny"
    assert EXPORT in matched(d)


def test_us_employee_allowed(engine):
    d = engine.evaluate(make_context(principal__kind="employee"))
    assert d.effect == "allow"


@pytest.mark.parametrize("model", RESTRICTED)
def test_foreign_employee_with_bis_license_allowed(engine, model):
    d = engine.evaluate(foreign("IN", principal__kind="employee", request__model=model,
                                principal__authorizations=["BIS-LICENSE-FABLE"]))
    assert d.effect == "allow"
    assert d.model == model
    assert EXPORT not in matched(d)


def test_bis_license_covers_unknown_nationality(engine):
    ctx = make_context({"principal.nationalities": ABSENT,
                        "principal.nationality_verified": ABSENT,
                        "principal.authorizations": ["OTHER", "BIS-LICENSE-FABLE"]})
    d = engine.evaluate(ctx)
    assert d.effect == "allow"
    assert EXPORT not in matched(d)


def test_other_licence_does_not_help(engine):
    d = engine.evaluate(foreign("IN", principal__authorizations=["EAR-LICENSE-D123"]))
    assert d.effect == "deny"
    assert EXPORT in matched(d)


# --- unknown attributes fail closed ----------------------------------------------------


def test_unknown_nationality_fails_closed_and_names_the_attribute(engine):
    d = engine.evaluate(make_context(principal__nationalities=ABSENT))
    assert d.effect == "deny"
    assert d.model is None
    assert EXPORT in matched(d)
    assert d.missing == ["principal.nationalities"]
    fail_closed = [m for m in d.matched if (m.pack, m.rule) == EXPORT]
    assert fail_closed[0].fail_closed is True


def test_unknown_nationality_realistic_customer(engine):
    """A typical customer: no nationality evidence at all."""
    ctx = make_context({"principal.nationalities": ABSENT,
                        "principal.nationality_verified": ABSENT,
                        "principal.permanent_residence": ABSENT,
                        "principal.authorizations": ABSENT})
    d = engine.evaluate(ctx)
    assert d.effect == "deny"
    assert "principal.nationalities" in d.missing
    assert set(d.missing) <= {"principal.nationalities", "principal.nationality_verified",
                              "principal.permanent_residence", "principal.authorizations"}


def test_unknown_nationality_but_us_green_card_allowed(engine):
    """`a || b` with b true is true: the green card decides, nothing is missing."""
    ctx = make_context({"principal.nationalities": ABSENT,
                        "principal.permanent_residence": ["US"]})
    d = engine.evaluate(ctx)
    assert d.effect == "allow"
    assert d.missing == []


def test_unknown_verification_fails_closed(engine):
    d = engine.evaluate(make_context(principal__nationality_verified=ABSENT))
    assert d.effect == "deny"
    assert d.missing == ["principal.nationality_verified"]


def test_unknown_authorizations_for_foreigner_fails_closed(engine):
    d = engine.evaluate(foreign("FR", principal__authorizations=ABSENT))
    assert d.effect == "deny"
    assert "principal.authorizations" in d.missing


def test_unknown_authorizations_irrelevant_for_us_person(engine):
    d = engine.evaluate(make_context(principal__authorizations=ABSENT))
    assert d.effect == "allow"
    assert d.missing == []
