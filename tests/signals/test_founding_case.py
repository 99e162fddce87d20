"""The founding case on both stores: 3 flags from one org within 10 minutes -> 24 h review."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from _sigtools import HOUR, MINUTE, FakeClock, at, founding_spec

from compliance.cel.values import Timestamp, format_timestamp
from compliance.signals import Event, Fact, SignalError, Store

SPECS = [founding_spec()]


def flag(offset_ns: int, org: str = "org-1", kind: str = "safeguard_flag") -> Event:
    """A recorded event ``offset_ns`` after T0."""
    return Event.from_json({"kind": kind, "time": format_timestamp(at(offset_ns)), "org_id": org})


def replay(store: Store, clock: FakeClock, events: list[Event]) -> list[Fact]:
    """Observe ``events`` in order with the clock at each event's time, as a replay does."""
    raised: list[Fact] = []
    for event in events:
        clock.now = event.time
        raised += store.observe(SPECS, event)
    return raised


def query(store: Store, clock: FakeClock, when: Timestamp, org: str = "org-1") -> dict[str, Fact]:
    """The facts for ``org`` at ``when``, with the clock at that instant (a live request)."""
    clock.now = when
    return store.facts_for({"under_review": org}, when)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(make_store: Callable[..., Store], clock: FakeClock) -> Store:
    return make_store(clock=clock)


def review(since: int) -> Fact:
    return Fact("under_review", "org-1", at(since), at(since + 24 * HOUR))


def test_two_flags_raise_no_fact(store: Store, clock: FakeClock) -> None:
    """Two flags within the window stay below the threshold."""
    assert replay(store, clock, [flag(0), flag(4 * MINUTE)]) == []
    assert query(store, clock, at(5 * MINUTE)) == {}


def test_three_flags_raise_the_fact_for_24_hours(store: Store, clock: FakeClock) -> None:
    """The third flag within 10 minutes raises `under_review` from its own time."""
    raised = replay(store, clock, [flag(0), flag(4 * MINUTE), flag(9 * MINUTE)])
    assert raised == [review(9 * MINUTE)]
    assert query(store, clock, at(9 * MINUTE)) == {"under_review": review(9 * MINUTE)}
    assert query(store, clock, at(9 * MINUTE - 1)) == {}


def test_third_flag_just_outside_the_window_raises_nothing(store: Store, clock: FakeClock) -> None:
    """A window of 10 minutes is `(t - 10 min, t]`: exactly 10 minutes later is outside."""
    assert replay(store, clock, [flag(0), flag(5 * MINUTE), flag(10 * MINUTE)]) == []
    assert query(store, clock, at(10 * MINUTE)) == {}


def test_third_flag_just_inside_the_window_raises(store: Store, clock: FakeClock) -> None:
    """One nanosecond less than 10 minutes after the first flag is still inside."""
    raised = replay(store, clock, [flag(0), flag(5 * MINUTE), flag(10 * MINUTE - 1)])
    assert raised == [review(10 * MINUTE - 1)]


def test_fact_expires_at_exactly_24_hours(store: Store, clock: FakeClock) -> None:
    """`until` is exclusive: the fact holds one nanosecond before 24 h, not at 24 h."""
    replay(store, clock, [flag(0), flag(MINUTE), flag(2 * MINUTE)])
    end = 2 * MINUTE + 24 * HOUR
    assert query(store, clock, at(end - 1)) == {"under_review": review(2 * MINUTE)}
    assert query(store, clock, at(end)) == {}


def test_other_kinds_and_other_orgs_do_not_count(store: Store, clock: FakeClock) -> None:
    """Only matching events count, and only under their own key."""
    events = [flag(0), flag(MINUTE, org="org-2"), flag(2 * MINUTE, kind="login"), flag(3 * MINUTE)]
    assert replay(store, clock, events) == []
    assert query(store, clock, at(3 * MINUTE)) == {}
    assert query(store, clock, at(3 * MINUTE), org="org-2") == {}


def test_flags_while_under_review_extend_it(store: Store, clock: FakeClock) -> None:
    """A fact raised again while it holds lasts 24 h from the latest raising event."""
    replay(store, clock, [flag(0), flag(MINUTE), flag(2 * MINUTE)])
    later = 2 * MINUTE + 30 * MINUTE
    raised = replay(store, clock, [flag(later - 2), flag(later - 1), flag(later)])
    assert raised == [Fact("under_review", "org-1", at(2 * MINUTE), at(later + 24 * HOUR))]
    assert query(store, clock, at(2 * MINUTE + 24 * HOUR)) == {"under_review": raised[0]}


def test_out_of_order_event_is_counted_at_its_own_time(store: Store, clock: FakeClock) -> None:
    """A late event counts with the earlier ones in its window, not with later ones."""
    clock.now = at(20 * MINUTE)
    assert store.observe(SPECS, flag(20 * MINUTE)) == []
    assert store.observe(SPECS, flag(0)) == []
    assert store.observe(SPECS, flag(MINUTE)) == []
    assert store.observe(SPECS, flag(2 * MINUTE)) == [review(2 * MINUTE)]


