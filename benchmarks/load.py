"""Benchmark: import time, cold load (load + check + compile) and peak memory.

    python benchmarks/load.py [--imports 10] [--rules 1000] [--runs 5] [--memory 10000]
                              [--importtime] [--quick]

Every number comes from a fresh interpreter, because what is measured is what a process
pays once: the import of ``compliance``, the first ``Engine.from_path``. It prints

* ``from compliance import Engine``: wall time, median and spread over ``--imports``
  fresh processes (``--importtime`` adds the heaviest modules by ``python -X importtime``);
* cold load of ``--rules`` rules, median over ``--runs`` fresh processes, split into its
  stages: the imports it triggers, YAML loading, checking (CEL parse + types + cost) and
  planning (the compiled backend), once with the on-disk parse cache off, once with a cache
  directory that is empty (a cold cache, so the run also fills it) and once with it warm;
* peak RSS (``VmHWM``) of loading ``--memory`` rules and evaluating 200 contexts.

The machine this runs on is shared and noisy: medians of several fresh processes are
printed, never one run. Nothing here is asserted by tests (``tests/test_benchmark_smoke.py``
checks that ``--quick`` still runs).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import installed  # noqa: E402  (sibling modules; the script is run by path)
import packgen  # noqa: E402

GOALS = {"import_ms": 100.0, "load_1000_s": 1.0, "rss_10000_mb": 100.0}

_IMPORT = (
    "import time\n"
    "t0, c0 = time.perf_counter(), time.process_time()\n"
    "from compliance import Engine\n"
    "print((time.perf_counter() - t0) * 1000, (time.process_time() - c0) * 1000)\n"
)

_STAGES = """
import json, sys, time
def now():
    return (time.perf_counter(), time.process_time())
t0 = now()
from compliance import Engine
t1 = now()
import compliance.checker, compliance.loader, compliance.planner, compliance.evaluator
t2 = now()
from compliance.checker import check_pack_set
from compliance.loader import load_pack_set
pack_set, diags = load_pack_set([sys.argv[1]])
t3 = now()
report = check_pack_set(pack_set)
t4 = now()
engine = Engine(report.checked)
t5 = now()
out = {}
for k, (clock, name) in enumerate((("wall", ""), ("cpu", "cpu_"))):
    out.update({name + "import_engine": t1[k] - t0[k], name + "import_stages": t2[k] - t1[k],
                name + "yaml": t3[k] - t2[k], name + "check": t4[k] - t3[k],
                name + "compile": t5[k] - t4[k], name + "from_path": t5[k] - t1[k]})
print(json.dumps(out))
"""

_MEMORY = """
import json, sys
def rss():
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent across exec
    for line in open('/proc/self/status'):
        if line.startswith('VmHWM:'):
            return int(line.split()[1]) / 1024
    return float('nan')
from compliance import Engine
before = rss()
engine = Engine.from_path(sys.argv[1])
loaded = rss()
for ctx in json.loads(open(sys.argv[2]).read()):
    engine.evaluate(ctx)
print(json.dumps({"rss_import_mb": before, "rss_loaded_mb": loaded, "rss_peak_mb": rss()}))
"""


def _child(code: str, *args: str, env: dict[str, str] | None = None) -> str:
    out = subprocess.run([sys.executable, "-c", code, *args], check=True, capture_output=True,
                         text=True, env=env)
    return out.stdout.strip().splitlines()[-1]


_BASE: dict[str, str] = {}
"""The children's environment (``installed``: bytecode compiled), set up by ``main``."""


def _env(cache: Path | None) -> dict[str, str]:
    env = dict(_BASE or os.environ)
    env.pop("COMPLIANCE_CACHE_DIR", None)
    if cache is not None:
        env["COMPLIANCE_CACHE_DIR"] = str(cache)
    return env


def import_times(runs: int) -> tuple[list[float], list[float]]:
    """Wall and CPU ms of ``from compliance import Engine`` in ``runs`` fresh processes."""
    pairs = [_child(_IMPORT, env=_env(None)).split() for _ in range(runs)]
    return [float(w) for w, _ in pairs], [float(c) for _, c in pairs]


def importtime_top(top: int = 15) -> list[tuple[float, float, str]]:
    """The modules with the largest self time under ``-X importtime`` (one process)."""
    command = [sys.executable, "-X", "importtime", "-c", "from compliance import Engine"]
    out = subprocess.run(command, check=True, capture_output=True, text=True, env=_env(None))
    rows: list[tuple[float, float, str]] = []
    for line in out.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        own, total, name = line.split(":", 1)[1].split("|")
        rows.append((int(own) / 1000, int(total) / 1000, name.rstrip()))
    return sorted(rows, reverse=True)[:top]


def cold_loads(directory: Path, runs: int, cache: Path | None, *,
               clear: bool) -> list[dict[str, float]]:
    """Stage times of ``runs`` fresh-process loads; ``clear`` empties the cache before each."""
    results = []
    installed.warm(_env(None), _STAGES, str(directory))  # compiles what a load imports
    for _ in range(runs):
        if clear and cache is not None:
            shutil.rmtree(cache, ignore_errors=True)
        results.append(json.loads(_child(_STAGES, str(directory), env=_env(cache))))
    return results


def memory(directory: Path, contexts: Path) -> dict[str, float]:
    """Peak RSS of one fresh process loading ``directory`` and evaluating ``contexts``.

    Run after ``cold_loads``, whose untimed run compiled the modules a load imports.
    """
    result: dict[str, float] = json.loads(_child(_MEMORY, str(directory), str(contexts),
                                                 env=_env(None)))
    return result


