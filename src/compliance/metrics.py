"""Optional Prometheus metrics (``compliance[prometheus]``): an opt-in wrapper, never on the
default path.

``Metrics`` registers its collectors when built (``prometheus_client`` is imported then,
not before); ``metrics.instrument(engine_or_holder)`` returns an object whose ``evaluate``
counts decisions by effect and times them, and ``metrics.record_reload`` is the
``on_reload`` callback of ``EngineHolder.watch``::

    metrics = Metrics()
    holder.watch("rules.bundle", public_key="pub.pem", on_reload=metrics.record_reload)
    engine = metrics.instrument(holder)
    engine.evaluate(context)
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Mapping
from typing import Any

from compliance.decision import Decision
from compliance.engine import Engine, EngineHolder
from compliance.reload import ReloadStatus

__all__ = ["LATENCY_BUCKETS", "InstrumentedEngine", "Metrics"]

LATENCY_BUCKETS = (10e-6, 25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 10e-3, 50e-3)
"""Seconds; a decision takes tens of microseconds, so the default buckets would be useless."""


class Metrics:
    """The collectors: decisions by effect, evaluation latency, reloads by outcome."""

    def __init__(self, registry: Any = None, namespace: str = "compliance") -> None:
        try:
            prometheus = importlib.import_module("prometheus_client")
        except ImportError:
            raise ImportError("compliance.metrics needs the optional extra: "
                              "pip install 'compliance[prometheus]'") from None
        kw: dict[str, Any] = {"namespace": namespace}
        if registry is not None:
            kw["registry"] = registry
        self.decisions = prometheus.Counter("decisions", "Decisions by effect", ["effect"], **kw)
        self.latency = prometheus.Histogram("evaluation_seconds", "Time to decide one request",
                                            buckets=LATENCY_BUCKETS, **kw)
        self.reloads = prometheus.Counter("reloads", "Watched reload attempts by outcome "
                                          "(loaded, unchanged, failed)", ["outcome"], **kw)
        self.reload_failures = prometheus.Counter(
            "reload_failures", "Reloads that kept the old engine serving", **kw)

    def instrument(self, target: Engine | EngineHolder) -> InstrumentedEngine:
        """``target`` with metered ``evaluate`` (a holder is read on every call)."""
        return InstrumentedEngine(target, self)

    def record_reload(self, status: ReloadStatus) -> None:
        """Count one reload attempt (pass as ``EngineHolder.watch(on_reload=...)``)."""
        if status.last_outcome is not None:
            self.reloads.labels(status.last_outcome).inc()
        if status.last_outcome == "failed":
            self.reload_failures.inc()


class InstrumentedEngine:
    """``evaluate`` of an engine (or of a holder's current one), counted and timed."""

    __slots__ = ("_metrics", "_target")

    def __init__(self, target: Engine | EngineHolder, metrics: Metrics) -> None:
        self._target = target
        self._metrics = metrics

    def evaluate(self, context: Mapping[str, Any], **options: Any) -> Decision:
        """``Engine.evaluate``, recording the effect and the time taken."""
        target = self._target
        engine = target.engine if isinstance(target, EngineHolder) else target
        start = time.perf_counter()
        decision = engine.evaluate(context, **options)
        self._metrics.latency.observe(time.perf_counter() - start)
        self._metrics.decisions.labels(decision.effect).inc()
        return decision
