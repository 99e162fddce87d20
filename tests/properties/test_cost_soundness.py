"""The static cost model bounds the run-time budget: on a context within the assumed sizes,
what a decision charges never exceeds what ``check`` estimated for the expression.

Contexts are the differential generator's, inflated so strings and lists are past the
budget's free size (otherwise nothing is charged and the property says nothing); the
static model is given those sizes as its assumptions.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any

from _celgen import SCHEMA, contexts, typed_exprs
from hypothesis import given, settings

from compliance.cel import budget
from compliance.cel.ast import Expr
from compliance.cel.compiler import CompileEnv, compile_expr
from compliance.cel.cost import SizeAssumptions, estimate_cost
from compliance.cel.values import CelEvalError, CelUnknown

EXAMPLES = int(os.environ.get("CEL_DIFF_EXAMPLES", "400"))
STRING_TIMES = 120
"""A generated string of up to 5 characters repeated this often: up to 600, past FREE_SIZE."""
LIST_TIMES = 100
"""A generated list of up to 4 elements repeated this often: up to 400 elements."""


def _inflate(context: dict[str, Any]) -> tuple[dict[str, Any], SizeAssumptions]:
    """Grow strings and lists; the sizes the static model must then assume."""
    c = dict(context["c"])
    for name in ("s", "t"):
        c[name] = c[name] * STRING_TIMES
    c["li"] = c["li"] * LIST_TIMES
    c["ls"] = [s * STRING_TIMES for s in c["ls"]] * LIST_TIMES
    longest = max([len(c["s"]), len(c["t"]), *(len(s) for s in c["ls"]), *map(len, c["m"])],
                  default=0)
    items = max(len(c["li"]), len(c["ls"]), len(c["m"]))
    return {"c": c}, SizeAssumptions(max_string=longest, max_list=items)


def _charged(expr: Expr, context: dict[str, Any]) -> int:
    program = compile_expr(expr, CompileEnv(schema=SCHEMA))
    saved = budget.start(10**12)  # no refusal: measure what it charges
    try:
        with contextlib.suppress(CelEvalError, CelUnknown):  # failing runs charge too
            program(context)
        live = budget.current()
        assert live is not None
        return live.spent
    finally:
        budget.finish(saved)


@settings(max_examples=EXAMPLES)
@given(expr=typed_exprs(), context=contexts())
def test_static_estimate_bounds_the_run_time_charge(expr: Expr,
                                                    context: dict[str, Any]) -> None:
    """``estimate_cost`` under the context's real sizes >= the steps the decision charged."""
    inflated, sizes = _inflate(context)
    static = estimate_cost(expr, SCHEMA, {}, sizes=sizes)
    assert _charged(expr, inflated) <= static
