"""The Redis store against a real server: processes sharing counts, expiry, restarts, layout."""

from __future__ import annotations

import multiprocessing
import uuid
from collections.abc import Callable
from datetime import timedelta

import pytest
from _sigtools import HOUR, MINUTE, FakeClock, RedisServer, at, founding_spec, free_port

from compliance.cel.values import format_timestamp
from compliance.signals import Event, Fact, SignalError, Store, StoreUnavailable

PROCESSES, PER_PROCESS = 4, 100


def flag(offset_ns: int, org: str = "org-1") -> Event:
    return Event.from_json(
        {"kind": "safeguard_flag", "time": format_timestamp(at(offset_ns)), "org_id": org}
    )


def _observer(url: str, namespace: str, threshold: int, start: object) -> int:
    """One replica: observe PER_PROCESS identical-time flags; return how many facts it saw."""
    from compliance.signals import RedisStore

    store = RedisStore(url=url, namespace=namespace, clock=FakeClock(),
                       max_events_per_key=threshold + 1)
    start.wait()  # type: ignore[attr-defined]
    spec = founding_spec(threshold=threshold)
    return sum(len(store.observe([spec], flag(0))) for _ in range(PER_PROCESS))


def test_concurrent_processes_lose_no_count(
    redis_url: str, make_redis_store: Callable[..., Store]
) -> None:
    """Only the observe that brings the shared count to exactly N*M raises, in one process."""
    total = PROCESSES * PER_PROCESS
    namespace = f"test-{uuid.uuid4().hex}"
    store = make_redis_store(namespace=namespace, clock=FakeClock(), max_events_per_key=total + 3)
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager:
        start = manager.Barrier(PROCESSES)
        with context.Pool(PROCESSES) as pool:
            seen = pool.starmap(_observer, [(redis_url, namespace, total, start)] * PROCESSES)
    assert sum(seen) == 1
    # the next one is count total + 1 exactly
    assert store.observe([founding_spec(threshold=total + 1)], flag(0)) == [
        Fact("under_review", "org-1", at(0), at(24 * HOUR))]
    assert store.observe([founding_spec(threshold=total + 3)], flag(0)) == []


def test_keys_live_under_the_namespace_and_expire(
    redis_url: str, make_redis_store: Callable[..., Store]
) -> None:
    """Windows and facts sit under `compliance:signals:<namespace>:` and carry a cleanup TTL."""
    import redis

    clock = FakeClock()
    store = make_redis_store(clock=clock, namespace=f"test-{uuid.uuid4().hex}")
    for n in range(3):
        store.observe([founding_spec()], flag(n))
    client = redis.Redis.from_url(redis_url)
    prefix = store.prefix  # type: ignore[attr-defined]
    window, fact = f"{prefix}w:repeated_flags:org-1", f"{prefix}f:under_review:org-1"
    assert client.zcard(window) == 3
    # the window key outlives its newest event by window + horizon, the fact its end + horizon
    assert 0 < client.pttl(window) <= (10 * MINUTE + HOUR) // 10**6 + 2
    assert 24 * HOUR // 10**6 < client.pttl(fact) <= (24 * HOUR + HOUR) // 10**6 + 2
    client.close()


def test_a_foreign_namespace_sees_nothing(make_redis_store: Callable[..., Store]) -> None:
    """Two pack sets (digests) never share counts or facts."""
    clock = FakeClock()
    one, two = make_redis_store(clock=clock), make_redis_store(clock=clock)
    for n in range(3):
        one.observe([founding_spec()], flag(n))
    assert two.facts_for({"under_review": "org-1"}, at(2)) == {}
    assert one.facts_for({"under_review": "org-1"}, at(2)) != {}


def test_server_restart_mid_stream(own_redis: RedisServer) -> None:
    """A dead server raises StoreUnavailable (never "no fact"); after a restart counting resumes."""
    from compliance.signals import RedisStore

    clock = FakeClock()
    store = RedisStore(url=own_redis.url, namespace="restart", clock=clock, timeout=0.2)
    spec = founding_spec()
    assert store.observe([spec], flag(0)) == []
    assert store.observe([spec], flag(MINUTE)) == []
    own_redis.kill()
    with pytest.raises(StoreUnavailable) as err:
        store.observe([spec], flag(2 * MINUTE))
    assert err.value.code == "store-unavailable"
    with pytest.raises(StoreUnavailable):
        store.facts_for({"under_review": "org-1"}, at(2 * MINUTE))
    own_redis.start()  # same port; the append-only file brings the two flags back
    assert store.observe([spec], flag(3 * MINUTE)) == [
        Fact("under_review", "org-1", at(3 * MINUTE), at(3 * MINUTE + 24 * HOUR))]
    assert store.facts_for({"under_review": "org-1"}, at(4 * MINUTE)) != {}


def test_unreachable_server_is_store_unavailable() -> None:
    """Connection refused is a typed error the engine can fail closed on."""
    from compliance.signals import RedisStore

    store = RedisStore(url=f"redis://127.0.0.1:{free_port()}/0", namespace="x",
                       clock=FakeClock(), timeout=0.2)
    with pytest.raises(StoreUnavailable):
        store.facts_for({"under_review": "org-1"}, at(0))


def test_horizon_is_checked_before_any_round_trip(make_redis_store: Callable[..., Store]) -> None:
    """An instant beyond the horizon is a SignalError, not a query."""
    store = make_redis_store(clock=FakeClock(), horizon=timedelta(minutes=1))
    with pytest.raises(SignalError) as err:
        store.facts_for({"under_review": "org-1"}, at(2 * MINUTE))
    assert err.value.code == "outside-horizon"


def test_a_server_that_never_answers_times_out_as_unavailable() -> None:
    """A hung server (connection accepted, no reply) is bounded by the timeout."""
    import socket

    from compliance.signals import RedisStore

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        store = RedisStore(url=f"redis://127.0.0.1:{port}/0", namespace="x",
                           clock=FakeClock(), timeout=0.2)
        with pytest.raises(StoreUnavailable) as err:
            store.observe([founding_spec()], flag(0))
        assert "127.0.0.1" in err.value.message


def test_missing_redis_py_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without redis-py, creating a RedisStore says which extra to install."""
    import sys

    from compliance.signals import RedisStore

    monkeypatch.setitem(sys.modules, "redis", None)
    with pytest.raises(ImportError, match=r"compliance\[redis\]"):
        RedisStore(namespace="x")
