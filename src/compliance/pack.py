"""The rule-pack model: what a YAML pack file means, with where each piece came from.

These are frozen dataclasses produced by ``loader`` and read by every later stage.
CEL text is kept as ``CelSource`` (text plus a ``SourceMap``); parsing and type-checking
it is the checker's job, so one bad condition never stops the rest of a pack loading.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from compliance.cel.types import ContextSchema
from compliance.source import SourceFile, SourceMap, Span

Effect = Literal["allow", "deny", "intervene"]
OnUnknown = Literal["deny", "skip", "error"]
InterventionKind = Literal["refuse", "route", "modify", "steer", "degrade"]
Disclosure = Literal["visible", "silent"]
MergeRule = Literal["max", "min", "union", "prohibit-wins", "any-true", "all-true", "by-tier"]

TIER_RANKS: dict[str, int] = {"law": 400, "contract": 300, "policy": 200, "product": 100}


@dataclass(frozen=True, slots=True)
class CelSource:
    """One CEL expression as written in a pack: its text, where it came from in the file."""

    text: str
    source_map: SourceMap
    span: Span

    def span_of(self, start: int, end: int) -> Span:
        """The file span of characters ``[start, end)`` of ``text``."""
        return self.source_map.span(start, end)


@dataclass(frozen=True, slots=True)
class Template:
    """A human text with ``{cel}`` interpolations: literal strings and CEL parts in order."""

    parts: tuple[str | CelSource, ...]
    span: Span

    @property
    def is_constant(self) -> bool:
        """True when there is nothing to interpolate."""
        return all(isinstance(p, str) for p in self.parts)


@dataclass(frozen=True, slots=True)
class Instant:
    """A point in time as written (``raw``) and resolved (``at``, timezone-aware)."""

    raw: str
    at: datetime
    span: Span


@dataclass(frozen=True, slots=True)
class Window:
    """An effective window: ``start`` inclusive, ``until`` exclusive; either may be open.

    ``complete`` is false when a written edge could not be read (an error was reported), so
    no check mistakes the window for an open one.
    """

    start: Instant | None
    until: Instant | None
    span: Span
    complete: bool = True


@dataclass(frozen=True, slots=True)
class Variable:
    """A named CEL expression readable as ``vars.<name>`` in the pack's conditions."""

    name: str
    expr: CelSource
    span: Span


@dataclass(frozen=True, slots=True)
class Intervention:
    """What an ``intervene`` rule does to the request, and whether the user is told."""

    kind: InterventionKind
    disclosure: Disclosure
    span: Span
    target: str | None = None
    message: Template | None = None
    # Shown instead of ``message`` when the rule applies only because it failed closed:
    # plain text (no interpolation), so it can claim nothing the context did not establish.
    fail_closed_message: str | None = None
    justification: str | None = None
    instruction: str | None = None  # system-prompt addition for `modify`/`steer`


@dataclass(frozen=True, slots=True)
class Obligation:
    """One obligation a matching rule imposes, flattened to a kind with one value.

    Built-in kinds: ``retention_min_days`` (max wins), ``retention_max_days`` (min wins),
    ``training`` (``prohibited`` beats ``allowed``), ``custodian`` and ``logging_level``
    (resolved by tier), ``retention_purpose`` (union). Custom kinds carry their merge rule.
    ``group`` names the family an ``overrides:`` entry refers to (``retention`` …).
    """

    kind: str
    value: object
    merge: MergeRule
    group: str
    span: Span


@dataclass(frozen=True, slots=True)
class Override:
    """``overrides: {retention: contract}``: this rule's ``group`` obligations beat ``tier``."""

    group: str
    tier: str
    tier_rank: int
    span: Span


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule of a pack."""

    id: str
    span: Span
    effect: Effect | None = None  # None: the rule only imposes obligations
    when: CelSource | None = None  # None means always
    unless: CelSource | None = None
    reason: Template | None = None
    fail_closed_reason: str | None = None  # the reason when it failed closed (plain text)
    on_unknown: OnUnknown | None = None  # None: deny for deny/intervene rules, skip otherwise
    effective: Window | None = None
    priority: int = 0
    intervention: Intervention | None = None
    obligations: tuple[Obligation, ...] = ()
    overrides: tuple[Override, ...] = ()
    justification: str | None = None
    description: str | None = None

    @property
    def unknown_policy(self) -> OnUnknown:
        """The effective ``on_unknown``: fail closed for deny and intervene rules."""
        if self.on_unknown is not None:
            return self.on_unknown
        return "deny" if self.effect in ("deny", "intervene") else "skip"


@dataclass(frozen=True, slots=True)
class Signal:
    """``count`` events matching ``on`` for one ``key`` within ``within`` raise ``fact``.

    ``on`` and ``key`` are CEL over ``event`` (the manifest's ``events:`` schema); the key is
    the value of the request context path ``key_path`` the fact is read for, and the fact
    then holds for ``lifetime_ns`` (``for:``). Durations are nanoseconds as written; the
    checker refuses ones that are not positive, with the spans kept here.
    """

    name: str
    span: Span
    on: CelSource
    key: CelSource
    key_path: str
    key_path_span: Span
    count: int
    count_span: Span
    within_ns: int
    within_span: Span
    fact: str
    fact_span: Span
    lifetime_ns: int
    lifetime_span: Span


@dataclass(frozen=True, slots=True)
class Pack:
    """One rule pack file, with its provenance and content digest."""

    id: str
    version: str
    tier: str
    tier_rank: int
    source: SourceFile
    span: Span
    digest: str  # sha256 over the canonical (meaning-only) form, see loader
    authority: str | None = None
    owners: tuple[str, ...] = ()
    description: str | None = None
    effective: Window | None = None
    forbid_silent: bool = False
    variables: tuple[Variable, ...] = ()
    rules: tuple[Rule, ...] = ()
    signals: tuple[Signal, ...] = ()


@dataclass(frozen=True, slots=True)
class PackSet:
    """Packs loaded together with the context schema they are checked against.

    ``default_effect`` applies when no rule denies or intervenes. ``forbid_silent`` is
    true when any pack (or the manifest) forbids silent interventions.
    """

    packs: tuple[Pack, ...]
    schema: ContextSchema
    default_effect: Literal["allow", "deny"] = "allow"
    manifest: SourceFile | None = None
    # The manifest's shared variables. The loader also prepends them to every pack's
    # ``variables`` (after the pack digest is taken), so later stages need not know them.
    variables: tuple[Variable, ...] = ()
    # The manifest's ``events:`` schema: one variable ``event`` (with ``kind`` and ``time``),
    # what signal predicates and keys read. None when no manifest declared one.
    events: ContextSchema | None = None

    @property
    def signals(self) -> tuple[Signal, ...]:
        """Every pack's signals, in pack order."""
        return tuple(s for p in self.packs for s in p.signals)

    @property
    def forbid_silent(self) -> bool:
        """True when some pack declares ``forbid_silent: true``."""
        return any(p.forbid_silent for p in self.packs)
