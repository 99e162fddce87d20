"""Issue 6, honest decisions: nothing escapes evaluate(), every decision serialises and
digests, fail-closed texts claim nothing unestablished, shared manifest variables."""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import itertools
import json
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import compliance.evaluator as evaluator_module
from compliance import Engine, EvaluationError, Limits
from compliance.canonical import _has_non_finite, _representable, digest_json
from compliance.engine import check_paths
from compliance.jsonread import JsonReadError, read_json
from compliance.loader import load_pack_set

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "rules"
CONTEXTS = sorted(p for p in (ROOT / "examples" / "contexts").glob("*.json")
                  if p.name != "expected.json")


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine.from_path(RULES)


def load(name: str) -> dict[str, Any]:
    data = json.loads((ROOT / "examples" / "contexts" / name).read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def leaf_paths(value: object, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    if isinstance(value, dict):
        for key, inner in value.items():
            yield (*prefix, key)
            yield from leaf_paths(inner, (*prefix, key))


def without(context: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    out = copy.deepcopy(context)
    node = out
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return out


def user_texts(decision: Any) -> list[str]:
    return [*decision.reasons, *(i.message or "" for i in decision.interventions)]


def with_failing_rule(engine: Engine, exc: BaseException, rule_id: str) -> Any:
    """The shipped plan with one rule's condition raising ``exc``."""
    def boom(_ctx: object) -> object:
        raise exc

    rules = tuple(dataclasses.replace(r, when=boom) if r.rule.id == rule_id else r
                  for r in engine.plan.rules)
    return dataclasses.replace(engine.plan, rules=rules)


class TestNothingEscapes:
    @pytest.mark.parametrize(("exc", "code"), [
        (OverflowError("int too large to convert to float"), "internal-error"),
        (MemoryError(), "resource-exhausted"),
        (ZeroDivisionError("bug"), "internal-error"),
    ])
    def test_exception_in_a_rule_fails_closed_naming_it(self, engine: Engine,
                                                        exc: BaseException, code: str) -> None:
        plan = with_failing_rule(engine, exc, "frontier-safety-retention")
        context = load("fable5-us-citizen-after-directive.json")
        decision = evaluator_module.evaluate(plan, context)
        assert decision.effect == "deny"
        [error] = decision.errors
        assert (error.code, error.pack, error.rule) == (code, "safety-retention",
                                                        "frontier-safety-retention")
        json.loads(decision.model_dump_json())

    def test_strict_mode_chains_the_cause(self, engine: Engine) -> None:
        cause = OverflowError("boom")
        plan = with_failing_rule(engine, cause, "frontier-safety-retention")
        context = load("fable5-us-citizen-after-directive.json")
        with pytest.raises(EvaluationError) as info:
            evaluator_module.evaluate(plan, context, strict=True)
        assert info.value.__cause__ is cause

    def test_a_failed_closed_decision_takes_its_id_as_any_other(
            self, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
        """The common path makes its id inline; a crash makes it with ``_next_id``: one
        UUID shape, one per-process prefix, one counter."""
        context = load("fable5-us-citizen-after-directive.json")
        first = engine.evaluate(context).decision_id

        def broken(_context: object) -> dict[str, Any]:
            raise RuntimeError("bug")

        monkeypatch.setattr(evaluator_module, "request_activation", broken)
        crashed = engine.evaluate(context)
        monkeypatch.undo()
        last = engine.evaluate(context).decision_id
        assert [e.code for e in crashed.errors] == ["internal-error"]
        shape = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
        ids = [first, crashed.decision_id, last]
        assert all(shape.fullmatch(i) for i in ids), ids
        assert len({i[:24] for i in ids}) == 1  # the process's prefix
        assert [int(i[24:], 16) - int(first[24:], 16) for i in ids] == [0, 1, 2]

    @pytest.mark.parametrize(("exc", "code"), [
        (MemoryError(), "resource-exhausted"),
        (RecursionError("deep"), "resource-exhausted"),
        (OverflowError("big"), "internal-error"),
    ])
    def test_exception_outside_rules_fails_closed(self, engine: Engine,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  exc: BaseException, code: str) -> None:
        def broken(*_args: object) -> object:
            raise exc

        monkeypatch.setattr(evaluator_module, "merge_obligations", broken)
        # A merge runs on a skeleton's first sight only: forget the ones other tests made.
        engine.plan.skeletons.clear()
        engine.plan.merges.clear()
        context = load("fable5-us-citizen-after-directive.json")
        decision = engine.evaluate(context)
        assert decision.effect == "deny"
        assert [e.code for e in decision.errors] == [code]
        assert decision.context_digest == digest_json(context)
        json.loads(decision.model_dump_json())
        with pytest.raises(EvaluationError) as info:
            engine.evaluate(context, strict=True)
        assert info.value.__cause__ is exc

    @pytest.mark.parametrize("value", [
        10**401, float("nan"), float("inf"), "\ud800", [[[["x"]]]], {"a": {"b": 1}},
    ])
    def test_hostile_scores_never_escape_and_serialise(self, engine: Engine,
                                                       value: object) -> None:
        context = load("bio-high-risk-score.json")
        context["request"]["risk_scores"] = {"bio": value}
        decision = engine.evaluate(context)
        assert decision.context_digest.startswith("sha256:")
        json.loads(decision.model_dump_json())


def nested(depth: int, leaf: object = "x") -> object:
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


class TestSerialisesAndDigests:
    @pytest.mark.parametrize("path", [("request", "model"), ("request", "use_case"),
                                      ("request", "origin_country"), ("principal", "country"),
                                      ("request", "origin_region")])
    def test_lone_surrogates_in_echoed_fields(self, engine: Engine,
                                              path: tuple[str, str]) -> None:
        context = load("fable5-us-citizen-after-directive.json")
        context[path[0]][path[1]] = "fable-5\ud800"
        for decision in (engine.evaluate(context), engine.evaluate(context, explain=True)):
            text = decision.model_dump_json()
            assert "\ud800" not in text
            assert decision.context_digest.startswith("sha256:")

    def test_a_reason_echoing_a_surrogate_escapes_it(self, engine: Engine) -> None:
        context = load("crimea-region.json")
        context["request"]["origin_region"] = "UA-43"
        context["request"]["use_case"] = "surveillance\udfff"
        decision = engine.evaluate(context)
        json.loads(decision.model_dump_json())
        assert all("\udfff" not in r for r in decision.reasons)

    @pytest.mark.parametrize("depth", [300, 1000, 5000])
    def test_deep_nesting_anywhere(self, engine: Engine, depth: int) -> None:
        context = load("fable5-us-citizen-after-directive.json")
        context["request"]["use_case"] = nested(depth)
        context["extra"] = nested(depth, {"k": "v"})
        decision = engine.evaluate(context)
        assert decision.effect == "deny"  # use_case of the wrong type fails closed
        json.loads(decision.model_dump_json())
        assert decision.context_digest == digest_json(context)

    def test_digest_is_taken_at_evaluation_time(self, engine: Engine) -> None:
        context = load("fable5-dual-national-us-de.json")
        before = digest_json(copy.deepcopy(context))
        decision = engine.evaluate(context)
        context["request"]["model"] = "mythos-5"
        context["principal"]["nationalities"].append("FR")
        assert decision.context_digest == before
        assert digest_json(context) != before

    @pytest.mark.parametrize("path", CONTEXTS, ids=lambda p: p.name)
    def test_fallback_encodes_the_same_bytes(self, path: Path) -> None:
        context = json.loads(path.read_text(encoding="utf-8"))
        fast = orjson.dumps(context, option=orjson.OPT_SORT_KEYS)
        assert orjson.dumps(_representable(context), option=orjson.OPT_SORT_KEYS) == fast
        assert digest_json(context) == "sha256:" + hashlib.sha256(fast).hexdigest()

    def test_depth_limit_is_where_orjson_stops(self) -> None:
        deepest = nested(254, "x")  # 254 nested arrays: orjson encodes it
        fast = orjson.dumps(deepest)
        assert orjson.dumps(_representable(deepest)) == fast
        with pytest.raises(orjson.JSONEncodeError):
            orjson.dumps(nested(255, "x"))
        assert "nesting-too-deep" in orjson.dumps(_representable(nested(255, "x"))).decode()

    def test_unrepresentable_values_are_distinct_markers(self) -> None:
        assert digest_json({"a": float("nan")}) != digest_json({"a": None})
        assert digest_json({"a": float("inf")}) != digest_json({"a": float("-inf")})
        marked = _representable({"a": ["\ud800", float("nan")], 7: 10**30})
        assert marked == {
            "a": ["<unrepresentable string at a[0]>", "<unrepresentable nan at a[1]>"],
            "<unrepresentable key int at [7]>": "<unrepresentable integer at "
                                                "<unrepresentable key int at [7]>>",
        }

    @settings(max_examples=300, deadline=None)
    @given(st.recursive(
        st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=3)
        | st.floats(allow_nan=True, allow_infinity=True),
        lambda inner: st.lists(inner, max_size=4) | st.tuples(inner, inner)
        | st.dictionaries(st.text(max_size=3), inner, max_size=4),
        max_leaves=20))
    def test_non_finite_floats_are_found_wherever_they_are(self, value: object) -> None:
        """The walk behind the `null` check finds a NaN or an infinity anywhere (it tests
        values in place by exact type), as a plain recursive definition does."""
        def anywhere(v: object) -> bool:
            if isinstance(v, float):
                return not math.isfinite(v)
            if isinstance(v, dict):
                return any(anywhere(x) for x in v.values())
            if isinstance(v, list | tuple):
                return any(anywhere(x) for x in v)
            return False

        assert _has_non_finite(value) == anywhere(value)
        assert _has_non_finite({"k": [value]}) == anywhere(value)

    def test_non_finite_floats_in_subclasses_are_found(self) -> None:
        class Number(float):
            pass

        class Items(list[object]):
            pass

        class Fields(dict[str, object]):
            pass

        assert _has_non_finite({"a": Number("nan")})
        assert _has_non_finite(Items([1, Number("inf")]))
        assert _has_non_finite({"a": Fields(b=[float("-inf")])})
        assert not _has_non_finite(Fields(a=Items([Number(1.5), None, "x", True])))

    def test_cycles_digest(self) -> None:
        context: dict[str, Any] = {"a": 1}
        context["self"] = context
        assert digest_json(context).startswith("sha256:")


class TestHonestTexts:
    def test_no_placeholder_ever_reaches_a_user(self, engine: Engine) -> None:
        """Every example with each attribute removed (and the empty context)."""
        checked = 0
        for path in CONTEXTS:
            context = json.loads(path.read_text(encoding="utf-8"))
            variants = [without(context, p) for p in leaf_paths(context)]
            for variant in [*variants, {}]:
                for text in user_texts(engine.evaluate(variant)):
                    assert "<missing" not in text, (path.name, text)
                    assert "<error" not in text, (path.name, text)
                checked += 1
        assert checked > 400

    def test_missing_use_case_claims_no_category(self, engine: Engine) -> None:
        context = load("distillation-request.json")
        del context["request"]["use_case"]
        decision = engine.evaluate(context)
        assert decision.effect == "deny"
        texts = " ".join(user_texts(decision))
        assert "not permitted" not in texts
        assert "risks" not in texts
        messages = [i.message for i in decision.interventions]
        assert "This request was declined because our safety checks could not be completed." \
            in messages
        assert any("request.use_case" in r for r in decision.reasons)

    def test_syria_reason_names_no_unestablished_origin(self, engine: Engine) -> None:
        context = load("syria-origin-2024.json")
        del context["request"]["origin_country"]
        decision = engine.evaluate(context)
        assert decision.effect == "deny"
        assert not any("SY" in r for r in decision.reasons)
        assert any("network origin is unknown" in r for r in decision.reasons)
        established = engine.evaluate(load("syria-origin-2024.json"))
        assert any("(request origin: SY)" in r for r in established.reasons)

    def test_default_fail_closed_texts_are_neutral(self, packset: Any) -> None:
        root = packset({"p.yaml": """
            pack: p
            version: "1"
            tier: policy
            rules:
              - id: refuse-bio
                when: request.use_case == "bio"
                effect: intervene
                reason: "bio request ({request.use_case}) refused"
                intervention:
                  kind: refuse
                  disclosure: visible
                  message: "Declined under our {request.use_case} policy."
            """})
        engine = Engine.from_path(root)
        decision = engine.evaluate({"request": {"model": "m"}})
        assert decision.effect == "deny"
        assert [i.message for i in decision.interventions] == [
            "This request was declined because it could not be fully evaluated."]
        assert decision.reasons == [
            "rule `refuse-bio` of pack `p` could not be evaluated: required information is "
            "missing (request.use_case); failing closed"]


    def test_interpolated_values_are_bounded(self, packset: Any) -> None:
        root = packset({"p.yaml": """
            pack: p
            version: "1"
            tier: policy
            rules:
              - id: echo
                when: request.model != ""
                effect: deny
                reason: "model {request.model} denied"
            """})
        roomy = Limits(max_string=100_000)  # the default limit would refuse the value first
        engine = Engine.from_path(root, limits=roomy)
        decision = engine.evaluate({"request": {"model": "m" * 50_000}})
        [reason] = decision.reasons
        assert reason.startswith("model mmm")
        assert reason.endswith("… denied")
        assert len(reason) < 300


SHARED_MANIFEST = """\
packset: shared
variables:
  frontier_models: {models}
context:
  request:
    model: string
    use_case: string
"""

SNAPSHOT_PACK = """\
pack: frontier
version: "1"
tier: law
rules:
  - id: frontier-suspension
    when: >-
      vars.frontier_models.exists(m, request.model == m || request.model.startsWith(m + "-"))
    effect: deny
    reason: "{request.model} is suspended"
"""


def shared_set(tmp_path: Path, models: str, pack: str = SNAPSHOT_PACK) -> Path:
    root = tmp_path / "set"
    root.mkdir(parents=True, exist_ok=True)
    (root / "packset.yaml").write_text(SHARED_MANIFEST.format(models=models), encoding="utf-8")
    (root / "frontier.yaml").write_text(pack, encoding="utf-8")
    return root


class TestSharedVariables:
    def test_shipped_packs_read_the_one_list(self) -> None:
        for name in ("export-control.yaml", "interventions.yaml", "safety-retention.yaml"):
            text = (RULES / name).read_text(encoding="utf-8")
            assert "vars.frontier_models" in text
            assert '"mythos-5"' not in text

    def test_snapshots_and_aliases_example(self, tmp_path: Path) -> None:
        engine = Engine.from_path(shared_set(tmp_path, "'[\"fable-5\", \"mythos-5\"]'"))
        for model, effect in [("fable-5", "deny"), ("fable-5-2026-06", "deny"),
                              ("mythos-5", "deny"), ("fable-50", "allow"),
                              ("opus-4.8", "allow")]:
            assert engine.evaluate({"request": {"model": model}}).effect == effect, model

    def test_part_of_the_pack_set_digest(self, tmp_path: Path) -> None:
        a = Engine.from_path(shared_set(tmp_path / "a", "'[\"fable-5\"]'")).pack_set_digest
        b = Engine.from_path(shared_set(tmp_path / "b", "'[\"fable-6\"]'")).pack_set_digest
        assert a != b

    def test_bad_shared_variable_is_located_in_the_manifest(self, tmp_path: Path) -> None:
        root = shared_set(tmp_path, "'[\"fable-5\"] + 1'")
        diagnostics, checked = check_paths([root])
        assert checked is None
        [error] = diagnostics.errors
        assert error.code == "type-mismatch"
        assert error.span is not None
        assert error.span.file.endswith("packset.yaml")
        assert (error.span.start.line + 1, error.span.start.col + 1) == (3, 35)  # the `1`

    def test_a_pack_may_not_redeclare_one(self, tmp_path: Path) -> None:
        pack = SNAPSHOT_PACK.replace("rules:", "variables:\n  frontier_models: '[\"x\"]'\nrules:")
        diagnostics, checked = check_paths([shared_set(tmp_path, "'[\"fable-5\"]'", pack)])
        assert checked is None
        assert [d.code for d in diagnostics.errors] == ["duplicate-variable"]


class TestBackendRecorded:
    def test_each_decision_names_its_backend(self) -> None:
        context = load("iran-origin.json")
        compiled = Engine.from_path(RULES).evaluate(context)
        oracle = Engine.from_path(RULES, backend="interpreter").evaluate(context)
        assert (compiled.backend, oracle.backend) == ("compiled", "interpreter")
        assert json.loads(compiled.model_dump_json())["backend"] == "compiled"


class TestJsonRead:
    @pytest.mark.parametrize(("text", "code"), [
        ('{"request": {"model": "a", "model": "fable-5"}}', "duplicate-key"),
        ('{"r": {"bio": NaN}}', "non-finite-number"),
        ('[Infinity]', "non-finite-number"),
        ("[" * 65 + "]" * 65, "json-too-deep"),
        ('{"a": ', "invalid-json"),
        (b"\xff{}", "invalid-json"),
        ("1" * 5000, "invalid-json"),
        ("1" * 101, "invalid-json"),
        ("[1e999]", "non-finite-number"),
        ('{"id": "\\ud800"}', "invalid-json"),
        ('{"\\udfff": 1}', "invalid-json"),
    ])
    def test_refused(self, text: str | bytes, code: str) -> None:
        with pytest.raises(JsonReadError) as info:
            read_json(text)
        assert info.value.code == code

    def test_size_bound(self) -> None:
        with pytest.raises(JsonReadError) as info:
            read_json('"' + "x" * 100 + '"', max_bytes=50)
        assert info.value.code == "json-too-large"

    def test_brackets_inside_strings_do_not_count(self) -> None:
        assert read_json('{"a": "' + "[" * 100 + '"}') == {"a": "[" * 100}
        assert read_json("[" * 64 + "]" * 64, max_depth=64) == nested(63, [])

    def test_syntax_errors_carry_line_and_column(self) -> None:
        with pytest.raises(JsonReadError) as info:
            read_json('{\n  "a": }')
        assert (info.value.line, info.value.column) == (2, 8)

    def test_long_but_bounded_integers_and_paired_surrogates_are_values(self) -> None:
        assert read_json("-" + "9" * 100) == -int("9" * 100)
        assert read_json('"\\ud83d\\ude00"') == "\U0001f600"

    def test_nan_when_allowed(self) -> None:
        value = read_json("[NaN]", allow_nan=True)
        assert isinstance(value, list)
        assert value[0] != value[0]

    @pytest.mark.parametrize("path", CONTEXTS, ids=lambda p: p.name)
    def test_examples_read_as_json_does(self, path: Path) -> None:
        text = path.read_text(encoding="utf-8")
        assert read_json(text) == json.loads(text)


def declared_slots(t: Any, prefix: tuple[object, ...]) -> Iterator[tuple[object, ...]]:
    """Every declared path of the schema, with list elements (index 0) and map values."""
    yield prefix
    if t.kind == "object":
        for name, field in t.fields:
            yield from declared_slots(field, (*prefix, name))
    elif t.kind == "list":
        yield from declared_slots(t.elem, (*prefix, 0))
    elif t.kind == "map":
        yield from declared_slots(t.value, (*prefix, "bio"))


def put(context: dict[str, Any], path: tuple[object, ...], value: object) -> dict[str, Any]:
    out = copy.deepcopy(context)
    node: Any = out
    for key, nxt in itertools.pairwise(path):
        child = node[key] if (isinstance(node, list) and node) or (
            isinstance(node, dict) and key in node) else None
        if not isinstance(child, dict | list):
            child = [] if isinstance(nxt, int) else {}
            if isinstance(node, list):
                node[:] = [child]
            else:
                node[key] = child
        node = child
    last = path[-1]
    if isinstance(node, list):
        node[:] = [value]
    else:
        node[last] = value
    return out


HOSTILE = [
    "\ud800", "fable-5\udfff", "x" * 20_000, "", " fable-5", 10**401, -(10**30),
    float("nan"), float("-inf"), 1e308, True, None, nested(1200), {"k": nested(300)},
    [1, "US", None], {"bio": "0.9"}, b"\x00\xff",
]


class TestEveryDecisionSerialises:
    @settings(max_examples=300, derandomize=True, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(data=st.data())
    def test_hostile_value_at_any_declared_path(self, engine: Engine, data: Any) -> None:
        """Through evaluate() without validate(): nothing escapes, everything serialises."""
        slots = [s for name, t in sorted(engine.schema.variables.items())
                 for s in declared_slots(t, (name,))]
        path = data.draw(st.sampled_from(slots), label="path")
        value = data.draw(st.sampled_from(HOSTILE), label="value")
        base = load(data.draw(st.sampled_from([p.name for p in CONTEXTS]), label="context"))
        context = put(base, path, value)
        for explain in (False, True):
            decision = engine.evaluate(context, explain=explain)
            assert json.loads(decision.model_dump_json())["context_digest"].startswith("sha256:")
            for text in user_texts(decision):
                assert "<missing" not in text



ESCAPES_PACK = """\
pack: escapes
version: "1"
tier: policy
rules:
  - id: refuse-with-escapes
    when: request.model == "fable-5"
    effect: intervene
    intervention:
      kind: refuse
      disclosure: visible
      message: "declined {message} here"
    reason: "reason {reason} here"
"""


def test_a_lone_surrogate_escape_in_a_pack_is_refused_where_it_is_written(
        tmp_path: Path) -> None:
    """`"\\ud800"` is half a UTF-16 pair, not a character: the loader refuses it at the
    value (it once reached the pack digest and crashed the load)."""
    pack = ESCAPES_PACK.format(message="\\ud800", reason="\\udfff")
    (tmp_path / "escapes.yaml").write_text(pack, encoding="utf-8")
    _, diags = load_pack_set([tmp_path / "escapes.yaml"])
    found = [(d.code, d.span.start.line + 1, d.span.start.col + 1) for d in diags
             if d.span is not None]
    assert ("invalid-character", 11, 16) in found
    assert any("surrogate" in d.message for d in diags)


def test_constant_texts_are_built_once_and_shown_as_written(tmp_path: Path) -> None:
    """A reason and message that interpolate nothing are planned once; a character
    outside the Basic Multilingual Plane, escaped in full, reaches the decision as is."""
    pack = ESCAPES_PACK.format(message="\\U0001F600", reason="\\u00e9")
    (tmp_path / "escapes.yaml").write_text(pack, encoding="utf-8")
    (tmp_path / "packset.yaml").write_text("packset: escapes\ncontext:\n  request:\n"
                                           "    model: string\n", encoding="utf-8")
    engine = Engine.from_path(tmp_path)
    [rule] = engine.plan.rules
    assert (rule.reason_text, rule.message_text) == ("reason \u00e9 here",
                                                     "declined \U0001F600 here")
    decision = engine.evaluate({"request": {"model": "fable-5"}})
    assert decision.interventions[0].message == "declined \U0001F600 here"
    assert json.loads(decision.model_dump_json())["interventions"][0]["message"] == (
        "declined \U0001F600 here")
