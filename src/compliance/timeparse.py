"""RFC 3339 request times to exact integer epoch nanoseconds.

``datetime.fromisoformat`` stops at microseconds and accepts forms RFC 3339 does not
(no offset); request times are untrusted input, so they are parsed strictly here.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?"
    r"(?:([Zz])|([+-])(\d{2}):(\d{2}))\Z"
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class TimeFormatError(ValueError):
    """A value that is not an RFC 3339 timestamp with an explicit offset."""


def to_epoch_nanos(value: object) -> int:
    """Epoch nanoseconds of an RFC 3339 string, an aware ``datetime`` or an epoch-ns holder."""
    if isinstance(value, str):
        return _parse(value)
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise TimeFormatError("must be timezone-aware, got a naive datetime")
        delta = value - _EPOCH
        return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000
    nanos = getattr(value, "epoch_nanos", None)
    if isinstance(nanos, int):
        return nanos
    raise TimeFormatError(f"must be an RFC 3339 timestamp, got {type(value).__name__}")


def _parse(text: str) -> int:
    m = _RFC3339.match(text)
    if m is None:
        raise TimeFormatError(
            f"must be an RFC 3339 timestamp with an offset (e.g. `2026-06-12T21:21:00Z`), "
            f"got `{text[:40]}`"
        )
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    fraction = (m.group(7) or "").ljust(9, "0")
    try:
        base = datetime(year, month, day, hour, minute, min(second, 59), tzinfo=UTC)
    except ValueError as exc:
        raise TimeFormatError(f"is not a valid date or time: `{text[:40]}` ({exc})") from None
    offset = timedelta(0)
    if m.group(9):
        sign = 1 if m.group(9) == "+" else -1
        offset = sign * timedelta(hours=int(m.group(10)), minutes=int(m.group(11)))
    delta = base - offset - _EPOCH
    seconds = delta.days * 86_400 + delta.seconds + (1 if second == 60 else 0)
    return seconds * 1_000_000_000 + int(fraction)
