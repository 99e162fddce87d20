"""Stateful signals: count events per key in sliding windows and raise facts with lifetimes.

The founding case: 3 ``safeguard_flag`` events for one ``org_id`` within 10 minutes put the
organisation ``under_review`` for 24 hours. Windows are counted at each event's own time and
a fact holds at an instant when its lifetime contains it, so a recorded stream replays to the
same facts; the clock only bounds what a store keeps. This package stands alone (it imports
no pipeline stage) so the engine can call it; docs/signals.md has the semantics.

``RedisStore`` needs the ``compliance[redis]`` extra; redis-py is imported only when one is
created.
"""

from __future__ import annotations

from compliance.signals.memory import InProcessStore
from compliance.signals.model import Event, Fact, SignalError, SignalSpec, StoreUnavailable
from compliance.signals.redis_store import RedisStore
from compliance.signals.store import DEFAULT_HORIZON, Clock, Store, system_clock

__all__ = [
    "DEFAULT_HORIZON",
    "Clock",
    "Event",
    "Fact",
    "InProcessStore",
    "RedisStore",
    "SignalError",
    "SignalSpec",
    "Store",
    "StoreUnavailable",
    "system_clock",
]
