"""The rule index never skips a rule whose ``when`` could be anything but false.

Hypothesis builds rule sets whose conditions mix indexable conjuncts (``==``/``in``
against constants, ``||`` on one path or across paths, ``&&`` inside ``||``,
``vars.<name>``) with unindexable ones (``!=``,
``has``, comparisons that may error, erroring constants), over attributes of every
indexable declared type, and contexts with absent, null, wrong-typed, NaN, huge and
cross-type numeric values. For every rule the index leaves out, the compiled ``when``
must return ``False`` - not an error, not an unknown, not ``True``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from compliance.cel.ast import Call, CreateList, Expr, Ident, Literal, Select
from compliance.cel.codegen import generated_program
from compliance.cel.types import (
    BOOL,
    DOUBLE,
    DYN,
    INT,
    STRING,
    TIMESTAMP,
    UINT,
    ContextSchema,
    list_of,
    map_of,
    object_of,
)
from compliance.cel.values import CelEvalError, CelUnknown, UInt
from compliance.engine import Engine
from compliance.evaluator import evaluate
from compliance.index import RuleIndex

SCHEMA = ContextSchema({
    "request": object_of("request", {
        "s": STRING, "t": STRING, "i": INT, "u": UINT, "d": DOUBLE, "b": BOOL, "x": DYN,
        "ts": TIMESTAMP, "ls": list_of(STRING), "m": map_of(STRING, DOUBLE),
        "deep": object_of("deep", {"s": STRING}),
    }),
    "org": object_of("org", {"id": STRING}),
})
PATHS = [("request", f) for f in ("s", "t", "i", "u", "d", "b", "x")] + [
    ("request", "m", "k"), ("request", "deep", "s"), ("org", "id"),
]

LITERALS: list[object] = [
    "a", "b", "c", "", 0, 1, -1, 2**53 - 1, 2**53, 2**53 + 1, 2**63 - 1, UInt(1), UInt(2**60),
    0.0, 1.0, 2.5, -0.0, 1e300, True, False, None, b"a",
]
VALUES: list[object] = [
    *LITERALS, "z", 2**60 + 1, float(2**53), float("nan"), float("inf"), UInt(0), [], ["a"],
    {"k": 1.0}, {}, "2026-01-01T00:00:00Z",
]


def node(expr_kind: type, *args: Any) -> Any:
    """Build a node with zero offsets (offsets only matter for error messages)."""
    return expr_kind(0, 0, *args)


def path_expr(path: tuple[str, ...]) -> Expr:
    """``request.s`` as a Select chain."""
    out: Expr = node(Ident, path[0])
    for name in path[1:]:
        out = node(Select, out, name)
    return out


def call(function: str, *args: Expr) -> Expr:
    """An operator call."""
    return node(Call, function, tuple(args))


paths = st.sampled_from(PATHS).map(path_expr)
literals = st.sampled_from(LITERALS).map(lambda v: node(Literal, v))


@st.composite
def atoms(draw: st.DrawFn) -> Expr:
    """One conjunct: mostly indexable shapes, sometimes shapes the index must ignore."""
    p = draw(paths)
    choice = draw(st.integers(0, 11))
    if choice == 0:
        return call("_==_", draw(literals), p)
    if choice in (1, 2):
        return call("_==_", p, draw(literals))
    if choice in (3, 4):
        return call("@in", p, node(CreateList, tuple(draw(st.lists(literals, max_size=4)))))
    if choice == 5:
        return call("_||_", call("_==_", p, draw(literals)), call("_==_", p, draw(literals)))
    if choice == 6:
        return call("_!=_", p, draw(literals))
    if choice == 7:
        return node(Select, p.operand, p.field, True) if isinstance(p, Select) else p
    if choice == 8:
        return call("_>_", p, node(Literal, 1))
    if choice == 10:
        return p  # a bare attribute: a bool conjunct only if declared bool
    if choice == 11:
        return call("!_", p)
    return call("_==_", call("_/_", node(Literal, 1), node(Literal, 0)), node(Literal, 1))


@st.composite
def disjuncts(draw: st.DrawFn) -> Expr:
    """An atom, or a `||` of atoms and `&&`-guarded atoms, on any paths (nested)."""
    if draw(st.integers(0, 2)):
        return draw(atoms())
    left = draw(atoms()) if draw(st.booleans()) else call("_&&_", draw(atoms()), draw(atoms()))
    right = draw(disjuncts())
    return call("_||_", left, right) if draw(st.booleans()) else call("_||_", right, left)


@st.composite
def conditions(draw: st.DrawFn, var_names: list[str]) -> Expr:
    """A left-nested ``&&`` of atoms and ``vars.<name>`` references."""
    parts: list[Expr] = []
    for _ in range(draw(st.integers(1, 3))):
        if var_names and draw(st.booleans()):
            parts.append(node(Select, node(Ident, "vars"), draw(st.sampled_from(var_names))))
        else:
            parts.append(draw(disjuncts()))
    out = parts[0]
    for part in parts[1:]:
        out = call("_&&_", out, part)
    return out


@st.composite
def rule_sets(draw: st.DrawFn) -> list[tuple[Expr | None, Mapping[str, Expr]]]:
    """Several packs, each with its own variables (which may alias paths or conditions)."""
    out: list[tuple[Expr | None, Mapping[str, Expr]]] = []
    for _ in range(draw(st.integers(1, 3))):
        variables: dict[str, Expr] = {}
        for n in range(draw(st.integers(0, 2))):
            alias = draw(st.booleans())
            variables[f"v{n}"] = draw(paths) if alias else draw(conditions(list(variables)))
        for _ in range(draw(st.integers(1, 5))):
            when = None if draw(st.integers(0, 9)) == 0 else draw(conditions(list(variables)))
            if when is not None and draw(st.integers(0, 4)) == 0 and variables:
                name = draw(st.sampled_from(list(variables)))
                when = call("_&&_", call("_==_", node(Select, node(Ident, "vars"), name),
                                         draw(literals)), when)
            out.append((when, variables))
    return out


@st.composite
def contexts(draw: st.DrawFn) -> dict[str, Any]:
    """A context where each attribute is absent, null, or any value of any type."""
    ctx: dict[str, Any] = {}
    for root in ("request", "org"):
        shape = draw(st.integers(0, 9))
        if shape == 0:
            continue  # the whole object absent
        if shape == 1:
            ctx[root] = draw(st.sampled_from([None, "oops", [1], 3]))
            continue
        ctx[root] = {}
    for path in PATHS:
        holder: Any = ctx
        for name in path[:-1]:
            if not isinstance(holder, dict):
                break
            if name not in holder:
                holder[name] = {} if draw(st.integers(0, 5)) else draw(st.sampled_from([None, 1]))
            holder = holder[name]
        if isinstance(holder, dict) and draw(st.integers(0, 4)):
            holder[path[-1]] = draw(st.sampled_from(VALUES))
    return ctx


def when_result(program: Any, ctx: Mapping[str, Any]) -> object:
    """The program's value, or the exception it raised (as a value)."""
    try:
        return program(ctx)
    except (CelEvalError, CelUnknown) as err:
        return err


