"""Benchmark: signal stores, ``observe()`` throughput, ``facts_for()`` latency, and what facts
add to ``Engine.evaluate()``.

    python benchmarks/signals.py [--events 50000] [--queries 5000] [--redis URL] [--quick]

Runs in one process (one core). For each store it observes a stream of founding-case
events (3 ``safeguard_flag`` per org within 10 minutes -> ``under_review`` for 24 h) spread
over many orgs, with the clock at each event's time as a replay does, then times
``facts_for`` for one fact and key (the engine's per-request read). Redis is skipped with a
note when the server cannot be reached or redis-py is missing. Goals from issue 12:
>= 50 000 observes/s in-process; one ``facts_for`` round trip <= 1 ms on localhost.
Then, through the engine over rules/: ``Engine.observe`` (compiled CEL predicates) and
``evaluate()`` of one request with the shipped pack set against the same set without
rules/safeguard-signals.yaml, plus the fact hook alone (keys, one ``facts_for``, the
activation), goal <= 2 µs in-process and one round trip with Redis. Numbers are printed,
never asserted.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from compliance.cel.values import Timestamp, format_timestamp, parse_timestamp
from compliance.engine import Engine
from compliance.signals import Event, InProcessStore, SignalSpec, Store, StoreUnavailable

REPO = Path(__file__).resolve().parents[1]
RULES = REPO / "rules"
CONTEXT = REPO / "examples" / "contexts" / "fable5-us-citizen-after-directive.json"
GOAL_ADDED_US = 2.0

T0 = parse_timestamp("2026-06-15T12:00:00Z")
GOAL_OBSERVES_PER_S = 50_000
GOAL_ROUND_TRIP_MS = 1.0


class Clock:
    """A replay clock: the benchmark sets it to each event's time."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> Timestamp:
        return self.now


def _is_flag(event: Mapping[str, Any]) -> bool:
    return bool(event["kind"] == "safeguard_flag")


def _org(event: Mapping[str, Any]) -> str:
    return str(event["org_id"])


SPEC = SignalSpec("repeated_flags", _is_flag, _org, 3, timedelta(minutes=10), "under_review",
                  timedelta(hours=24))


def stream(n: int) -> list[Event]:
    """``n`` events, one every 10 ms, over 1000 orgs; a quarter are other kinds."""
    return [
        Event.from_json({
            "kind": "login" if i % 4 == 3 else "safeguard_flag",
            "time": format_timestamp(Timestamp(T0.nanos + i * 10_000_000)),
            "org_id": f"org-{i % 1000}",
        })
        for i in range(n)
    ]


def bench_observe(store: Store, clock: Clock, events: list[Event]) -> tuple[float, int]:
    """Observes per second, and how many facts were raised."""
    raised = 0
    gc.disable()
    start = time.perf_counter()
    for event in events:
        clock.now = event.time
        raised += len(store.observe([SPEC], event))
    elapsed = time.perf_counter() - start
    gc.enable()
    return len(events) / elapsed, raised


def bench_facts_for(store: Store, clock: Clock, queries: int) -> tuple[float, float, int]:
    """Median and p99 µs per ``facts_for`` call, and how many answers held a fact."""
    samples: list[float] = []
    held = 0
    at = clock.now
    for i in range(queries):
        keys = {"under_review": f"org-{i % 1000}"}
        start = time.perf_counter_ns()
        found = store.facts_for(keys, at)
        samples.append((time.perf_counter_ns() - start) / 1000)
        held += bool(found)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.99) - 1], held


def run(
    name: str, store: Store, clock: Clock, events: list[Event], queries: int
) -> dict[str, float]:
    """Time one store and print its two rows."""
    rate, raised = bench_observe(store, clock, events)
    median, p99, held = bench_facts_for(store, clock, queries)
    print(f"{name:<12} observe: {rate:>10,.0f} /s ({len(events)} events, {raised} facts raised)")
    print(f"{'':<12} facts_for: median {median:8.1f} µs  p99 {p99:8.1f} µs "
          f"({queries} queries, {held} held a fact)")
    return {"rate": rate, "median_us": median}


RUNS = 15


BEST: dict[str, float] = {}
"""The fastest run of each hook timing: on a shared machine, the cost without contention."""


def _per_call_us(fn: Callable[[], object], n: int, best: str | None = None) -> float:
    """Median of ``RUNS`` runs of ``n`` calls, in µs per call (the machine may be shared);
    the fastest run is kept in ``BEST[best]`` when named."""
    runs = []
    for _ in range(RUNS):
        gc.disable()
        start = time.perf_counter_ns()
        for _ in range(n):
            fn()
        runs.append((time.perf_counter_ns() - start) / n / 1000)
        gc.enable()
    if best is not None:
        BEST[best] = min(runs)
    return statistics.median(runs)


def _round_trips(store: Store, fn: Callable[[], object]) -> int | None:
    """Commands ``fn`` sends to a Redis store's server (None for other stores)."""
    client = getattr(store, "_client", None)
    if client is None:
        return None
    sent = 0
    execute = client.execute_command

    def counting(*args: Any, **kwargs: Any) -> Any:
        nonlocal sent
        sent += 1
        return execute(*args, **kwargs)

    client.execute_command = counting
    try:
        fn()
    finally:
        del client.execute_command
    return sent


