"""One definition of "a context value of type T": type, constraints, normalisation, limits.

Up-front validation (``contexts.validate_context``), the compiler's attribute readers and
the rule index all judge a context value here, so they cannot drift apart: elements of
lists, map keys and values and nested fields are checked the same way everywhere, with one
wording per type ("must be an integer"). ``conform`` returns the CEL value a rule sees
(normalised, converted: ``int`` to ``double``, RFC 3339 text to ``Timestamp``) or None when
the value counts as absent; anything else raises ``Nonconforming`` naming the exact path
(``principal.nationalities[0]``, ``request.risk_scores["bio"]``).

Limits bound every walk (depth, string, list and map sizes, int64 range), so a 401-digit
integer or a value nested 1000 deep is an error on its path, never an ``OverflowError`` or a
``RecursionError``; a string that cannot be encoded as UTF-8 (a lone surrogate) is an error
too, so nothing unserialisable reaches a rule.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from compliance.cel.memo import remember
from compliance.cel.regex import compile_re2, matcher
from compliance.cel.types import DYN, NO_CONSTRAINT, CelType, Limits
from compliance.cel.values import CelEvalError, Duration, Timestamp, UInt, to_duration, to_timestamp

__all__ = [
    "MEMO", "Nonconforming", "conform", "describe", "expected", "problems", "reader",
    "remembered", "shown_text",
]

_INT_MIN = -(2**63)
_INT_END = 2**63
_UINT_END = 2**64
_SHOWN = 40


class Nonconforming(Exception):  # noqa: N818 - a verdict on a value, raised to stop the walk
    """A context value that is not a value of its declared type (``path``: ``message``)."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"`{path}` {message}")
        self.path = path
        self.message = message

    def again(self) -> Nonconforming:
        """A fresh copy to raise for a kept verdict: raising the kept one would give it a
        traceback, and so keep alive every frame it passed through."""
        return Nonconforming(self.path, self.message)


MEMO = "\x00conformed"
"""Activation key of the per-request memo of verdicts (see ``remembered``)."""


def remembered(act: Mapping[str, Any], key: str, raw: object,
               judge: Callable[[object], Any]) -> Any:
    """``judge(raw)``, once per request: the verdict is kept in the activation's memo.

    The memo maps a path to ``(raw value, verdict)``; a hit needs the very same raw object
    (the memo keeps it alive, so its identity cannot be reused within the request). The
    compiled getters and the rule index share it, so a path is judged once per request.
    """
    memo = act.get(MEMO)
    if memo is None:
        return judge(raw)
    hit = memo.get(key)
    if hit is not None and hit[0] is raw:
        verdict = hit[1]
    else:
        try:
            verdict = judge(raw)
        except Nonconforming as exc:
            verdict = _kept(exc)
        memo[key] = (raw, verdict)
    if type(verdict) is Nonconforming:
        raise verdict.again()
    return verdict


def _kept(exc: Nonconforming) -> Nonconforming:
    """A verdict to keep: without its traceback it holds none of the frames (and contexts)
    it was raised through, so keeping it keeps nothing else alive."""
    exc.__traceback__ = exc.__context__ = None
    return exc


_Sink = Callable[[str, str], None]
_BAD: Any = object()  # what a failed check returns while collecting problems


@dataclass(frozen=True, slots=True)
class _Walk:
    """One judgement: the limits, and where a problem goes (raised, or collected)."""

    limits: Limits
    sink: _Sink


def conform(t: CelType, value: object, path: str, limits: Limits) -> Any:
    """The CEL value of ``value`` read as ``t`` (None: absent); raise ``Nonconforming``."""
    return _conform(t, value, path, 0, _Walk(limits, _raise))


def problems(t: CelType, value: object, path: str, limits: Limits) -> list[Nonconforming]:
    """Every way ``value`` is not a value of ``t`` (empty when it conforms)."""
    out: list[Nonconforming] = []
    _conform(t, value, path, 0, _Walk(limits, lambda p, m: out.append(Nonconforming(p, m))))
    return out


