"""Diagnostics: problems found in rule packs, as data (rendering lives in ``render``).

Also the closed set of codes. ``DiagnosticCode`` lists every code ``compliance check`` can
report, ``RuntimeCode`` every code an evaluation error (``Decision.errors``, ``EvaluationError``)
can carry. Both are ``Literal`` types, so mypy rejects a construction site with a code that is
not listed; ``tests/golden/test_errors_doc.py`` checks that docs/errors.md documents exactly
these sets. Adding a code: one line in the right ``Literal`` below, plus its entry in
docs/errors.md (a golden case for a check-time code, an entry in
``tests/golden/errors_doc.py``'s ``RUNTIME`` table for a run-time one).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal, get_args

from compliance.source import Span

MAX_DIAGNOSTICS = 100

DiagnosticCode = Literal[
    "ambiguous-local-time",
    "cel-syntax",
    "cost-exceeded",
    "duplicate-key",
    "duplicate-pack-id",
    "duplicate-rule-id",
    "duplicate-signal",
    "duplicate-variable",
    "empty-file",
    "empty-window",
    "enum-mismatch",
    "escape-in-condition",
    "file-not-found",
    "file-too-large",
    "folded-condition",
    "forbid-silent",
    "integer-too-large",
    "intervention-overlap",
    "invalid-character",
    "invalid-duration",
    "invalid-encoding",
    "invalid-instant",
    "invalid-obligation",
    "invalid-regex",
    "invalid-template",
    "invalid-timestamp",
    "invalid-type",
    "invalid-value",
    "io-error",
    "missing-field",
    "missing-justification",
    "missing-manifest",
    "missing-message",
    "multiple-documents",
    "naive-time",
    "no-effect",
    "no-matching-overload",
    "non-bool-condition",
    "nonexistent-local-time",
    "not-a-file",
    "offset-zone-mismatch",
    "override",
    "override-not-higher",
    "signal-key-mismatch",
    "signal-not-positive",
    "too-deep",
    "type-mismatch",
    "undeclared-reference",
    "unexpected-field",
    "unknown-field",
    "unknown-time-zone",
    "unreachable-rule",
    "variable-cycle",
    "window-outside-pack",
    "wrong-type",
    "yaml-alias",
    "yaml-syntax",
    "yaml-tag",
]
"""Every code a ``Diagnostic`` (``compliance check``, ``PackError``) can carry."""

RuntimeCode = Literal[
    "bad-context",
    "cost-limit",
    "division-by-zero",
    "eval-error",
    "eval-type-error",
    "internal-error",
    "invalid-argument",
    "modulus-by-zero",
    "no-matching-overload",
    "no-such-field",
    "no-such-key",
    "no-such-type",
    "outside-horizon",
    "overflow",
    "resource-exhausted",
    "route-loop",
    "store-unavailable",
    "undeclared-reference",
    "unknown-attribute",
]
"""Every code a run-time error (``CelEvalError``, ``EvalError``, ``EvaluationError``) can carry."""

InputCode = Literal[
    "duplicate-key",
    "invalid-json",
    "json-too-deep",
    "json-too-large",
    "non-finite-number",
]
"""Every code a refused input document (``JsonReadError``: a context, a traffic line) can carry."""

DIAGNOSTIC_CODES: frozenset[str] = frozenset(get_args(DiagnosticCode))
RUNTIME_CODES: frozenset[str] = frozenset(get_args(RuntimeCode))
INPUT_CODES: frozenset[str] = frozenset(get_args(InputCode))


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

    code: DiagnosticCode
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
