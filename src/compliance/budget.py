"""The run-time cost budget: one counter per decision, charged before work is done.

The static model (``compliance.cost``) bounds a rule under *assumed* sizes; a context can
still carry a 40 MB string or a 10M-item list, and a few operations (``replace``, ``+``,
``split``, ``join``, ``format``, ``in`` over a list, comprehensions) turn size into time and
memory. Each of those charges this budget with what it is *about to* do, computed from its
inputs before it allocates, so an oversized input stops the decision early with the
``cost-limit`` error instead of making it slow.

Units are the static model's *steps*: one closure call, one list element scanned or
allocated, or ``CHARS_PER_UNIT`` characters scanned or allocated. Operations on inputs no
bigger than ``FREE_SIZE`` are not charged at all (their work is bounded by the static model
already), which keeps the hot path to one ``len`` comparison.

``evaluate()`` opens one budget per decision (``start``/``finish``). Outside a decision (a
program called directly), no total is kept but a single operation over
``DEFAULT_DECISION_BUDGET`` still fails.
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from typing import Final

from compliance.values import CelEvalError

__all__ = [
    "CHARS_PER_UNIT",
    "DEFAULT_DECISION_BUDGET",
    "FREE_SIZE",
    "CostBudget",
    "charge",
    "charge_chars",
    "current",
    "exhausted",
    "finish",
    "start",
]

CHARS_PER_UNIT: Final = 10
"""Characters scanned or allocated per unit (the static model's ``ceil(size / 10)``)."""

FREE_SIZE: Final = 256
"""Inputs and outputs up to this many characters or elements are not charged."""

DEFAULT_DECISION_BUDGET: Final = 100_000
"""Units one decision may spend: about 1M characters allocated (a few MB) or 100 000
closure calls (a few ms); the 10 ms / 10 MB goal with room to spare."""


class CostBudget:
    """What one decision may still spend; ``refused`` is the charge that did not fit."""

    __slots__ = ("limit", "refused", "spent")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.spent = 0
        self.refused = 0

    def charge(self, units: int) -> None:
        """Spend ``units`` or raise ``cost-limit`` (without spending) when they do not fit."""
        if self.spent + units > self.limit:
            self.refused = max(self.refused, units)
            raise _over(self.limit)
        self.spent += units


_ACTIVE: ContextVar[CostBudget | None] = ContextVar("compliance_cost_budget", default=None)


def _over(limit: int) -> CelEvalError:
    message = f"evaluation exceeds the cost budget of {limit} units; failing closed"
    return CelEvalError("cost-limit", message)


def charge(units: int) -> None:
    """Charge the current decision's budget (see the module doc for the no-decision case)."""
    budget = _ACTIVE.get()
    if budget is not None:
        budget.charge(units)
    elif units > DEFAULT_DECISION_BUDGET:
        raise _over(DEFAULT_DECISION_BUDGET)


def charge_chars(chars: int) -> None:
    """Charge for scanning or allocating ``chars`` characters when over ``FREE_SIZE``."""
    if chars > FREE_SIZE:
        charge(-(-chars // CHARS_PER_UNIT))


def start(limit: int = DEFAULT_DECISION_BUDGET) -> Token[CostBudget | None]:
    """Open a fresh budget for one decision; pass the token to ``finish``."""
    return _ACTIVE.set(CostBudget(limit))


def finish(token: Token[CostBudget | None]) -> None:
    """Close the budget ``start`` opened (restoring any enclosing one)."""
    _ACTIVE.reset(token)


def current() -> CostBudget | None:
    """The budget of the decision being evaluated, if any."""
    return _ACTIVE.get()


def exhausted() -> bool:
    """True when the current decision has refused a charge (so some work was not done)."""
    budget = _ACTIVE.get()
    return budget is not None and budget.refused > 0
