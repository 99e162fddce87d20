"""The checker's output types: what stage 3 (the planner) and ``compliance check`` read."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from compliance.cel.ast import Expr
from compliance.cel.checker import CheckedExpr
from compliance.diagnostics import Diagnostic, DiagnosticSet, Severity
from compliance.pack import Pack, PackSet, Rule
from compliance.source import Span

TemplatePart = str | Expr


@dataclass(frozen=True, slots=True)
class OverrideInfo:
    """One ``overrides:`` entry: rule ``rule`` of pack ``pack`` beats ``tier`` for ``group``.

    ``check`` lists every one, because an override is a deliberate exception to the tier
    order that reviewers must see.
    """

    pack: str
    rule: str
    group: str
    tier: str
    justification: str | None
    span: Span


@dataclass(frozen=True, slots=True)
class CheckedRule:
    """A rule whose CEL parsed and type-checked; ``None`` conditions mean "always"."""

    rule: Rule
    pack: Pack
    when: Expr | None
    unless: Expr | None
    reason_parts: tuple[TemplatePart, ...]
    message_parts: tuple[TemplatePart, ...]
    #: The checked trees of its expressions (conditions, template parts), by ``id(expr)``.
    #: An engine built with ``keep_checked_trees=False`` empties it once the rule is compiled.
    checked: dict[int, CheckedExpr] = field(default_factory=dict, compare=False)


@dataclass(frozen=True, slots=True)
class CheckedPack:
    """A pack with its variables parsed (``vars.<name>`` → expression) and its rules checked."""

    pack: Pack
    variables: Mapping[str, Expr]
    rules: tuple[CheckedRule, ...]
    #: Each variable's checked tree (its type is what ``vars.<name>`` reads as); emptied
    #: like ``CheckedRule.checked``.
    checked_variables: dict[str, CheckedExpr] = field(default_factory=dict, compare=False)


@dataclass(frozen=True, slots=True)
class CheckedPackSet:
    """A pack set that passed every check: the only input the planner accepts."""

    pack_set: PackSet
    packs: tuple[CheckedPack, ...]
    overrides: tuple[OverrideInfo, ...]


@dataclass(frozen=True)
class CheckReport:
    """Everything ``check_pack_set`` found; ``checked`` is None when any error was found."""

    diagnostics: DiagnosticSet
    checked: CheckedPackSet | None

    @property
    def ok(self) -> bool:
        """True when there are no errors (warnings and notes allowed)."""
        return not self.errors

    @property
    def errors(self) -> list[Diagnostic]:
        """The errors, sorted."""
        return self.diagnostics.errors

    @property
    def warnings(self) -> list[Diagnostic]:
        """The warnings, sorted."""
        return self.diagnostics.warnings

    @property
    def notes(self) -> list[Diagnostic]:
        """The notes (such as the override listing), sorted."""
        return [d for d in self.diagnostics.sorted() if d.severity is Severity.NOTE]
