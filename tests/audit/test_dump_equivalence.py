"""The fast record encoding writes exactly the bytes of the plain path (``model_dump``).

``DecisionLog`` encodes a decision without pydantic's serializer (``audit.dump``) and puts
the decision and context into the line as pre-encoded fragments; verification compares
bytes, so the line must be the one the plain definition gives: ``model_dump(mode="json")``,
the redacted context, ``canonical``. Decisions come from the shipped packs on the example
contexts, bent (denials, interventions, routing, errors, missing attributes), with the
explain trace, with facts raised by the shipped events, and with values only pydantic
knows how to write (the fast path must then step aside, never write other bytes).
"""

from __future__ import annotations

import contextlib
import copy
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from _bending import bend
from compliance import Engine
from compliance.audit import GENESIS, DecisionLog
from compliance.audit.dump import cleaner, decision_bytes, plain_decision
from compliance.audit.encoding import canonical, read_line
from compliance.audit.writer import _encode
from compliance.cel.values import Timestamp, parse_timestamp
from compliance.decision import Decision, InterventionOut
from compliance.signals import InProcessStore

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = [json.loads(p.read_text(encoding="utf-8"))
            for p in sorted((ROOT / "examples" / "contexts").glob("*.json"))
            if p.name != "expected.json"]
EVENTS = [json.loads(line) for line in
          (ROOT / "examples" / "events" / "safeguard-flags.jsonl").read_text().splitlines()
          if line.strip()]
KEY = b"dump-equivalence-key-0123456789"

_BENDS: dict[tuple[str, str], list[object]] = {
    ("request", "model"): ["fable-5", "mythos-5", "opus-4.8", " Fable-5", 3, None],
    ("request", "use_case"): ["bio", "cyber", "llm-dev", "distillation", "surveillance",
                              "general", True],
    ("request", "origin_country"): ["US", "CU", "IR", "SY", "FR", None, 1.5],
    ("request", "time"): ["2026-07-01T12:00:00Z", "2026-06-15T14:30:00Z", "2024-01-01T00:00:00Z",
                          "2026-13-01T00:00:00Z", 17],
    ("org", "id"): ["org-acme", "org-other", 7],
    ("org", "zdr"): [True, False, "yes"],
    ("principal", "nationalities"): [["US"], ["FR"], ["DE", "US"], [], "US"],
    ("request", "risk_scores"): [{}, {"bio": 0.97}, {"cyber": 0.99, "bio": float("nan")}],
}


@st.composite
def contexts(draw: st.DrawFn) -> dict[str, Any]:
    """An example context with a few attributes changed, nulled or removed."""
    ctx = bend(draw, EXAMPLES, _BENDS)
    if draw(st.booleans()):
        ctx["prompt"] = "undeclared text, never logged"
    return ctx


class Clock:
    """The store's clock, set to each event's and request's own time."""

    def __init__(self) -> None:
        self.now = parse_timestamp(EVENTS[0]["time"])

    def __call__(self) -> Timestamp:
        return self.now

    def at(self, text: object) -> None:
        with contextlib.suppress(ValueError, TypeError):
            self.now = parse_timestamp(text)  # type: ignore[arg-type]


CLOCK = Clock()


@pytest.fixture(scope="module")
def engine() -> Engine:
    """The shipped packs, with the shipped events observed (org-acme is under review)."""
    shipped = Engine.from_path(ROOT / "rules", store=InProcessStore(clock=CLOCK))
    for event in EVENTS:
        CLOCK.at(event["time"])
        shipped.observe(event)
    return shipped


def decide(engine: Engine, ctx: dict[str, Any], *, explain: bool = False) -> Decision:
    request = ctx.get("request")
    CLOCK.at(request.get("time") if isinstance(request, dict) else None)
    return engine.evaluate(ctx, explain=explain)


@pytest.fixture(scope="module")
def logs(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[DecisionLog]]:
    """Writers with a redaction key, without one, and keeping sensitive values."""
    where = tmp_path_factory.mktemp("logs")
    opened = [
        DecisionLog(where / "keyed.jsonl", engine=engine, redaction_key=KEY,
                    checkpoint_seconds=None, archive=False),
        DecisionLog(where / "drop.jsonl", engine=engine, checkpoint_seconds=None, archive=False),
        DecisionLog(where / "clear.jsonl", engine=engine, keep_sensitive=True,
                    include_context=False, checkpoint_seconds=None, archive=False),
    ]
    yield opened
    for log in opened:
        log.close()


