"""Deciding leaves no reference cycles: every object of a decision is freed by refcount.

Unknowns and CEL errors travel as exceptions inside generated code; a kept exception whose
traceback holds the frames that kept it is a cycle only the collector frees, and collector
pauses land on the latency tail. Each check runs in a fresh interpreter (no other thread
can make garbage meanwhile): it decides the shipped examples and variants of them (roots
removed: unknowns raised and absorbed; a wrong-typed value: errors) with the collector off
and ``DEBUG_SAVEALL``, then counts what a collection finds.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

PROBE = r"""
import copy, gc, json, sys
from pathlib import Path
from compliance import Engine

repo = Path(sys.argv[1])
engine = Engine.from_path(repo / "rules")
examples = [json.loads(p.read_text(encoding="utf-8"))
            for p in sorted((repo / "examples" / "contexts").glob("*.json"))]
contexts = []
for context in (c for c in examples if isinstance(c, dict)):
    contexts.append(context)
    contexts += [{k: v for k, v in context.items() if k != root} for root in context]
    broken = copy.deepcopy(context)
    if isinstance(broken.get("principal"), dict):
        broken["principal"]["nationalities"] = 7
    contexts.append(broken)
warm = [engine.evaluate(c) for c in contexts]  # caches fill on first sight
shape = {"missing": any(d.missing for d in warm), "errors": any(d.errors for d in warm)}
del warm


def run():
    if sys.argv[2] == "control":
        node = {}
        node["self"] = node
    else:
        for context in contexts:
            engine.evaluate(context)


gc.collect()
gc.disable()
gc.set_debug(gc.DEBUG_SAVEALL)
run()
gc.collect()
kinds = sorted({type(o).__name__ for o in gc.garbage})
print(json.dumps({"garbage": len(gc.garbage), "kinds": kinds, **shape}))
"""


def _probe(mode: str) -> dict[str, object]:
    result = subprocess.run([sys.executable, "-c", PROBE, str(REPO), mode],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    found: dict[str, object] = json.loads(result.stdout.splitlines()[-1])
    return found


def test_deciding_the_examples_makes_no_reference_cycles() -> None:
    found = _probe("decide")
    assert found["missing"]  # unknowns were raised and absorbed
    assert found["errors"]  # and errors
    assert found["garbage"] == 0, found


def test_the_probe_sees_a_cycle() -> None:
    """The measurement itself: a cycle made in the measured window is reported."""
    assert _probe("control")["garbage"] == 1  # the dict that holds itself
