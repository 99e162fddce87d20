"""Effective windows: the directive's exact instant, DST-correct local times, valid_until."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from policy_helpers import EXPORT, foreign, make_context, matched

DST = "dst-probe"


# --- the directive instant: 2026-06-12 17:21 America/New_York = 21:21:00Z (EDT) ------------


@pytest.mark.parametrize("time", [
    "2026-06-12T21:21:00Z",
    "2026-06-12T17:21:00-04:00",
    "2026-06-12T23:21:00+02:00",
    "2026-06-12T21:21:00.000001Z",
    "2026-06-12T21:21:01Z",
])
def test_directive_applies_from_its_instant_inclusive(engine, time):
    d = engine.evaluate(foreign("FR", request__time=time))
    assert d.effect == "deny"
    assert EXPORT in matched(d)


@pytest.mark.parametrize("time", [
    "2026-06-12T21:20:59.999Z",
    "2026-06-12T21:20:59Z",
    "2026-06-12T17:20:59-04:00",
    "2026-06-12T16:20:59-05:00",
    "2026-06-12T19:00:00Z",
])
def test_directive_not_applied_before_its_instant(engine, time):
    d = engine.evaluate(foreign("FR", request__time=time))
    assert d.effect == "allow"
    assert EXPORT not in matched(d)


def test_directive_instant_is_eastern_daylight_time_not_standard(engine):
    """17:21 EST would be 22:21Z; the directive is EDT (21:21Z): 21:30Z is already denied."""
    d = engine.evaluate(foreign("FR", request__time="2026-06-12T21:30:00Z"))
    assert d.effect == "deny"


def test_valid_until_before_the_directive(engine):
    d = engine.evaluate(foreign("FR", request__time="2026-06-12T21:20:59Z"))
    assert d.valid_until == datetime(2026, 6, 12, 21, 21, tzinfo=UTC)


def test_valid_until_after_every_window(engine):
    d = engine.evaluate(foreign("FR", request__time="2026-06-12T21:21:00Z"))
    assert d.valid_until is None


# --- DST: local-time windows resolve to the right UTC instant ----------------------------


def probe(use_case, time):
    return make_context({"request.use_case": use_case, "request.time": time,
                         "request.model": "opus-4.8"})


WINTER = ("dst-probe", "winter-start")
SUMMER = ("dst-probe", "summer-start")
WINDOW = ("dst-probe", "summer-window")


@pytest.mark.parametrize(("time", "applied"), [
    ("2026-01-15T13:59:59Z", False),
    ("2026-01-15T13:59:59.999999Z", False),
    ("2026-01-15T14:00:00Z", True),  # 09:00 EST = UTC-5
    ("2026-01-15T09:00:00-05:00", True),
    ("2026-01-15T08:59:59-05:00", False),
    ("2026-01-15T14:00:01Z", True),
    ("2026-07-01T00:00:00Z", True),
])
def test_winter_boundary_is_1400_utc(dst_engine, time, applied):
    d = dst_engine.evaluate(probe("dst-winter-probe", time))
    assert (WINTER in matched(d)) is applied
    assert d.effect == ("deny" if applied else "allow")


@pytest.mark.parametrize(("time", "applied"), [
    ("2026-07-15T12:59:59Z", False),
    ("2026-07-15T12:59:59.999Z", False),
    ("2026-07-15T13:00:00Z", True),  # 09:00 EDT = UTC-4
    ("2026-07-15T09:00:00-04:00", True),
    ("2026-07-15T08:59:59-04:00", False),
    ("2026-07-15T13:30:00Z", True),  # a naive EST reading (14:00Z) would miss this
    ("2026-07-15T14:00:00Z", True),
])
def test_summer_boundary_is_1300_utc(dst_engine, time, applied):
    d = dst_engine.evaluate(probe("dst-summer-probe", time))
    assert (SUMMER in matched(d)) is applied
    assert d.effect == ("deny" if applied else "allow")


@pytest.mark.parametrize(("time", "applied"), [
    ("2026-07-15T12:59:59Z", False),
    ("2026-07-15T13:00:00Z", True),
    ("2026-11-02T13:59:59Z", True),   # until 09:00 EST (after the Nov 1 fall-back) = 14:00Z
    ("2026-11-02T14:00:00Z", False),  # until is exclusive
    ("2026-11-02T13:00:00Z", True),   # a naive EDT reading (13:00Z) would end too early
])
def test_window_across_fall_back(dst_engine, time, applied):
    d = dst_engine.evaluate(probe("dst-window-probe", time))
    assert (WINDOW in matched(d)) is applied


def test_dst_valid_until_names_the_utc_boundary(dst_engine):
    d = dst_engine.evaluate(probe("dst-summer-probe", "2026-07-15T12:00:00Z"))
    assert d.effect == "allow"
    assert d.valid_until == datetime(2026, 7, 15, 13, 0, tzinfo=UTC)
    d = dst_engine.evaluate(probe("dst-winter-probe", "2026-01-15T12:00:00Z"))
    assert d.valid_until == datetime(2026, 1, 15, 14, 0, tzinfo=UTC)


def test_probe_pack_does_not_change_shipped_decisions(dst_engine, engine):
    for ctx in (make_context(), foreign("FR"), make_context(request__use_case="llm-dev")):
        assert dst_engine.evaluate(ctx).effect == engine.evaluate(ctx).effect
