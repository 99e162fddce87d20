"""Machine instructions per ``engine.evaluate()``, counted by valgrind's callgrind.

    python benchmarks/instructions.py [--rules 100] [--contexts 1000]

Wall-clock timings on a shared 2-core machine move by a fifth from one run to the next;
an instruction count does not (the same binary, inputs and hash seed give the same total
whatever else runs). The script re-runs itself under ``valgrind --tool=callgrind`` with
collection switched on only inside ``functools.reduce``, which drives the measured loop:
loading, warm-up and the harness are not counted. It decides the synthetic contexts of
``packgen`` twice for warm-up, then counts one pass of ``evaluate()`` over them, once with
an empty loop body to subtract the harness, and prints instructions per decision. Use it to
compare two versions of the engine (``PYTHONPATH=<other checkout>/src``); it asserts
nothing. Needs valgrind on ``PATH``.
"""

from __future__ import annotations

import argparse
import functools
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent


def measure(rules: int, contexts: int, empty: bool) -> None:
    """The child: build the engine, warm it, then run the counted loop."""
    sys.path.insert(0, str(HERE))
    import packgen  # the sibling module (the script is run by path)

    from compliance import Engine

    gen = packgen.generate(rules)
    with tempfile.TemporaryDirectory() as work:
        engine = Engine.from_path(gen.write(Path(work)))
    ctxs = packgen.contexts(gen, contexts)
    for _ in range(2):
        for ctx in ctxs:
            engine.evaluate(ctx)
    evaluate = engine.evaluate
    if empty:
        functools.reduce(lambda acc, ctx: None, ctxs, None)
    else:
        functools.reduce(lambda acc, ctx: evaluate(ctx) and None, ctxs, None)


def counted(rules: int, contexts: int, empty: bool) -> int:
    """Instructions callgrind counted inside the loop of one child run."""
    command = ["valgrind", "--tool=callgrind", "--collect-atstart=no",
               "--toggle-collect=functools_reduce", "--callgrind-out-file=/dev/null",
               sys.executable, __file__, "--child", "--rules", str(rules),
               "--contexts", str(contexts)] + (["--empty"] if empty else [])
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
    args = parser.parse_args(argv)
    if args.child:
        measure(args.rules, args.contexts, args.empty)
        return 0
    if shutil.which("valgrind") is None:
        print("valgrind is not on PATH: nothing to count", file=sys.stderr)
        return 2
    total = counted(args.rules, args.contexts, empty=False)
    harness = counted(args.rules, args.contexts, empty=True)
    per = (total - harness) / args.contexts
    print(f"N = {args.rules} rules, {args.contexts} decisions: "
          f"{per:,.0f} instructions per evaluate() (callgrind, PYTHONHASHSEED=0)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