@lru_cache(maxsize=4096)
def reader(t: CelType, path: str, limits: Limits) -> Callable[[object], Any]:
    """``conform`` for one path, with a fast exit for the common well-formed scalar.

    One reader per (type, path, limits), shared by every rule that reads the path: a pack
    set of 10 000 rules keeps a few hundred readers, and a text's verdict is cached once.
    """
    kind = t.kind
    # equal, not only the same object: a declaration with nothing to check (`sensitive`
    # alone) and a type read back from a pickle carry a constraint equal to NO_CONSTRAINT
    plain = not t.enum and t.constraint == NO_CONSTRAINT

    walk = _Walk(limits, _raise)

    def general(v: object) -> Any:
        return _conform(t, v, path, 0, walk)

    if kind == "string" and plain:
        longest = limits.max_string

        def read_string(v: object) -> Any:
            if type(v) is str and len(v) <= longest and v.isascii():
                return v
            return general(v)

        read_string.fast_exit = (  # type: ignore[attr-defined]  # for `fast_exit`
            f"type({{v}}) is str and len({{v}}) <= {int(longest)} and {{v}}.isascii()")
        return read_string
    if kind == "string":
        return _cached_text(general)
    if kind == "list" and t.elem.kind in _SCALARS:
        return _scalar_list(t, path, limits, general)
    if kind == "bool":
        def read_bool(v: object) -> Any:
            return v if type(v) is bool else general(v)

        read_bool.fast_exit = "type({v}) is bool"  # type: ignore[attr-defined]
        return read_bool
    if kind == "int":
        def read_int(v: object) -> Any:
            if type(v) is int and _INT_MIN <= v < _INT_END:
                return v
            return general(v)

        return read_int
    if kind == "double" and t.constraint.finite:
        def read_double(v: object) -> Any:
            if type(v) is float and v - v == 0.0:  # false for NaN and infinities
                return v
            return general(v)

        return read_double
    return general


_TEXT_CACHE = 1024
"""Verdicts kept per constrained string path; a full cache drops its oldest eighth."""
_TEXT_CACHED = 64
"""Longest text whose verdict is cached (identifiers are short; long text is rare)."""


def _cached_text(general: Callable[[object], Any]) -> Callable[[object], Any]:
    """A constrained string's verdict by value: text is immutable, so this is exact.

    Normalising and full-matching costs microseconds; the same few country codes and model
    ids recur across requests, so each distinct text is judged once.
    """
    verdicts: dict[str, Any] = {}

    def read_text(v: object) -> Any:
        if type(v) is not str or len(v) > _TEXT_CACHED:
            return general(v)
        verdict = verdicts.get(v, _BAD)
        if verdict is _BAD:
            try:
                verdict = general(v)
            except Nonconforming as exc:
                verdict = _kept(exc)
            remember(verdicts, v, verdict, _TEXT_CACHE)
        if type(verdict) is Nonconforming:
            raise verdict.again()
        return verdict

    read_text.verdicts = verdicts  # type: ignore[attr-defined]  # for `text_verdicts`
    return read_text


def fast_exit(read: Callable[[object], Any]) -> str | None:
    """The test under which ``read`` returns its value as it is, as Python source over
    ``{v}`` (None when it has none): generated code inlines it and calls ``read`` otherwise.
    It is written beside the reader it mirrors, so the two cannot drift apart."""
    test: str | None = getattr(read, "fast_exit", None)
    return test


def text_verdicts(read: Callable[[object], Any]) -> dict[str, Any] | None:
    """The verdicts by text a constrained string's ``reader`` keeps, or None for others.

    A verdict is the conformed value or the ``Nonconforming`` error; generated code reads
    the dict inline and calls ``read`` for anything absent (it then fills the dict).
    """
    verdicts: dict[str, Any] | None = getattr(read, "verdicts", None)
    return verdicts


