"""RE2, the one regex engine: every pattern compiled quietly, its errors as plain text.

Patterns come from rule files and, for ``matches`` with a non-literal pattern, from request
contexts. Left to its defaults, RE2 logs each pattern it cannot parse to the process's
standard error (an ``absl`` banner and an ``re2.cc`` line), outside any logging the host
set up, once per bad pattern per request; and its error carries the reason as ``bytes``.
Every compile in the project goes through ``compile_re2``, which turns both off, and
every match through ``matcher``: this is the one module that imports ``re2``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import re2


class RegexError(ValueError):
    """A pattern RE2 cannot compile; ``reason`` is RE2's explanation as text."""

    def __init__(self, pattern: str, reason: str) -> None:
        super().__init__(reason)
        self.pattern = pattern
        self.reason = reason


def _quiet_options() -> re2.Options:
    options = re2.Options()
    options.log_errors = False
    return options


_QUIET = _quiet_options()


def compile_re2(pattern: str) -> Any:
    """The compiled RE2 ``pattern`` (default options, nothing logged); raises ``RegexError``."""
    try:
        return re2.compile(pattern, _QUIET)
    except re2.error as err:
        raise RegexError(pattern, _reason(err)) from None


def _reason(err: Exception) -> str:
    raw = err.args[0] if err.args else ""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    return text or "not a valid RE2 pattern"


def matcher(regex: Any, *, whole: bool) -> Callable[[str], bool]:
    """A fast ``text -> bool`` test of a compiled pattern: a full match if ``whole``, else a
    search (CEL ``matches``, which matches anywhere).

    Calls RE2's match directly on UTF-8 bytes when the binding exposes it: the public
    ``search`` and ``fullmatch`` also decode span offsets, which costs several times more
    (about ten times, for a full match, on every constrained read of a context value).
    """
    raw = getattr(regex, "_regexp", None)
    anchors = getattr(re2, "_Anchor", None)
    anchor = getattr(anchors, "ANCHOR_BOTH" if whole else "UNANCHORED", None)
    if raw is None or anchor is None:
        if whole:
            return lambda text: regex.fullmatch(text) is not None
        return lambda text: regex.search(text) is not None
    match = raw.Match
    miss = (-1, -1)

    def test(text: str) -> bool:
        data = text.encode("utf-8")
        return bool(match(anchor, data, 0, len(data))[0] != miss)

    return test
