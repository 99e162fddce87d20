"""Per-candidate-rule cost: a rule's ``when`` as generated code vs the closure compiler.

    python benchmarks/rule_cost.py [--rounds 2000]

Times each shipped rule's ``when`` program (``rules/``) on every example context
(``examples/contexts``), for the default backend (generated Python) and for
``backend="closures"``, and prints the median ns per call over all (rule, context) pairs,
with the garbage collector off. Each call gets a fresh activation copy's memo, so pack
variables and conformed values are recomputed as in the first read of a request.
No number here is asserted by tests.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from compliance import Engine  # noqa: E402
from compliance.cel.compiler import request_activation  # noqa: E402
from compliance.cel.values import CelEvalError, CelUnknown  # noqa: E402


def per_call_ns(engine: Engine, contexts: list[dict[str, Any]], rounds: int) -> list[float]:
    """Median-ready ns per ``when`` call, one sample per (rule, context) pair."""
    out: list[float] = []
    for rule in engine.plan.rules:
        program = rule.when
        if program is None:
            continue
        for context in contexts:
            acts = [request_activation(context) for _ in range(rounds)]
            start = time.perf_counter_ns()
            for act in acts:
                try:  # noqa: SIM105 - `with suppress` costs more than the timed call
                    program(act)
                except (CelEvalError, CelUnknown):
                    pass
            out.append((time.perf_counter_ns() - start) / rounds)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2000, help="calls per (rule, context)")
    args = parser.parse_args()
    contexts = [json.loads(p.read_text(encoding="utf-8"))
                for p in sorted((ROOT / "examples" / "contexts").glob("*.json"))
                if p.name != "expected.json"]
    engines = {"generated": Engine.from_path(ROOT / "rules"),
               "closures": Engine.from_path(ROOT / "rules", backend="closures")}
    gc.disable()
    results = {name: statistics.median(per_call_ns(e, contexts, args.rounds))
               for name, e in engines.items()}
    gc.enable()
    for name, ns in results.items():
        print(f"{name:>10}: median {ns / 1000:.3f} µs per candidate rule `when`")
    print(f"closures / generated: {results['closures'] / results['generated']:.2f}x")


if __name__ == "__main__":
    main()