def test_events_and_queries_outside_the_horizon_are_refused(
    make_store: Callable[..., Store], clock: FakeClock
) -> None:
    """Beyond the horizon the store cannot be exact, so it says so instead of guessing."""
    store = make_store(clock=clock, horizon=HOUR)
    clock.now = at(2 * HOUR)
    with pytest.raises(SignalError) as err:
        store.observe(SPECS, flag(0))
    assert (err.value.code, err.value.field) == ("outside-horizon", "time")
    with pytest.raises(SignalError) as err:
        store.facts_for({"under_review": "org-1"}, at(0))
    assert err.value.code == "outside-horizon"
    with pytest.raises(SignalError):
        store.facts_for({"under_review": "org-1"}, at(3 * HOUR + 1))


def test_a_failing_predicate_records_nothing(store: Store, clock: FakeClock) -> None:
    """If one spec cannot be evaluated, no spec records the event (fail closed, all or none)."""

    def broken(event: Any) -> bool:
        raise KeyError("severity")

    specs = [founding_spec(threshold=1), founding_spec(name="broken", predicate=broken)]
    with pytest.raises(SignalError) as err:
        store.observe(specs, flag(0))
    assert (err.value.code, err.value.signal) == ("signal-predicate-error", "broken")
    assert query(store, clock, at(0)) == {}


def test_a_key_that_is_not_a_string_is_refused(store: Store) -> None:
    """The key extractor must produce a non-empty string."""
    spec = founding_spec(key=lambda event: event.get("org_id"))
    with pytest.raises(SignalError) as err:
        store.observe([spec], Event.from_json({"kind": "safeguard_flag", "time": str(at(0))}))
    assert err.value.code == "signal-key-invalid"


def test_two_specs_can_raise_facts_from_one_event(store: Store, clock: FakeClock) -> None:
    """Each matching spec counts the event in its own window."""
    specs = [founding_spec(), founding_spec(name="any_flag", threshold=1, fact="flagged")]
    clock.now = at(0)
    raised = store.observe(specs, flag(0))
    assert raised == [Fact("flagged", "org-1", at(0), at(24 * HOUR))]
    facts = store.facts_for({"flagged": "org-1", "under_review": "org-1"}, at(0))
    assert facts == {"flagged": raised[0]}


def test_replaying_a_recorded_stream_gives_the_same_facts(
    make_store: Callable[..., Store],
) -> None:
    """A recorded JSON stream replays into a fresh store to exactly the same facts."""
    stream = [
        {"kind": "safeguard_flag", "time": "2026-06-15T12:00:00Z", "org_id": "a"},
        {"kind": "safeguard_flag", "time": "2026-06-15T14:01:00+02:00", "org_id": "a"},
        {"kind": "login", "time": "2026-06-15T12:02:00Z", "org_id": "a"},
        {"kind": "safeguard_flag", "time": "2026-06-15T12:03:00.5Z", "org_id": "b"},
        {"kind": "safeguard_flag", "time": "2026-06-15T12:09:59.999999999Z", "org_id": "a"},
        {"kind": "safeguard_flag", "time": "2026-06-15T12:20:00Z", "org_id": "b"},
        {"kind": "safeguard_flag", "time": "2026-06-15T12:21:00Z", "org_id": "b"},
    ]
    runs = []
    for _ in range(2):
        clock = FakeClock()
        store = make_store(clock=clock)
        raised = replay(store, clock, [Event.from_json(obj) for obj in stream])
        runs.append((raised, [query(store, clock, at(m * MINUTE), org) for m in (9, 10, 21)
                              for org in ("a", "b")]))
    assert runs[0] == runs[1]
    first = 10 * MINUTE - 1
    assert runs[0][0] == [Fact("under_review", "a", at(first), at(first + 24 * HOUR))]


def test_a_lifetime_starting_as_the_last_ends_joins_it(store: Store, clock: FakeClock) -> None:
    """Lifetimes that touch (`until` == next `since`) merge: the review never lapses."""
    replay(store, clock, [flag(0), flag(MINUTE), flag(2 * MINUTE)])
    end = 2 * MINUTE + 24 * HOUR
    raised = replay(store, clock, [flag(end - 2 * MINUTE), flag(end - MINUTE), flag(end)])
    assert raised == [Fact("under_review", "org-1", at(2 * MINUTE), at(end + 24 * HOUR))]


def test_separate_lifetimes_stay_separate(store: Store, clock: FakeClock) -> None:
    """A gap between two reviews is a time with no fact."""
    replay(store, clock, [flag(0), flag(MINUTE), flag(2 * MINUTE)])
    end = 2 * MINUTE + 24 * HOUR
    second = replay(store, clock, [flag(end), flag(end + MINUTE), flag(end + 2 * MINUTE)])
    assert second == [Fact("under_review", "org-1", at(end + 2 * MINUTE),
                           at(end + 2 * MINUTE + 24 * HOUR))]
    assert query(store, clock, at(end - 1)) == {"under_review": review(2 * MINUTE)}
    assert query(store, clock, at(end + MINUTE)) == {}
    assert query(store, clock, at(end + 2 * MINUTE)) == {"under_review": second[0]}


def test_a_spec_name_given_twice_is_refused(store: Store) -> None:
    """Two specs with one name would share a window; that is a spec error."""
    with pytest.raises(SignalError) as err:
        store.observe([founding_spec(), founding_spec(threshold=1)], flag(0))
    assert (err.value.code, err.value.signal) == ("signal-spec-invalid", "repeated_flags")


def test_both_stores_implement_the_protocol(store: Store) -> None:
    """The engine can take either store as a `Store`."""
    assert isinstance(store, Store)