def _line(fields: dict[str, Any]) -> bytes:
    fields.update(record_version=1, seq=3, prev=GENESIS, chain="0123456789abcdef")
    return _encode(fields)


def assert_same_line(log: DecisionLog, decision: Decision, context: dict[str, Any]) -> None:
    """The fast line equals the plain line, byte for byte."""
    fast = _line(log._fields(decision, context))
    plain = _line(log._plain_fields(decision, context))
    assert fast == plain
    read_line(fast)  # and it is one canonical record, as verify reads it


@settings(max_examples=150)
@given(ctx=contexts(), explain=st.booleans(), which=st.integers(0, 2))
def test_fast_line_is_the_plain_line(engine: Engine, logs: list[DecisionLog],
                                     ctx: dict[str, Any], explain: bool, which: int) -> None:
    """Every decision of the shipped packs is written by the fast path, with the plain bytes."""
    decision = decide(engine, ctx, explain=explain)
    secrets = logs[0]._default.apply(ctx).secrets
    fast = decision_bytes(decision, cleaner(secrets))
    assert fast is not None  # the fast path is taken, not silently skipped
    assert fast == canonical(plain_decision(decision, secrets))
    assert_same_line(logs[which], decision, ctx)


def test_the_examples_cover_what_a_decision_holds(engine: Engine) -> None:
    """The drawn decisions include denials, interventions, routing, errors and facts."""
    seen: set[str] = set()
    for ctx in EXAMPLES:
        for change in ({}, {"time": "2026-06-15T14:30:00Z"}, {"time": 17}, {"org": "org-other"}):
            bent = copy.deepcopy(ctx)
            if "org" in change:
                bent.setdefault("org", {})["id"] = change["org"]
            else:
                bent.setdefault("request", {}).update(change)
            d = decide(engine, bent, explain=True)
            seen |= {name for name, present in [
                ("deny", d.effect == "deny"), ("intervention", bool(d.interventions)),
                ("route", len(d.passes) > 1), ("error", bool(d.errors)),
                ("fact", bool(d.facts)), ("missing", bool(d.missing)),
                ("valid_until", d.valid_until is not None)] if present}
    assert seen == {"deny", "intervention", "route", "error", "fact", "missing", "valid_until"}


_ODD: list[object] = [
    float("nan"), float("inf"), 2**70, -(2**63) - 1, b"raw", {1, 2}, ("a", 1), Decimal("1.5"),
    timedelta(hours=1, microseconds=5), date(2026, 1, 2), datetime(2026, 1, 2, 3, 4, 5),
    datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=timezone(timedelta(hours=-4))),
    datetime(2026, 1, 2, tzinfo=UTC), {1: "int key"}, "lone \ud800 surrogate", "\u00e9\u4e2d",
    [{"nested": [None, True, 1.0, -0.0, 1e300]}],
]


@settings(max_examples=120)
@given(ctx=st.sampled_from(EXAMPLES), value=st.lists(st.sampled_from(_ODD), min_size=1,
                                                   max_size=3),
       where=st.sampled_from(["custom", "reason", "message", "evaluated_at"]))
def test_odd_values_take_the_plain_path_or_agree(engine: Engine, logs: list[DecisionLog],
                                                 ctx: dict[str, Any], value: list[object],
                                                 where: str) -> None:
    """Values pydantic writes its own way: the fast path writes the same bytes or steps aside."""
    decision = decide(engine, ctx)
    if where == "custom":
        update: dict[str, Any] = {"obligations": decision.obligations.model_copy(
            update={"custom": {f"k{i}": v for i, v in enumerate(value)}})}
    elif where == "reason":
        update = {"reasons": [*decision.reasons, *(str(v) for v in value)]}
    elif where == "message":  # a message quoting sensitive values, scrubbed in the record
        ids = [str(ctx.get(root, {}).get("id")) for root in ("principal", "org", "request")]
        told = InterventionOut(kind="refuse", disclosure="visible", pack="p", rule="r",
                               message=" ".join([*ids, *(str(v) for v in value)]))
        update = {"interventions": [*decision.interventions, told], "reasons": [
            *decision.reasons, *ids]}
    else:
        stamps = [v for v in value if isinstance(v, datetime)]
        update = {"evaluated_at": stamps[0] if stamps else decision.evaluated_at}
    odd = decision.model_copy(update=update)
    fast = decision_bytes(odd, None)
    if fast is not None:
        assert fast == canonical(plain_decision(odd, ()))
    for log in logs:
        assert_same_line(log, odd, ctx)