def _scalar_list(t: CelType, path: str, limits: Limits,
                 general: Callable[[object], Any]) -> Callable[[object], Any]:
    """A list of scalars: each element through its (cached) reader; any doubt, the full walk.

    The full walk names the failing element (``path[3]``), so errors still come from it.
    """
    elem = reader(t.elem, path, limits)
    longest = limits.max_list

    def read_list(v: object) -> Any:
        if type(v) is not list or len(v) > longest:
            return general(v)
        try:
            for i, x in enumerate(v):  # usually every element reads as itself: no copy
                if elem(x) is not x:
                    out = v[:i] + [elem(y) for y in v[i:]]
                    break
            else:
                out = v
        except Nonconforming:
            return general(v)
        if None in out:  # a null or empty element: the walk reports it
            return general(v)
        return out

    return read_list


def expected(t: CelType) -> str:
    """What a value of ``t`` must be, as the messages say it (``an integer``)."""
    if t.kind == "list":
        return "a list"
    if t.kind in ("map", "object"):
        return "an object"
    return _EXPECTED.get(t.kind, f"a {t}")


_EXPECTED = {
    "string": "a string", "bool": "true or false", "int": "an integer",
    "uint": "a non-negative integer", "double": "a number", "bytes": "bytes",
    "timestamp": "an RFC 3339 timestamp", "duration": "a duration such as `1.5s`",
    "null_type": "null",
}


