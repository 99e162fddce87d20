"""Bounded input and guarded output for the command line.

The CLI reads documents it did not write (contexts, decision logs) and writes to streams it
does not control (a closed pipe, a full disk). This module turns every way that can go
wrong into an ``InputError`` or ``OutputError`` with a one-line message, so ``cli`` can
print it and exit with a documented code instead of a traceback.

Contexts are parsed by the project's one strict JSON reader (``compliance.jsonread``: no
NaN or infinities, no duplicate keys, no lone surrogates, integers of at most
``MAX_INT_DIGITS`` digits, nesting at most ``MAX_JSON_DEPTH`` deep), after at most
``max_bytes`` bytes were read from a regular file or from standard input only (a FIFO or a
device could block forever or never end).
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path
from typing import Any

from compliance.jsonread import JsonReadError, read_json

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
    """``data`` as a strict JSON object (``compliance.jsonread``), or ``InputError`` saying why."""
    try:
        value = read_json(data, max_bytes=max(len(data), 1), max_depth=MAX_JSON_DEPTH,
                          max_int_digits=MAX_INT_DIGITS)
    except JsonReadError as exc:
        where = f":{exc.line}:{exc.column}" if exc.line else ""
        raise InputError(f"{label}{where}: {_READ_ERRORS[exc.code]}: {exc.message}") from None
    if not isinstance(value, dict):
        raise InputError(f"{label}: the context must be a JSON object, got {_kind(value)}")
    return value


_READ_ERRORS = {
    "invalid-json": "invalid JSON", "duplicate-key": "invalid JSON",
    "non-finite-number": "invalid JSON", "json-too-deep": "too deeply nested",
    "json-too-large": "too large",
}


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