def bench_engine(name: str, make_store: Callable[[Clock], Store], n: int) -> dict[str, float]:
    """Engine.observe rate, and what facts add to evaluate() (rows printed)."""
    clock = Clock()
    engine = Engine.from_path(RULES, store=make_store(clock))
    without = [p for p in sorted(RULES.glob("*.yaml")) if p.name != "safeguard-signals.yaml"]
    # packset.yaml is among them: named explicitly, it is the manifest
    base = Engine.from_path(*without)
    context = json.loads(CONTEXT.read_text())
    at = parse_timestamp(context["request"]["time"])
    # Groups of 4 events per org, 3 flags and a login, so every org in the stream is reviewed.
    events = [{"kind": "login" if i % 4 == 3 else "safeguard_flag",
               "org_id": f"org-{(i // 4) % 500}",
               "time": format_timestamp(Timestamp(at.nanos - 30 * 60 * 10**9 + i * 10**6))}
              for i in range(n)]
    start = time.perf_counter()
    for event in events:
        clock.now = parse_timestamp(event["time"])
        engine.observe(event)
    rate = n / (time.perf_counter() - start)
    clock.now = at
    reviewed = {**context, "org": {**context["org"], "id": "org-7"}}
    assert engine.evaluate(reviewed).facts, "org-7 should be under review"
    hook = engine._facts  # the evaluator's one call per decision
    assert hook is not None
    clean = {**context, "org": {**context["org"], "id": "org-never-flagged"}}
    with_facts = _per_call_us(lambda: engine.evaluate(clean), 2000)
    no_facts = _per_call_us(lambda: base.evaluate(clean), 2000)
    n_calls = 2000 if name == "in-process" else 200
    hook_us = _per_call_us(lambda: hook(clean, at.nanos), n_calls, best=name)
    reviewed_us = _per_call_us(lambda: hook(reviewed, at.nanos), n_calls)
    trips = _round_trips(engine.store, lambda: engine.evaluate(clean))
    print(f"{name:<12} Engine.observe: {rate:>10,.0f} /s ({n} events, compiled CEL)")
    print(f"{'':<12} evaluate (org not under review): {with_facts:7.1f} µs, "
          f"{no_facts:7.1f} µs without rules/safeguard-signals.yaml "
          f"(+{with_facts - no_facts:.1f} µs incl. its 2 rules)")
    print(f"{'':<12} fact hook alone: {hook_us:.2f} µs (no fact; fastest run "
          f"{BEST[name]:.2f}), {reviewed_us:.2f} µs "
          "(org under review)" + (f"; {trips} round trip(s) per evaluate" if trips else ""))
    return {"hook_us": hook_us, "round_trips": float(trips or 0)}


def bench_system_clock() -> float:
    """The fact hook on the default store (the system clock), a request at the wall clock."""
    engine = Engine.from_path(RULES).with_store(InProcessStore())
    context = json.loads(CONTEXT.read_text())
    now = Timestamp(time.time_ns())
    for i in range(1500):  # 500 orgs under review: the store is not empty
        engine.observe({"kind": "safeguard_flag", "org_id": f"org-{i // 3}",
                        "time": format_timestamp(Timestamp(now.nanos - 60 * 10**9 + i * 10**6))})
    request = {**context, "request": {**context["request"], "time": format_timestamp(now)},
               "org": {**context["org"], "id": "org-never-flagged"}}
    hook = engine._facts
    assert hook is not None
    hook_us = _per_call_us(lambda: hook(request, now.nanos), 2000, best="system")
    print(f"{'':<12} fact hook alone, system clock (the default store): {hook_us:.2f} µs "
          f"(no fact; fastest run {BEST['system']:.2f})")
    return hook_us


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--queries", type=int, default=5_000)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--quick", action="store_true", help="a few thousand events only")
    args = parser.parse_args(argv)
    if args.quick:
        args.events, args.queries = 3_000, 500
    events = stream(args.events)
    clock = Clock()
    memory = run("in-process", InProcessStore(clock=clock), clock, events, args.queries)
    ok = memory["rate"] >= GOAL_OBSERVES_PER_S
    print(f"goal >= {GOAL_OBSERVES_PER_S:,} observes/s in-process: {'met' if ok else 'NOT met'}")
    engine_n = max(args.events // 10, 100)
    hook = bench_engine("in-process", lambda c: InProcessStore(clock=c), engine_n)
    system = bench_system_clock()
    ok = max(hook["hook_us"], system) <= GOAL_ADDED_US
    print(f"goal evaluate() adds <= {GOAL_ADDED_US} µs in-process (the fact hook, either clock, "
          f"median): {'met' if ok else 'NOT met'}"
          + ("" if ok or max(BEST["in-process"], BEST["system"]) > GOAL_ADDED_US else
             " (its fastest runs are within the goal: the machine is busy; run it again)"))
    try:
        from compliance.signals import RedisStore

        clock = Clock()
        store = RedisStore(url=args.redis, namespace=f"bench-{uuid.uuid4().hex}", clock=clock)
        try:
            shared = run("redis", store, clock, events[: max(args.events // 5, 1)], args.queries)
        finally:
            store.clear()
        spaces: list[RedisStore] = []

        def make(c: Clock) -> Store:
            spaces.append(RedisStore(url=args.redis, namespace=f"bench-{uuid.uuid4().hex}",
                                     clock=c))
            return spaces[-1]

        try:
            remote = bench_engine("redis", make, max(engine_n // 5, 100))
        finally:
            for space in spaces:
                space.clear()
    except (ImportError, StoreUnavailable) as err:
        print(f"redis        skipped: {err}")
        return 0
    ok = shared["median_us"] <= GOAL_ROUND_TRIP_MS * 1000 and remote["round_trips"] == 1
    print(f"goal one facts_for round trip per evaluate, <= {GOAL_ROUND_TRIP_MS} ms on localhost: "
          f"{'met' if ok else 'NOT met'} ({remote['round_trips']:.0f} round trip, median "
          f"{shared['median_us']:.0f} µs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
