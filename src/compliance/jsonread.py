"""The one JSON reader for request contexts: strict where Python's ``json`` is lenient.

``json.loads`` keeps the last of two equal keys, accepts ``NaN`` and ``Infinity`` and
recurses as deep as the document nests. A context is untrusted input, so here a
duplicate key is an error (which value the host meant is unknowable), non-finite numbers
are refused unless asked for, and the document's size and nesting depth are bounded
before it is parsed. Every failure is a ``JsonReadError`` with a kebab-case code and,
when the parser knows it, a 1-based line and column.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any

from compliance.diagnostics import InputCode

__all__ = ["DEFAULT_MAX_BYTES", "DEFAULT_MAX_DEPTH", "DEFAULT_MAX_INT_DIGITS", "JsonReadError",
           "read_json"]

DEFAULT_MAX_BYTES = 1 << 20  # 1 MiB: a request context is a few hundred bytes
DEFAULT_MAX_DEPTH = 64
DEFAULT_MAX_INT_DIGITS = 100  # int64 needs 19; a longer number is an attack, not a value
_SURROGATE = re.compile("[\ud800-\udfff]")
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")


class JsonReadError(ValueError):
    """Why a JSON document was refused; ``line``/``column`` are 1-based, 0 when unknown."""

    def __init__(self, code: InputCode, message: str, line: int = 0, column: int = 0) -> None:
        super().__init__(code, message, line, column)
        self.code = code
        self.message = message
        self.line = line
        self.column = column

    def __str__(self) -> str:
        where = f"{self.line}:{self.column}: " if self.line else ""
        return f"{where}{self.code}: {self.message}"


def read_json(data: str | bytes, *, max_bytes: int = DEFAULT_MAX_BYTES,
              max_depth: int = DEFAULT_MAX_DEPTH, max_int_digits: int = DEFAULT_MAX_INT_DIGITS,
              allow_nan: bool = False) -> object:
    """Parse one JSON document; raise ``JsonReadError`` for anything a context may not be.

    Codes: ``json-too-large`` (over ``max_bytes`` UTF-8 bytes), ``json-too-deep`` (arrays
    and objects nested over ``max_depth``), ``invalid-json`` (syntax, encoding, an integer
    of more than ``max_int_digits`` digits, a lone surrogate such as ``"\\ud800"``, which
    is not text and could not be written back), ``duplicate-key``, ``non-finite-number``
    (``NaN``, ``Infinity``, ``-Infinity``, or a number too large for a double such as
    ``1e999``, unless ``allow_nan``).
    """
    size = len(data) if isinstance(data, bytes) else len(data.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        raise JsonReadError("json-too-large", f"document is {size} bytes; the limit is {max_bytes}")
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise JsonReadError("invalid-json", f"not UTF-8: {exc.reason} at byte {exc.start}"
                                ) from exc
    else:
        text = data
    _check_depth(text, max_depth)
    try:
        value = json.loads(text, object_pairs_hook=_unique_object,
                           parse_constant=_constant(allow_nan),
                           parse_int=_int(max_int_digits), parse_float=_float(allow_nan))
    except JsonReadError:
        raise
    except json.JSONDecodeError as exc:
        raise JsonReadError("invalid-json", exc.msg, exc.lineno, exc.colno) from exc
    except (ValueError, RecursionError) as exc:
        raise JsonReadError("invalid-json", str(exc)) from exc
    if "\\u" in text or _SURROGATE.search(text):
        _refuse_surrogates(value)  # only an escape can smuggle one into parsed strings
    return value


def _int(max_digits: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        digits = len(text) - text.startswith("-")
        if digits > max_digits:
            raise JsonReadError("invalid-json",
                                f"an integer of {digits} digits; the limit is {max_digits}")
        return int(text)

    return parse


def _float(allow_nan: bool) -> Callable[[str], float]:
    def parse(text: str) -> float:
        value = float(text)
        if not allow_nan and not math.isfinite(value):
            raise JsonReadError("non-finite-number",
                                f"`{text[:20]}` is out of range for a double")
        return value

    return parse


def _refuse_surrogates(value: object) -> None:
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                raise JsonReadError("invalid-json",
                                    "a lone surrogate (\\ud800-\\udfff) in a string")
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _unique_object(pairs: list[tuple[str, object]]) -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in pairs:
        if key in out:
            shown = key if len(key) <= 80 else key[:80] + "…"
            raise JsonReadError("duplicate-key", f"duplicate key `{shown}` in one object")
        out[key] = value
    return out


def _constant(allow_nan: bool) -> Callable[[str], float]:
    def parse(name: str) -> float:
        if not allow_nan:
            raise JsonReadError("non-finite-number", f"`{name}` is not a JSON number")
        return float(name)

    return parse


def _check_depth(text: str, max_depth: int) -> None:
    """Refuse nesting over ``max_depth`` before the recursive parser sees it."""
    if text.count("[") + text.count("{") <= max_depth:
        return  # cannot nest deeper than the number of openers
    depth = 0
    for match in _BRACKET.finditer(_STRING.sub('""', text)):
        if match.group() in "[{":
            depth += 1
            if depth > max_depth:
                raise JsonReadError("json-too-deep", "arrays and objects nested too deep; "
                                    f"the limit is {max_depth} levels")
        else:
            depth -= 1
