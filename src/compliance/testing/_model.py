"""The policy-suite model: what a suite file means, with where each piece came from.

A suite (docs/testing.md) names a pack set, fixtures and cases. The
loader resolves every case to a complete request context (fixtures, ``with``, the default
time, matrix expansion), so the runner only evaluates and compares.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compliance.signals import Event
from compliance.source import Span

EXPECT_FIELDS = ("effect", "model", "matched", "missing", "interventions", "obligations")
"""The expectation fields of the fixed format, in report order."""


@dataclass(frozen=True, slots=True)
class Expected:
    """One named expectation field: its value as written and where it was written.

    ``items`` holds the span of each list element (``matched`` ids are checked against
    the pack set and blamed one by one).
    """

    name: str
    value: Any
    span: Span
    items: tuple[Span, ...] = ()


@dataclass(frozen=True, slots=True)
class Case:
    """One test case, matrix cells already expanded, with its complete context."""

    suite: str
    name: str
    span: Span
    context: dict[str, Any]
    expect: tuple[Expected, ...]
    events: tuple[Event, ...] = ()
    """Events replayed, in order, into a fresh signal store before the case is evaluated."""

    @property
    def id(self) -> str:
        """``suite :: name``, the name filters and reports use."""
        return f"{self.suite} :: {self.name}"


@dataclass(frozen=True, slots=True)
class Exempt:
    """A coverage item a suite declares unreachable, with the reason (shown in every report).

    The honest form of ``# pragma: no cover``: e.g. the ``on_unknown`` of a rule whose
    condition guards every attribute with ``has()`` and so can never be unknown.
    """

    rule: str
    item: str
    reason: str
    span: Span


@dataclass(frozen=True, slots=True)
class Suite:
    """One suite file: its name, the pack set directory it tests and its cases."""

    name: str
    file: str
    span: Span
    packs: Path
    cases: tuple[Case, ...] = field(default=())
    exempt: tuple[Exempt, ...] = field(default=())
