"""Running a diff: one partition at a time, in one process, in local processes, or on Dask.

``summarize`` turns one partition into a partial ``Summary``; the three runners only decide
where it runs, and merge the partials (exactly, in any order), so their results are equal.
Every worker compiles both pack sets from their bytes once (``packsets.engine_for``) and
reads its partitions' files itself, so a cluster's workers need the traffic files at the
same paths (a shared or object file system) but no copy of the packs.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from compliance.cel.types import ContextSchema
from compliance.decision import Decision
from compliance.engine import Engine
from compliance.impact.compare import describe, details, outcome, transition
from compliance.impact.packsets import PackSource, engine_for
from compliance.impact.summary import Position, Summary
from compliance.impact.traffic import (
    DEFAULT_MAX_LINE_BYTES,
    Partition,
    PartitionReader,
    ReadProblem,
    Record,
)

BATCH = 256
"""Contexts evaluated together (``engine.evaluate_many`` when the engine has it)."""
REDACTED = "[redacted]"
DEFAULT_SENSITIVE = ("org.id", "principal.id", "request.id")

Progress = Callable[[int, int], None]
"""Called after each partition with (bytes read, records read) of that partition."""


@dataclass(frozen=True, slots=True)
class Job:
    """Everything a worker needs besides its partition (small; sent once per worker)."""

    old: PackSource
    new: PackSource
    old_digest: str
    new_digest: str
    sample: int = 5
    redact: tuple[str, ...] = DEFAULT_SENSITIVE
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES


def sensitive_paths(schema: ContextSchema) -> tuple[str, ...]:
    """Attribute paths redacted in examples: those the schema marks sensitive, and the ids.

    The one hook onto the schema's ``sensitive`` marks: a schema without
    ``sensitive_paths`` (or marking nothing) still has its identifiers redacted.
    """
    marked = getattr(schema, "sensitive_paths", None)
    if callable(marked):
        marked = marked()
    found = {str(p) for p in marked or ()}
    return tuple(sorted(found | set(DEFAULT_SENSITIVE)))


def redact(context: Mapping[str, Any], paths: Sequence[str]) -> dict[str, Any]:
    """A copy of ``context`` with the value at each dotted path replaced by ``[redacted]``."""
    out: dict[str, Any] = dict(context)
    for path in paths:
        *parents, leaf = path.split(".")
        node: dict[str, Any] = out
        for name in parents:
            child = node.get(name)
            if not isinstance(child, Mapping):
                break
            node[name] = dict(child)
            node = node[name]
        else:
            if leaf in node:
                node[leaf] = REDACTED
    return out


def _decide_all(engine: Engine, contexts: Sequence[Mapping[str, Any]]
                ) -> list[Decision | Exception]:
    """Decide every context: the engine's batch path when it has one, else one at a time.

    A context whose evaluation raised (a bug: ``evaluate`` fails closed) becomes the
    exception, reported as an error, so one bad context never stops a month of traffic.
    """
    many = getattr(engine, "evaluate_many", None)
    if many is not None:
        try:
            return list(many(contexts))
        except Exception:
            pass
    out: list[Decision | Exception] = []
    for context in contexts:
        try:
            out.append(engine.evaluate(context))
        except Exception as exc:
            out.append(exc)
    return out


def summarize(part: Partition, job: Job) -> Summary:
    """The partial summary of one partition."""
    return _PartitionRun(part, job).run()


class _PartitionRun:
    """Reads one partition, decides its contexts in batches and fills its summary."""

    def __init__(self, part: Partition, job: Job) -> None:
        self.part = part
        self.job = job
        self.old = engine_for(job.old, job.old_digest)
        self.new = engine_for(job.new, job.new_digest)
        self.summary = Summary(sample=job.sample)
        self.batch: list[Record] = []

    def run(self) -> Summary:
        summary, part = self.summary, self.part
        reader = PartitionReader(part, self.job.max_line_bytes)
        for item in reader:
            if item is None:
                summary.skipped += 1
            elif isinstance(item, ReadProblem):
                self.flush()  # keep the errors in line order
                summary.read_errors += 1
                summary.add_error((part.file_index, part.start, item.line), item.code,
                                  item.message, column=item.column)
            else:
                self.batch.append(item)
                if len(self.batch) >= BATCH:
                    self.flush()
        self.flush()
        summary.lines[(part.file_index, part.start)] = reader.lines
        return summary

    def flush(self) -> None:
        if not self.batch:
            return
        contexts = [r.context for r in self.batch]
        decided = zip(self.batch, _decide_all(self.old, contexts),
                      _decide_all(self.new, contexts), strict=True)
        for record, before, after in decided:
            pos: Position = (self.part.file_index, self.part.start, record.line)
            if _errors(self.summary, pos, before, after):
                self.summary.eval_errored += 1
            if isinstance(before, Exception) or isinstance(after, Exception):
                self.summary.uncompared += 1
                continue
            self.compare(pos, record.context, before, after)
        self.batch.clear()

    def compare(self, pos: Position, context: Mapping[str, Any], before: Decision,
                after: Decision) -> None:
        summary = self.summary
        o, n = outcome(before), outcome(after)
        change = transition(o, n)
        org, request = context.get("org"), context.get("request")
        org = org if isinstance(org, Mapping) else {}
        request = request if isinstance(request, Mapping) else {}
        summary.add_context(org.get("id"), request.get("model"), org.get("plan"), change)
        if change is None:
            return
        what = details(o, n)
        summary.add_change_detail(change, what, {f"{m.pack}/{m.rule}" for m in before.matched},
                                  {f"{m.pack}/{m.rule}" for m in after.matched})
        if summary.wants_example(change):
            summary.add_example(change, pos, {"changes": what, "old": describe(o),
                                              "new": describe(n),
                                              "context": redact(context, self.job.redact)})


def _errors(summary: Summary, pos: Position, before: Decision | Exception,
            after: Decision | Exception) -> bool:
    """Record the evaluation errors of one context on each side; whether there were any."""
    found = False
    for side, decision in (("old", before), ("new", after)):
        if isinstance(decision, Exception):
            summary.eval_errors[side] += 1
            summary.add_error(pos, "internal-error",
                              f"{side} pack set: {type(decision).__name__}: {decision}"[:300],
                              side=side)
            found = True
        elif decision.errors:
            first = decision.errors[0]
            summary.eval_errors[side] += 1
            summary.add_error(pos, first.code, f"{side} pack set: {first.pack}/{first.rule}: "
                              f"{first.message}"[:300], side=side)
            found = True
    return found


# --- runners ------------------------------------------------------------------------------


def run_serial(job: Job, parts: Sequence[Partition], progress: Progress | None = None
               ) -> Summary:
    """Every partition in this process, in order."""
    total = Summary(sample=job.sample)
    for part in parts:
        _done(total, summarize(part, job), part, progress)
    return total


def _done(total: Summary, partial: Summary, part: Partition, progress: Progress | None) -> None:
    total.merge(partial)
    if progress is not None:
        progress(part.size, partial.records)


_JOB: Job | None = None


def _init_worker(job: Job) -> None:
    global _JOB  # noqa: PLW0603  (one job per pool process, set by the pool initializer)
    _JOB = job
    engine_for(job.old, job.old_digest)
    engine_for(job.new, job.new_digest)


def _summarize_in_worker(part: Partition) -> Summary:
    assert _JOB is not None, "the pool initializer sets the job"
    return summarize(part, _JOB)


def run_processes(job: Job, parts: Sequence[Partition], workers: int,
                  progress: Progress | None = None) -> Summary:
    """Partitions on ``workers`` local processes (spawned: no state is shared by fork)."""
    if workers <= 1 or len(parts) <= 1:
        return run_serial(job, parts, progress)
    context = multiprocessing.get_context("spawn")
    total = Summary(sample=job.sample)
    by_key = {(p.file_index, p.start): p for p in parts}
    with context.Pool(min(workers, len(parts)), initializer=_init_worker,
                      initargs=(job,)) as pool:
        for partial in pool.imap_unordered(_summarize_in_worker, parts):
            (key,) = partial.lines
            _done(total, partial, by_key[key], progress)
    return total


def run_dask(job: Job, parts: Sequence[Partition], *, scheduler: str | None = None,
             local_workers: int = 2, progress: Progress | None = None) -> Summary:
    """Partitions as tasks on a Dask cluster: ``scheduler`` (``tcp://host:8786``), or a
    ``LocalCluster`` of ``local_workers`` processes when None. Needs ``compliance[dask]``."""
    # dask is an optional extra with partial type hints: reached as a module of Any.
    distributed: Any = importlib.import_module("dask.distributed")

    cluster = None
    if scheduler is None:
        cluster = distributed.LocalCluster(n_workers=local_workers, threads_per_worker=1,
                                           processes=True, dashboard_address=None)
    try:
        with distributed.Client(scheduler if scheduler is not None else cluster) as client:
            shipped = client.scatter(job, broadcast=True)
            # workers open the files themselves: give them paths that do not depend on cwd
            tasks = [replace(p, path=os.path.abspath(p.path)) for p in parts]
            by_key = {(p.file_index, p.start): p for p in tasks}
            futures = client.map(summarize, tasks, job=shipped, pure=False)
            total = Summary(sample=job.sample)
            for future in distributed.as_completed(futures):
                partial: Summary = future.result()
                (key,) = partial.lines
                _done(total, partial, by_key[key], progress)
            return total
    finally:
        if cluster is not None:
            cluster.close()


def default_workers() -> int:
    """All cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


__all__ = ["DEFAULT_SENSITIVE", "Job", "default_workers", "redact", "run_dask",
           "run_processes", "run_serial", "sensitive_paths", "summarize"]
