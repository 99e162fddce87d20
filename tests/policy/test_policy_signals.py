"""The founding case through the shipped pack: rules/safeguard-signals.yaml (issue 12).

Three `safeguard_flag` events for one org within 10 minutes put it under review for 24 h; an
org under review is refused fable-5 and mythos-5 (visibly) and every request of it is logged
in full. Each boundary runs on both stores; the Redis runs follow tests/signals' rule (skip
without a server unless COMPLIANCE_REQUIRE_REDIS=1).
"""

from __future__ import annotations

import copy
import json
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from policy_helpers import EXAMPLES, RULES

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "signals"))
from _sigtools import (
    FakeClock,
    free_port,
)

from compliance import Engine
from compliance.cel.values import Timestamp, format_timestamp, parse_timestamp
from compliance.signals import InProcessStore, RedisStore, SignalError, Store

T0 = parse_timestamp("2026-06-15T12:00:00Z")
NS = 1
SECOND = 1_000_000_000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
BASE: dict[str, Any] = json.loads(
    (EXAMPLES / "contexts" / "fable5-us-citizen-after-directive.json").read_text())
ORG = BASE["org"]["id"]


def stamp(offset: int) -> str:
    return format_timestamp(Timestamp(T0.nanos + offset))


def flag(offset: int, org: str = ORG) -> dict[str, Any]:
    return {"kind": "safeguard_flag", "time": stamp(offset), "org_id": org}


def request(offset: int, model: str = "fable-5", org: str | None = ORG) -> dict[str, Any]:
    ctx = copy.deepcopy(BASE)
    ctx["request"]["time"] = stamp(offset)
    ctx["request"]["model"] = model
    if org is None:
        del ctx["org"]["id"]
    else:
        ctx["org"]["id"] = org
    return ctx


class World:
    """An engine over rules/ on one store, with a clock the test moves."""

    def __init__(self, make_store: Callable[[FakeClock], Store]) -> None:
        self.clock = FakeClock()
        self.make_store = make_store
        self.engine = Engine.from_path(str(RULES), store=make_store(self.clock))

    def observe(self, event: dict[str, Any]) -> list[Any]:
        self.clock.now = parse_timestamp(event["time"])
        return self.engine.observe(event)

    def decide(self, ctx: dict[str, Any]) -> Any:
        self.clock.now = parse_timestamp(ctx["request"]["time"])
        return self.engine.evaluate(ctx)


@pytest.fixture(params=["in-process", "redis"])
def world(request: pytest.FixtureRequest) -> World:
    if request.param == "in-process":
        return World(lambda clock: InProcessStore(clock=clock))
    url = request.getfixturevalue("redis_url")
    return World(lambda clock: RedisStore(url=url, namespace=f"policy-{uuid.uuid4().hex}",
                                          clock=clock))


def under_review(d: Any) -> bool:
    return any(m.rule == "under-review-full-logging" for m in d.matched)


def test_two_flags_are_not_enough(world: World) -> None:
    assert world.observe(flag(0)) == []
    assert world.observe(flag(MINUTE)) == []
    d = world.decide(request(2 * MINUTE))
    assert (d.effect, d.model, d.facts, d.errors) == ("allow", "fable-5", [], [])
    assert d.obligations.logging_level != "full"
    assert not under_review(d)


