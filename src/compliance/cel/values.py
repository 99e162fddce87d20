"""CEL runtime values, and the two exceptions that stand for CEL errors and unknowns.

CEL values are plain Python values wherever one fits, so a request context can be read
without copying: int (never bool), ``UInt`` for uint, float for double, bool, str, bytes,
None for null, list/tuple for lists, dict for maps. Timestamps and durations keep
nanosecond precision as integers, which ``datetime``/``timedelta`` cannot.

Errors and unknowns are exceptions rather than values: Python 3.11 ``try`` blocks cost
nothing when nothing is raised, so the happy path of a decision stays fast.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from compliance.diagnostics import RuntimeCode

__all__ = [
    "DURATION_MAX_SECONDS",
    "TIMESTAMP_MAX_SECONDS",
    "TIMESTAMP_MIN_SECONDS",
    "CelEvalError",
    "CelTypeValue",
    "CelUnknown",
    "Duration",
    "Optional",
    "Timestamp",
    "UInt",
    "format_duration",
    "format_timestamp",
    "parse_duration",
    "parse_timestamp",
    "to_duration",
    "to_timestamp",
    "type_of",
]

NANOS = 1_000_000_000
TIMESTAMP_MIN_SECONDS = -62_135_596_800  # 0001-01-01T00:00:00Z
TIMESTAMP_MAX_SECONDS = 253_402_300_799  # 9999-12-31T23:59:59Z
DURATION_MAX_SECONDS = 315_576_000_000  # about 10 000 years, as protobuf's Duration
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class UInt(int):
    """A CEL ``uint``: an ``int`` that remembers it is unsigned (``1u != 1`` only in type)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"{int(self)}u"


@dataclass(frozen=True, slots=True, order=True)
class Timestamp:
    """A UTC instant as integer nanoseconds since the Unix epoch (years 0001 to 9999)."""

    nanos: int

    @property
    def seconds(self) -> int:
        """Whole seconds since the epoch (floor)."""
        return self.nanos // NANOS

    def to_datetime(self) -> datetime:
        """The instant as an aware UTC ``datetime`` (microsecond precision)."""
        return _EPOCH + timedelta(microseconds=self.nanos // 1000)

    def __str__(self) -> str:
        return format_timestamp(self)


@dataclass(frozen=True, slots=True, order=True)
class Duration:
    """A signed span of time as integer nanoseconds (within protobuf's ±315 576 000 000 s)."""

    nanos: int

    def __str__(self) -> str:
        return format_duration(self)


@dataclass(frozen=True, slots=True)
class CelTypeValue:
    """A CEL type used as a value: ``type(1) == int`` compares two of these by name."""

    name: str

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True, slots=True)
class Optional:
    """A CEL optional value (``optional.of(x)``/``optional.none()``); ``present`` says which."""

    present: bool
    value: object = None


OPTIONAL_NONE = Optional(False)


class CelEvalError(Exception):
    """A CEL evaluation error with a stable kebab-case ``code`` and the failing node's offsets."""

    def __init__(self, code: RuntimeCode, message: str, start: int = -1, end: int = -1) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.start = start
        self.end = end

    def __reduce__(self) -> tuple[Any, ...]:
        return (CelEvalError, (self.code, self.message, self.start, self.end))

    def at(self, start: int, end: int) -> CelEvalError:
        """Attach offsets if none are set yet (the innermost node that knows wins)."""
        if self.start < 0:
            self.start = start
            self.end = end
        return self


class CelUnknown(Exception):  # noqa: N818 - an unknown is not an error in CEL
    """An expression that cannot be decided because attributes are absent (``paths``)."""

    def __init__(self, paths: frozenset[str]) -> None:
        # No message built here: unknowns are raised on the hot path and almost always
        # caught; ``__str__`` names the paths when one is shown.
        self.paths = paths

    def __str__(self) -> str:
        return ", ".join(sorted(self.paths))

    def __reduce__(self) -> tuple[Any, ...]:
        return (CelUnknown, (self.paths,))


def range_error(what: str) -> CelEvalError:
    """The error for a timestamp or duration outside CEL's range."""
    return CelEvalError("overflow", f"{what} out of range")


def check_timestamp(nanos: int) -> Timestamp:
    """A ``Timestamp`` if ``nanos`` is within years 0001 to 9999, else an ``overflow`` error."""
    if not TIMESTAMP_MIN_SECONDS * NANOS <= nanos < (TIMESTAMP_MAX_SECONDS + 1) * NANOS:
        raise range_error("timestamp")
    return Timestamp(nanos)