@given(rules=rule_sets(), ctxs=st.lists(contexts(), min_size=1, max_size=4))
def test_skipped_rules_are_certainly_false(rules: list[tuple[Expr | None, Mapping[str, Expr]]],
                                           ctxs: list[dict[str, Any]]) -> None:
    """Every rule ``candidates`` omits evaluates to exactly ``False`` for that context."""
    index = RuleIndex.build(rules, schema=SCHEMA)
    programs = [
        generated_program(when, SCHEMA, variables)
        if when is not None else None
        for when, variables in rules
    ]
    for ctx in ctxs:
        chosen = index.candidates(ctx)
        assert list(chosen) == sorted(set(chosen))
        assert index.candidates(ctx) == chosen  # cached answer is the same answer
        for position, program in enumerate(programs):
            if position in chosen:
                continue
            assert program is not None, "a rule without `when` must always be a candidate"
            assert when_result(program, ctx) is False, (position, rules[position][0], ctx)


@st.composite
def sanctions_sets(draw: st.DrawFn) -> list[tuple[Expr | None, Mapping[str, Expr]]]:
    """Many rules over every other path, then a pack of country-only rules on ``org.id``."""
    out: list[tuple[Expr | None, Mapping[str, Expr]]] = []
    for path in PATHS[:-1]:
        for _ in range(draw(st.integers(2, 4))):
            out.append((call("_&&_", call("_==_", path_expr(path), draw(literals)),
                             draw(atoms())), {}))
    countries = draw(st.lists(st.sampled_from(["a", "b", "c", "CU", "IR"]), min_size=1,
                              max_size=4, unique=True))
    out.extend((call("_==_", path_expr(("org", "id")), node(Literal, c)), {}) for c in countries)
    return out


