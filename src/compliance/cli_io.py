"""Bounded input and guarded output for the command line.

The CLI reads documents it did not write (contexts, decision logs) and writes to streams it
does not control (a closed pipe, a full disk). This module turns every way that can go
wrong into an ``InputError`` or ``OutputError`` with a one-line message, so ``cli`` can
print it and exit with a documented code instead of a traceback.

The context reader is strict JSON (RFC 8259): no NaN or infinities, no duplicate keys, no
lone surrogates, integers of at most ``MAX_INT_DIGITS`` digits, nesting at most
``MAX_JSON_DEPTH`` deep, and at most ``max_bytes`` bytes, read from a regular file or from
standard input only (a FIFO or a device could block forever or never end).
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
import sys
from pathlib import Path
from typing import Any

__all__ = [
    "DEFAULT_MAX_CONTEXT_BYTES",
    "MAX_INT_DIGITS",
    "MAX_JSON_DEPTH",
    "InputError",
    "OutputError",
    "parse_json_object",
    "read_bounded",
    "require_regular_file",
    "silence_stdout",
    "write_err",
    "write_out",
]

DEFAULT_MAX_CONTEXT_BYTES = 1 << 20
MAX_JSON_DEPTH = 64
"""Nesting bound of a context document; above the context validator's own, so it names paths."""
MAX_INT_DIGITS = 100
"""A JSON integer longer than this is refused; CEL integers are 64-bit (20 digits)."""

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(rb"[\[\]{}]")
_SURROGATE = re.compile("[\ud800-\udfff]")


class InputError(Exception):
    """An input that cannot be used; ``str()`` is the one-line message, without ``error:``."""


class OutputError(Exception):
    """Standard output cannot be written (closed, a broken pipe, a full disk)."""


def require_regular_file(path: Path, label: str) -> None:
    """Refuse what is not a regular file before opening it (a FIFO blocks in ``open``)."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise InputError(f"{label}: cannot read: {exc.strerror or exc}") from None
    if stat.S_ISDIR(mode):
        raise InputError(f"{label}: is a directory")
    if not stat.S_ISREG(mode):
        raise InputError(f"{label}: not a regular file (a FIFO, socket or device is refused)")


def read_bounded(name: str, max_bytes: int) -> tuple[bytes, str]:
    """The bytes of file ``name`` (``-`` for standard input) and its label for messages."""
    label = "<stdin>" if name == "-" else name
    if name == "-":
        stream = sys.stdin
        if stream is None:
            raise InputError(f"{label}: standard input is closed")
        try:
            data = stream.buffer.read(max_bytes + 1)
        except (OSError, ValueError) as exc:  # ValueError: the stream was closed
            raise InputError(f"{label}: cannot read: {getattr(exc, 'strerror', None) or exc}"
                             ) from None
    else:
        path = Path(name)
        require_regular_file(path, label)
        try:
            with path.open("rb") as handle:
                data = handle.read(max_bytes + 1)
        except OSError as exc:
            raise InputError(f"{label}: cannot read: {exc.strerror or exc}") from None
    if len(data) > max_bytes:
        raise InputError(f"{label}: larger than the limit of {max_bytes} bytes "
                         "(see --max-context-bytes)")
    return data, label


def parse_json_object(data: bytes, label: str) -> dict[str, Any]:
    """``data`` as a strict JSON object, or ``InputError`` saying what is wrong and where."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{label}: not UTF-8 text (byte {exc.start})") from None
    depth = _depth(data)
    if depth > MAX_JSON_DEPTH:
        raise InputError(f"{label}: nested {depth} levels deep; the limit is {MAX_JSON_DEPTH}")
    try:
        value = json.loads(text, object_pairs_hook=_object, parse_int=_int,
                           parse_constant=_constant, parse_float=_float)
    except json.JSONDecodeError as exc:
        raise InputError(f"{label}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
    except _RefusedError as exc:
        raise InputError(f"{label}: invalid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise InputError(f"{label}: the context must be a JSON object, got {_kind(value)}")
    _no_surrogates(value, label)
    return value


class _RefusedError(ValueError):
    """Raised from a ``json.loads`` hook; the message says what was refused."""


def _depth(data: bytes) -> int:
    """The deepest bracket nesting outside strings (linear; the parser itself recurses)."""
    depth = deepest = 0
    for match in _BRACKET.finditer(_STRING.sub(b"", data)):
        depth += 1 if match.group() in (b"[", b"{") else -1
        deepest = max(deepest, depth)
    return deepest


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _RefusedError(f"duplicate key `{_shown(key)}`")
        out[key] = value
    return out


def _int(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > MAX_INT_DIGITS:
        raise _RefusedError(f"an integer of {digits} digits; the limit is {MAX_INT_DIGITS}")
    return int(text)


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _RefusedError(f"the number `{text[:20]}` is out of range")
    return value


def _constant(text: str) -> object:
    raise _RefusedError(f"`{text}` is not a JSON value")


def _no_surrogates(value: object, label: str) -> None:
    """Refuse lone surrogates (``"\\ud800"``): they are not text and cannot be written."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            strings = [item]
        elif isinstance(item, dict):
            strings = list(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
            continue
        else:
            continue
        for s in strings:
            if _SURROGATE.search(s):
                raise InputError(f"{label}: invalid JSON: a lone surrogate (\\ud800-\\udfff) "
                                 "in a string")


def _shown(text: str) -> str:
    return _SURROGATE.sub("\ufffd", text[:40])


def _kind(value: object) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    return "a number"


def write_out(text: str) -> None:
    """Write ``text`` and a newline to standard output and flush, or raise ``OutputError``."""
    stream = sys.stdout
    if stream is None:
        raise OutputError("standard output is closed")
    try:
        stream.write(text + "\n")
        stream.flush()
    except (OSError, ValueError) as exc:  # ValueError: write to a closed file object
        raise OutputError(getattr(exc, "strerror", None) or str(exc)) from None


def write_err(text: str) -> None:
    """Write one line to standard error; a closed or broken stderr drops it silently."""
    stream = sys.stderr
    if stream is None:
        return
    try:
        stream.write(text + "\n")
        stream.flush()
    except (OSError, ValueError):
        return


def silence_stdout() -> None:
    """Point file descriptor 1 at /dev/null so the interpreter's exit flush cannot fail."""
    stream = sys.stdout
    if stream is None:
        return
    try:
        fd = stream.fileno()
    except (OSError, ValueError, AttributeError):
        return  # not a real file (a test capture): nothing is flushed at exit
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, fd)
        os.close(null)
    except OSError:
        return
