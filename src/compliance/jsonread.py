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
import re
from collections.abc import Callable

__all__ = ["DEFAULT_MAX_BYTES", "DEFAULT_MAX_DEPTH", "JsonReadError", "read_json"]

DEFAULT_MAX_BYTES = 1 << 20  # 1 MiB: a request context is a few hundred bytes
DEFAULT_MAX_DEPTH = 64
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")


class JsonReadError(ValueError):
    """Why a JSON document was refused; ``line``/``column`` are 1-based, 0 when unknown."""

    def __init__(self, code: str, message: str, line: int = 0, column: int = 0) -> None:
        super().__init__(code, message, line, column)
        self.code = code
        self.message = message
        self.line = line
        self.column = column

    def __str__(self) -> str:
        where = f"{self.line}:{self.column}: " if self.line else ""
        return f"{where}{self.code}: {self.message}"


def read_json(data: str | bytes, *, max_bytes: int = DEFAULT_MAX_BYTES,
              max_depth: int = DEFAULT_MAX_DEPTH, allow_nan: bool = False) -> object:
    """Parse one JSON document; raise ``JsonReadError`` for anything a context may not be.

    Codes: ``json-too-large`` (over ``max_bytes`` UTF-8 bytes), ``json-too-deep`` (arrays
    and objects nested over ``max_depth``), ``invalid-json`` (syntax, encoding, an integer
    over Python's digit limit), ``duplicate-key``, ``non-finite-number`` (``NaN``,
    ``Infinity``, ``-Infinity`` unless ``allow_nan``).
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
        return json.loads(text, object_pairs_hook=_unique_object,
                          parse_constant=_constant(allow_nan))
    except JsonReadError:
        raise
    except json.JSONDecodeError as exc:
        raise JsonReadError("invalid-json", exc.msg, exc.lineno, exc.colno) from exc
    except (ValueError, RecursionError) as exc:  # e.g. an integer over 4300 digits
        raise JsonReadError("invalid-json", str(exc)) from exc


def _unique_object(pairs: list[tuple[str, object]]) -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in pairs:
        if key in out:
            shown = key if len(key) <= 80 else key[:80] + "…"
            raise JsonReadError("duplicate-key", f"key `{shown}` appears twice in one object")
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
                raise JsonReadError("json-too-deep",
                                    f"arrays and objects nest deeper than {max_depth} levels")
        else:
            depth -= 1