def _spread(values: list[float]) -> str:
    med = statistics.median(values)
    return f"median {med:7.1f}  min {min(values):7.1f}  max {max(values):7.1f}"


def _stage_table(label: str, rows: list[dict[str, float]], prefix: str = "") -> str:
    keys = ("import_engine", "import_stages", "yaml", "check", "compile", "from_path")
    med = {k: statistics.median(r[prefix + k] for r in rows) * 1000 for k in keys}
    total = med["import_engine"] + med["from_path"]
    share = med["compile"] / med["from_path"] * 100 if med["from_path"] else 0.0
    return (f"  {label:<22}" + "".join(f"{med[k]:9.1f}" for k in keys)
            + f"{total:9.1f}   compile {share:4.1f}% of from_path")


def _goal(name: str, value: float, goal: float, unit: str) -> str:
    verdict = "met" if value <= goal else f"NOT met (x{value / goal:.2f})"
    return f"  {name:<44} {value:8.1f} {unit:<3} goal <= {goal:g} {unit}: {verdict}"


def main() -> None:
    """Run the measurements and print them (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--imports", type=int, default=10, help="fresh processes for import")
    parser.add_argument("--rules", type=int, default=1000, help="rules in the cold-load pack set")
    parser.add_argument("--runs", type=int, default=5, help="fresh processes per cold-load row")
    parser.add_argument("--memory", type=int, default=10_000, help="rules for peak RSS (0: skip)")
    parser.add_argument("--importtime", action="store_true", help="list the slowest imports")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one run (CI smoke)")
    args = parser.parse_args()
    if args.quick:
        args.imports, args.rules, args.runs, args.memory = 2, 20, 1, 20

    print(f"python {sys.version.split()[0]}; medians over fresh processes (noisy shared machine);"
          " modules read as bytecode, as when installed")
    with tempfile.TemporaryDirectory(prefix="compliance-bytecode-") as bytecode:
        _BASE.update(installed.environment(Path(bytecode)))
        installed.warm(_BASE, _IMPORT)
        try:
            _measure(args)
        finally:
            _BASE.clear()


def _measure(args: argparse.Namespace) -> None:
    imports, imports_cpu = import_times(args.imports)
    print(f"\nfrom compliance import Engine, ms over {args.imports} processes")
    print(f"  wall {_spread(imports)}\n  cpu  {_spread(imports_cpu)}")
    if args.importtime:
        print("  slowest imports (-X importtime, one process): self ms, cumulative ms, module")
        for own, total, name in importtime_top():
            print(f"  {own:8.1f} {total:8.1f}  {name}")

    results: dict[str, Any] = {"import_ms": statistics.median(imports)}
    with tempfile.TemporaryDirectory(prefix="compliance-load-") as tmp:
        work = Path(tmp)
        gen = packgen.generate(args.rules)
        directory = gen.write(work / f"rules-{args.rules}")
        cache = work / "cache"
        off = cold_loads(directory, args.runs, None, clear=False)
        cold = cold_loads(directory, args.runs, cache, clear=True)
        warm = cold_loads(directory, args.runs, cache, clear=False)
        print(f"\ncold load of {args.rules} rules, ms (median of {args.runs} fresh processes)")
        print(f"  {'':<22}{'import':>9}{'+stages':>9}{'yaml':>9}{'check':>9}{'compile':>9}"
              f"{'from_path':>10}{'total':>8}")
        for prefix, clock in (("", "wall"), ("cpu_", "cpu")):
            print(_stage_table(f"{clock}, parse cache off", off, prefix))
            print(_stage_table(f"{clock}, disk cache empty", cold, prefix))
            print(_stage_table(f"{clock}, disk cache warm", warm, prefix))
        results["load_s"] = {name: statistics.median(r["from_path"] for r in rows)
                             for name, rows in (("off", off), ("cold", cold), ("warm", warm))}
        results["load_cpu_s"] = {name: statistics.median(r["cpu_from_path"] for r in rows)
                                 for name, rows in (("off", off), ("cold", cold), ("warm", warm))}
        if args.memory:
            mem_gen = packgen.generate(args.memory)
            mem_dir = mem_gen.write(work / f"rules-{args.memory}")
            contexts = work / "contexts.json"
            contexts.write_text(json.dumps(packgen.contexts(mem_gen, 200)))
            results["memory"] = memory(mem_dir, contexts)
            mem = results["memory"]
            print(f"\npeak RSS, {args.memory} rules + 200 evaluations: after import "
                  f"{mem['rss_import_mb']:.1f} MB, after load {mem['rss_loaded_mb']:.1f} MB, "
                  f"peak {mem['rss_peak_mb']:.1f} MB")

    print("\ngoals")
    print(_goal("from compliance import Engine (median wall)", results["import_ms"],
                GOALS["import_ms"], "ms"))
    print(_goal("from compliance import Engine (median cpu)", statistics.median(imports_cpu),
                GOALS["import_ms"], "ms"))
    if args.rules == 1000:
        for name in ("off", "cold", "warm"):
            for key, clock in (("load_s", "wall"), ("load_cpu_s", "cpu")):
                print(_goal(f"1000 rules from_path ({clock}), disk cache {name}",
                            results[key][name], GOALS["load_1000_s"], "s"))
    if args.memory == 10_000:
        print(_goal("10 000 rules peak RSS", results["memory"]["rss_peak_mb"],
                    GOALS["rss_10000_mb"], "MB"))


if __name__ == "__main__":
    main()