def describe(value: object) -> str:
    """A short, always-serialisable description of a value for messages (``a string `x```)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"a bool `{'true' if value else 'false'}`"
    if isinstance(value, int):
        if value.bit_length() > 128:
            return f"an integer of about {int(value.bit_length() * 0.30103) + 1} digits"
        return f"an integer `{int(value)}`"
    if isinstance(value, float):
        return f"a number `{value!r}`"
    if isinstance(value, str):
        return f"a string `{shown_text(value)}`"
    if isinstance(value, bytes | bytearray):
        return "bytes"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    return f"a value of Python type `{type(value).__name__}`"


def shown_text(text: str) -> str:
    """At most 40 characters of ``text``, surrogates and control characters escaped."""
    clipped = text[:_SHOWN]
    shown = clipped.encode("utf-8", "backslashreplace").decode("utf-8")
    if not shown.isprintable():
        shown = json.dumps(shown)[1:-1]
    return shown + ("..." if len(text) > _SHOWN else "")


def _raise(path: str, message: str) -> None:
    raise Nonconforming(path, message)


def _bad(w: _Walk, path: str, message: str) -> Any:
    w.sink(path, message)
    return _BAD


def _wrong(w: _Walk, t: CelType, path: str, value: object) -> Any:
    return _bad(w, path, f"must be {expected(t)}, got {describe(value)}")


def _conform(t: CelType, v: object, path: str, depth: int, w: _Walk) -> Any:
    if v is None:
        return None  # null reads as absent (``null_type`` accepts it too)
    check = _SCALARS.get(t.kind)
    if check is not None:
        return check(t, v, path, w)
    if t.kind == "list":
        return _list(t, v, path, depth, w)
    if t.kind == "map":
        return _map(t, v, path, depth, w)
    if t.kind == "object":
        return _object(t, v, path, depth, w)
    if t.kind == "null_type":
        return _wrong(w, t, path, v)
    return _dyn(v, path, depth, w)


def _string(t: CelType, v: object, path: str, w: _Walk) -> Any:
    if not isinstance(v, str):
        return _wrong(w, t, path, v)
    text = str(v)
    if len(text) > w.limits.max_string:
        return _bad(w, path, f"is longer than {w.limits.max_string} characters")
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return _bad(w, path, f"is not valid Unicode text: `{shown_text(text)}`")
    c = t.constraint
    if c is NO_CONSTRAINT and not t.enum:
        return text
    for step in c.normalize:
        text = _NORMALIZE[step](text)
    if not text and c.empty_absent:
        return None
    if t.enum and text not in t.enum:
        return _bad(w, path, f"must be one of {', '.join(t.enum)}, got `{shown_text(text)}`")
    if c.pattern and not _full_match(c.pattern)(text):
        return _bad(w, path, f"must match `{c.pattern}`, got `{shown_text(text)}`")
    return text


_NORMALIZE: dict[str, Callable[[str], str]] = {
    "trim": str.strip, "casefold": str.casefold, "lower": str.lower, "upper": str.upper,
}


@lru_cache(maxsize=256)
def _full_match(pattern: str) -> Callable[[str], bool]:
    """RE2 full match (linear time); the manifest loader has already compiled ``pattern``."""
    return matcher(compile_re2(pattern), whole=True)


def _bool(t: CelType, v: object, path: str, w: _Walk) -> Any:
    return v if type(v) is bool else _wrong(w, t, path, v)


def _int(t: CelType, v: object, path: str, w: _Walk) -> Any:
    if isinstance(v, bool) or not isinstance(v, int) or isinstance(v, UInt):
        return _wrong(w, t, path, v)
    if not _INT_MIN <= v < _INT_END:
        return _bad(w, path, f"is outside the int64 range: {describe(v)}")
    return int(v)


def _uint(t: CelType, v: object, path: str, w: _Walk) -> Any:
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        return _wrong(w, t, path, v)
    if v >= _UINT_END:
        return _bad(w, path, f"is outside the uint64 range: {describe(v)}")
    return UInt(v)


def _double(t: CelType, v: object, path: str, w: _Walk) -> Any:
    if isinstance(v, bool) or not isinstance(v, int | float):
        return _wrong(w, t, path, v)
    try:
        number = float(v)
    except OverflowError:
        return _bad(w, path, f"is too large for a double: {describe(v)}")
    if t.constraint.finite and not math.isfinite(number):
        return _bad(w, path, f"must be a finite number, got `{number!r}`")
    return number


def _bytes(t: CelType, v: object, path: str, w: _Walk) -> Any:
    if not isinstance(v, bytes | bytearray):
        return _wrong(w, t, path, v)
    if len(v) > w.limits.max_string:
        return _bad(w, path, f"is longer than {w.limits.max_string} bytes")
    return bytes(v)


def _timestamp(t: CelType, v: object, path: str, w: _Walk) -> Any:
    if type(v) is Timestamp:
        return v
    if not isinstance(v, str | datetime):
        return _wrong(w, t, path, v)
    if isinstance(v, str) and len(v) > w.limits.max_string:
        return _bad(w, path, f"is longer than {w.limits.max_string} characters")
    try:
        return _parse_timestamp(v) if type(v) is str else to_timestamp(v)
    except (ValueError, CelEvalError) as exc:
        return _bad(w, path, f"must be an RFC 3339 timestamp: {exc}")


def _duration(t: CelType, v: object, path: str, w: _Walk) -> Any:
    if type(v) is Duration:
        return v
    if not isinstance(v, str | timedelta):
        return _wrong(w, t, path, v)
    if isinstance(v, str) and len(v) > w.limits.max_string:
        return _bad(w, path, f"is longer than {w.limits.max_string} characters")
    try:
        return to_duration(v)
    except (ValueError, CelEvalError) as exc:
        return _bad(w, path, f"must be a duration such as `1.5s`: {exc}")


@lru_cache(maxsize=1024)
def _parse_timestamp(text: str) -> Timestamp | None:
    """The one RFC 3339 parser, cached: the same few request times recur."""
    return to_timestamp(text)


_Check = Callable[[CelType, object, str, _Walk], Any]
_SCALARS: dict[str, _Check] = {
    "string": _string, "bool": _bool, "int": _int, "uint": _uint, "double": _double,
    "bytes": _bytes, "timestamp": _timestamp, "duration": _duration,
}


def _nested(path: str, depth: int, w: _Walk) -> bool:
    """Whether a container at ``depth`` is too deep (reported)."""
    if depth >= w.limits.max_depth:
        w.sink(path, f"is nested more than {w.limits.max_depth} levels deep")
        return True
    return False


def _list(t: CelType, v: object, path: str, depth: int, w: _Walk) -> Any:
    if not isinstance(v, list | tuple):
        return _wrong(w, t, path, v)
    if len(v) > w.limits.max_list:
        return _bad(w, path, f"has more than {w.limits.max_list} elements")
    if _nested(path, depth, w):
        return _BAD
    elem = t.elem
    out: list[Any] = []
    failed = False
    for i, item in enumerate(v):
        where = f"{path}[{i}]"
        got = _wrong(w, elem, where, item) if item is None and elem.kind not in (
            "dyn", "null_type") else _conform(elem, item, where, depth + 1, w)
        if got is None and item is not None:
            got = _bad(w, where, "must not be empty")
        failed = failed or got is _BAD
        out.append(got)
    return _BAD if failed else out


def _map_key(key: object) -> str:
    return json.dumps(key) if isinstance(key, str) else str(key)


def _map(t: CelType, v: object, path: str, depth: int, w: _Walk) -> Any:
    if not isinstance(v, Mapping):
        return _wrong(w, t, path, v)
    if len(v) > w.limits.max_map:
        return _bad(w, path, f"has more than {w.limits.max_map} entries")
    if _nested(path, depth, w):
        return _BAD
    out: dict[Any, Any] = {}
    failed = False
    for key, item in v.items():
        shown = _map_key(key) if isinstance(key, str | int) else "?"
        where = f"{path}[{shown}]"
        k = _conform(t.key, key, f"{where} (key)", depth + 1, w)
        got = _conform(t.value, item, where, depth + 1, w)
        if k is _BAD or got is _BAD:
            failed = True
        elif k is not None and got is not None:
            out[k] = got  # a null (or empty identifier) value is an absent entry
    return _BAD if failed else out


_KEY = CelType("string")


def _object(t: CelType, v: object, path: str, depth: int, w: _Walk) -> Any:
    if not isinstance(v, Mapping):
        return _wrong(w, t, path, v)
    if _nested(path, depth, w):
        return _BAD
    out: dict[str, Any] = {}
    failed = False
    for name, ftype in t.fields:
        if name in v:
            got = _conform(ftype, v[name], f"{path}.{name}", depth + 1, w)
            failed = failed or got is _BAD
            if got is not None:
                out[name] = got
    return _BAD if failed else out


def _dyn(v: object, path: str, depth: int, w: _Walk) -> Any:
    """A ``dyn`` value: any JSON-like value, within the limits, with finite numbers."""
    if isinstance(v, str):
        return _string(_KEY, v, path, w)
    if isinstance(v, bool) or type(v) is UInt:
        return v
    if isinstance(v, int):
        return _int(_INT, v, path, w)
    if isinstance(v, float):
        return _double(_DOUBLE, v, path, w)
    if isinstance(v, bytes | bytearray):
        return _bytes(_BYTES, v, path, w)
    if isinstance(v, Timestamp | Duration):
        return v
    if isinstance(v, datetime):
        return _timestamp(_TIMESTAMP, v, path, w)
    if isinstance(v, timedelta):
        return _duration(_DURATION, v, path, w)
    if isinstance(v, list | tuple):
        return _list(_DYN_LIST, v, path, depth, w)
    if isinstance(v, Mapping):
        return _map(_DYN_MAP, v, path, depth, w)
    return _bad(w, path, f"must be a JSON value, got {describe(v)}")


_INT = CelType("int")
_DOUBLE = CelType("double")
_BYTES = CelType("bytes")
_TIMESTAMP = CelType("timestamp")
_DURATION = CelType("duration")
_DYN_LIST = CelType("list", (DYN,))
_DYN_MAP = CelType("map", (DYN, DYN))
