"""The checker's cost pass: ``cost-exceeded`` when a rule or the set may cost too much.

The bounds come from the language's static model (``compliance.cel.cost``), computed under
the sizes the schema's context-value limits guarantee, so a context within those limits is
within what was assumed here; values beyond them are refused where they are read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from compliance.cel.cost import (
    DEFAULT_RULE_BUDGET,
    DEFAULT_TOTAL_BUDGET,
    SizeAssumptions,
    estimate_cost,
    sizes_from_limits,
)
from compliance.diagnostics import Diagnostic

if TYPE_CHECKING:
    from compliance.checker._model import CheckedPackSet
    from compliance.source import Span

__all__ = ["check_cost"]


def check_cost(checked: CheckedPackSet, *, budget_per_rule: int = DEFAULT_RULE_BUDGET,
               budget_total: int = DEFAULT_TOTAL_BUDGET,
               sizes: SizeAssumptions | None = None) -> list[Diagnostic]:
    """``cost-exceeded`` errors for each rule over ``budget_per_rule`` and for the whole set.

    A rule's cost is its ``when`` plus its ``unless``. The per-set error points at the most
    expensive rule, since that is where a fix usually starts. ``sizes`` defaults to the
    schema's context-value limits, so a context within those limits is within what was
    assumed here (values beyond them are refused where they are read).
    """
    schema = checked.pack_set.schema
    if sizes is None:
        sizes = sizes_from_limits(schema.limits)
    out: list[Diagnostic] = []
    total = 0
    worst: tuple[int, str, Span | None] = (-1, "", None)
    for cpack in checked.packs:
        variables = dict(cpack.variables)
        for crule in cpack.rules:
            cost = sum(
                estimate_cost(e, schema, variables, sizes=sizes)
                for e in (crule.when, crule.unless) if e is not None
            )
            total += cost
            rule = crule.rule
            span = rule.when.span if rule.when is not None else rule.span
            name = f"`{rule.id}` of pack `{cpack.pack.id}`"
            if cost > worst[0]:
                worst = (cost, name, span)
            if cost > budget_per_rule:
                out.append(Diagnostic(
                    "cost-exceeded",
                    f"rule {name} may cost up to {cost} steps per evaluation, over the "
                    f"per-rule budget of {budget_per_rule}",
                    span,
                    help="bound the lists it iterates (declare a maximum size) or iterate "
                         "less: nested comprehensions multiply",
                ))
    if total > budget_total:
        out.append(Diagnostic(
            "cost-exceeded",
            f"the pack set may cost up to {total} steps per evaluation, over the budget of "
            f"{budget_total}; the most expensive rule is {worst[1]} ({worst[0]} steps)",
            worst[2],
        ))
    return out
