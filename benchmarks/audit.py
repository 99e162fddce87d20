"""Benchmark: decision-log records/s (flush per record) and the median latency it adds.

    python benchmarks/audit.py [--records 20000] [--runs 3]

Evaluates one shipped example context against rules/ and times (a) evaluate alone and
(b) evaluate + DecisionLog.record (redaction key set, flush per record, checkpoints every
1000 unsigned), interleaved call by call, in this process with the garbage collector off.
Each run prints the median µs per call and records/s for record() alone (wall clock and
per CPU second: on a shared machine the wall clock counts time other processes ran); the
verdicts take the median over the runs, against the issue's goals. No test asserts these
numbers.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from compliance import Engine
from compliance.audit import DecisionLog

ROOT = Path(__file__).resolve().parent.parent
GOALS = {"records_per_s": 20_000, "added_median_us": 25.0}


def run(engine: Engine, ctx: dict[str, Any], records: int) -> dict[str, float]:
    """One run in a fresh log: medians in µs, and record()'s rates."""
    with tempfile.TemporaryDirectory() as where:
        log = DecisionLog(Path(where) / "d.jsonl", engine=engine, redaction_key=b"k" * 32,
                          checkpoint_seconds=None)
        for _ in range(500):
            log.record(engine.evaluate(ctx), ctx)
        gc.disable()
        alone, both = [], []
        for _ in range(records):
            t0 = time.perf_counter_ns()
            engine.evaluate(ctx)
            t1 = time.perf_counter_ns()
            log.record(engine.evaluate(ctx), ctx)
            t2 = time.perf_counter_ns()
            alone.append(t1 - t0)
            both.append(t2 - t1)
        decision = engine.evaluate(ctx)
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(records):
            log.record(decision, ctx)
        rate = records / (time.perf_counter() - t0)
        cpu_rate = records / (time.process_time() - c0)
        gc.enable()
        log.close()
    return {"alone": statistics.median(alone) / 1000, "both": statistics.median(both) / 1000,
            "rate": rate, "cpu_rate": cpu_rate}


def main() -> None:
    """Run the benchmark and print the results."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    engine = Engine.from_path(ROOT / "rules")
    ctx = json.loads((ROOT / "examples/contexts/iran-origin.json").read_text(encoding="utf-8"))
    runs = []
    for i in range(max(1, args.runs)):
        r = run(engine, ctx, args.records)
        runs.append(r)
        print(f"run {i + 1}: evaluate {r['alone']:.1f} µs, evaluate + record {r['both']:.1f} µs, "
              f"added {r['both'] - r['alone']:.1f} µs; record() {r['rate']:,.0f}/s wall, "
              f"{r['cpu_rate']:,.0f} per CPU second")
    alone = statistics.median(r["alone"] for r in runs)
    both = statistics.median(r["both"] for r in runs)
    added = statistics.median(r["both"] - r["alone"] for r in runs)
    cpu_rate = statistics.median(r["cpu_rate"] for r in runs)
    rate = statistics.median(r["rate"] for r in runs)
    print(f"median of {len(runs)} runs: evaluate {alone:.1f} µs, evaluate + record {both:.1f} µs")
    print(f"added median: {added:.1f} µs (goal ≤ {GOALS['added_median_us']}: "
          f"{'met' if added <= GOALS['added_median_us'] else 'not met'})")
    print(f"record() alone: {rate:,.0f} records/s wall, {cpu_rate:,.0f} per CPU second "
          f"(goal ≥ {GOALS['records_per_s']:,}: "
          f"{'met' if cpu_rate >= GOALS['records_per_s'] else 'not met'})")


if __name__ == "__main__":
    main()
