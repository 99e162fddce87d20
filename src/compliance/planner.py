"""Stage 3: turn a checked pack set into an evaluation plan.

The plan is what ``Engine`` keeps: one ``PlannedRule`` per rule with its conditions as
compiled programs, its effective window as integer epoch nanoseconds (pack window and
rule window intersected), and everything the evaluator would otherwise recompute on
every request (rule references, tier ranks, sorted window boundaries).

The CEL backend is pluggable: ``compiled_program`` (the default) generates one Python
source per rule from the checker's typed trees (``compliance.cel.codegen``), variables
compiled once per pack; ``closure_program`` is the closure compiler, kept as a second
oracle; ``compliance.cel.interpreter`` offers cel-python's interpreter (the reference).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from compliance.cel.ast import Expr
from compliance.cel.codegen import PackCodegen, RuleSource, generated_program
from compliance.cel.compiler import CompileEnv, compile_expr
from compliance.cel.conform import reader, text_verdicts
from compliance.cel.memo import batch, evict_oldest
from compliance.cel.types import STRING
from compliance.cel.values import to_timestamp
from compliance.decision import Match, PackInfo, ReadOnlyList, RuleRef, build, encodable
from compliance.index import RuleIndex

if TYPE_CHECKING:
    from compliance.cel.types import ContextSchema
    from compliance.checker import CheckedPackSet, CheckedRule
    from compliance.pack import Intervention, Obligation, Override, Pack, Rule, Window

Program = Callable[[Mapping[str, object]], object]
TemplatePart = str | Program
ProgramFactory = Callable[[Expr, "ContextSchema", Mapping[str, Expr]], Program]
RuleEffect = Literal["allow", "deny", "intervene", "obligate"]
_VERBS: dict[str, str] = {
    "deny": "denies", "allow": "allows", "intervene": "intervenes", "obligate": "applies"}

_K = TypeVar("_K", bound=Hashable)
_V = TypeVar("_V")


class Memo(dict[_K, _V]):
    """A bounded map from keys to immutable values, shared by every request of one plan.

    Work that depends only on which rules applied (merged obligations, decision skeletons)
    is done once per distinct key and reused. Reads are the dict's own ``get`` (atomic, no
    lock, no Python call); writers go through ``put``, which serialises them, and a full
    memo drops its oldest eighth (``compliance.cel.memo``). ``size=0``
    stores nothing: every call recomputes (tests use it as the uncached path).
    """

    def __init__(self, size: int = 1024) -> None:
        super().__init__()
        self.size = size
        self._lock = threading.Lock()

    def put(self, key: _K, value: _V) -> _V:
        """Store ``value`` for ``key`` (first writer wins); return the value kept."""
        if self.size <= 0:
            return value
        with self._lock:
            if len(self) >= self.size:
                evict_oldest(self, batch(self.size))
            return self.setdefault(key, value)


_Model = TypeVar("_Model", Match, RuleRef)

def compiled_program(expr: Expr, schema: ContextSchema, variables: Mapping[str, Expr]) -> Program:
    """The default backend: generated Python (``plan`` compiles a whole pack at once)."""
    return generated_program(expr, schema, variables)


def closure_program(expr: Expr, schema: ContextSchema, variables: Mapping[str, Expr]) -> Program:
    """The closure compiler: one closure per node; a second oracle for the generated code."""
    return compile_expr(expr, CompileEnv(schema=schema, variables=variables))


@dataclass(frozen=True, slots=True)
class PlannedRule:
    """A rule ready to evaluate. ``start``/``until`` are epoch ns; None means open."""

    pack: Pack
    rule: Rule
    order: int
    effect: RuleEffect
    when: Program | None  # a generated condition may return its unknown (a CelUnknown)
    unless: Program | None  # ... as may this: read both only through the evaluator
    start: int | None
    until: int | None
    reason: tuple[TemplatePart, ...] | None
    message: tuple[TemplatePart, ...] | None
    tier_rank: int
    has_window: bool
    ref: RuleRef  # immutable, so shared by every decision that names this rule
    # [pass 1, pass 2, pass 1 fail-closed, pass 2 fail-closed], each built when first needed:
    # four models cost ~800 bytes a rule, and most rules of a big pack set rarely apply
    matches: list[Match | None]
    ident: str = ""  # "rule `r` of pack `p`", as every reason names it
    default_reason: str = ""  # "rule `r` of pack `p` denies": when the rule has no reason
    # The reason / message when it interpolates nothing: built once, encodable, and the
    # reason is the default one when its text is empty.
    reason_text: str | None = None
    message_text: str | None = None
    # The checked trees and the pack's variables, for the explain trace (compliance.cel.trace).
    when_expr: Expr | None = None
    unless_expr: Expr | None = None
    variables: Mapping[str, Expr] = field(default_factory=dict)
    # Failed-closed reasons by (rule ``order``, the paths it missed), a pure function of
    # the two: built once per pair, not per request. One memo shared by the plan's rules
    # (a memo per rule costs 5 MB at 10 000 rules, most of which never fail closed).
    failed_reasons: Memo[tuple[int, frozenset[str]], str] = field(
        default_factory=Memo, compare=False, repr=False)

    def match(self, routing_pass: int, fail_closed: bool) -> Match:
        """The immutable ``Match`` record of this rule applying in ``routing_pass``."""
        slot = routing_pass - 1 + (2 if fail_closed else 0)
        found = self.matches[slot]
        if found is None:  # two threads may both build it: equal records, either is kept
            found = self.matches[slot] = _shared_fields(build(Match, {
                "pack": self.pack.id, "rule": self.rule.id, "effect": self.effect,
                "routing_pass": routing_pass, "fail_closed": fail_closed}))
        return found

    @property
    def unknown_policy(self) -> str:
        """What an undecidable condition does: ``deny`` (fail closed), ``skip`` or ``error``."""
        return self.rule.unknown_policy

    @property
    def intervention(self) -> Intervention | None:
        """The rule's intervention, if it intervenes."""
        return self.rule.intervention

    @property
    def obligations(self) -> tuple[Obligation, ...]:
        """The obligations the rule imposes when it applies."""
        return self.rule.obligations

    @property
    def overrides(self) -> tuple[Override, ...]:
        """Explicit overrides of higher tiers for obligation groups."""
        return self.rule.overrides


