"""Stage 2, the checker: a loaded ``PackSet`` → ``CheckReport`` (diagnostics + checked set).

It parses every CEL expression once, then runs the named passes of ``PASSES`` (in the
style of OPA's compiler stages; ``run_pass`` runs one by name). Every pass
reads the same parsed set and returns diagnostics, so they run independently: a pack set
with errors still gets every independent diagnostic, and a syntax error in one expression
skips only that expression's type checks. The checked set, the planner's only input, is
built only when no pass found an error, so unchecked rules cannot be evaluated.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from compliance.cel.ast import Expr
from compliance.cel.checker import CheckedExpr
from compliance.checker._cost import check_cost
from compliance.diagnostics import Diagnostic, DiagnosticSet
from compliance.pack import CelSource, PackSet, Template

from ._cel_passes import check_literals, check_syntax, check_types, check_variable_cycles
from ._lint_passes import check_obligation_unknown, check_shadowed, check_unused_variables
from ._model import CheckedPack, CheckedPackSet, CheckedRule, CheckReport, OverrideInfo
from ._pack_passes import (
    check_forbid_silent,
    check_intervention_overlap,
    check_overrides,
    check_unreachable,
    overrides_of,
)
from ._parsed import ParsedPack, ParsedSet, parse_pack_set
from ._signal_passes import check_signals

__all__ = [
    "PASSES",
    "CheckReport",
    "CheckedPack",
    "CheckedPackSet",
    "CheckedRule",
    "OverrideInfo",
    "Pass",
    "check_pack_set",
    "run_pass",
]

Pass = Callable[[ParsedSet], list[Diagnostic]]

PASSES: list[tuple[str, Pass]] = [
    # Parsing happens once before the passes; this one only reports what failed to parse.
    ("cel-syntax", check_syntax),
    ("variable-cycle", check_variable_cycles),
    # undeclared-reference, type-mismatch, no-matching-overload, enum-mismatch,
    # non-bool-condition: one inference walk finds them all, so they are one pass.
    ("types", check_types),
    # invalid-regex, invalid-timestamp, invalid-duration: constant arguments only.
    ("literals", check_literals),
    ("forbid-silent", check_forbid_silent),
    # `override` notes (the listing `check` prints) and override-not-higher warnings.
    ("overrides", check_overrides),
    ("intervention-overlap", check_intervention_overlap),
    # unreachable-rule (constant conditions) and window-outside-pack.
    ("unreachable-rule", check_unreachable),
    # duplicate-signal, signal-not-positive, signal-key-mismatch, and the types of `on`/`key`.
    ("signals", check_signals),
    ("shadowed-rule", check_shadowed),
    ("unused-variable", check_unused_variables),
    ("obligation-unknown", check_obligation_unknown),
]
"""The checker's passes in run order, as ``(name, function)``; see ``run_pass``."""


def check_pack_set(pack_set: PackSet, *, check_costs: bool = True) -> CheckReport:
    """Run every pass over ``pack_set``; ``checked`` is set only when no error was found.

    ``check_costs=False`` skips the cost budget (for tools that apply their own budgets).
    """
    parsed = parse_pack_set(pack_set)
    diagnostics = DiagnosticSet()
    for _name, run in PASSES:
        diagnostics.extend(run(parsed))
    checked = None if diagnostics.errors else _checked(parsed)
    if checked is not None and check_costs:
        # The cost budget needs the whole checked set (variables inlined per use), so it
        # runs after the pass table; `cost-exceeded` errors withhold the checked set too.
        diagnostics.extend(check_cost(checked))
        if diagnostics.errors:
            checked = None
    return CheckReport(diagnostics, checked)


def run_pass(name: str, pack_set: PackSet) -> list[Diagnostic]:
    """The diagnostics of the single pass ``name`` (for tests and tools)."""
    table = dict(PASSES)
    if name not in table:
        raise KeyError(f"no checker pass `{name}` (passes: {', '.join(table)})")
    return table[name](parse_pack_set(pack_set))


def _checked(parsed: ParsedSet) -> CheckedPackSet:
    packs = tuple(_checked_pack(p, parsed.checked) for p in parsed.packs)
    return CheckedPackSet(parsed.pack_set, packs, overrides_of(parsed))


def _checked_pack(ppack: ParsedPack, trees: Mapping[int, CheckedExpr]) -> CheckedPack:
    variables = {s.name: s.expr for s in ppack.variables if s.expr is not None}
    exprs = {id(s.source): s.expr for s in ppack.rules if s.expr is not None}
    rules: list[CheckedRule] = []
    for rule in ppack.pack.rules:
        iv = rule.intervention
        sites = [s.expr for s in ppack.sites_of(rule) if s.expr is not None]
        rules.append(CheckedRule(
            rule=rule,
            pack=ppack.pack,
            when=_expr_of(rule.when, exprs),
            unless=_expr_of(rule.unless, exprs),
            reason_parts=_parts(rule.reason, exprs),
            message_parts=_parts(iv.message if iv else None, exprs),
            checked={id(e): trees[id(e)] for e in sites if id(e) in trees},
        ))
    typed = {n: trees[id(e)] for n, e in variables.items() if id(e) in trees}
    return CheckedPack(ppack.pack, variables, tuple(rules), typed)


def _expr_of(source: CelSource | None, exprs: dict[int, Expr]) -> Expr | None:
    return None if source is None else exprs[id(source)]


def _parts(template: Template | None, exprs: dict[int, Expr]) -> tuple[str | Expr, ...]:
    if template is None:
        return ()
    return tuple(p if isinstance(p, str) else exprs[id(p)] for p in template.parts)