def check_duration(nanos: int) -> Duration:
    """A ``Duration`` if ``nanos`` is within ±315 576 000 000 s, else an ``overflow`` error."""
    limit = (DURATION_MAX_SECONDS + 1) * NANOS
    if not -limit < nanos < limit:
        raise range_error("duration")
    return Duration(nanos)


_RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,9}))?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})"
)
"""RFC 3339 ``date-time``, ASCII digits only (``\\d`` would also match ``٢``)."""


def _clip(text: str) -> str:
    """``text`` as a message may quote it: at most 40 characters, surrogates escaped."""
    clipped = text[:40].encode("utf-8", "backslashreplace").decode("utf-8")
    return clipped + ("..." if len(text) > 40 else "")


def parse_timestamp(text: str) -> Timestamp:
    """Parse an RFC 3339 timestamp (``2009-02-13T23:31:30.123456789Z`` or with an offset)."""
    m = _RFC3339.fullmatch(text)
    if m is None:
        raise ValueError(
            f"`{_clip(text)}` is not an RFC 3339 timestamp such as `2026-06-15T17:21:00Z`"
        )
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    try:
        base = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError as err:
        raise ValueError(f"`{_clip(text)}` is not a valid timestamp: {err}") from None
    zone = m.group(8)
    offset = 0
    if zone not in ("Z", "z"):
        sign = -1 if zone[0] == "-" else 1
        oh, om = int(zone[1:3]), int(zone[4:6])
        if oh > 23 or om > 59:
            raise ValueError(f"`{_clip(text)}` has an invalid UTC offset `{zone}`")
        offset = sign * (oh * 3600 + om * 60)
    seconds = (base - _EPOCH) // timedelta(seconds=1) - offset
    frac = (m.group(7) or "").ljust(9, "0")
    nanos = seconds * NANOS + int(frac)
    if not TIMESTAMP_MIN_SECONDS <= seconds <= TIMESTAMP_MAX_SECONDS:
        raise ValueError(f"`{_clip(text)}` is outside the timestamp range 0001-01-01 to 9999-12-31")
    return Timestamp(nanos)


def format_timestamp(ts: Timestamp) -> str:
    """RFC 3339 in UTC with 0, 3, 6 or 9 fraction digits, as protobuf JSON prints it."""
    seconds, nanos = divmod(ts.nanos, NANOS)
    dt = _EPOCH + timedelta(seconds=seconds)
    text = dt.strftime("%Y-%m-%dT%H:%M:%S").rjust(19, "0")
    if dt.year < 1000:
        text = f"{dt.year:04d}" + text[text.index("-"):]
    return text + _fraction(nanos) + "Z"


def _fraction(nanos: int) -> str:
    if nanos == 0:
        return ""
    if nanos % 1_000_000 == 0:
        return f".{nanos // 1_000_000:03d}"
    if nanos % 1000 == 0:
        return f".{nanos // 1000:06d}"
    return f".{nanos:09d}"


_DURATION_UNITS = {
    "ns": 1, "us": 1000, "µs": 1000, "μs": 1000, "ms": 1_000_000, "s": NANOS,
    "m": 60 * NANOS, "h": 3600 * NANOS,
}
_DURATION_PART = re.compile(r"([0-9]*)(?:\.([0-9]*))?(ns|us|µs|μs|ms|s|m|h)")


def parse_duration(text: str) -> Duration:
    """Parse a Go-style duration such as ``1h2m3.5s``, ``-1.5s`` or ``100ms``."""
    body = text
    sign = 1
    if body[:1] in "+-" and body:
        sign = -1 if body[0] == "-" else 1
        body = body[1:]
    if body == "0":
        return Duration(0)
    if not body:
        raise ValueError(f"`{_clip(text)}` is not a duration such as `1h30m` or `-1.5s`")
    total = 0
    pos = 0
    while pos < len(body):
        m = _DURATION_PART.match(body, pos)
        if m is None or (not m.group(1) and not m.group(2)):
            raise ValueError(f"`{_clip(text)}` is not a duration such as `1h30m` or `-1.5s`")
        unit = _DURATION_UNITS[m.group(3)]
        whole = int(m.group(1) or "0") * unit
        frac_digits = m.group(2) or ""
        frac = int(frac_digits) * unit // (10 ** len(frac_digits)) if frac_digits else 0
        total += whole + frac
        pos = m.end()
    nanos = sign * total
    if abs(nanos) >= (DURATION_MAX_SECONDS + 1) * NANOS:
        raise ValueError(
            f"`{_clip(text)}` is outside the duration range of ±{DURATION_MAX_SECONDS}s"
        )
    return Duration(nanos)