def test_three_flags_put_the_org_under_review(world: World) -> None:
    world.observe(flag(0))
    world.observe(flag(MINUTE))
    raised = world.observe(flag(2 * MINUTE))
    assert [(f.name, f.key, f.since.nanos, f.until.nanos) for f in raised] == [
        ("under_review", ORG, T0.nanos + 2 * MINUTE, T0.nanos + 2 * MINUTE + 24 * HOUR)]
    for model in ("fable-5", "mythos-5"):
        d = world.decide(request(3 * MINUTE, model))
        assert d.effect == "deny", d.reasons
        assert d.errors == []
        [refusal] = d.interventions
        assert (refusal.kind, refusal.disclosure, refusal.rule) == (
            "refuse", "visible", "under-review-frontier-refusal")
        assert refusal.message is not None
        assert "under review" in refusal.message
        assert any("under review" in r and model in r for r in d.reasons)
        assert d.obligations.logging_level == "full"
        [fact] = d.facts
        assert (fact.fact, fact.key) == ("under_review", ORG)
        assert fact.until == Timestamp(T0.nanos + 2 * MINUTE + 24 * HOUR).to_datetime()
        assert d.valid_until is not None
        assert d.valid_until <= fact.until
    other = world.decide(request(3 * MINUTE, "opus-4.8"))
    assert (other.effect, other.model, other.interventions) == ("allow", "opus-4.8", [])
    assert other.obligations.logging_level == "full"
    assert len(other.facts) == 1


def test_another_org_is_not_under_review(world: World) -> None:
    for minute in range(3):
        world.observe(flag(minute * MINUTE))
    d = world.decide(request(3 * MINUTE, org="org-other"))
    assert (d.effect, d.facts) == ("allow", [])
    assert not under_review(d)


def test_third_flag_just_outside_the_window(world: World) -> None:
    """The window is (t - 10 min, t]: a flag exactly 10 minutes after the first is alone."""
    world.observe(flag(0))
    world.observe(flag(MINUTE))
    assert world.observe(flag(10 * MINUTE)) == []
    d = world.decide(request(11 * MINUTE))
    assert (d.effect, d.facts) == ("allow", [])


def test_third_flag_just_inside_the_window(world: World) -> None:
    world.observe(flag(0))
    world.observe(flag(MINUTE))
    assert len(world.observe(flag(10 * MINUTE - NS))) == 1
    assert world.decide(request(11 * MINUTE)).effect == "deny"


def test_review_expires_at_exactly_24_hours(world: World) -> None:
    for minute in range(3):
        world.observe(flag(minute * MINUTE))
    end = 2 * MINUTE + 24 * HOUR
    last = world.decide(request(end - NS))
    assert last.effect == "deny"
    assert under_review(last)
    after = world.decide(request(end))
    assert (after.effect, after.model, after.facts) == ("allow", "fable-5", [])
    assert after.obligations.logging_level != "full"


def test_request_before_the_third_flag_is_not_under_review(world: World) -> None:
    """Facts are judged at request.time, never the wall clock (what-ifs are exact)."""
    for minute in range(3):
        world.observe(flag(minute * MINUTE))
    d = world.decide(request(2 * MINUTE - NS))
    assert (d.effect, d.facts) == ("allow", [])


def test_the_stream_replays_to_the_same_decisions(world: World) -> None:
    events = [flag(0), flag(4 * MINUTE), flag(5 * MINUTE, "org-b"), flag(9 * MINUTE),
              flag(30 * MINUTE), flag(31 * MINUTE), flag(32 * MINUTE)]
    raised = [world.observe(e) for e in events]
    again = World(world.make_store)
    assert [again.observe(e) for e in events] == raised
    for offset in (8 * MINUTE, 9 * MINUTE, 40 * MINUTE):
        first, second = world.decide(request(offset)), again.decide(request(offset))
        assert (first.effect, first.facts) == (second.effect, second.facts)


def test_a_request_without_org_is_not_under_review(world: World) -> None:
    """Facts are per key: a request with no org.id is no organisation's (false, not unknown)."""
    for minute in range(3):
        world.observe(flag(minute * MINUTE))
    d = world.decide(request(3 * MINUTE, org=None))
    assert (d.effect, d.model, d.facts) == ("allow", "fable-5", [])
    assert "facts.under_review" not in d.missing


def test_a_request_without_time_fails_closed_for_frontier_models(world: World) -> None:
    """Without request.time no fact can be judged: rules reading one are unknown."""
    for minute in range(3):
        world.observe(flag(minute * MINUTE))
    ctx = request(3 * MINUTE)
    del ctx["request"]["time"]
    refused = world.engine.evaluate(ctx)
    assert refused.effect == "deny"
    assert "facts.under_review" in refused.missing
    assert [i.rule for i in refused.interventions] == ["under-review-frontier-refusal"]
    assert refused.facts == []
    ctx["request"]["model"] = "opus-4.8"
    assert world.engine.evaluate(ctx).effect == "allow"


