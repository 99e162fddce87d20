"""Exceptions the library raises, all under one root so callers can catch them together.

Stages report problems in rule packs as ``Diagnostic`` data; an exception is raised only
where a caller asked for one (``Engine.from_path``, strict evaluation, log verification).
Where it helps ``except`` clauses the classes also subclass a builtin::

    ComplianceError
    ├── PackError(ValueError)        a pack set did not load or check; ``.diagnostics``
    ├── EvaluationError              strict mode: evaluation failed; code, pack, rule, location
    ├── LogIntegrityError            the hash-chained decision log was edited or has a gap
    ├── RequestDenied(PermissionError)        ``decision.raise_for_deny()``: user-facing reasons
    └── ObligationNotUnderstood(RuntimeError) ``decision.require_understood()``: unknown kinds

A malformed request context is not an exception: it fails closed with a ``bad-context``
error in the decision (``EvaluationError`` with that code in strict mode), and
``validate_context`` lists its problems as data.
"""

from __future__ import annotations

from collections.abc import Iterable

from compliance.diagnostics import Diagnostic, RuntimeCode, Severity

__all__ = ["ComplianceError", "ConfigurationError", "EvaluationError", "LogIntegrityError",
           "ObligationNotUnderstood", "PackError", "RequestDenied"]

_SHOWN = 5


class ComplianceError(Exception):
    """The root of every exception raised by ``compliance``."""


class ConfigurationError(ComplianceError, ValueError):
    """A setting (an environment variable) that ``compliance`` cannot use.

    The message names the setting, the value found and the values allowed; the command
    line reports it as a usage error (exit 2), not as a bug.
    """


class PackError(ComplianceError, ValueError):
    """Rule packs that cannot be used; ``diagnostics`` lists every problem found.

    ``str()`` shows the first few as ``file:line:col: error[code]: message`` one-liners so a
    traceback alone is enough to start fixing the pack.
    """

    def __init__(self, diagnostics: Iterable[Diagnostic]) -> None:
        self.diagnostics: tuple[Diagnostic, ...] = tuple(diagnostics)
        super().__init__(self._summary())

    def _summary(self) -> str:
        errors = [d for d in self.diagnostics if d.severity is Severity.ERROR] or list(
            self.diagnostics
        )
        lines = [_one_line(d) for d in errors[:_SHOWN]]
        if len(errors) > _SHOWN:
            lines.append(f"... and {len(errors) - _SHOWN} more")
        head = f"rule packs have {len(errors)} error{'s' if len(errors) != 1 else ''}"
        return "\n".join([head, *("  " + line for line in lines)])

    def __str__(self) -> str:
        return self._summary()


class EvaluationError(ComplianceError):
    """Strict mode: the first evaluation error (by default such errors fail closed instead).

    ``code`` is a run-time code (docs/errors.md); ``pack`` and ``rule`` name the failing rule
    and ``location`` is its condition's ``file:line:col``, each ``None`` where the error is
    not a rule's (a malformed context: ``bad-context``).
    """

    def __init__(
        self,
        code: RuntimeCode,
        message: str,
        *,
        pack: str | None = None,
        rule: str | None = None,
        location: str | None = None,
    ) -> None:
        self.code = code
        self.message = message
        self.pack = pack
        self.rule = rule
        self.location = location
        where = "/".join(p for p in (pack, rule) if p)
        at = f"{location}: " if location else ""
        super().__init__(f"{at}{where + ': ' if where else ''}{message} [{code}]")


class LogIntegrityError(ComplianceError):
    """The decision log's hash chain does not verify: a record was changed, removed or added."""


class RequestDenied(ComplianceError, PermissionError):  # noqa: N818 - reads as the event
    """The decision denied the request (``Decision.raise_for_deny``; code ``request-denied``).

    Carries only what may be shown to the caller: ``reasons`` (user-facing sentences) and
    ``decision_id`` (to quote to support, who look the decision up in the audit log).
    """

    code = "request-denied"

    def __init__(self, reasons: Iterable[str], decision_id: str) -> None:
        self.reasons: tuple[str, ...] = tuple(reasons)
        self.decision_id = decision_id
        super().__init__(f"{' '.join(self.reasons)} (decision {decision_id})")


class ObligationNotUnderstood(ComplianceError, RuntimeError):  # noqa: N818 - named by the design
    """The decision carries obligation kinds the host cannot discharge, so it must not serve.

    Obligations are must-understand (docs/decision.md); ``kinds`` are the ones not understood,
    sorted. Code ``obligation-not-understood``.
    """

    code = "obligation-not-understood"

    def __init__(self, kinds: Iterable[str], decision_id: str) -> None:
        self.kinds: tuple[str, ...] = tuple(sorted(kinds))
        self.decision_id = decision_id
        super().__init__(
            f"the host cannot discharge obligation kind(s) {', '.join(self.kinds)}; "
            f"not serving (decision {decision_id}) [{self.code}]"
        )


def _one_line(d: Diagnostic) -> str:
    """``file:line:col: severity[code]: message`` (1-based), the form compilers print."""
    head = f"{d.severity.value}[{d.code}]: {d.message}"
    if d.span is None:
        return head
    return f"{d.span.file}:{d.span.start.line + 1}:{d.span.start.col + 1}: {head}"
