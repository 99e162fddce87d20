"""Example contexts bent by Hypothesis: a few attributes changed, nulled or removed.

Shared by the property tests that compare two paths on realistic decisions (the decision
memo against recomputing, the fast record encoding against ``model_dump``).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from hypothesis import strategies as st

Bends = Mapping[tuple[str, str], Sequence[object]]


def bend(draw: st.DrawFn, examples: Sequence[dict[str, Any]], bends: Bends) -> dict[str, Any]:
    """A copy of one of ``examples`` with up to four attributes of ``bends`` changed or gone."""
    ctx = copy.deepcopy(draw(st.sampled_from(examples)))
    for (root, name), values in draw(st.lists(st.sampled_from(sorted(bends.items())),
                                              max_size=4)):
        holder = ctx.setdefault(root, {})
        if not isinstance(holder, dict):
            continue
        if draw(st.integers(0, 5)) == 0:
            holder.pop(name, None)
        else:
            holder[name] = draw(st.sampled_from(values))
    return ctx
