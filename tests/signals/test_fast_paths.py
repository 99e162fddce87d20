"""Property: the fact read's fast paths give exactly the facts the plain semantics give.

``InProcessStore.facts_for`` reads one key without the lock and several under it, and only
looks at lifetimes of keys that ever raised a fact; ``FactReader`` builds each request's
``facts`` from a template. Both are checked here against oracles written from the semantics
alone (docs/signals.md): a fact holds at ``at`` when the union of the lifetimes ``observe``
returned for its key, touching ones merged, contains ``at``; a request's fact is false
without a key, unknown with a bad one. Derandomized when CI=true.
"""

from __future__ import annotations

import json
import os
import threading
from datetime import timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
from _sigtools import FACTS, ORGS, SECOND, SPECS, FakeClock, at, founding_spec, stepped
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from compliance import Engine
from compliance.cel.values import Timestamp, format_timestamp
from compliance.facts import fact_read
from compliance.signals import Event, Fact, InProcessStore, SignalError

NEVER = "never-seen"  # a key no event had: the common request

CI = os.environ.get("CI", "").lower() == "true"
SETTINGS = settings(max_examples=60 if CI else 100, derandomize=CI, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

# (5-second steps after the previous event, negative = out of order; org; is a flag)
steps = st.lists(
    st.tuples(st.integers(-6, 8), st.sampled_from(ORGS), st.booleans()), max_size=40
)


def oracle(raised: list[Fact], name: str, key: str, instant: int) -> Fact | None:
    """The fact from the semantics: the merged union of returned lifetimes containing it."""
    spans = sorted((f.since.nanos, f.until.nanos) for f in raised
                   if (f.name, f.key) == (name, key))
    merged: list[list[int]] = []
    for since, until in spans:
        if merged and since <= merged[-1][1]:  # overlapping or touching
            merged[-1][1] = max(merged[-1][1], until)
        else:
            merged.append([since, until])
    for since, until in merged:
        if since <= instant < until:
            return Fact(name, key, Timestamp(since), Timestamp(until))
    return None


@SETTINGS
@given(stream=steps)
def test_facts_for_agrees_with_the_semantics(stream: list[tuple[int, str, bool]]) -> None:
    """One key (no lock), several keys (the lock) and the oracle agree at every probe."""
    clock = FakeClock(at(0))
    store = InProcessStore(clock=clock, max_events_per_key=4)
    raised: list[Fact] = []
    for t, event in stepped(clock, stream):
        raised += store.observe(SPECS, event)
        for probe in (t - 50 * SECOND, t, t + 35 * SECOND):
            instant = at(max(probe, 0))
            for key in (*ORGS, NEVER):
                expected = {}
                for name in FACTS:
                    fact = oracle(raised, name, key, instant.nanos)
                    if fact is not None:
                        expected[name] = fact
                    assert store.facts_for({name: key}, instant) == (
                        {name: fact} if fact is not None else {})
                assert store.facts_for(dict.fromkeys(FACTS, key), instant) == expected


def test_a_bad_key_is_reported_before_the_horizon_on_both_paths() -> None:
    """Key errors come first, whether one key or several are asked (as before the fast path)."""
    clock = FakeClock(at(0))
    store = InProcessStore(clock=clock, horizon=timedelta(minutes=1))
    far = at(2 * 60 * 60 * SECOND)
    for keys in ({"under_review": ""}, {"suspicious": "a", "under_review": "x" * 2000}):
        with pytest.raises(SignalError) as err:
            store.facts_for(keys, far)
        assert err.value.code == "signal-key-invalid"
    for keys in ({"under_review": "a"}, {"suspicious": "a", "under_review": "a"}, {}):
        with pytest.raises(SignalError) as err:
            store.facts_for(keys, far)
        assert err.value.code == "outside-horizon"


def test_one_key_reads_during_concurrent_observes_see_whole_histories() -> None:
    """Lock-free reads while threads raise and extend facts: every answer is one the stream
    had (the lifetime raised by some event so far, merged), never an error or a torn one."""
    spec = founding_spec(threshold=1, lifetime=timedelta(seconds=10))
    clock = FakeClock(at(10**6 * SECOND))  # far ahead of nothing: every event is in range
    store = InProcessStore(clock=clock, horizon=timedelta(days=30))
    events = [Event.from_json({"kind": "safeguard_flag", "org_id": "a",
                               "time": format_timestamp(at(10**6 * SECOND + i * 20 * SECOND))})
              for i in range(400)]
    lifetimes = {(e.time.nanos, e.time.nanos + 10 * SECOND) for e in events}
    done = threading.Event()
    seen: list[object] = []

    def read() -> None:
        while not done.is_set():
            for e in events[::37]:
                for fact in store.facts_for({"under_review": "a"}, e.time).values():
                    seen.append((fact.since.nanos, fact.until.nanos))

    readers = [threading.Thread(target=read) for _ in range(2)]
    for reader in readers:
        reader.start()
    try:
        for event in events:
            store.observe([spec], event)
    finally:
        done.set()
        for reader in readers:
            reader.join()
    assert set(seen) <= lifetimes  # lifetimes 20 s apart never merge


# --- FactReader, through the shipped pack (one fact, `under_review`, keyed by org.id) ----

RULES = Path(__file__).resolve().parents[2] / "rules"
BASE: dict[str, Any] = json.loads(
    (RULES.parent / "examples" / "contexts" / "fable5-us-citizen-after-directive.json")
    .read_text())

org_ids = st.one_of(
    st.sampled_from(["org-0", "org-1", "org-2", NEVER, "", " ", "x" * 1025]),
    st.none(), st.integers(), st.booleans(), st.lists(st.text(max_size=2), max_size=2),
    st.text(max_size=8),
)
orgs = st.one_of(st.sampled_from(["org-0", "org-1"]),  # often an org the flags may review
                 st.sampled_from(["absent", "not-an-object"]), org_ids)


def reference(held: dict[str, Fact], org: object) -> tuple[dict[str, bool], list[Any], str | None]:
    """The hook's answer from its docstring: no key is false, a bad key fails closed."""
    if org in ("absent", None, ""):
        return {"under_review": False}, [], None
    if org == "not-an-object" or not isinstance(org, str) or len(org) > 1024:
        return {"under_review": False}, [], "bad-context"
    fact = held.get(org)
    if fact is None:
        return {"under_review": False}, [], None
    return {"under_review": True}, [fact_read(fact)], None


@pytest.fixture(scope="module")
def shipped() -> Engine:
    return Engine.from_path(str(RULES), clock=FakeClock())


@SETTINGS
@given(org=orgs, flags=st.lists(st.sampled_from(["org-0", "org-1"]), max_size=12),
       offset=st.integers(0, 40))
@example(org="org-0", flags=["org-0", "org-1", "org-0", "org-0"], offset=3)  # held from 3 s
@example(org="org-0", flags=["org-0", "org-1", "org-0", "org-0"], offset=2)
def test_fact_reader_agrees_with_its_semantics(shipped: Engine, org: object,
                                               flags: list[str], offset: int) -> None:
    """Any org value and any flags: the activation, the facts read and the error are exact."""
    clock = FakeClock(at(0))
    store = InProcessStore(clock=clock)
    engine = shipped.with_store(store)
    held: dict[str, Fact] = {}
    for i, key in enumerate(flags):
        event = {"kind": "safeguard_flag", "org_id": key,
                 "time": format_timestamp(at(i * SECOND))}
        for fact in engine.observe(event):
            held[fact.key] = fact
    context = json.loads(json.dumps(BASE))
    instant = at(offset * SECOND)
    context["request"]["time"] = format_timestamp(instant)
    if org == "absent":
        del context["org"]["id"]
    elif org == "not-an-object":
        context["org"] = "acme"
    else:
        context["org"]["id"] = org
    hook = engine._facts  # the evaluator's one call per decision
    assert hook is not None
    values, read, error = hook(context, instant.nanos)
    want_values, want_read, want_error = reference(
        {k: f for k, f in held.items() if f.holds_at(instant)}, org)
    assert (values, read, error.code if error else None) == (want_values, want_read, want_error)
    assert hook(context, None) == ({}, [], None)  # no request time: nothing is established
    if org == "org-0" and flags == ["org-0", "org-1", "org-0", "org-0"]:
        assert values == {"under_review": offset >= 3}  # the examples are not vacuous


def test_fact_reader_reads_any_mapping_and_names_what_is_not_one(shipped: Engine) -> None:
    """A non-dict mapping reads like a dict; a non-object on the path is named exactly."""
    clock = FakeClock(at(0))
    engine = shipped.with_store(InProcessStore(clock=clock))
    for i in range(3):
        engine.observe({"kind": "safeguard_flag", "org_id": "org-0",
                        "time": format_timestamp(at(i * SECOND))})
    hook = engine._facts
    assert hook is not None
    context = json.loads(json.dumps(BASE))
    context["org"]["id"] = "org-0"
    instant = at(5 * SECOND).nanos
    as_dict = hook(context, instant)
    assert as_dict[0] == {"under_review": True}
    proxied = {**context, "org": MappingProxyType(context["org"])}
    assert hook(MappingProxyType(proxied), instant) == as_dict
    assert hook({**context, "org": MappingProxyType({"id": None})}, instant)[0] == {
        "under_review": False}
    _, _, error = hook({**context, "org": ["org-0"]}, instant)
    assert error is not None
    assert error.code == "bad-context"
    assert error.message == ("`org` must be an object, got a list; the facts keyed by it are "
                             "not read")
