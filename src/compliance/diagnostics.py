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
    "constant-condition",
    "cost-exceeded",
    "duplicate-case",
    "duplicate-key",
    "duplicate-pack-id",
    "duplicate-rule-id",
    "duplicate-signal",
    "duplicate-suite",
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
    "obligation-unknown",
    "offset-zone-mismatch",
    "override",
    "override-not-higher",
    "shadowed-rule",
    "signal-key-mismatch",
    "signal-not-positive",
    "too-deep",
    "type-mismatch",
    "undeclared-reference",
    "unexpected-field",
    "unknown-field",
    "unknown-fixture",
    "unknown-rule",
    "unknown-time-zone",
    "unreachable-rule",
    "unused-variable",
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
    "not-an-object",
    "unreadable-file",
]
"""Every code a refused input document (``JsonReadError``: a context, a traffic line) can carry."""

DIAGNOSTIC_CODES: frozenset[str] = frozenset(get_args(DiagnosticCode))

SUMMARIES: dict[str, str] = {
    "ambiguous-local-time": "a local time that occurs twice (a DST fall-back) without an offset",
    "cel-syntax": "a condition or expression that is not valid CEL",
    "constant-condition":
        "a `when` or `unless` that folds to a constant: it reads nothing from the request",
    "cost-exceeded": "a rule or the pack set may cost more than the static budget",
    "duplicate-case": "two cases of one suite have the same name",
    "duplicate-key": "a mapping holds the same key twice",
    "duplicate-pack-id": "two packs in one pack set have the same id",
    "duplicate-rule-id": "two rules of one pack have the same id",
    "duplicate-signal": "two signals of one pack set have the same name",
    "duplicate-suite": "two suites in one run have the same name",
    "duplicate-variable": "a pack variable redeclares a variable shared by the manifest",
    "empty-file": "a pack file holds no document",
    "empty-window": "an effective window whose `until` is not after its `from`",
    "enum-mismatch": "a comparison with a value the attribute's enum does not allow",
    "escape-in-condition": "an escape sequence in a YAML-quoted condition (positions would drift)",
    "file-not-found": "a path that does not exist",
    "file-too-large": "a file over the size limit",
    "folded-condition": "a condition written as a folded or multi-line plain scalar",
    "forbid-silent": "a silent intervention in a pack set that forbids them",
    "integer-too-large": "an integer outside the 64-bit range",
    "intervention-overlap": "two rules may route the same request to different targets",
    "invalid-character": ("a control or non-character code point in a YAML file, or an "
                          "escape of half a surrogate pair"),
    "invalid-duration": "a duration literal that does not parse",
    "invalid-encoding": "a file that is not UTF-8 text",
    "invalid-instant": "an effective-window instant that is not a real date and time",
    "invalid-obligation": "an obligation with an unknown kind or a malformed value",
    "invalid-regex": "a `matches` pattern that RE2 rejects",
    "invalid-template": "a reason or message template with a malformed `{...}` part",
    "invalid-timestamp": "a timestamp literal that does not parse",
    "invalid-type": "a type in the context schema that does not parse",
    "invalid-value": "a value outside what the field allows",
    "io-error": "a file that exists but cannot be read",
    "missing-field": "a required field is absent",
    "missing-justification": "a silent intervention or a tier override without a justification",
    "missing-manifest": "no packset.yaml and no schema: the context is unknown",
    "missing-message": "a visible intervention without a message for the user",
    "multiple-documents": "a pack file holding more than one YAML document",
    "naive-time": "an instant without an offset or a time zone",
    "no-effect": "a rule with neither an effect nor obligations",
    "no-matching-overload": "an operator or function applied to types it has no overload for",
    "non-bool-condition": "a `when` or `unless` that is not a bool",
    "nonexistent-local-time": "a local time skipped by a DST spring-forward",
    "not-a-file": "a path that is a FIFO, device or socket, not a regular file",
    "obligation-unknown":
        "an obligation-only rule whose condition can be unknown, with no `on_unknown`",
    "offset-zone-mismatch": "an instant whose offset disagrees with its time zone",
    "override": "a rule overrides a higher tier for an obligation (listed for review)",
    "override-not-higher": "an override names a tier that is not higher than the rule's own",
    "shadowed-rule": "a rule that acts exactly like an earlier rule of its pack",
    "signal-key-mismatch": "a signal's key whose type does not match the context path it names",
    "signal-not-positive": "a signal count, window or fact lifetime that is not positive",
    "too-deep": "YAML nested deeper than the limit",
    "type-mismatch": "operands whose types do not fit the operator or function",
    "undeclared-reference": "a name the context schema or the pack does not declare",
    "unexpected-field": "a field that does not belong with the others given",
    "unknown-field": "a key the format does not define",
    "unknown-fixture": "a suite case names a fixture the suite does not declare",
    "unknown-rule": "a suite names a rule no pack defines",
    "unknown-time-zone": "a time zone name the IANA database does not know",
    "unreachable-rule": "a rule that can never apply",
    "unused-variable": "a variable no condition, template or variable reads",
    "variable-cycle": "variables that refer to each other in a cycle",
    "window-outside-pack": "a rule window that lies outside its pack's window",
    "wrong-type": "a value of the wrong YAML type for its field",
    "yaml-alias": "a YAML alias or anchor (refused: alias bombs)",
    "yaml-syntax": "a file that is not valid YAML",
    "yaml-tag": "an explicit YAML tag (refused)",
}
"""One line per check-time code: SARIF rule descriptions and `check --explain` read it."""
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
