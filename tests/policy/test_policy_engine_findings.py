"""Engine behaviour found while writing the shipped packs, now fixed and kept as regressions.

Each case uses tests/policy/packs/findings (loaded with rules/): a missing key read with a
computed key is an unknown like a constant key, and ``has()`` on a null attribute is false.
"""

from __future__ import annotations

from typing import Any

import pytest
from policy_helpers import ABSENT, RULES, TEST_PACKS, make_context, matched

PROBE = ("findings-probe", "dynamic-key-score")
REGION = ("findings-probe", "guarded-region")


@pytest.fixture(scope="module")
def findings_engine() -> Any:
    from compliance import Engine

    return Engine.from_path(str(RULES), str(TEST_PACKS / "findings"))


def test_dynamic_key_present_works(findings_engine):
    d = findings_engine.evaluate(make_context(request__use_case="dyn-bio",
                                              request__risk_scores={"dyn-bio": 0.9}))
    assert d.effect == "deny"
    assert PROBE in matched(d)
    d = findings_engine.evaluate(make_context(request__use_case="dyn-bio",
                                              request__risk_scores={"dyn-bio": 0.1}))
    assert d.effect == "allow"


def test_dynamic_key_missing_is_an_unknown_like_a_constant_key(findings_engine):
    d = findings_engine.evaluate(make_context(request__use_case="dyn-bio",
                                              request__risk_scores={}))
    assert d.effect == "deny"
    assert d.errors == []
    assert d.missing == ["request.risk_scores.dyn-bio"]


def test_guarded_region_absent_is_false(findings_engine):
    d = findings_engine.evaluate(make_context(request__use_case="region-probe",
                                              request__origin_region=ABSENT))
    assert d.effect == "allow"
    assert d.missing == []


def test_guarded_region_null_is_not_unknown(findings_engine):
    d = findings_engine.evaluate(make_context(request__use_case="region-probe",
                                              request__origin_region=None))
    assert d.effect == "allow"
    assert REGION not in matched(d)
