"""Canonical JSON for log lines, and the strict reader that refuses anything else.

A log line is the canonical encoding of one record: orjson's sorted-key UTF-8 JSON, no
whitespace, shortest round-trip floats, no NaN or infinity; data orjson refuses (integers
beyond 64 bits) takes the standard library's sorted-key ASCII form. Lines are read back
with ``compliance.jsonread``, the one strict reader. Integrity is
checked on the bytes: a line must re-encode to exactly itself, so a duplicate key, a
reordered key or a reformatted number is an edit even when it parses to the same data.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

import orjson

from compliance.jsonread import JsonReadError, read_json

__all__ = [
    "MAX_DEPTH",
    "MAX_LINE_BYTES",
    "LineError",
    "canonical",
    "fast_canonical",
    "line_hash",
    "plain_canonical",
    "read_line",
    "sanitize",
]

MAX_LINE_BYTES = 4 * 1024 * 1024
MAX_DEPTH = 64
_MAX_INT_BITS = 13_000  # ~3 900 digits: under Python's int/str conversion limit
_MAX_INT_DIGITS = 4_000

_SURROGATE = re.compile("[\ud800-\udfff]")
_encoder = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
)


_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def canonical(obj: object) -> bytes:
    """The canonical bytes of JSON data: orjson's sorted-key UTF-8 form.

    Data orjson refuses (lone surrogates, integers beyond 64 bits) takes the standard
    library's sorted-key ASCII form instead; which one applies depends only on the data,
    so re-encoding a parsed line gives back the same bytes. Callers pass JSON data only
    (``sanitize`` makes it): orjson would write a NaN as ``null``, and a lone surrogate
    would come out as an escape no reader accepts.
    """
    try:
        return orjson.dumps(obj, option=_OPTIONS)
    except TypeError:  # orjson.JSONEncodeError
        return _encoder.encode(obj).encode("ascii")


def fast_canonical(obj: object) -> bytes | None:
    """``canonical(obj)`` when orjson can write it (None: ``sanitize`` it first)."""
    try:
        return orjson.dumps(obj, option=_OPTIONS)
    except TypeError:
        return None


def plain_canonical(obj: object) -> bytes | None:
    """``canonical(obj)`` if ``obj`` is plain JSON data already; None if it needs ``sanitize``."""
    out = fast_canonical(obj)
    if out is None:
        return None
    if out.find(b"null") >= 0 and _has_nonfinite(obj):  # (`bytes in` raises inside)
        return None  # orjson spelled a NaN or an infinity as null
    return out


def _has_nonfinite(obj: object) -> bool:
    stack = [obj]
    while stack:
        item = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return True
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return False


def line_hash(line: bytes) -> str:
    """``sha256:<hex>`` of one line's bytes (without its newline): the chain link."""
    return "sha256:" + hashlib.sha256(line).hexdigest()


class LineError(ValueError):
    """A line that is not one canonical JSON object; ``kind`` is ``malformed`` or ``edited``."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def read_line(line: bytes) -> dict[str, Any]:
    """Parse one log line strictly (``compliance.jsonread``); ``LineError`` unless canonical."""
    try:
        value = read_json(line, max_bytes=MAX_LINE_BYTES, max_depth=MAX_DEPTH,
                          max_int_digits=_MAX_INT_DIGITS)
    except JsonReadError as exc:
        kind = "edited" if exc.code == "duplicate-key" else "malformed"
        at = f" at column {exc.column}" if exc.column else ""
        prefix = "not a JSON record: " if exc.code == "invalid-json" and exc.column else ""
        raise LineError(kind, f"{prefix}{exc.message}{at}") from None
    if not isinstance(value, dict):
        raise LineError("malformed", "not a JSON object")
    if canonical(value) != line:
        raise LineError("edited", "not in canonical form (reformatted or altered)")
    return value


def sanitize(value: object, path: str, lossy: list[str], depth: int = 0) -> object:
    """``value`` as JSON data, never raising; paths that could not be kept exactly go to ``lossy``.

    Hosts pass contexts holding whatever they like. Timestamps become RFC 3339 text and
    durations ``<seconds>s`` (the spellings contexts use in JSON, so replay reads them the
    same); NaN, infinities, bytes, huge integers and foreign objects become descriptive text
    and are listed, so replay knows it cannot reproduce those inputs.
    """
    if isinstance(value, str):
        if _SURROGATE.search(value):  # not text: no UTF-8 spelling, refused by every reader
            lossy.append(path)
            return value.encode("utf-8", "backslashreplace").decode("utf-8")
        return value
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        if value.bit_length() > _MAX_INT_BITS:
            lossy.append(path)
            return f"<int of {value.bit_length()} bits>"
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        lossy.append(path)
        return repr(value)
    if depth >= MAX_DEPTH:
        lossy.append(path)
        return "<nested too deep>"
    if isinstance(value, Mapping):
        out: dict[str, object] = {}
        for key, item in value.items():
            name = key if isinstance(key, str) else str(key)
            if _SURROGATE.search(name):
                name = name.encode("utf-8", "backslashreplace").decode("utf-8")
            if name is not key:
                lossy.append(f"{path}.{name}")
            out[name] = sanitize(item, f"{path}.{name}" if path else name, lossy, depth + 1)
        return out
    if isinstance(value, list | tuple):
        return [sanitize(v, f"{path}[{i}]", lossy, depth + 1) for i, v in enumerate(value)]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return f"{value.total_seconds():g}s"
    lossy.append(path)
    if isinstance(value, bytes):
        return {"bytes_hex": value.hex()}
    try:
        return f"<{type(value).__name__}: {value!s:.200}>"
    except Exception:  # a host object whose __str__ fails must not lose the record
        return f"<{type(value).__name__}>"
