"""The opt-in Prometheus wrapper counts decisions by effect, times them, and counts reloads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from compliance.engine import Engine, EngineHolder

from .conftest import CONTEXTS
from .test_watch import FAST, _break, wait_for

prometheus_client = pytest.importorskip("prometheus_client")


def test_decisions_latency_and_reloads(rules_dir: Path) -> None:
    from compliance.metrics import Metrics

    registry = prometheus_client.CollectorRegistry()
    metrics = Metrics(registry=registry)
    holder = EngineHolder(Engine.from_path(rules_dir))
    engine = metrics.instrument(holder)
    expected = json.loads((CONTEXTS / "expected.json").read_text(encoding="utf-8"))
    effects: dict[str, int] = {}
    for name in sorted(expected)[:6]:
        ctx = json.loads((CONTEXTS / name).read_text(encoding="utf-8"))
        effect = engine.evaluate(ctx).effect
        effects[effect] = effects.get(effect, 0) + 1
    for effect, count in effects.items():
        assert registry.get_sample_value("compliance_decisions_total", {"effect": effect}) \
            == count
    assert registry.get_sample_value("compliance_evaluation_seconds_count") == 6
    with holder.watch(rules_dir, interval=FAST, on_reload=metrics.record_reload):
        _break(rules_dir / "sanctions.yaml")
        wait_for(lambda: holder.status().failures == 1, "the failed reload")
    assert registry.get_sample_value("compliance_reload_failures_total") == 1
    assert registry.get_sample_value("compliance_reloads_total", {"outcome": "failed"}) == 1
    assert registry.get_sample_value("compliance_reloads_total", {"outcome": "unchanged"}) == 1
