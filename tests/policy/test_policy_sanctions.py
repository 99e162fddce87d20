"""rules/sanctions.yaml: comprehensive sanctions, Syria until 2025-07-01, occupied regions."""

from __future__ import annotations

import pytest
from policy_helpers import (
    ABSENT,
    EXPORT,
    REGIONS,
    SANCTIONS,
    SANCTIONS_DECLARED,
    SYRIA,
    SYRIA_DECLARED,
    make_context,
    matched,
)

# sanctions apply to every model; use a non-restricted one so export control stays out of it
OPUS = {"request.model": "opus-4.8"}


def ctx(**kw):
    base = dict(OPUS)
    base.update({k.replace("__", "."): v for k, v in kw.items()})
    return make_context(base)


@pytest.mark.parametrize("country", ["CU", "IR", "KP"])
def test_sanctioned_origin_denied(engine, country):
    d = engine.evaluate(ctx(request__origin_country=country, request__origin_region=ABSENT))
    assert d.effect == "deny"
    assert d.model is None
    assert SANCTIONS in matched(d)
    assert d.missing == []


@pytest.mark.parametrize("country", ["CU", "IR", "KP"])
def test_sanctioned_declared_country_denied(engine, country):
    d = engine.evaluate(ctx(principal__country=country))
    assert d.effect == "deny"
    assert SANCTIONS_DECLARED in matched(d)
    assert SANCTIONS not in matched(d)


@pytest.mark.parametrize("country", ["US", "DE", "RU", "UA", "CN"])
def test_clean_countries_allowed(engine, country):
    d = engine.evaluate(ctx(request__origin_country=country, principal__country=country,
                            request__origin_region=ABSENT))
    assert d.effect == "allow"
    assert SANCTIONS not in matched(d)
    assert SANCTIONS_DECLARED not in matched(d)
    assert d.missing == []


def test_missing_origin_country_fails_closed(engine):
    d = engine.evaluate(ctx(request__origin_country=ABSENT))
    assert d.effect == "deny"
    assert SANCTIONS in matched(d)
    assert "request.origin_country" in d.missing
    assert next(m for m in d.matched if (m.pack, m.rule) == SANCTIONS).fail_closed


def test_missing_origin_country_but_sanctioned_declared_country_denies_outright(engine):
    """`unknown || true` is true: the declared country decides without the origin."""
    d = engine.evaluate(ctx(request__origin_country=ABSENT, principal__country="IR"))
    assert d.effect == "deny"
    assert SANCTIONS_DECLARED in matched(d)


def test_missing_declared_country_does_not_deny(engine):
    d = engine.evaluate(ctx(principal__country=ABSENT))
    assert d.effect == "allow"
    assert d.missing == []


def test_null_declared_country_does_not_deny(engine):
    """Hosts often serialise an unknown field as null; that must not deny a clean origin."""
    d = engine.evaluate(ctx(principal__country=None))
    assert d.effect == "allow"
    assert set(d.missing) <= {"principal.country"}


def test_null_region_does_not_deny(engine):
    d = engine.evaluate(ctx(request__origin_region=None, request__origin_country="UA"))
    assert d.effect == "allow"
    assert REGIONS not in matched(d)
    assert set(d.missing) <= {"request.origin_region"}


def test_null_origin_country_fails_closed(engine):
    d = engine.evaluate(ctx(request__origin_country=None))
    assert d.effect == "deny"
    assert d.missing == ["request.origin_country"]


def test_missing_region_does_not_deny_a_clean_country(engine):
    d = engine.evaluate(ctx(request__origin_region=ABSENT, request__origin_country="UA"))
    assert d.effect == "allow"
    assert REGIONS not in matched(d)
    assert d.missing == []


def test_missing_region_and_missing_declared_country_with_clean_origin(engine):
    d = engine.evaluate(ctx(request__origin_region=ABSENT, principal__country=ABSENT))
    assert d.effect == "allow"
    assert d.missing == []


def test_sanctions_beat_us_person_and_licence(engine):
    d = engine.evaluate(make_context(request__origin_country="IR",
                                     principal__authorizations=["BIS-LICENSE-FABLE"]))
    assert d.effect == "deny"
    assert SANCTIONS in matched(d)
    assert EXPORT not in matched(d)


# --- Syria: in force only until 2025-07-01T00:00:00Z ------------------------------------


@pytest.mark.parametrize(("where", "rule"), [("request.origin_country", SYRIA),
                                             ("principal.country", SYRIA_DECLARED)])
def test_syria_denied_in_2024(engine, where, rule):
    d = engine.evaluate(make_context({**OPUS, where: "SY",
                                      "request.time": "2024-11-05T14:00:00+03:00"}))
    assert d.effect == "deny"
    assert rule in matched(d)


@pytest.mark.parametrize("where", ["request.origin_country", "principal.country"])
def test_syria_allowed_in_2026(engine, where):
    d = engine.evaluate(make_context({**OPUS, where: "SY",
                                      "request.time": "2026-03-02T10:00:00+03:00"}))
    assert d.effect == "allow"
    assert SYRIA not in matched(d)
    assert SYRIA_DECLARED not in matched(d)


def test_syria_end_is_exclusive(engine):
    last = engine.evaluate(ctx(request__origin_country="SY",
                               request__time="2025-06-30T23:59:59.999Z"))
    assert last.effect == "deny"
    assert SYRIA in matched(last)
    end = engine.evaluate(ctx(request__origin_country="SY", request__time="2025-07-01T00:00:00Z"))
    assert end.effect == "allow"
    assert SYRIA not in matched(end)


def test_syria_end_in_another_offset(engine):
    # 2025-07-01T02:59:59+03:00 is 2025-06-30T23:59:59Z: still in force
    d = engine.evaluate(ctx(request__origin_country="SY",
                            request__time="2025-07-01T02:59:59+03:00"))
    assert d.effect == "deny"
    d = engine.evaluate(ctx(request__origin_country="SY",
                            request__time="2025-07-01T03:00:00+03:00"))
    assert d.effect == "allow"


def test_syria_decision_valid_until_program_end(engine):
    from datetime import UTC, datetime

    d = engine.evaluate(ctx(request__origin_country="SY", request__time="2025-06-01T00:00:00Z"))
    assert d.valid_until is not None
    assert d.valid_until <= datetime(2025, 7, 1, tzinfo=UTC)


def test_other_countries_in_2024_unaffected(engine):
    d = engine.evaluate(ctx(request__time="2024-11-05T14:00:00Z"))
    assert d.effect == "allow"
    assert SYRIA not in matched(d)


# --- occupied regions ---------------------------------------------------------------------


@pytest.mark.parametrize("region", ["UA-43", "UA-40", "UA-14", "UA-09"])
def test_occupied_regions_denied(engine, region):
    d = engine.evaluate(ctx(request__origin_country="UA", request__origin_region=region))
    assert d.effect == "deny"
    assert REGIONS in matched(d)
    assert any(region in r for r in d.reasons)


def test_crimea_denied_even_with_other_origin_country(engine):
    d = engine.evaluate(ctx(request__origin_country="RU", request__origin_region="UA-43"))
    assert d.effect == "deny"
    assert REGIONS in matched(d)


@pytest.mark.parametrize("region", ["UA-30", "UA-46", "UA-12", "US-CA"])
def test_other_regions_allowed(engine, region):
    d = engine.evaluate(ctx(request__origin_country=region[:2], request__origin_region=region))
    assert d.effect == "allow"
    assert REGIONS not in matched(d)
