"""Machine instructions per ``engine.evaluate()``, counted by valgrind's callgrind.

    python benchmarks/instructions.py [--rules 100] [--contexts 1000] [--first-sight]

Wall-clock timings on a shared 2-core machine move by a fifth from one run to the next;
an instruction count does not (the same binary, inputs and hash seed give the same total
whatever else runs). The script re-runs itself under ``valgrind --tool=callgrind`` with
collection switched on only inside ``functools.reduce``, which drives the measured loop:
loading, warm-up and the harness are not counted, and the cyclic collector is off. It
decides the synthetic contexts of ``packgen`` twice for warm-up, then counts one pass of
``evaluate()`` over them, once with an empty loop body to subtract the harness, and prints
instructions per decision. Use it to compare two versions of the engine
(``PYTHONPATH=<other checkout>/src``); it asserts nothing. Needs valgrind on ``PATH``.

``--first-sight`` counts the cost of the tail instead: it warms the engine on twice as many
other contexts of the same traffic, then counts contexts it has never decided (new
combinations of applied rules, new index keys, new texts to judge).
"""

from __future__ import annotations

import argparse
import functools
import gc
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent


def measure(rules: int, contexts: int, empty: bool, first_sight: bool = False) -> None:
    """The child: build the engine, warm it, then run the counted loop."""
    sys.path.insert(0, str(HERE))
    import packgen  # the sibling module (the script is run by path)

    from compliance import Engine

    gen = packgen.generate(rules)
    with tempfile.TemporaryDirectory() as work:
        engine = Engine.from_path(gen.write(Path(work)))
    if first_sight:  # warm on other contexts; count the ones never decided
        every = packgen.contexts(gen, 3 * contexts)
        warm, ctxs = every[:2 * contexts], every[2 * contexts:]
    else:  # warm on the counted contexts themselves
        ctxs = packgen.contexts(gen, contexts)
        warm = ctxs + ctxs
    for ctx in warm:
        engine.evaluate(ctx)
    evaluate = engine.evaluate
    # The cyclic collector off, as in run.py: a collection of the whole heap landing in
    # the loop (it did in one of two otherwise equal runs) would count tens of thousands of
    # instructions per decision that neither version's code spends. Decisions that are
    # dropped leave no cycles, so in steady state it never runs anyway.
    gc.collect()
    gc.disable()
    if empty:
        functools.reduce(lambda acc, ctx: None, ctxs, None)
    else:
        functools.reduce(lambda acc, ctx: evaluate(ctx) and None, ctxs, None)


def counted(rules: int, contexts: int, empty: bool, first_sight: bool = False) -> int:
    """Instructions callgrind counted inside the loop of one child run."""
    command = ["valgrind", "--tool=callgrind", "--collect-atstart=no",
               "--toggle-collect=functools_reduce", "--callgrind-out-file=/dev/null",
               sys.executable, __file__, "--child", "--rules", str(rules),
               "--contexts", str(contexts)] + (["--empty"] if empty else [])
    command += ["--first-sight"] if first_sight else []
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    done = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    found = re.search(r"Collected : (\d+)", done.stderr)
    if done.returncode != 0 or found is None:
        raise SystemExit(f"callgrind run failed:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rules", type=int, default=100, help="synthetic rules (default 100)")
    parser.add_argument("--contexts", type=int, default=1000,
                        help="decisions counted (default 1000)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--empty", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--first-sight", action="store_true",
                        help="count contexts the engine has never decided (warmed on others)")
    args = parser.parse_args(argv)
    if args.child:
        measure(args.rules, args.contexts, args.empty, args.first_sight)
        return 0
    if shutil.which("valgrind") is None:
        print("valgrind is not on PATH: nothing to count", file=sys.stderr)
        return 2
    total = counted(args.rules, args.contexts, empty=False, first_sight=args.first_sight)
    harness = counted(args.rules, args.contexts, empty=True, first_sight=args.first_sight)
    per = (total - harness) / args.contexts
    seen = "never seen before" if args.first_sight else "each seen twice before"
    print(f"N = {args.rules} rules, {args.contexts} decisions ({seen}): "
          f"{per:,.0f} instructions per evaluate() (callgrind, PYTHONHASHSEED=0)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
