"""Benchmark: full ``engine.evaluate()`` against the interpreter engine and plain Python.

    python benchmarks/run.py [--rules 10,100,1000] [--contexts 1000] [--quick]
                             [--memory] [--profile] [--interp-contexts K]

For each N it generates a synthetic pack set (``packgen``) in a temp dir, loads it cold in
a fresh process (read + check + compile, timed there), then times, in this process with
warm-up and the garbage collector off ((a) and (d) taking turns every 50 contexts, so a
burst of load on the shared machine falls on both alike; (c) on its own, since at large N
each of its calls evicts the engine's working set from the CPU caches):

(a) the compiled engine, ``Engine.from_path(dir)``;
(b) the cel-python interpreter engine, ``Engine.from_path(dir, backend="interpreter")``,
    on fewer contexts at large N (it costs ~0.3 ms per rule evaluated; the count is printed);
(c) hand-written lambdas doing the same matching over every rule (no index, no Decision);
(d) the same lambdas bucketed at compile time by model, use case, organisation and origin
    country, as a careful engineer would write them by hand: the plain-Python floor, which
    returns only the matched rule ids;

and ``engine.evaluate_many`` throughput (decisions/s, one thread). It prints median and
p99 µs per call, full ``evaluate()`` over (d)'s time, checks that (a), (c) and (d) match
the same rules, and states each goal of issue 8 as met / not met. ``--memory`` loads
10 000 rules in a fresh process and reports peak RSS and tracemalloc peak; ``--profile``
prints the top cProfile entries of (a) at the largest N. No number here is asserted by
tests: ``tests/test_benchmark_smoke.py`` only checks that ``--quick`` still runs.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import installed  # noqa: E402  (sibling modules; the script is run by path)
import packgen  # noqa: E402

from compliance import Engine  # noqa: E402

GOALS = {  # issue 8
    "vs_indexed": 2.0, "median_100": 10.0, "median_1000": 15.0, "p99_1000": 50.0,
    "rate_100": 100_000.0, "load_1000_s": 1.0, "import_s": 0.100, "rss_10000_mb": 100.0,
}


@dataclass
class Timing:
    """Per-call latencies of one engine over a list of contexts."""

    name: str
    samples_ns: list[int]
    contexts: int

    @property
    def median_us(self) -> float:
        """Median µs per call."""
        return statistics.median(self.samples_ns) / 1000

    @property
    def p99_us(self) -> float:
        """99th percentile µs per call."""
        return _p99(self.samples_ns)

    @property
    def p99_seen_us(self) -> float:
        """99th percentile µs over the calls after the first round (contexts seen before).

        The first round decides most contexts for the first time: a new combination of
        applied rules builds its decision skeleton, a new organisation id is judged, a rule
        runs cold. The split says how much of the tail is that first-sight cost.
        """
        rest = self.samples_ns[self.contexts:]
        return _p99(rest) if rest else float("nan")


def _p99(samples: Sequence[int]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] / 1000


def time_calls(name: str, fn: Callable[[Mapping[str, Any]], object],
               ctxs: Sequence[Mapping[str, Any]], min_samples: int) -> Timing:
    """Time ``fn`` once per context (repeating the list up to ``min_samples``), GC off."""
    for ctx in ctxs[: min(len(ctxs), 200)]:
        fn(ctx)  # warm-up: caches, lazily built tables, branch predictors
    rounds = max(1, -(-min_samples // len(ctxs)))
    samples: list[int] = []
    clock = time.perf_counter_ns
    gc.collect()
    gc.disable()
    try:
        for _ in range(rounds):
            for ctx in ctxs:
                t0 = clock()
                fn(ctx)
                samples.append(clock() - t0)
    finally:
        gc.enable()
    return Timing(name, samples, len(ctxs))


def time_interleaved(fns: Mapping[str, Callable[[Mapping[str, Any]], object]],
                     ctxs: Sequence[Mapping[str, Any]], min_samples: int,
                     chunk: int = 50) -> dict[str, Timing]:
    """``time_calls`` for several functions taking turns every ``chunk`` contexts.

    Each function decides the same chunk before the list moves on, so a burst of load from
    other processes on the shared machine falls on all of them alike and the ratios between
    them hold even when the absolute times move.
    """
    for fn in fns.values():
        for ctx in ctxs[: min(len(ctxs), 200)]:
            fn(ctx)  # warm-up: caches, lazily built tables, branch predictors
    rounds = max(1, -(-min_samples // len(ctxs)))
    samples: dict[str, list[int]] = {name: [] for name in fns}
    clock = time.perf_counter_ns
    gc.collect()
    gc.disable()
    try:
        for _ in range(rounds):
            for start in range(0, len(ctxs), chunk):
                part = ctxs[start:start + chunk]
                for name, fn in fns.items():
                    out = samples[name]
                    for ctx in part:
                        t0 = clock()
                        fn(ctx)
                        out.append(clock() - t0)
    finally:
        gc.enable()
    return {name: Timing(name, xs, len(ctxs)) for name, xs in samples.items()}


def cold_load(directory: Path, env: dict[str, str], backend: str = "compiled"
              ) -> dict[str, float]:
    """Import time and load+check+compile time in a fresh interpreter (nothing cached).

    Nothing but bytecode: the child reads compiled modules, as an installed package's
    first process does (``installed``: one untimed run compiles them).
    """
    code = (
        "import time, json, sys\n"
        "t0 = time.perf_counter()\n"
        "from compliance import Engine\n"
        "t1 = time.perf_counter()\n"
        f"e = Engine.from_path({str(directory)!r}, backend={backend!r})\n"
        "t2 = time.perf_counter()\n"
        "print(json.dumps({'import_s': t1 - t0, 'load_s': t2 - t1}))\n"
    )
    installed.warm(env, code)
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True, env=env)
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def memory_probe(rules: int, work: Path, env: dict[str, str]) -> dict[str, float]:
    """Peak RSS and tracemalloc peak of loading ``rules`` rules, in a fresh process.

    The pack files and contexts are generated here, so the child's peak RSS is the engine's
    (plus the interpreter and ``import compliance``, reported as ``rss_import_mb``).
    """
    gen = packgen.generate(rules)
    directory = gen.write(work / f"memory-{rules}")
    contexts_file = work / "memory-contexts.json"
    contexts_file.write_text(json.dumps(packgen.contexts(gen, 200)))
    code = (
        "import json, sys, tracemalloc\n"
        "traced = sys.argv[1] == 'traced'\n"
        "from compliance import Engine\n"
        # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent across exec
        "def rss():\n"
        "    for line in open('/proc/self/status'):\n"
        "        if line.startswith('VmHWM:'):\n"
        "            return int(line.split()[1]) / 1024\n"
        "    return float('nan')\n"
        "before = rss()\n"
        f"ctxs = json.loads(open({str(contexts_file)!r}).read())\n"
        "if traced: tracemalloc.start()\n"
        f"e = Engine.from_path({str(directory)!r})\n"
        "for c in ctxs: e.evaluate(c)\n"
        "current, peak = tracemalloc.get_traced_memory()\n"
        "print(json.dumps({'rss_import_mb': before, 'rss_peak_mb': rss(),\n"
        "                  'traced_retained_mb': current / 2**20,\n"
        "                  'traced_peak_mb': peak / 2**20}))\n"
    )

    def child(mode: str) -> dict[str, float]:
        out = subprocess.run([sys.executable, "-c", code, mode], check=True,
                             capture_output=True, text=True, env=env)
        found: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
        return found

    # RSS from a plain process; Python-level allocations from a second fresh process under
    # tracemalloc (its bookkeeping would inflate the RSS, and a second load in the same
    # process would reuse the first one's parses and code and undercount)
    plain, traced = child("plain"), child("traced")
    return {"rss_import_mb": plain["rss_import_mb"], "rss_peak_mb": plain["rss_peak_mb"],
            "traced_retained_mb": traced["traced_retained_mb"],
            "traced_peak_mb": traced["traced_peak_mb"]}


def profile(engine: Engine, ctxs: Sequence[Mapping[str, Any]], top: int = 18) -> str:
    """cProfile of ``engine.evaluate`` over ``ctxs`` (a few rounds), top entries by own time."""
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(3):
        for ctx in ctxs:
            engine.evaluate(ctx)
    profiler.disable()
    stream = io.StringIO()
    pstats.Stats(profiler, stream=stream).sort_stats("tottime").print_stats(top)
    return stream.getvalue()


def verdict(ok: bool) -> str:
    """``met`` / ``NOT met``."""
    return "met" if ok else "NOT met"


def time_batch(engine: Engine, ctxs: Sequence[Mapping[str, Any]], min_decisions: int,
               chunk: int = 100) -> float:
    """``engine.evaluate_many`` throughput in decisions/s on one thread (one core).

    One generator decides the context list (repeated up to ``min_decisions``), GC off; the
    clock is read every ``chunk`` decisions and the median chunk gives the rate, so a burst
    of load from other processes on the shared machine does not decide the figure.
    """
    batch = list(ctxs) * max(1, -(-min_decisions // len(ctxs)))
    chunk = max(1, min(chunk, len(batch) // 10))  # --quick decides only a few dozen
    many = getattr(engine, "evaluate_many", None)
    if many is None:  # an engine from before evaluate_many (before/after comparisons)
        def many(items: Sequence[Mapping[str, Any]]) -> Iterator[object]:
            return map(engine.evaluate, items)
    for _ in many(batch[:200]):
        pass  # warm-up
    laps: list[int] = []
    clock = time.perf_counter_ns
    gc.collect()
    gc.disable()
    try:
        last = clock()
        for i, _ in enumerate(many(batch), 1):
            if i % chunk == 0:
                now = clock()
                laps.append(now - last)
                last = now
    finally:
        gc.enable()
    return chunk / (statistics.median(laps) / 1e9) if laps else float("nan")


def run_one(n: int, n_contexts: int, interp_contexts: int | None, min_samples: int,
            work: Path, *, env: dict[str, str]) -> dict[str, Any]:
    """Generate, load and time one pack-set size; return the numbers for the summary."""
    gen = packgen.generate(n)
    directory = gen.write(work / f"n{n}")
    ctxs = packgen.contexts(gen, n_contexts)
    load = cold_load(directory, env)
    compiled = Engine.from_path(directory)
    interpreted = Engine.from_path(directory, backend="interpreter")
    lambdas = packgen.baseline(gen)
    indexed = packgen.indexed_baseline(gen)
    numbers = packgen.rule_numbers(gen)

    k = interp_contexts if interp_contexts is not None else max(3, min(n_contexts, 2000 // n))
    # (a) and (d) interleaved, so a burst of load on the shared machine hits both alike and
    # their ratio (the goal) holds. (c) runs on its own: at N = 1000 each of its calls runs
    # every rule's lambda (140 µs) and evicts the engine's working set from the CPU caches,
    # so interleaved with it the engine's p99 measured the benchmark (131-196 µs against
    # 62-69 µs without it, in the same minutes), not the engine.
    timed = time_interleaved({"compiled": compiled.evaluate, "indexed lambdas": indexed},
                             ctxs, min_samples)
    t_compiled, t_indexed = timed["compiled"], timed["indexed lambdas"]
    t_lambdas = time_calls("lambdas", lambdas, ctxs, min_samples)
    t_interp = time_calls("interpreter", interpreted.evaluate, ctxs[:k], k)
    rate = time_batch(compiled, ctxs, min_samples)
    decisions = [compiled.evaluate(c) for c in ctxs]
    agree = sum(d.effect == lambdas(c)["effect"] for d, c in zip(decisions, ctxs, strict=True))
    same_ids = sum(sorted(numbers[m.rule] for m in d.matched) == indexed(c)["matched"]
                   == lambdas(c)["matched"] for d, c in zip(decisions, ctxs, strict=True))
    matched = [len(d.matched) for d in decisions]
    print(f"\nN = {n} rules, {len(gen.packs)} pack files, {n_contexts} contexts "
          f"(matched per context: mean {statistics.mean(matched):.2f}, "
          f"median {statistics.median(matched):.0f}, max {max(matched)}; "
          f"effect agrees with lambdas on {agree}/{len(ctxs)}; "
          f"same matched rules in all three on {same_ids}/{len(ctxs)})")
    print(f"  load+check+compile (cold process): {load['load_s'] * 1000:8.1f} ms"
          f"   (import compliance: {load['import_s'] * 1000:.0f} ms)")
    print(f"  {'engine':<40}{'median µs':>11}{'p99 µs':>11}{'samples':>9}")
    for t, label in ((t_compiled, "(a) compiled engine, full evaluate()"),
                     (t_interp, f"(b) interpreter engine [{k} ctx]"),
                     (t_lambdas, "(c) hand-written lambdas, no index"),
                     (t_indexed, "(d) hand-written lambdas, bucketed")):
        print(f"  {label:<40}{t.median_us:>11.2f}{t.p99_us:>11.2f}{len(t.samples_ns):>9}")
    speedup = t_interp.median_us / t_compiled.median_us
    vs_lambdas = t_lambdas.median_us / t_compiled.median_us
    vs_indexed = t_compiled.median_us / t_indexed.median_us
    print(f"  compiled is {speedup:,.0f}x faster than the interpreter engine (median)")
    print(f"  compiled runs at {vs_lambdas:.2f}x the speed of the un-indexed lambdas "
          f"({'faster' if vs_lambdas > 1 else 'slower'})")
    print(f"  full evaluate() takes {vs_indexed:.2f}x the bucketed lambdas' matched-ids time")
    print(f"  evaluate_many: {rate:,.0f} decisions/s (one thread; median of 100-decision laps)")
    return {"n": n, "compiled": t_compiled, "interp": t_interp, "lambdas": t_lambdas,
            "indexed": t_indexed, "load_s": load["load_s"], "import_s": load["import_s"],
            "speedup": speedup, "vs_lambdas": vs_lambdas, "vs_indexed": vs_indexed,
            "rate": rate, "engine": compiled, "ctxs": ctxs}


def summary(results: dict[int, dict[str, Any]], memory: dict[str, float] | None) -> None:
    """The issue's goals (issue 8), each met or not, with the measured number."""
    print("\nGoals (issue 8; this run, this machine):")
    for n, r in sorted(results.items()):
        v = r["vs_indexed"]
        print(f"  full evaluate() median ≤ 2x the bucketed lambdas at N={n}: {v:.2f}x — "
              f"{verdict(v <= GOALS['vs_indexed'])}")
    if 100 in results:
        r = results[100]
        m = r["compiled"].median_us
        print(f"  median ≤ 10 µs at N=100: {m:.2f} µs — {verdict(m <= GOALS['median_100'])}")
        rate = r["rate"]
        print(f"  evaluate_many ≥ 100 000 decisions/s at N=100: {rate:,.0f}/s — "
              f"{verdict(rate >= GOALS['rate_100'])}")
    if 1000 in results:
        r = results[1000]
        m, p = r["compiled"].median_us, r["compiled"].p99_us
        print(f"  median ≤ 15 µs at N=1000: {m:.2f} µs — {verdict(m <= GOALS['median_1000'])}")
        seen = r["compiled"].p99_seen_us
        print(f"  p99 ≤ 50 µs at N=1000: {p:.2f} µs — {verdict(p <= GOALS['p99_1000'])} "
              f"(over contexts already seen once: {seen:.2f} µs)")
        load = r["load_s"]
        print(f"  load+check+compile of 1000 rules ≤ 1 s cold: {load:.2f} s — "
              f"{verdict(load <= GOALS['load_1000_s'])}")
    if results:
        imp = min(r["import_s"] for r in results.values())
        print(f"  `from compliance import Engine` ≤ 100 ms: {imp * 1000:.0f} ms (best cold "
              f"process) — {verdict(imp <= GOALS['import_s'])}")
    if memory is not None:
        rss = memory["rss_peak_mb"]
        print(f"  ≤ 100 MB RSS for 10 000 rules: peak RSS {rss:.0f} MB (after import "
              f"{memory['rss_import_mb']:.0f} MB; tracemalloc peak {memory['traced_peak_mb']:.0f}"
              f" MB, retained {memory['traced_retained_mb']:.0f} MB) — "
              f"{verdict(rss <= GOALS['rss_10000_mb'])}")
    else:
        print("  ≤ 100 MB RSS for 10 000 rules: not measured in this run (--memory)")
    missing = [n for n in (10, 100, 1000) if n not in results]
    if missing:
        print(f"  (goals at N={', '.join(map(str, missing))} not measured in this run)")


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, run every size, print the report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rules", default="10,100,1000", help="comma-separated pack-set sizes")
    parser.add_argument("--contexts", type=int, default=1000, help="contexts per size")
    parser.add_argument("--interp-contexts", type=int, default=None,
                        help="contexts for the interpreter engine (default: 2000 // N, ≥ 3)")
    parser.add_argument("--quick", action="store_true", help="N=10, 20 contexts (CI smoke)")
    parser.add_argument("--memory", action="store_true", help="peak memory at 10 000 rules")
    parser.add_argument("--profile", action="store_true", help="cProfile the compiled engine")
    args = parser.parse_args(argv)
    sizes = [10] if args.quick else [int(x) for x in args.rules.split(",") if x]
    n_contexts = 20 if args.quick else args.contexts
    min_samples = 40 if args.quick else max(3000, n_contexts)
    print(f"compliance benchmark — Python {sys.version.split()[0]}, "
          f"{'quick' if args.quick else 'full'} run")
    results: dict[int, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="compliance-bench-") as tmp:
        env = installed.environment(Path(tmp))
        for n in sizes:
            results[n] = run_one(n, n_contexts, args.interp_contexts, min_samples, Path(tmp),
                                 env=env)
        memory = memory_probe(10_000, Path(tmp), env) if args.memory else None
    summary(results, memory)
    if args.profile:
        largest = results[max(results)]
        print(f"\ncProfile of the compiled engine at N={largest['n']} (top by own time):")
        print(profile(largest["engine"], largest["ctxs"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
