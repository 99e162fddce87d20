"""Bounded caches read on the hot path without a lock.

Every per-plan or per-process cache here (verdicts by text, index keys, candidates,
decision skeletons, parsed times) is a plain dict: a read is the dict's own ``get``. When
one is full, its oldest entry goes, not all of them: emptying a full cache made every hot
key miss at once, a burst of slow decisions each time the cache turned over.
"""

from __future__ import annotations

import contextlib
from typing import Any

__all__ = ["evict_oldest", "remember"]


def evict_oldest(cache: dict[Any, Any]) -> None:
    """Drop ``cache``'s oldest entry (insertion order).

    Safe beside readers and other writers: a writer racing this one may make it drop a
    different entry, or none, which only costs a recomputation.
    """
    with contextlib.suppress(StopIteration, RuntimeError):  # empty, or changed meanwhile
        cache.pop(next(iter(cache)), None)


def remember(cache: dict[Any, Any], key: object, value: object, limit: int) -> None:
    """Store ``value`` under ``key``, first dropping the oldest entry if ``cache`` is full."""
    if len(cache) >= limit:
        evict_oldest(cache)
    cache[key] = value
