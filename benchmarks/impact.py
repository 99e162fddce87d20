"""Benchmark: `compliance diff` throughput with the shipped packs, and JSON line reading.

    python benchmarks/impact.py [--count 200000] [--workers 1,2] [--no-dask] [--quick]

Generates ``--count`` contexts with ``examples/traffic/generate.py`` (seeded), then times:

(a) reading the lines: the strict reader (``jsonread.read_json``, which the diff uses),
    plain ``json.loads`` and ``orjson.loads`` (no duplicate-key check, so not usable as is);
(b) the diff of the silent llm-dev "before" (``examples/traffic/silent_before.py``) against
    ``rules/``: in one process, on N local processes, and on a two-worker Dask
    LocalCluster (when ``dask[distributed]`` is installed);
(c) one evaluation, to show where the time goes (a diff is two evaluations per context).

It prints contexts per second and the time 1 000 000 contexts would take at that rate (the
issue's goal: at most 60 s on a 2-core machine). Nothing here is asserted by tests.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import orjson

from compliance import Engine
from compliance.impact import prepare, resolve, run
from compliance.jsonread import read_json

REPO = Path(__file__).resolve().parent.parent
GOAL_S = 60.0
MILLION = 1_000_000


def _example(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        name, REPO / "examples" / "traffic" / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _rate(label: str, count: int, seconds: float) -> float:
    rate = count / seconds
    print(f"  {label:<34} {rate:>10,.0f} contexts/s   1M in {MILLION / rate:6.1f} s")
    return rate


def _time(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _each(parse: Callable[[bytes], object], lines: list[bytes]) -> None:
    for line in lines:  # parse and drop, as the diff does (no list of 200 000 dicts to GC)
        parse(line)


def bench_reading(path: Path, count: int) -> None:
    """(a) contexts/s of each JSON reader over the file's lines."""
    lines = path.read_bytes().splitlines()
    print(f"line reading ({count:,} lines, {path.stat().st_size / 1e6:.0f} MB):")
    for label, parse in (("jsonread.read_json (strict)", read_json),
                         ("json.loads", json.loads), ("orjson.loads", orjson.loads)):
        _rate(label, len(lines), _time(lambda p=parse: _each(p, lines)))


def bench_evaluate(path: Path, rules: Path, count: int) -> None:
    """(c) one evaluation per context with the shipped packs."""
    engine = Engine.from_path(rules)
    contexts = [json.loads(line) for line in path.read_bytes().splitlines()[:count]]
    print("one evaluation (rules/):")
    _rate("engine.evaluate", len(contexts),
          _time(lambda: [engine.evaluate(c) for c in contexts]))


def bench_diff(path: Path, before: Path, rules: Path, count: int, *, workers: list[int],
               dask: bool) -> None:
    """(b) the whole diff, per runner."""
    job = prepare(resolve(str(before)), resolve(str(rules)))
    print(f"diff silent-before -> rules/ ({count:,} contexts):")
    for n in workers:
        seconds = _time(lambda n=n: run(job, [str(path)], workers=n))
        _rate(f"{n} process{'es' if n > 1 else ''}", count, seconds)
    if dask:
        if importlib.util.find_spec("distributed") is None:
            print("  dask LocalCluster: skipped (pip install 'compliance[dask]')")
            return
        from dask.distributed import LocalCluster

        start = time.perf_counter()
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                               dashboard_address=None)
        started = time.perf_counter() - start
        try:
            seconds = _time(lambda: run(job, [str(path)], dask=True,
                                        scheduler=cluster.scheduler_address))
        finally:
            cluster.close()
        _rate("dask LocalCluster, 2 workers", count, seconds)
        print(f"  (starting the LocalCluster took another {started:.1f} s)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=200_000)
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--no-dask", action="store_true")
    parser.add_argument("--quick", action="store_true", help="2 000 contexts, one process")
    args = parser.parse_args()
    count = 2_000 if args.quick else args.count
    workers = [1] if args.quick else [int(w) for w in args.workers.split(",")]
    generate = _example("generate")
    before_module = _example("silent_before")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "traffic.jsonl"
        with path.open("w", encoding="utf-8") as handle:
            generate.write(handle, 11, count)
        before = before_module.build(Path(tmp) / "before")
        bench_reading(path, count)
        bench_evaluate(path, REPO / "rules", min(count, 20_000))
        bench_diff(path, before, REPO / "rules", count, workers=workers,
                   dask=not (args.no_dask or args.quick))
    print(f"goal: {MILLION:,} contexts in <= {GOAL_S:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
