"""Fixtures for the policy tests: engines over the shipped packs (and test-only additions)."""

from __future__ import annotations

from typing import Any

import pytest
from policy_helpers import RULES, TEST_PACKS


@pytest.fixture(scope="session")
def engine() -> Any:
    """The shipped pack set, exactly as deployed."""
    from compliance import Engine

    return Engine.from_path(str(RULES))


@pytest.fixture(scope="session")
def dst_engine() -> Any:
    """The shipped packs plus the DST probe pack (tests/policy/packs/dst)."""
    from compliance import Engine

    return Engine.from_path(str(RULES), str(TEST_PACKS / "dst"))


@pytest.fixture(scope="session")
def routing_engine() -> Any:
    """The shipped packs plus a pack routing sonnet-probe requests to fable-5."""
    from compliance import Engine

    return Engine.from_path(str(RULES), str(TEST_PACKS / "routing"))
