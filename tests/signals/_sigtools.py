"""Helpers shared by the signal-store tests: a settable clock and the founding spec."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from compliance.signals import SignalSpec
from compliance.values import Timestamp, parse_timestamp

T0 = parse_timestamp("2026-06-15T12:00:00Z")
MINUTE = 60 * 1_000_000_000
HOUR = 60 * MINUTE


def at(offset_ns: int) -> Timestamp:
    """``T0`` plus ``offset_ns``."""
    return Timestamp(T0.nanos + offset_ns)


@dataclass
class FakeClock:
    """A clock the test sets; stores read it only for housekeeping and the horizon."""

    now: Timestamp = field(default_factory=lambda: T0)

    def __call__(self) -> Timestamp:
        return self.now


def is_flag(event: Mapping[str, Any]) -> bool:
    """The founding case's event predicate."""
    return bool(event["kind"] == "safeguard_flag")


def org_of(event: Mapping[str, Any]) -> str:
    """The founding case's key extractor."""
    return str(event["org_id"])


def founding_spec(**changes: Any) -> SignalSpec:
    """3 `safeguard_flag` events for one org within 10 minutes -> `under_review` for 24 h."""
    fields: dict[str, Any] = {
        "name": "repeated_flags", "predicate": is_flag, "key": org_of, "threshold": 3,
        "window": timedelta(minutes=10), "fact": "under_review", "lifetime": timedelta(hours=24),
    }
    fields.update(changes)
    return SignalSpec(**fields)