@dataclass(frozen=True, slots=True)
class Plan:
    """Everything ``evaluate`` needs, immutable and shareable across threads."""

    rules: tuple[PlannedRule, ...]
    packs: tuple[Pack, ...]
    default_effect: Literal["allow", "deny"]
    boundaries: tuple[int, ...]  # every window edge, sorted, for `valid_until`
    pack_set_digest: str
    pack_infos: tuple[PackInfo, ...]
    index: RuleIndex  # which rules can match a context; exact (see compliance.index)
    backend: Literal["compiled", "interpreter"] = "compiled"  # recorded in every decision
    schema: ContextSchema | None = None  # how the evaluator itself reads `request.model`
    # Per-plan memos of work that depends only on which rules applied (bounded, shared).
    # `request.model` as the rules read it (conformed), judged once per plan, not per request
    model_reader: Callable[[object], Any] | None = field(default=None, compare=False, repr=False)
    # its verdicts by text, read inline (``conform.text_verdicts``; None unless it keeps them)
    model_verdicts: dict[str, Any] | None = field(init=False, compare=False, repr=False)
    merges: Memo[Any, Any] = field(default_factory=Memo, compare=False, repr=False)
    skeletons: Memo[Any, Any] = field(default_factory=Memo, compare=False, repr=False)
    # a decision's `missing` list, sorted and encodable, by the set of paths it holds
    missing_lists: Memo[Any, Any] = field(default_factory=Memo, compare=False, repr=False)
    # `pack_infos` as every decision's `packs`: one read-only list for all of them
    pack_list: ReadOnlyList[PackInfo] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "pack_list", ReadOnlyList(self.pack_infos))
        object.__setattr__(self, "model_verdicts", None if self.model_reader is None
                           else text_verdicts(self.model_reader))


def plan(checked: CheckedPackSet, pack_set_digest: str,
         factory: ProgramFactory = compiled_program, *, release_trees: bool = False) -> Plan:
    """Compile every rule of ``checked`` with ``factory`` and order them deterministically.

    Packs are ordered by tier (highest first), then pack id; rules keep file order. The
    order only affects the order of ``matched`` and ``reasons``, never the outcome.
    ``release_trees`` empties each rule's checked trees (types, references, overloads) once
    its code is generated, and a pack's variable trees after the pack: a caller that owns
    ``checked`` saves about 1 KB a rule. The expressions themselves stay.
    """
    schema = checked.pack_set.schema
    planned: list[PlannedRule] = []
    failed_reasons: Memo[tuple[int, frozenset[str]], str] = Memo()  # shared by the rules
    whens: list[tuple[Expr | None, Mapping[str, Expr]]] = []
    packs = sorted(checked.packs, key=lambda cp: (-cp.pack.tier_rank, cp.pack.id))
    for cpack in packs:
        variables = dict(cpack.variables)
        codegen = (PackCodegen(schema, variables, cpack.checked_variables, cpack.pack.id)
                   if factory is compiled_program else None)
        for crule in cpack.rules:
            if codegen is not None:
                compile_one = _generated(crule, codegen)
            else:
                def compile_one(expr: Expr, _v: Mapping[str, Expr] = variables) -> Program:
                    return factory(expr, schema, _v)
            planned.append(_plan_rule(crule, len(planned), compile_one, variables,
                                      failed_reasons))
            whens.append((crule.when, variables))
            if release_trees:
                crule.checked.clear()
        if release_trees:
            cpack.checked_variables.clear()  # the pack's codegen reads this very dict
    edges = sorted({e for r in planned for e in (r.start, r.until) if e is not None})
    # The index is proven exact against the compiled backends; the interpreter oracle
    # (coarser unknowns) evaluates every rule.
    exact = factory is compiled_program or factory is closure_program
    index = (RuleIndex.build(whens, schema=schema) if exact
             else RuleIndex.build([(None, {})] * len(whens)))
    return Plan(
        rules=tuple(planned),
        packs=tuple(cp.pack for cp in packs),
        default_effect=checked.pack_set.default_effect,
        boundaries=tuple(edges),
        pack_set_digest=pack_set_digest,
        pack_infos=tuple(
            build(PackInfo, {"id": cp.pack.id, "version": cp.pack.version,
                             "digest": cp.pack.digest, "tier": cp.pack.tier})
            for cp in packs
        ),
        index=index,
        backend="compiled" if exact else "interpreter",
        schema=schema,
        model_reader=reader(schema.lookup("request.model") or STRING, "request.model",
                            schema.limits),
    )


