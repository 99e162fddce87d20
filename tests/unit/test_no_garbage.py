"""Deciding leaves no reference cycles: every object of a decision is freed by refcount.

Unknowns and CEL errors travel as exceptions inside generated code; a kept exception whose
traceback holds the frames that kept it is a cycle only the collector frees, and collector
pauses land on the latency tail. These tests collect with ``DEBUG_SAVEALL`` and assert
that evaluation made no garbage, for the shipped packs and examples (which raise unknowns,
absorb them in ``||`` and ``&&``, fail closed and error on bad values).
"""

from __future__ import annotations

import copy
import gc
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from compliance import Engine

REPO = Path(__file__).resolve().parents[2]


def _examples() -> list[dict[str, Any]]:
    out = [json.loads(p.read_text(encoding="utf-8"))
           for p in sorted((REPO / "examples" / "contexts").glob("*.json"))]
    return [c for c in out if isinstance(c, dict)]


def _variants(context: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The context, each root removed (unknowns), and a wrong-typed value (errors)."""
    yield context
    for root in list(context):
        stripped = {k: v for k, v in context.items() if k != root}
        yield stripped
    broken = copy.deepcopy(context)
    principal = broken.get("principal")
    if isinstance(principal, dict):
        principal["nationalities"] = 7
    yield broken


def _cycles_made_by(run: Callable[[], object]) -> list[Any]:
    """The objects ``run`` left in reference cycles (what only the collector would free)."""
    gc.collect()
    enabled = gc.isenabled()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        run()
        gc.collect()
        return list(gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        if enabled:
            gc.enable()
        gc.collect()


def test_deciding_the_examples_makes_no_reference_cycles() -> None:
    engine = Engine.from_path(REPO / "rules")
    contexts = [v for c in _examples() for v in _variants(c)]
    warm = [engine.evaluate(context) for context in contexts]  # caches fill on first sight
    assert any(d.missing for d in warm)  # unknowns are raised and absorbed
    assert any(d.errors for d in warm)  # and errors
    del warm

    def decide_all() -> None:
        for context in contexts:
            engine.evaluate(context)

    garbage = _cycles_made_by(decide_all)
    kinds = sorted({type(o).__name__ for o in garbage})
    assert not garbage, f"{len(garbage)} objects in cycles: {kinds}"


def test_the_check_sees_a_cycle() -> None:
    """The measurement itself: a cycle made by ``run`` is reported."""
    def make_cycle() -> None:
        node: dict[str, Any] = {}
        node["self"] = node

    assert _cycles_made_by(make_cycle)
