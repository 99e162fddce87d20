"""Done-when property: a malformed value anywhere in the canonical context fails closed.

Over the schema of ``rules/packset.yaml`` (loaded by the engine), a valid context gets one
bad value - wrong-typed, non-finite, oversized, nested too deep, unrepresentable or
violating a constraint - at a declared attribute, a list element or a map value. Through
``evaluate()`` alone (no ``validate()``):

* nothing escapes and the decision serialises;
* every rule comes out as it does with the attribute absent (which fails closed), or is an
  error whose message names the exact bad path - a bad value is never read as a good one;
* any such error makes the decision ``deny``, with or without the rule index.
"""

from __future__ import annotations

import copy
import json
import math
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compliance import Engine
from compliance.cel.conform import Nonconforming, conform
from compliance.cel.types import CelType, Limits

RULES = Path(__file__).resolve().parents[2] / "rules"
EXAMPLES = int(os.environ.get("CONFORMANCE_EXAMPLES", "4"))

WORDS = ["US", "FR", "CN", "IR", "SY", "UA", "UA-43", "UA-09", "fable-5", "mythos-5",
         "haiku-4.5", "cyber", "bio", "chem", "distillation", "llm-dev", "surveillance",
         "BIS-LICENSE-FABLE", "x"]
SCORE_KEYS = ["bio", "chem", "cyber", "coding"]
TIMES = ["2026-06-15T21:20:59Z", "2026-06-15T21:21:00Z", "2026-06-10T10:30:00-04:00",
         "2027-03-08T07:00:00Z"]


def _nested(depth: int) -> object:
    value: object = "x"
    for _ in range(depth):
        value = [value]
    return value


LONG = "A" * 5000
BAD_ANY = [7, True, 1.5, [], {}, _nested(1000), "\ud800", LONG]
BAD: dict[str, list[object]] = {
    "string": [7, True, 0.5, ["US"], {"a": 1}, "\ud800", LONG, 10**400, None],
    "bool": ["true", 1, 0, "", [True]],
    "timestamp": ["2026-06-12T22:50:00+01:90", "2026-06-12T12:10.00Z", "\uff12026-06-15T10:30:00Z",
                  "yesterday", 1_750_000_000, True, LONG],
    "double": [math.nan, math.inf, -math.inf, "0.9", True, 10**400, [0.9], None],
    "list": ["US", {"0": "US"}, ["US"] * 5000, 3],
    "map": [[], "bio", {f"k{i}": 0.1 for i in range(5000)}, 0.5],
    "object": ["principal", ["x"], 3],
}


def conforming(t: CelType) -> list[str]:
    out = []
    for w in list(t.enum) or WORDS:
        try:
            if conform(t, w, "x", Limits()) == w:
                out.append(w)
        except Nonconforming:
            pass
    return out


def valid(t: CelType) -> st.SearchStrategy[Any]:
    """Well-formed values of ``t`` (conforming as they are)."""
    if t.kind == "object":
        return st.fixed_dictionaries({n: valid(ft) for n, ft in t.fields})
    if t.kind == "list":
        return st.lists(valid(t.elem), min_size=1, max_size=3)
    if t.kind == "map":
        return st.dictionaries(st.sampled_from(SCORE_KEYS), valid(t.value), max_size=3)
    if t.kind == "string":
        return st.sampled_from(conforming(t))
    if t.kind == "bool":
        return st.booleans()
    if t.kind == "double":
        return st.sampled_from([0.1, 0.9])
    if t.kind == "timestamp":
        return st.sampled_from(TIMES)
    return st.none()


def targets(name: str, t: CelType, path: tuple[str, ...]) -> list[tuple[str, Any]]:
    """Every place a bad value can go: (kind, location) with the attribute it belongs to."""
    out: list[tuple[str, Any]] = [("attr", (path, t))]
    if t.kind == "object":
        for fname, ft in t.fields:
            out.extend(targets(fname, ft, (*path, fname)))
    elif t.kind == "list":
        out.append(("elem", (path, t.elem)))
    elif t.kind == "map":
        out.append(("value", (path, t.value)))
    return out


@pytest.fixture(scope="module")
def engine() -> Engine:
    if not RULES.is_dir():
        pytest.skip("no shipped rules/ directory")
    return Engine.from_path(RULES)