def format_duration(d: Duration) -> str:
    """Seconds with 0, 3, 6 or 9 fraction digits (``1.5s``, ``-0.000000001s``)."""
    sign = "-" if d.nanos < 0 else ""
    seconds, nanos = divmod(abs(d.nanos), NANOS)
    return f"{sign}{seconds}{_fraction(nanos)}s"


def to_timestamp(value: object) -> Timestamp | None:
    """A ``Timestamp`` from a Timestamp, an aware ``datetime`` or an RFC 3339 string; else None.

    Raises ValueError for a naive datetime or a malformed string.
    """
    if type(value) is Timestamp:
        return value
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("a timestamp needs a time zone, got a naive datetime")
        delta = value - _EPOCH
        return check_timestamp(
            (delta.days * 86400 + delta.seconds) * NANOS + delta.microseconds * 1000
        )
    if isinstance(value, str):
        return parse_timestamp(value)
    return None


def to_duration(value: object) -> Duration | None:
    """A ``Duration`` from a Duration, a ``timedelta`` or a duration string; else None."""
    if type(value) is Duration:
        return value
    if isinstance(value, timedelta):
        return check_duration(
            (value.days * 86400 + value.seconds) * NANOS + value.microseconds * 1000
        )
    if isinstance(value, str):
        return parse_duration(value)
    return None


INT_TYPE = CelTypeValue("int")
UINT_TYPE = CelTypeValue("uint")
DOUBLE_TYPE = CelTypeValue("double")
BOOL_TYPE = CelTypeValue("bool")
STRING_TYPE = CelTypeValue("string")
BYTES_TYPE = CelTypeValue("bytes")
LIST_TYPE = CelTypeValue("list")
MAP_TYPE = CelTypeValue("map")
NULL_TYPE = CelTypeValue("null_type")
TYPE_TYPE = CelTypeValue("type")
TIMESTAMP_TYPE = CelTypeValue("google.protobuf.Timestamp")
DURATION_TYPE = CelTypeValue("google.protobuf.Duration")

TYPE_CONSTANTS: dict[str, CelTypeValue] = {
    t.name: t
    for t in (INT_TYPE, UINT_TYPE, DOUBLE_TYPE, BOOL_TYPE, STRING_TYPE, BYTES_TYPE, LIST_TYPE,
              MAP_TYPE, NULL_TYPE, TYPE_TYPE, TIMESTAMP_TYPE, DURATION_TYPE)
}

_TYPE_BY_CLASS: dict[type, CelTypeValue] = {
    bool: BOOL_TYPE, int: INT_TYPE, UInt: UINT_TYPE, float: DOUBLE_TYPE, str: STRING_TYPE,
    bytes: BYTES_TYPE, list: LIST_TYPE, tuple: LIST_TYPE, dict: MAP_TYPE, type(None): NULL_TYPE,
    Timestamp: TIMESTAMP_TYPE, Duration: DURATION_TYPE, CelTypeValue: TYPE_TYPE,
    Optional: CelTypeValue("optional_type"),
}


def type_of(value: object) -> CelTypeValue:
    """The CEL type of a runtime value (``type(x)``)."""
    t = _TYPE_BY_CLASS.get(type(value))
    if t is not None:
        return t
    if isinstance(value, bool):
        return BOOL_TYPE
    if isinstance(value, UInt):
        return UINT_TYPE
    if isinstance(value, int):
        return INT_TYPE
    if isinstance(value, float):
        return DOUBLE_TYPE
    if isinstance(value, str):
        return STRING_TYPE
    if isinstance(value, bytes | bytearray):
        return BYTES_TYPE
    if isinstance(value, list | tuple):
        return LIST_TYPE
    if isinstance(value, dict):
        return MAP_TYPE
    if isinstance(value, datetime):
        return TIMESTAMP_TYPE
    if isinstance(value, timedelta):
        return DURATION_TYPE
    from collections.abc import Mapping, Sequence  # noqa: PLC0415 - rare path

    if isinstance(value, Mapping):
        return MAP_TYPE
    if isinstance(value, Sequence):
        return LIST_TYPE
    message = f"unsupported value of Python type `{type(value).__name__}`"
    raise CelEvalError("invalid-argument", message)
