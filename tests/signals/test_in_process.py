"""The in-process store: thread safety, bounded memory and the key-cap policy."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from _sigtools import HOUR, MINUTE, FakeClock, at, founding_spec

from compliance.cel.values import format_timestamp
from compliance.signals import Event, Fact, InProcessStore, SignalError


def flag(offset_ns: int, org: str = "org-1") -> Event:
    return Event.from_json(
        {"kind": "safeguard_flag", "time": format_timestamp(at(offset_ns)), "org_id": org}
    )


def test_concurrent_threads_lose_no_count() -> None:
    """8 threads x 250 identical-time events: exactly one observe sees the 2000th count."""
    threads, per_thread = 8, 250
    total = threads * per_thread
    spec = founding_spec(threshold=total)
    store = InProcessStore(clock=FakeClock(), max_events_per_key=total)
    raised: list[Fact] = []
    lock = threading.Lock()
    start = threading.Barrier(threads)

    def work() -> None:
        start.wait()
        for _ in range(per_thread):
            facts = store.observe([spec], flag(0))
            with lock:
                raised.extend(facts)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert raised == [Fact("under_review", "org-1", at(0), at(24 * HOUR))]
    assert store.event_count() == total


def test_events_older_than_window_plus_horizon_are_dropped() -> None:
    """A steady stream for one key keeps only the events that can still count."""
    clock = FakeClock()
    store = InProcessStore(clock=clock, horizon=timedelta(minutes=5))
    spec = founding_spec(threshold=1000)
    for second in range(0, 3 * 3600, 10):  # one flag every 10 s for 3 hours
        clock.now = at(second * 10**9)
        store.observe([spec], flag(second * 10**9))
    # window 10 min + horizon 5 min = 15 min of events at one per 10 s, plus the new one
    assert store.event_count() <= 15 * 6 + 1


def test_per_key_events_are_capped_at_the_newest() -> None:
    """A flood for one key is bounded by max_events_per_key, and counting still works."""
    clock = FakeClock()
    store = InProcessStore(clock=clock, max_events_per_key=5)
    spec = founding_spec()
    raised = [store.observe([spec], flag(n)) for n in range(100)]
    assert store.event_count() == 5
    assert raised[-1] == [Fact("under_review", "org-1", at(2), at(99 + 24 * HOUR))]


def test_idle_keys_are_swept() -> None:
    """Keys whose events and facts are all beyond the horizon disappear."""
    clock = FakeClock()
    store = InProcessStore(clock=clock, horizon=timedelta(minutes=1))
    spec = founding_spec()
    for n in range(3000):
        clock.now = at(n * MINUTE)
        store.observe([spec], flag(n * MINUTE, org=f"org-{n}"))
    # each org's one event stays 10 min + 1 min; sweeps run about once per pass over the keys
    assert len(store) <= 2 * 1024


def test_threshold_above_the_event_cap_is_refused() -> None:
    """A count the store cannot hold is a spec error, not a silent miss."""
    store = InProcessStore(clock=FakeClock(), max_events_per_key=2)
    with pytest.raises(SignalError) as err:
        store.observe([founding_spec()], flag(0))
    assert err.value.code == "signal-spec-invalid"


class TestKeyCap:
    def test_new_key_beyond_the_cap_is_refused_and_nothing_recorded(self) -> None:
        """At the cap, a new key fails closed with `signal-key-cap`; known keys keep counting."""
        clock = FakeClock()
        store = InProcessStore(clock=clock, max_keys=3)
        spec = founding_spec()
        for org in ("a", "b", "c"):
            store.observe([spec], flag(0, org))
        with pytest.raises(SignalError) as err:
            store.observe([spec], flag(MINUTE, "d"))
        assert err.value.code == "signal-key-cap"
        assert len(store) == 3
        store.observe([spec], flag(MINUTE, "a"))
        assert store.observe([spec], flag(2 * MINUTE, "a")) == [
            Fact("under_review", "a", at(2 * MINUTE), at(2 * MINUTE + 24 * HOUR))]

    def test_fact_histories_count_against_the_cap(self) -> None:
        """A fact needs its own entry; if it cannot have one the event is refused whole."""
        clock = FakeClock()
        store = InProcessStore(clock=clock, max_keys=1)
        spec = founding_spec(threshold=1)
        store.observe([spec], flag(0, "a"))
        with pytest.raises(SignalError) as err:
            store.observe([spec], flag(0, "b"))
        assert err.value.code == "signal-key-cap"
        assert store.facts_for({"under_review": "b"}, at(0)) == {}

    def test_stale_keys_make_room(self) -> None:
        """Once old keys fall beyond window + horizon, new keys are accepted again."""
        clock = FakeClock()
        store = InProcessStore(clock=clock, max_keys=2, horizon=timedelta(minutes=1))
        spec = founding_spec()
        store.observe([spec], flag(0, "a"))
        store.observe([spec], flag(0, "b"))
        clock.now = at(11 * MINUTE)
        assert store.observe([spec], flag(11 * MINUTE, "c")) == []
        assert len(store) == 1
