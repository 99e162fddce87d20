"""Fixtures for the signal stores: a settable clock, the founding spec, and real Redis servers.

Redis tests use 127.0.0.1:6379 when it answers, else a ``redis-server`` started here on a
free port; if neither works they skip, unless ``COMPLIANCE_REQUIRE_REDIS=1`` (set by CI),
which turns the skip into a failure.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from _sigtools import (
    RedisServer,
)

from compliance.signals import InProcessStore, Store


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A ``redis-server`` only this test uses (to kill and restart it)."""
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.kill()


@pytest.fixture
def make_redis_store(redis_url: str) -> Iterator[Callable[..., Store]]:
    """Build ``RedisStore``s under a namespace unique to this test; delete its keys afterwards."""
    from compliance.signals import RedisStore

    made: list[RedisStore] = []

    def make(**kwargs: Any) -> RedisStore:
        kwargs.setdefault("namespace", f"test-{uuid.uuid4().hex}")
        store = RedisStore(url=redis_url, **kwargs)
        made.append(store)
        return store

    yield make
    for store in made:
        store.clear()


@pytest.fixture(params=["in-process", "redis"])
def make_store(
    request: pytest.FixtureRequest,
) -> Callable[..., Store]:
    """Each behaviour test runs against both stores."""
    if request.param == "in-process":
        return InProcessStore
    factory: Callable[..., Store] = request.getfixturevalue("make_redis_store")
    return factory
