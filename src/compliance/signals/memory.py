"""The in-process store: one lock for writes, sorted event times per (signal, key), bounded memory.

A one-key ``facts_for`` reads without the lock (docs/signals.md, "InProcessStore"): fact
histories are immutable tuples replaced whole, and the clock is read after them.

Memory bounds (docs/signals.md, "Memory"):

- each window keeps only events newer than ``window + horizon`` before the clock, and at
  most ``max_events_per_key`` of them (the newest; counts stay exact for in-order streams
  because the threshold never exceeds that cap);
- fact lifetimes that ended more than ``horizon`` ago are dropped;
- at most ``max_keys`` windows and ``max_keys`` fact histories. When an event would need a
  new one beyond the cap, stale entries are swept first; if none can go, the event is
  refused with ``signal-key-cap`` and nothing is recorded (fail closed: the caller learns
  that the signal was not counted, and existing keys keep working).
"""

from __future__ import annotations

import threading
from bisect import bisect_right, insort
from collections.abc import Mapping, Sequence
from datetime import timedelta

from compliance.cel.values import Duration, Timestamp
from compliance.signals.model import (
    MAX_KEY_LENGTH,
    Event,
    Fact,
    SignalError,
    SignalSpec,
    check_key,
)
from compliance.signals.store import (
    DEFAULT_HORIZON,
    Clock,
    check_instant,
    clock_nanos,
    holding,
    horizon_nanos,
    matching_within,
    merge_interval,
    system_clock,
)

__all__ = ["InProcessStore"]


_History = tuple[tuple[int, int], ...]
"""The sorted disjoint lifetimes ``(since, until)`` of one fact and key, in nanoseconds."""


class _Window:
    """Sorted event times (ns) of one signal and key, and the signal's window length."""

    __slots__ = ("span", "times")

    def __init__(self, span: int) -> None:
        self.span = span
        self.times: list[int] = []


