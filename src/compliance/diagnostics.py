"""Diagnostics: problems found in rule packs, as data (rendering lives in ``render``)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum

from compliance.source import Span

MAX_DIAGNOSTICS = 100


class Severity(StrEnum):
    """How bad a diagnostic is: errors fail ``compliance check``; warnings only with --strict."""

    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One problem: a stable kebab-case ``code``, a one-line message and where it is.

    Messages follow one style: lowercase, no final period, user input in backticks.
    ``help`` is an optional suggestion (a did-you-mean), ``notes`` extra context lines.
    """

    code: str
    message: str
    span: Span | None = None
    severity: Severity = Severity.ERROR
    help: str | None = None
    notes: tuple[str, ...] = ()

    @property
    def sort_key(self) -> tuple[str, int, int, str, str]:
        """Order by file, line, column, then code and message (stable across runs)."""
        if self.span is None:
            return ("", -1, -1, self.code, self.message)
        return (self.span.file, self.span.start.line, self.span.start.col, self.code, self.message)


class DiagnosticSet:
    """Collects diagnostics: de-duplicates, sorts and caps them at ``MAX_DIAGNOSTICS``."""

    def __init__(self, items: Iterable[Diagnostic] = ()) -> None:
        self._items: dict[tuple[object, ...], Diagnostic] = {}
        for item in items:
            self.add(item)

    def add(self, diagnostic: Diagnostic) -> None:
        """Add one diagnostic unless an identical one (same place, code and message) exists."""
        key = (diagnostic.span, diagnostic.code, diagnostic.message)
        self._items.setdefault(key, diagnostic)

    def extend(self, diagnostics: Iterable[Diagnostic]) -> None:
        """Add several diagnostics."""
        for d in diagnostics:
            self.add(d)

    def sorted(self) -> list[Diagnostic]:
        """All diagnostics in reporting order."""
        return sorted(self._items.values(), key=lambda d: d.sort_key)

    @property
    def errors(self) -> list[Diagnostic]:
        """Only the errors, sorted."""
        return [d for d in self.sorted() if d.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Diagnostic]:
        """Only the warnings, sorted."""
        return [d for d in self.sorted() if d.severity is Severity.WARNING]

    def __iter__(self) -> Iterator[Diagnostic]:
        return iter(self.sorted())

    def __len__(self) -> int:
        return len(self._items)

    def __bool__(self) -> bool:
        return bool(self._items)