@given(rules=sanctions_sets(), ctxs=st.lists(contexts(), min_size=1, max_size=4))
def test_sanctions_pack_is_indexed_and_exact(rules: list[tuple[Expr | None, Mapping[str, Expr]]],
                                             ctxs: list[dict[str, Any]]) -> None:
    """Country-only rules beside ten busier paths: indexed (never always run), still exact."""
    index = RuleIndex.build(rules, schema=SCHEMA)
    first = len(rules) - sum(1 for when, _ in rules
                             if isinstance(when, Call) and when.function == "_==_")
    assert "org.id" in index.paths
    assert not index.always & set(range(first, len(rules)))
    for ctx in ctxs:
        chosen = set(index.candidates(ctx))
        for position in set(range(len(rules))) - chosen:
            when, variables = rules[position]
            assert when is not None
            program = generated_program(when, SCHEMA, variables)
            assert when_result(program, ctx) is False, (position, when, ctx)


@given(rules=rule_sets(), ctx=contexts())
def test_index_without_schema_is_also_exact(rules: list[tuple[Expr | None, Mapping[str, Expr]]],
                                            ctx: dict[str, Any]) -> None:
    """Built without a schema (every path ``dyn``), skipped rules are still certainly false."""
    index = RuleIndex.build(rules)
    chosen = set(index.candidates(ctx))
    for position, (when, variables) in enumerate(rules):
        if position in chosen:
            continue
        assert when is not None
        program = generated_program(when, None, variables)
        assert when_result(program, ctx) is False


@pytest.mark.parametrize("value", [float("nan"), 2**60 + 1, float(2**53)], ids=repr)
def test_numeric_edge_values_are_never_wrongly_skipped(value: object) -> None:
    """NaN, huge ints and big doubles follow CEL numeric equality in the index."""
    d = path_expr(("request", "d"))
    x = path_expr(("request", "x"))
    rules: list[tuple[Expr | None, Mapping[str, Expr]]] = [
        (call("_==_", d, node(Literal, 2**53 - 1)), {}),
        (call("_==_", x, node(Literal, 1.0)), {}),
    ]
    index = RuleIndex.build(rules, schema=SCHEMA)
    ctx = {"request": {"d": value, "x": value}}
    for position in set(range(2)) - set(index.candidates(ctx)):
        when = rules[position][0]
        assert when is not None
        program = generated_program(when, SCHEMA)
        assert when_result(program, ctx) is False


# --- whole decisions, once the evaluator reads `Plan.index` ------------------------------

REPO = Path(__file__).resolve().parents[2]
_VALUES = {
    "model": ["fable-5", "mythos-5", "opus-4.8", "haiku-4.5", 3, None],
    "use_case": ["bio", "chem", "cyber", "llm-dev", "distillation", "surveillance", "general",
                 True, None],
    "origin_country": ["US", "CU", "IR", "SY", "FR", None, 1.5],
    "origin_region": ["UA-43", "UA-01", None],
}


@st.composite
def shipped_contexts(draw: st.DrawFn) -> dict[str, Any]:
    """Contexts for the shipped packs: indexed attributes absent, null, wrong-typed or set."""
    request: dict[str, Any] = {"time": draw(st.sampled_from(
        ["2026-07-01T12:00:00Z", "2025-01-01T00:00:00Z", "not a time"]))}
    for name, values in _VALUES.items():
        if draw(st.booleans()):
            request[name] = draw(st.sampled_from(values))
    if draw(st.booleans()):
        request["risk_scores"] = {"bio": 0.9, "cyber": 0.9, "chem": 0.1}
    principal: dict[str, Any] = {}
    if draw(st.booleans()):
        principal["nationalities"] = draw(st.sampled_from([["US"], ["FR"], []]))
        principal["nationality_verified"] = draw(st.booleans())
        principal["permanent_residence"] = []
        principal["authorizations"] = []
    org = {"id": "o", "zdr": draw(st.sampled_from([True, False, "yes"]))}
    return {"request": request, "principal": principal, "org": org}


@pytest.fixture(scope="module")
def shipped_engine() -> Engine:
    """The compiled engine over rules/ (skips until the evaluator reads `Plan.index`)."""
    engine = Engine.from_path(REPO / "rules")
    if not hasattr(engine.plan, "index"):
        pytest.skip("the evaluator does not use the rule index yet")
    return engine


_VOLATILE = {"decision_id", "evaluated_at", "context_digest"}


@given(ctx=shipped_contexts())
def test_decisions_with_and_without_the_index_are_equal(shipped_engine: Engine,
                                                        ctx: dict[str, Any]) -> None:
    """The shipped packs decide every context the same with the index and with every rule run."""
    plan = shipped_engine.plan
    everything = RuleIndex.build([(None, {})] * len(plan.rules))
    unindexed = replace(plan, index=everything)  # type: ignore[call-arg]
    with_index = evaluate(plan, ctx).model_dump(mode="json", exclude=_VOLATILE)
    without = evaluate(unindexed, ctx).model_dump(mode="json", exclude=_VOLATILE)
    assert with_index == without
