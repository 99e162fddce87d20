"""Replaying an event stream into a fresh engine, so it gives the same facts anywhere.

Signals count events at the events' own times (docs/signals.md), and a store keeps only
what its clock says is recent. A replay therefore uses a fresh in-process store whose clock
stands at each event's time while it is observed, then at the request's time (when later),
so a request a day after the burst sees the review's expiry. ``compliance eval --events``
and policy suites' ``events:`` both replay through here.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from compliance.cel.values import Timestamp, to_timestamp
from compliance.checker import CheckedPackSet
from compliance.engine import Backend, Engine
from compliance.signals import Event, Fact, InProcessStore

__all__ = ["ReplayClock", "fresh_engine", "replay", "replayed_engine", "request_time"]


class ReplayClock:
    """The replay's clock: it stands where the replay put it (an event's or request's time)."""

    def __init__(self) -> None:
        self.now = Timestamp(0)

    def __call__(self) -> Timestamp:
        return self.now

    def advance(self, at: Timestamp | None) -> None:
        """Move on to ``at`` when it is later (a request a day after the burst sees expiry)."""
        if at is not None and at.nanos > self.now.nanos:
            self.now = at


def request_time(context: Mapping[str, Any]) -> Timestamp | None:
    """The request's own ``request.time``, or None when absent or malformed.

    A replay moves its clock on to it; a malformed time is left for the decision to report.
    """
    request = context.get("request")
    moment = request.get("time") if isinstance(request, Mapping) else None
    try:
        return to_timestamp(moment) if moment is not None else None
    except (TypeError, ValueError):
        return None


def fresh_engine(source: CheckedPackSet | Engine, backend: Backend = "compiled"
                 ) -> tuple[Engine, ReplayClock]:
    """An engine over an empty in-process store, and the clock that store follows.

    Given an ``Engine``, its plan is reused (nothing recompiled) and ``backend`` is ignored.
    """
    clock = ReplayClock()
    store = InProcessStore(clock=clock)
    if isinstance(source, Engine):
        return source.with_store(store), clock
    return Engine(source, backend=backend, store=store), clock


def replay(engine: Engine, clock: ReplayClock, events: Iterable[Event]
           ) -> Iterator[tuple[Event, list[Fact]]]:
    """Observe each event, in order, with the clock at its time; each with the facts it raised.

    A bad event raises ``SignalError`` from ``Engine.observe``; callers name its position.
    """
    for event in events:
        clock.now = event.time
        yield event, engine.observe(event)


def replayed_engine(source: CheckedPackSet | Engine, events: Iterable[Event], *,
                    at: Timestamp | None = None, backend: Backend = "compiled") -> Engine:
    """A fresh engine that has observed ``events``, its clock moved on to ``at`` if later."""
    engine, clock = fresh_engine(source, backend)
    for _ in replay(engine, clock, events):
        pass
    clock.advance(at)
    return engine
