"""The Hypothesis profile tests/conftest.py loads: derandomized under CI, random locally."""

from __future__ import annotations

import os

import pytest
from hypothesis import settings


@pytest.mark.skipif("HYPOTHESIS_PROFILE" in os.environ, reason="profile chosen explicitly")
def test_ci_runs_are_derandomized_and_local_runs_random() -> None:
    """`CI=true` (set by .ci/run) gives the same examples on every run; otherwise they vary."""
    in_ci = os.environ.get("CI", "").lower() == "true"
    assert settings.default.derandomize is in_ci
    assert (settings.default.database is None) is in_ci
    assert settings.default.deadline is None
