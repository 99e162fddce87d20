"""Impact analysis: replay recorded traffic through two pack sets and measure what changes.

``diff(old, new, traffic)`` reads the traffic in partitions (``traffic``), decides every
context with both pack sets, classifies the differences (``compare``), accumulates a
mergeable partial summary per partition (``summary``) and merges them, in one process, in
local processes or on a Dask cluster (``runner``); ``report`` and ``html`` render the
result. ``compliance diff`` (``cli_diff``) is the command line over this.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from compliance.engine import Engine
from compliance.impact.packsets import PackSource, PackSourceError, engine_for, resolve
from compliance.impact.runner import (
    Job,
    Progress,
    default_workers,
    run_dask,
    run_processes,
    sensitive_paths,
)
from compliance.impact.summary import Summary
from compliance.impact.traffic import DEFAULT_PARTITION_BYTES, partitions


def prepare(old: PackSource, new: PackSource, *, sample: int = 5) -> Job:
    """Compile both pack sets here (raising ``PackError`` if one has errors) into a job."""
    return make_job(old, engine_for(old), new, engine_for(new), sample=sample)


def make_job(old: PackSource, old_engine: Engine, new: PackSource, new_engine: Engine, *,
             sample: int = 5) -> Job:
    """The job for two compiled pack sets: their digests, and what examples redact (the
    sensitive attributes of either schema)."""
    redacted = {*sensitive_paths(old_engine.schema), *sensitive_paths(new_engine.schema)}
    return Job(old, new, old_engine.pack_set_digest, new_engine.pack_set_digest,
               sample=sample, redact=tuple(sorted(redacted)))


def run(job: Job, traffic: Sequence[str], *, workers: int = 1, dask: bool = False,
        scheduler: str | None = None, partition_bytes: int = DEFAULT_PARTITION_BYTES,
        progress: Progress | None = None) -> Summary:
    """The merged summary of ``traffic`` (file paths) under ``job``.

    ``dask``: on the cluster at ``scheduler``, or a LocalCluster of ``workers`` processes
    when ``scheduler`` is None; otherwise on ``workers`` local processes (1: this one).
    """
    parts = partitions(traffic, partition_bytes)
    if dask:
        return run_dask(job, parts, scheduler=scheduler, local_workers=workers,
                        progress=progress)
    return run_processes(job, parts, workers, progress)


def diff(old: str, new: str, traffic: Sequence[str], *, workers: int = 1, sample: int = 5,
         partition_bytes: int = DEFAULT_PARTITION_BYTES) -> dict[str, Any]:
    """The impact report of going from pack set ``old`` to ``new`` (directories or
    ``git:REV:PATH``) on the traffic files, as the JSON of ``compliance diff``."""
    job = prepare(resolve(old), resolve(new), sample=sample)
    summary = run(job, traffic, workers=workers, partition_bytes=partition_bytes)
    return summary.report(list(traffic), old=old, new=new)


__all__ = ["Job", "PackSource", "PackSourceError", "Summary", "default_workers", "diff",
           "make_job", "prepare", "resolve", "run"]