def test_a_caller_cannot_set_facts(world: World) -> None:
    ctx = request(MINUTE)
    ctx["facts"] = {"under_review": False}
    for minute in range(3):
        world.observe(flag(minute * MINUTE))
    ctx["request"]["time"] = stamp(3 * MINUTE)
    assert world.decide(ctx).effect == "deny"


def test_an_unreachable_store_fails_closed() -> None:
    store = RedisStore(url=f"redis://127.0.0.1:{free_port()}/0", namespace="x",
                       clock=FakeClock(), timeout=0.2)
    engine = Engine.from_path(str(RULES), store=store)
    for model in ("opus-4.8", "fable-5"):
        d = engine.evaluate(request(0, model))
        assert d.effect == "deny"
        assert [e.code for e in d.errors] == ["store-unavailable"]
        assert d.facts == []
        assert "facts.under_review" in d.missing or model == "opus-4.8"


def test_a_request_outside_the_stores_horizon_fails_closed(world: World) -> None:
    world.observe(flag(0))
    world.clock.now = Timestamp(T0.nanos + 3 * HOUR)
    d = world.engine.evaluate(request(0))
    assert d.effect == "deny"
    assert [e.code for e in d.errors] == ["outside-horizon"]


def test_a_fresh_engine_holds_no_fact_at_any_time() -> None:
    """An engine's own store that saw no event holds no fact: past requests need no horizon."""
    engine = Engine.from_path(str(RULES), clock=FakeClock())
    d = engine.evaluate(request(-400 * 24 * HOUR))
    assert (d.effect, d.errors, d.facts) == ("allow", [], [])


@pytest.mark.parametrize(("event", "field"), [
    ({"time": stamp(0), "org_id": ORG}, "kind"),
    ({"kind": "safeguard_flag", "org_id": ORG}, "time"),
    ({"kind": "safeguard_flag", "time": "yesterday", "org_id": ORG}, "time"),
    ({"kind": 3, "time": stamp(0)}, "kind"),
])
def test_bad_events_are_refused_with_the_field(event: dict[str, Any], field: str) -> None:
    engine = Engine.from_path(str(RULES), clock=FakeClock())
    with pytest.raises(SignalError) as err:
        engine.observe(event)
    assert (err.value.code, err.value.field) == ("event-invalid", field)


def test_a_flag_without_org_is_refused_not_guessed() -> None:
    engine = Engine.from_path(str(RULES), clock=FakeClock())
    with pytest.raises(SignalError) as err:
        engine.observe({"kind": "safeguard_flag", "time": stamp(0)})
    assert err.value.code == "signal-predicate-error"
    assert "event.org_id" in err.value.message
    assert engine.observe({"kind": "other", "time": stamp(0)}) == []


def test_an_event_field_of_the_wrong_type_is_refused() -> None:
    engine = Engine.from_path(str(RULES), clock=FakeClock())
    with pytest.raises(SignalError) as err:
        engine.observe({"kind": "safeguard_flag", "time": stamp(0), "org_id": 42})
    assert err.value.code == "signal-predicate-error"


def test_a_burst_while_under_review_extends_it(world: World) -> None:
    """A burst while under review extends the review to 24 h after that burst."""
    for minute in range(3):
        world.observe(flag(minute * MINUTE))
    later = 12 * HOUR
    world.clock.now = Timestamp(T0.nanos + later)
    for minute in range(3):
        world.observe(flag(later + minute * MINUTE))
    d = world.decide(request(later + 3 * MINUTE))
    [fact] = d.facts
    assert fact.until == Timestamp(T0.nanos + later + 2 * MINUTE + 24 * HOUR).to_datetime()
    assert fact.since == Timestamp(T0.nanos + 2 * MINUTE).to_datetime()