def constraint_violations(t: CelType) -> list[object]:
    """Strings the declared constraints reject (or, when empty, read as absent)."""
    out: list[object] = []
    if t.constraint.pattern or t.enum:
        out += ["ZZZ", "Q1", "U S", "\uff35\uff33"]
    if t.constraint.empty_absent:
        out += ["", " ", "\n"]
    return out


def statuses(decision: Any) -> dict[tuple[str, str], tuple[str, str]]:
    return {(e.pack, e.rule): (e.status, e.detail) for e in decision.explanation
            if e.routing_pass == 1}


def remove(context: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    out = copy.deepcopy(context)
    node = out
    for name in path[:-1]:
        node = node.setdefault(name, {})
    node.pop(path[-1], None)
    return out


def _places() -> list[tuple[str, Any]]:
    from compliance.loader import load_schema_file

    schema, _ = load_schema_file(RULES / "packset.yaml")
    if schema is None:  # pragma: no cover - the manifest is tested elsewhere
        return []
    return [p for n, t in schema.variables.items() for p in targets(n, t, (n,))]


PLACES = _places()


def _founding() -> list[dict[str, Any]]:
    folder = RULES.parent / "examples" / "contexts"
    out = []
    for path in sorted(folder.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and "request" in data:
            out.append(data)
    return out


FOUNDING = _founding()


@pytest.mark.parametrize("place", PLACES, ids=lambda p: f"{p[0]}:{'.'.join(p[1][0])}")
def test_bad_value_anywhere_fails_closed(engine: Engine, place: tuple[str, Any]) -> None:
    """A bad value is never read as a good one: absent-like, or an error naming its path.

    Each founding scenario (examples/contexts) gets every bad value, so each rule is
    engaged; generated contexts add combinations the scenarios do not have.
    """
    schema = engine.schema
    kind, (_, t) = place
    candidates = [*BAD.get(t.kind, BAD_ANY), *constraint_violations(t)]
    if kind != "elem":
        candidates = [b for b in candidates if b is not None]  # a null attribute is absent

    for context in FOUNDING:
        for bad in candidates:
            one(engine, context, place, bad, 0)

    @settings(max_examples=EXAMPLES)
    @given(st.fixed_dictionaries({n: valid(t) for n, t in schema.variables.items()}),
           st.integers(0, 3))
    def check(context: dict[str, Any], index: int) -> None:
        for bad in candidates:
            one(engine, context, place, bad, index)

    check()


def one(engine: Engine, context: dict[str, Any], place: tuple[str, Any], bad: object,
        index: int) -> None:
    """Put ``bad`` at ``place`` in ``context`` and check the decision fails closed."""
    kind, (path, _) = place
    broken = copy.deepcopy(context)
    parent = broken
    for name in path[:-1]:
        parent = parent.setdefault(name, {})
    shown = ".".join(path)
    if kind == "attr":
        parent[path[-1]] = bad
        attribute = path
    elif kind == "elem":
        items = parent.setdefault(path[-1], [])
        i = min(index, len(items))
        items.insert(i, bad)
        shown, attribute = f"{shown}[{i}]", path
    else:
        request = broken.get("request", {})
        use_case = request.get("use_case") if isinstance(request, dict) else None
        key = use_case if use_case in SCORE_KEYS else SCORE_KEYS[index % len(SCORE_KEYS)]
        parent.setdefault(path[-1], {})[key] = bad
        shown, attribute = f'{shown}["{key}"]', (*path, key)

    decision = engine.evaluate(broken, explain=True)
    json.loads(decision.model_dump_json(exclude={"context_digest"}))
    fast = engine.evaluate(broken)
    assert (fast.effect, bool(fast.errors)) == (decision.effect, bool(decision.errors))

    for error in decision.errors:
        if error.code == "bad-context":
            assert f"`{shown}" in error.message, (shown, error.message)
    if path == ("request", "time"):
        assert decision.effect == "deny"
        assert any("`request.time`" in e.message for e in decision.errors)
        return
    absent = statuses(engine.evaluate(remove(context, attribute), explain=True))
    for rule, (status, detail) in statuses(decision).items():
        if status != absent[rule][0]:
            assert status == "error", (rule, status, absent[rule], shown, bad)
            assert f"`{shown}" in detail, (rule, detail, shown)
            assert decision.effect == "deny"
