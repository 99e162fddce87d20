"""Hypothesis profiles for the differential tests: `ci` is derandomized and bounded.

The profile is chosen once per session: `ci` when the environment says `CI=true` (so a
failure reproduces on every run of the same commit), `dev` otherwise; `HYPOTHESIS_PROFILE`
overrides both. Example counts are per test (see ``EXAMPLES``) so the whole directory stays
under a minute on two cores.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", derandomize=True, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile(
    "thorough", deadline=None, max_examples=5000, suppress_health_check=list(HealthCheck)
)

_default = "ci" if os.environ.get("CI", "").lower() == "true" else "dev"
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", _default))
