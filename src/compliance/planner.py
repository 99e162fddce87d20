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

import bisect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from compliance.cel.ast import Expr
from compliance.cel.codegen import PackCodegen, RuleSource, generated_program
from compliance.cel.compiler import CompileEnv, compile_expr
from compliance.cel.values import to_timestamp
from compliance.decision import Match, PackInfo, RuleRef, build
from compliance.index import RuleIndex

if TYPE_CHECKING:
    from compliance.cel.types import ContextSchema
    from compliance.checker import CheckedPackSet, CheckedRule
    from compliance.pack import Intervention, Obligation, Override, Pack, Rule, Window

Program = Callable[[Mapping[str, object]], object]
TemplatePart = str | Program
ProgramFactory = Callable[[Expr, "ContextSchema", Mapping[str, Expr]], Program]
RuleEffect = Literal["allow", "deny", "intervene", "obligate"]

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
    when: Program | None
    unless: Program | None
    start: int | None
    until: int | None
    reason: tuple[TemplatePart, ...] | None
    message: tuple[TemplatePart, ...] | None
    tier_rank: int
    has_window: bool
    ref: RuleRef  # immutable, so shared by every decision that names this rule
    matches: tuple[Match, ...]  # [pass 1, pass 2, pass 1 fail-closed, pass 2 fail-closed]

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

    def next_boundary(self, at: int) -> int | None:
        """The first window edge strictly after ``at`` (epoch ns), or None."""
        i = bisect.bisect_right(self.boundaries, at)
        return self.boundaries[i] if i < len(self.boundaries) else None


def plan(checked: CheckedPackSet, pack_set_digest: str,
         factory: ProgramFactory = compiled_program) -> Plan:
    """Compile every rule of ``checked`` with ``factory`` and order them deterministically.

    Packs are ordered by tier (highest first), then pack id; rules keep file order. The
    order only affects the order of ``matched`` and ``reasons``, never the outcome.
    """
    schema = checked.pack_set.schema
    planned: list[PlannedRule] = []
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
            planned.append(_plan_rule(crule, len(planned), compile_one))
            whens.append((crule.when, variables))
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
    )


def _generated(crule: CheckedRule, codegen: PackCodegen) -> Callable[[Expr], Program]:
    """The rule's conditions and templates as one generated source (``<compliance p/r>``)."""
    source = RuleSource(codegen, crule.rule.id)
    exprs = [e for e in (crule.when, crule.unless, *crule.reason_parts, *crule.message_parts)
             if isinstance(e, Expr)]
    names = {id(e): source.add(e, crule.checked.get(id(e)), "cond") for e in exprs}
    built = source.build()
    return lambda expr: built[names[id(expr)]]


def _plan_rule(crule: CheckedRule, order: int, compile_one: Callable[[Expr], Program]
               ) -> PlannedRule:
    def program(expr: Expr | None) -> Program | None:
        return None if expr is None else compile_one(expr)

    def template(parts: Sequence[str | Expr]) -> tuple[TemplatePart, ...] | None:
        if not parts:
            return None
        return tuple(p if isinstance(p, str) else compile_one(p) for p in parts)

    rule, pack = crule.rule, crule.pack
    start, until = _intersect(pack.effective, rule.effective)
    effect = rule.effect or "obligate"
    matches = tuple(
        build(Match, {"pack": pack.id, "rule": rule.id, "effect": effect, "routing_pass": n,
                      "fail_closed": failed})
        for failed in (False, True) for n in (1, 2)
    )
    return PlannedRule(
        pack=pack,
        rule=rule,
        order=order,
        effect=effect,
        when=program(crule.when),
        unless=program(crule.unless),
        start=start,
        until=until,
        reason=template(crule.reason_parts),
        message=template(crule.message_parts),
        tier_rank=pack.tier_rank,
        has_window=start is not None or until is not None,
        ref=build(RuleRef, {"pack": pack.id, "rule": rule.id}),
        matches=matches,
    )


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