class InProcessStore:
    """A thread-safe store for one process (the default)."""

    def __init__(
        self,
        *,
        clock: Clock = system_clock,
        horizon: timedelta | Duration | int = DEFAULT_HORIZON,
        max_keys: int = 100_000,
        max_events_per_key: int = 1_000,
    ) -> None:
        if max_keys < 1 or max_events_per_key < 1:
            raise ValueError("max_keys and max_events_per_key must be positive")
        self._clock = clock
        self._now = clock_nanos(clock)  # the per-query horizon check, in nanoseconds
        self._horizon = horizon_nanos(horizon)
        self.max_keys = max_keys
        self.max_events_per_key = max_events_per_key
        self._lock = threading.Lock()
        self._windows: dict[tuple[str, str], _Window] = {}
        self._facts: dict[tuple[str, str], _History] = {}
        self._ops = 0

    def observe(self, specs: Sequence[SignalSpec], event: Event) -> list[Fact]:
        """Record ``event`` for each matching spec; return the facts it raised (see ``Store``)."""
        pairs = matching_within(specs, event, self.max_events_per_key)
        if not pairs:
            return []
        t = event.time.nanos
        with self._lock:
            now = self._clock()
            check_instant(event.time, now.nanos, self._horizon, "event time")
            self._housekeeping(now)
            counts = [self._count(spec, key, t, now.nanos) for spec, key in pairs]
            self._check_cap(pairs, counts, now)
            raised: list[Fact] = []
            for (spec, key), count in zip(pairs, counts, strict=True):
                self._record(spec, key, t)
                if count >= spec.threshold:
                    raised.append(self._raise(spec, key, t, now))
            return raised

    def facts_for(self, keys: Mapping[str, str], at: Timestamp) -> dict[str, Fact]:
        """The facts among ``keys`` (fact name -> key) that hold at ``at`` (see ``Store``).

        One key (a pack set with one fact, the usual case) is read without the lock: a
        history is an immutable tuple replaced whole, so one dictionary read sees it before
        or after any concurrent ``observe``, never half of it. Several keys are read under
        the lock, so they come from one state of the store.
        """
        if len(keys) == 1:
            return self._held(keys, at)
        with self._lock:
            return self._held(keys, at)

    def __len__(self) -> int:
        """Windows plus fact histories currently held (what ``max_keys`` bounds)."""
        with self._lock:
            return len(self._windows) + len(self._facts)

    def event_count(self) -> int:
        """Event times currently held across all windows (for memory tests and monitoring)."""
        with self._lock:
            return sum(len(w.times) for w in self._windows.values())

    def _held(self, keys: Mapping[str, str], at: Timestamp) -> dict[str, Fact]:
        """``facts_for``'s answer: keys checked in order, then the horizon, then lifetimes."""
        histories = self._facts
        candidates: list[tuple[str, str, _History]] = []
        for name, key in keys.items():
            if type(key) is not str or not key or len(key) > MAX_KEY_LENGTH:
                check_key(key, name)  # the rare case: raises, explaining
            history = histories.get((name, key))
            if history is not None:  # most requests' keys never raised their fact
                candidates.append((name, key, history))
        # The clock is read after the histories: whatever a sweep dropped before they were
        # read ended more than a horizon before a clock no later than this one, so any
        # instant within the horizon is answered exactly (the clock never goes backwards).
        check_instant(at, self._now(), self._horizon, "instant")
        found: dict[str, Fact] = {}
        for name, key, history in candidates:
            lifetime = holding(history, at.nanos)
            if lifetime is not None:
                found[name] = Fact(name, key, Timestamp(lifetime[0]), Timestamp(lifetime[1]))
        return found

    # -- internals (called with the lock held) ------------------------------------------

    def _count(self, spec: SignalSpec, key: str, t: int, now: int) -> int:
        """Events in ``(t - window, t]`` including this one, after trimming the window."""
        window = self._windows.get((spec.name, key))
        if window is None:
            return 1
        window.span = spec.window_ns
        times = window.times
        cut = now - spec.window_ns - self._horizon
        if times and times[0] <= cut:
            del times[: bisect_right(times, cut)]
        return bisect_right(times, t) - bisect_right(times, t - spec.window_ns) + 1

    def _record(self, spec: SignalSpec, key: str, t: int) -> None:
        window = self._windows.get((spec.name, key))
        if window is None:
            window = self._windows[(spec.name, key)] = _Window(spec.window_ns)
        insort(window.times, t)
        if len(window.times) > self.max_events_per_key:
            del window.times[: len(window.times) - self.max_events_per_key]

    def _raise(self, spec: SignalSpec, key: str, t: int, now: Timestamp) -> Fact:
        history = self._facts.get((spec.fact, key), ())
        merged, (since, until) = merge_interval(
            history, t, t + spec.lifetime_ns, now.nanos - self._horizon
        )
        self._facts[(spec.fact, key)] = tuple(merged)  # replaced whole (see facts_for)
        return Fact(spec.fact, key, Timestamp(since), Timestamp(until))

    def _check_cap(
        self, pairs: list[tuple[SignalSpec, str]], counts: list[int], now: Timestamp
    ) -> None:
        """Refuse (``signal-key-cap``) an event that needs entries beyond ``max_keys``."""
        if max(len(self._windows), len(self._facts)) + len(pairs) <= self.max_keys:
            return  # room even if every entry were new (the common case, checked cheaply)

        def needed() -> tuple[int, int]:
            windows = {(s.name, k) for s, k in pairs if (s.name, k) not in self._windows}
            facts = {
                (s.fact, k)
                for (s, k), c in zip(pairs, counts, strict=True)
                if c >= s.threshold and (s.fact, k) not in self._facts
            }
            return len(self._windows) + len(windows), len(self._facts) + len(facts)

        if max(needed()) <= self.max_keys:
            return
        self._sweep(now)
        if max(needed()) > self.max_keys:
            raise SignalError(
                "signal-key-cap",
                f"the store already tracks {self.max_keys} keys; the event was not recorded",
                signal=pairs[0][0].name,
            )

    def _housekeeping(self, now: Timestamp) -> None:
        """Sweep stale entries about once per pass over the keys (amortised O(1) per event)."""
        self._ops += 1
        if self._ops >= max(1024, len(self._windows) + len(self._facts)):
            self._sweep(now)

    def _sweep(self, now: Timestamp) -> None:
        """Drop windows whose events all fell out, and lifetimes that ended beyond the horizon."""
        self._ops = 0
        for ident, window in list(self._windows.items()):
            times = window.times
            del times[: bisect_right(times, now.nanos - window.span - self._horizon)]
            if not times:
                del self._windows[ident]
        cut = now.nanos - self._horizon
        for ident, history in list(self._facts.items()):
            kept = tuple(lifetime for lifetime in history if lifetime[1] > cut)
            if kept:
                self._facts[ident] = kept
            else:
                del self._facts[ident]
