"""Every shipped rule's generated code compiles and agrees with the closure compiler.

Per rule and per expression (``when``, ``unless``, template parts): the generated program
and the closure program give the same value, error code and offsets, or unknown paths, on
every example context and on generated contexts (attributes present, absent or wrong-typed);
the engines' decisions on both backends are equal too.
"""

from __future__ import annotations

import json
import linecache
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_engine_backends import values

from compliance import Engine
from compliance.cel.compiler import request_activation
from compliance.cel.types import CelType
from compliance.cel.values import CelEvalError, CelUnknown
from compliance.planner import PlannedRule, Program

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "rules"
CONTEXTS = sorted((ROOT / "examples" / "contexts").glob("*.json"))
EXAMPLES = int(os.environ.get("CEL_GENERATED_EXAMPLES", "400"))
VOLATILE = {"decision_id", "evaluated_at", "duration_us", "timings"}


@pytest.fixture(scope="module")
def engines() -> tuple[Engine, Engine]:
    """The shipped pack set on the generated (default) and on the closure backend."""
    return Engine.from_path(RULES), Engine.from_path(RULES, backend="closures")


def programs(rule: PlannedRule) -> Iterator[tuple[str, Program]]:
    """Every program of a planned rule, named by its role."""
    if rule.when is not None:
        yield "when", rule.when
    if rule.unless is not None:
        yield "unless", rule.unless
    for role, parts in (("reason", rule.reason), ("message", rule.message)):
        for i, part in enumerate(parts or ()):
            if not isinstance(part, str):
                yield f"{role}[{i}]", part


def outcome(program: Program, act: Mapping[str, Any]) -> tuple[object, ...]:
    """What one run produced: value, error (code, message, offsets) or unknown paths.

    A generated ``when``/``unless`` returns the unknown it decides itself rather than
    raising it (the evaluator reads both alike): returned or raised, it is the same unknown.
    """
    try:
        value = program(act)
    except CelEvalError as err:
        return ("error", err.code, err.message, err.start, err.end)
    except CelUnknown as unknown:
        return ("unknown", unknown.paths)
    if type(value) is CelUnknown:
        return ("unknown", value.paths)
    return ("value", value)


def assert_rules_agree(engines: tuple[Engine, Engine], context: Mapping[str, Any]) -> None:
    generated, closures = engines
    act_g, act_c = request_activation(context), request_activation(context)
    for rg, rc in zip(generated.plan.rules, closures.plan.rules, strict=True):
        assert (rg.pack.id, rg.rule.id) == (rc.pack.id, rc.rule.id)
        for (role, pg), (_, pc) in zip(programs(rg), programs(rc), strict=True):
            where = f"{rg.pack.id}/{rg.rule.id} {role}"
            assert outcome(pg, act_g) == outcome(pc, act_c), where
    dg = generated.evaluate(context).model_dump(exclude=VOLATILE)
    dc = closures.evaluate(context).model_dump(exclude=VOLATILE)
    assert dg == dc


def test_every_shipped_rule_is_generated_code(engines: tuple[Engine, Engine]) -> None:
    """No shipped rule fell back to closures: each program is a function of a generated
    source (shared by its shape), and linecache shows the source that defines it."""
    generated, _ = engines
    assert generated.plan.rules
    for rule in generated.plan.rules:
        for role, program in programs(rule):
            code = program.__code__  # type: ignore[attr-defined]
            assert code.co_filename.startswith("<compliance shape "), role
            shown = "".join(linecache.getlines(code.co_filename))
            assert f"def {code.co_name}(act" in shown, role


def test_rule_names_give_every_rule_its_own_source(monkeypatch: pytest.MonkeyPatch) -> None:
    """``COMPLIANCE_CODE_NAMES=rule``: each program lives in its rule's own named source."""
    monkeypatch.setenv("COMPLIANCE_CODE_NAMES", "rule")
    engine = Engine.from_path(RULES)
    for rule in engine.plan.rules:
        for role, program in programs(rule):
            filename = program.__code__.co_filename  # type: ignore[attr-defined]
            assert filename == f"<compliance {rule.pack.id}/{rule.rule.id}>", role


@pytest.mark.parametrize("path", CONTEXTS, ids=lambda p: p.stem)
def test_example_contexts_agree(engines: tuple[Engine, Engine], path: Path) -> None:
    """On every example context, every rule program and the decision agree."""
    context = json.loads(path.read_text(encoding="utf-8"))
    if path.name == "expected.json":
        pytest.skip("expectations, not a context")
    assert_rules_agree(engines, context)


def sparse(t: CelType) -> st.SearchStrategy[Any]:
    """Values of ``t`` with fields possibly absent, null or of the wrong type."""
    if t.kind == "object":
        return st.fixed_dictionaries({}, optional={n: sparse(ft) for n, ft in t.fields})
    if t.kind == "map" and t.value.kind == "double":  # scores: hit the packs' thresholds
        edges = st.sampled_from([0.0, 0.5, 0.7, 0.79, 0.8, 0.81, 0.9, 1.0])
        return st.dictionaries(st.sampled_from(["bio", "chem", "cyber", "x"]), edges)
    return st.one_of(values(t), st.none(), st.sampled_from([7, "x", [1], {"k": 1}, True]))


def test_generated_contexts_agree(engines: tuple[Engine, Engine]) -> None:
    """Generated contexts (sparse, sometimes malformed) give equal results everywhere."""
    schema = engines[0].schema
    strategy = st.fixed_dictionaries({}, optional={n: sparse(t)
                                                   for n, t in schema.variables.items()})

    @settings(max_examples=EXAMPLES, deadline=None)
    @given(strategy)
    def check(context: dict[str, Any]) -> None:
        assert_rules_agree(engines, context)

    check()
