"""The data of stateful signals: what a signal counts, the events it reads, the facts it raises.

Everything here is plain frozen data so a store (in-process or Redis) and, later, the engine
agree on one meaning. Times are integer nanoseconds (``compliance.cel.values.Timestamp``), never
floats, so window boundaries are exact.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from types import MappingProxyType
from typing import Any

from compliance.cel.values import DURATION_MAX_SECONDS, Duration, Timestamp, parse_timestamp
from compliance.errors import ComplianceError

__all__ = [
    "MAX_KEY_LENGTH",
    "MAX_KIND_LENGTH",
    "Event",
    "Fact",
    "SignalError",
    "SignalSpec",
    "StoreUnavailable",
    "to_nanos",
]

MAX_KIND_LENGTH = 256
MAX_KEY_LENGTH = 1024
MAX_EVENT_FIELDS = 1024
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")


class SignalError(ComplianceError, ValueError):
    """A signal, event or query the store refuses; ``code`` is stable, ``field`` names the input.

    The store records nothing for an event that raised this, so the caller can fail closed.
    """

    def __init__(
        self, code: str, message: str, *, field: str | None = None, signal: str | None = None
    ) -> None:
        self.code = code
        self.message = message
        self.field = field
        self.signal = signal
        where = ": ".join(p for p in (f"signal `{signal}`" if signal else "", field or "") if p)
        super().__init__(f"{where + ': ' if where else ''}{message} [{code}]")


class StoreUnavailable(ComplianceError, ConnectionError):  # noqa: N818 - named by the design
    """The shared store could not be reached or answered with an error (code ``store-unavailable``).

    Raised instead of answering "no fact", so rules that read facts fail closed.
    """

    code = "store-unavailable"

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(f"{message} [store-unavailable]")


def to_nanos(value: timedelta | Duration | int, what: str) -> int:
    """Nanoseconds from a ``timedelta``, ``Duration`` or int; else ``signal-spec-invalid``."""
    if isinstance(value, bool):
        raise SignalError("signal-spec-invalid", f"{what} must be a duration, got a bool")
    if isinstance(value, int):
        nanos = value
    elif isinstance(value, timedelta):
        nanos = value // timedelta(microseconds=1) * 1000
    elif isinstance(value, Duration):
        nanos = value.nanos
    else:
        raise SignalError(
            "signal-spec-invalid", f"{what} must be a duration, got {type(value).__name__}"
        )
    if nanos > DURATION_MAX_SECONDS * 1_000_000_000:
        raise SignalError("signal-spec-invalid", f"{what} must be at most 10 000 years")
    if nanos <= 0:
        raise SignalError("signal-spec-invalid", f"{what} must be positive, got {nanos} ns")
    return nanos


Predicate = Callable[[Mapping[str, Any]], bool]
KeyExtractor = Callable[[Mapping[str, Any]], str]


@dataclass(frozen=True, slots=True)
class SignalSpec:
    """``threshold`` matching events for one key within a sliding ``window`` raise ``fact``.

    The fact then holds for ``lifetime`` from the event that reached the threshold. The
    predicate and key extractor are plain callables for now; the engine will pass compiled
    CEL. ``window`` and ``lifetime`` are a ``timedelta``, a ``Duration`` or nanoseconds.
    """

    name: str
    predicate: Predicate
    key: KeyExtractor
    threshold: int
    window: timedelta | Duration | int
    fact: str
    lifetime: timedelta | Duration | int
    window_ns: int = field(init=False, repr=False, compare=False)
    lifetime_ns: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for what, name in (("signal name", self.name), ("fact name", self.fact)):
            if not isinstance(name, str) or _NAME.fullmatch(name) is None:
                raise SignalError(
                    "signal-spec-invalid",
                    f"{what} `{name}` must be an identifier (letters, digits, `_`)",
                    signal=self.name if isinstance(self.name, str) else None,
                )
        if isinstance(self.threshold, bool) or not isinstance(self.threshold, int) or (
            self.threshold < 1
        ):
            raise SignalError(
                "signal-spec-invalid", f"threshold must be a positive int, got `{self.threshold}`",
                signal=self.name,
            )
        try:
            object.__setattr__(self, "window_ns", to_nanos(self.window, "window"))
            object.__setattr__(self, "lifetime_ns", to_nanos(self.lifetime, "lifetime"))
        except SignalError as err:
            raise SignalError(err.code, err.message, signal=self.name) from None

    def applies(self, event: Event) -> str | None:
        """The key this event counts under, or None when the predicate is false.

        A predicate or key extractor that raises or returns the wrong type is a
        ``signal-predicate-error``; the event is then recorded nowhere (fail closed).
        """
        try:
            matched = self.predicate(event.data)
        except Exception as err:
            raise SignalError(
                "signal-predicate-error", f"the event predicate failed: {err}", signal=self.name
            ) from err
        if type(matched) is not bool:
            raise SignalError(
                "signal-predicate-error",
                f"the event predicate returned {type(matched).__name__}, not bool",
                signal=self.name,
            )
        if not matched:
            return None
        try:
            key = self.key(event.data)
        except Exception as err:
            raise SignalError(
                "signal-predicate-error", f"the key could not be read: {err}", signal=self.name
            ) from err
        check_key(key, self.name)
        return key


def check_key(key: object, signal: str | None = None) -> str:
    """``key`` if it is a non-empty string of at most ``MAX_KEY_LENGTH`` characters."""
    if not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH:
        shown = type(key).__name__ if not isinstance(key, str) else f"{len(key)} characters"
        raise SignalError(
            "signal-key-invalid",
            f"a key must be a string of 1 to {MAX_KEY_LENGTH} characters, got {shown}",
            signal=signal,
        )
    return key


@dataclass(frozen=True, slots=True)
class Event:
    """One observed event: its ``kind``, its own ``time`` and the whole JSON object as ``data``."""

    kind: str
    time: Timestamp
    data: Mapping[str, Any]

    @classmethod
    def from_json(cls, obj: object) -> Event:
        """Validate a decoded JSON object; a ``SignalError`` (``event-invalid``) names the field."""
        if not isinstance(obj, Mapping):
            raise SignalError(
                "event-invalid", f"an event must be a JSON object, got {_json_type(obj)}"
            )
        if len(obj) > MAX_EVENT_FIELDS:
            raise SignalError(
                "event-invalid", f"an event has at most {MAX_EVENT_FIELDS} fields, got {len(obj)}"
            )
        for name in obj:
            if not isinstance(name, str):
                raise SignalError("event-invalid", f"field names must be strings, got `{name!r}`")
        kind = _required(obj, "kind")
        if not kind or len(kind) > MAX_KIND_LENGTH:
            raise SignalError(
                "event-invalid", f"must be 1 to {MAX_KIND_LENGTH} characters", field="kind"
            )
        text = _required(obj, "time")
        try:
            time = parse_timestamp(text)
        except ValueError as err:
            raise SignalError("event-invalid", str(err), field="time") from None
        return cls(kind, time, MappingProxyType(dict(obj)))


def _required(obj: Mapping[str, Any], name: str) -> str:
    if name not in obj:
        raise SignalError("event-invalid", "is required", field=name)
    value = obj[name]
    if not isinstance(value, str):
        raise SignalError("event-invalid", f"must be a string, got {_json_type(value)}", field=name)
    return value


def _json_type(value: object) -> str:
    """The JSON name of a decoded value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


@dataclass(frozen=True, slots=True, order=True)
class Fact:
    """``name`` holds for ``key`` from ``since`` (inclusive) to ``until`` (exclusive)."""

    name: str
    key: str
    since: Timestamp
    until: Timestamp

    def holds_at(self, at: Timestamp) -> bool:
        """Whether the lifetime contains ``at`` (never the wall clock)."""
        return self.since.nanos <= at.nanos < self.until.nanos
