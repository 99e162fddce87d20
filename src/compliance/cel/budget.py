"""The run-time cost budget: one counter per decision, charged before work is done.

The static model (``compliance.cel.cost``) bounds a rule under *assumed* sizes; a context can
still carry a 40 MB string or a 10M-item list, and a few operations (``replace``, ``+``,
``split``, ``join``, ``format``, ``in`` over a list, comprehensions) turn size into time and
memory. Each of those charges this budget with what it is *about to* do, computed from its
inputs before it allocates, so an oversized input stops the decision early with the
``cost-limit`` error instead of making it slow.

Units are the static model's *steps*: one closure call, one list element scanned or
allocated, or ``CHARS_PER_UNIT`` characters scanned or allocated. Operations on inputs no
bigger than ``FREE_SIZE`` are not charged at all (their work is bounded by the static model
already), which keeps the hot path to one ``len`` comparison.

``evaluate()`` opens one budget per decision (``start``/``finish``, per thread). Outside a
decision (a program called directly), no total is kept but a single operation over
``DEFAULT_DECISION_BUDGET`` still fails.
"""

from __future__ import annotations

import threading
from typing import Final

from compliance.cel.values import CelEvalError

__all__ = [
    "CHARS_PER_UNIT",
    "DEFAULT_DECISION_BUDGET",
    "FREE_SIZE",
    "CostBudget",
    "charge",
    "charge_chars",
    "current",
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

_INACTIVE: Final = -1


class CostBudget:
    """What one decision may still spend; ``refused`` is the largest charge that did not fit.

    One object per thread, reset by ``start`` for each decision (allocating one per
    decision, or setting a context variable, costs more than the rest of the bookkeeping).
    A decision never yields to another on its thread, so per-thread state is per-decision.
    """

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

    def copy(self) -> CostBudget:
        """The counters as they are now (the live budget is reset for the next decision)."""
        out = CostBudget(self.limit)
        out.spent, out.refused = self.spent, self.refused
        return out


_Saved = tuple[int, int, int]
_THREAD = threading.local()


def _budget() -> CostBudget:
    try:
        budget: CostBudget = _THREAD.budget
    except AttributeError:
        budget = _THREAD.budget = CostBudget(_INACTIVE)
    return budget


def _over(limit: int) -> CelEvalError:
    message = f"evaluation exceeds the cost budget of {limit} units; failing closed"
    return CelEvalError("cost-limit", message)


def charge(units: int) -> None:
    """Charge the current decision's budget (see the module doc for the no-decision case)."""
    budget = _budget()
    if budget.limit != _INACTIVE:
        budget.charge(units)
    elif units > DEFAULT_DECISION_BUDGET:
        raise _over(DEFAULT_DECISION_BUDGET)


def charge_chars(chars: int) -> None:
    """Charge for scanning or allocating ``chars`` characters when over ``FREE_SIZE``."""
    if chars > FREE_SIZE:
        charge(-(-chars // CHARS_PER_UNIT))


def start(limit: int = DEFAULT_DECISION_BUDGET) -> _Saved:
    """Open a fresh budget for one decision; pass the result to ``finish``."""
    try:  # `_budget()` inline: this runs once per decision
        budget: CostBudget = _THREAD.budget
    except AttributeError:
        budget = _budget()
    saved = (budget.limit, budget.spent, budget.refused)
    budget.limit, budget.spent, budget.refused = limit if limit > 0 else 0, 0, 0
    return saved


def finish(saved: _Saved) -> None:
    """Close the budget ``start`` opened (restoring any enclosing decision's)."""
    budget: CostBudget = _THREAD.budget
    budget.limit, budget.spent, budget.refused = saved


def current() -> CostBudget | None:
    """The budget of the decision being evaluated on this thread, if any (live: copy it)."""
    budget = _budget()
    return budget if budget.limit != _INACTIVE else None