def _generated(crule: CheckedRule, codegen: PackCodegen) -> Callable[[Expr], Program]:
    """The rule's conditions and templates as one generated source (shared by its shape)."""
    source = RuleSource(codegen, crule.rule.id)
    exprs = [e for e in (crule.when, crule.unless, *crule.reason_parts, *crule.message_parts)
             if isinstance(e, Expr)]
    conditions = {id(crule.when), id(crule.unless)}  # read by `_run_pass`, which takes a
    # returned unknown (templates and variables are read by code that expects a raise)
    names = {id(e): source.add(e, crule.checked.get(id(e)), "cond",
                               returns_unknown=id(e) in conditions) for e in exprs}
    built = source.build()
    return lambda expr: built[names[id(expr)]]


def _plan_rule(crule: CheckedRule, order: int, compile_one: Callable[[Expr], Program],
               variables: Mapping[str, Expr],
               failed_reasons: Memo[tuple[int, frozenset[str]], str]) -> PlannedRule:
    def program(expr: Expr | None) -> Program | None:
        return None if expr is None else compile_one(expr)

    def template(parts: Sequence[str | Expr]) -> tuple[TemplatePart, ...] | None:
        if not parts:
            return None
        return tuple(p if isinstance(p, str) else compile_one(p) for p in parts)

    def constant(parts: tuple[TemplatePart, ...] | None) -> str | None:
        if parts is None or not all(isinstance(p, str) for p in parts):
            return None
        return "".join(p for p in parts if isinstance(p, str))

    rule, pack = crule.rule, crule.pack
    start, until = _intersect(pack.effective, rule.effective)
    effect = rule.effect or "obligate"
    reason, message = template(crule.reason_parts), template(crule.message_parts)
    ident = f"rule `{rule.id}` of pack `{pack.id}`"
    return PlannedRule(
        pack=pack,
        rule=rule,
        order=order,
        effect=effect,
        when=program(crule.when),
        unless=program(crule.unless),
        start=start,
        until=until,
        reason=reason,
        message=message,
        tier_rank=pack.tier_rank,
        has_window=start is not None or until is not None,
        ref=_shared_fields(build(RuleRef, {"pack": pack.id, "rule": rule.id})),
        matches=[None] * 4,
        ident=ident,
        default_reason=f"{ident} {_VERBS[effect]}",
        reason_text=_encodable_or(constant(reason), f"{ident} {_VERBS[effect]}"),
        message_text=_encodable_or(constant(message), ""),
        when_expr=crule.when,
        unless_expr=crule.unless,
        variables=variables,
        failed_reasons=failed_reasons,
    )


def _encodable_or(text: str | None, empty: str) -> str | None:
    """A constant text as the evaluator shows it: encodable, and ``empty`` for ``""``."""
    return None if text is None else encodable(text) or empty


_FIELDS_SETS: dict[frozenset[str], set[str]] = {}


def _shared_fields(model: _Model) -> _Model:
    """``model`` sharing one ``__pydantic_fields_set__`` with every plan model of its fields.

    A rule has a ``RuleRef`` and up to four ``Match`` records (built when it first applies);
    a set of five names costs 728 bytes, so 10 000 rules once spent ~36 MB on identical
    sets. The models are frozen and pydantic copies the set before changing it
    (``model_copy``), so one is safe.
    """
    fields = model.__pydantic_fields_set__
    shared = _FIELDS_SETS.setdefault(frozenset(fields), fields)
    object.__setattr__(model, "__pydantic_fields_set__", shared)
    return model


def _intersect(*windows: Window | None) -> tuple[int | None, int | None]:
    """The intersection of several windows as (start, until) epoch ns, open ends as None."""
    start: int | None = None
    until: int | None = None
    for window in windows:
        if window is None:
            continue
        if window.start is not None:
            s = _nanos(window.start.at)
            start = s if start is None else max(start, s)
        if window.until is not None:
            u = _nanos(window.until.at)
            until = u if until is None else min(until, u)
    return start, until


def _nanos(moment: datetime) -> int:
    stamp = to_timestamp(moment)
    assert stamp is not None  # an aware datetime always converts
    return stamp.nanos
