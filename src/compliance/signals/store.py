"""The store interface the engine calls, and the rules every store shares.

Semantics (docs/signals.md has the full text):

- An event is counted, for each signal whose predicate it matches, at the event's OWN time
  ``t``: the count is the number of recorded events of that signal and key with a time in
  ``(t - window, t]``. When it reaches the threshold the fact holds over ``[t, t + lifetime)``.
- A fact raised again while it holds (or right when it ends) is extended: the store keeps the
  union of the raised lifetimes, so "under review until 24 h after the last burst".
- Out-of-order events are counted at their own time against the events already recorded;
  they do not re-count later events.
- The clock never decides a fact. It only sets the store's *horizon*: events and queries within
  ``horizon`` of the clock are answered exactly; anything older or newer is refused with
  ``outside-horizon`` (never a silent "no fact"), which lets a store drop events older than
  ``window + horizon`` and fact lifetimes that ended more than ``horizon`` ago.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import timedelta
from typing import Protocol, runtime_checkable

from compliance.cel.values import Duration, Timestamp
from compliance.signals.model import (
    MAX_KEY_LENGTH,
    Event,
    Fact,
    SignalError,
    SignalSpec,
    check_key,
    to_nanos,
)

__all__ = [
    "DEFAULT_HORIZON",
    "Clock",
    "Store",
    "check_instant",
    "clock_nanos",
    "matching",
    "merge_interval",
    "system_clock",
]

Clock = Callable[[], Timestamp]
DEFAULT_HORIZON = timedelta(hours=1)


def system_clock() -> Timestamp:
    """The wall clock as a ``Timestamp`` (the default; used only for housekeeping)."""
    return Timestamp(time.time_ns())


def clock_nanos(clock: Clock) -> Callable[[], int]:
    """``clock`` read as integer nanoseconds, for the per-request horizon check.

    The system clock is ``time.time_ns`` itself: no ``Timestamp`` is built on every query
    (that object costs about as much as reading the clock). Any other clock is called as is.
    """
    if clock is system_clock:
        return time.time_ns
    return lambda: clock().nanos


@runtime_checkable
class Store(Protocol):
    """Where signal counts and facts live; in-process or shared by several replicas."""

    def observe(self, specs: Sequence[SignalSpec], event: Event) -> list[Fact]:
        """Record ``event`` for every spec it matches; return the facts it raised.

        Each returned fact is the lifetime that holds at the event's time after the update.
        Raises ``SignalError`` (nothing recorded) or ``StoreUnavailable``.
        """
        ...

    def facts_for(self, keys: Mapping[str, str], at: Timestamp) -> dict[str, Fact]:
        """The facts among ``keys`` (fact name -> key) that hold at ``at``, in one round trip.

        Raises ``SignalError`` (``outside-horizon``) or ``StoreUnavailable``; an absent entry
        means the fact is established not to hold.
        """
        ...


def horizon_nanos(horizon: timedelta | Duration | int) -> int:
    """The horizon in nanoseconds (positive)."""
    return to_nanos(horizon, "horizon")


def check_instant(at: Timestamp, now_ns: int, horizon_ns: int, what: str) -> None:
    """Refuse an instant further than the horizon from the clock (``outside-horizon``)."""
    if abs(at.nanos - now_ns) > horizon_ns:
        raise SignalError(
            "outside-horizon",
            f"{what} `{at}` is more than the store's horizon ({horizon_ns // 1_000_000_000} s) "
            f"from its clock `{Timestamp(now_ns)}`; the store cannot answer it exactly",
            field="time" if what == "event time" else None,
        )


def matching(specs: Sequence[SignalSpec], event: Event) -> list[tuple[SignalSpec, str]]:
    """The (spec, key) pairs the event counts for, all computed before anything is recorded."""
    if len(specs) > 1 and len({spec.name for spec in specs}) != len(specs):
        names = [spec.name for spec in specs]
        twice = next(name for name in names if names.count(name) > 1)
        raise SignalError("signal-spec-invalid", "declared twice", signal=twice)
    pairs: list[tuple[SignalSpec, str]] = []
    for spec in specs:
        key = spec.applies(event)
        if key is not None:
            pairs.append((spec, key))
    return pairs


def matching_within(specs: Sequence[SignalSpec], event: Event, max_events_per_key: int
                    ) -> list[tuple[SignalSpec, str]]:
    """``matching``, refusing a spec whose threshold the store could never count to."""
    pairs = matching(specs, event)
    for spec, _ in pairs:
        if spec.threshold > max_events_per_key:
            raise SignalError(
                "signal-spec-invalid",
                f"threshold {spec.threshold} exceeds the store's max_events_per_key "
                f"({max_events_per_key})",
                signal=spec.name,
            )
    return pairs


def check_keys(keys: Mapping[str, str]) -> None:
    """Every queried key is a valid key (``check_key`` explains the first that is not)."""
    for fact, key in keys.items():
        if type(key) is not str or not key or len(key) > MAX_KEY_LENGTH:  # the rare case
            check_key(key, fact)


def merge_interval(
    intervals: Iterable[tuple[int, int]], since: int, until: int, keep_after: int
) -> tuple[list[tuple[int, int]], tuple[int, int]]:
    """Add ``[since, until)`` to sorted disjoint lifetimes, merging overlapping or touching ones.

    Lifetimes that ended at or before ``keep_after`` are dropped. Returns the new list and
    the lifetime that now contains ``since``. The Redis Lua script mirrors this function.
    """
    kept: list[tuple[int, int]] = []
    for start, end in intervals:
        if end <= keep_after:
            continue
        if end < since or start > until:
            kept.append((start, end))
        else:
            since, until = min(since, start), max(until, end)
    kept.append((since, until))
    kept.sort()
    return kept, (since, until)


def holding(intervals: Iterable[tuple[int, int]], at: int) -> tuple[int, int] | None:
    """The lifetime containing ``at`` (since inclusive, until exclusive), if any."""
    for start, end in intervals:
        if start <= at < end:
            return start, end
    return None
