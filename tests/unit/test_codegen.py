"""The checked tree and the code generator: types, references, bound overloads, memo, tracebacks."""

from __future__ import annotations

import contextlib
import cProfile
import linecache
import pstats
import traceback
from typing import Any

import pytest

from compliance.cel.ast import Call, Comprehension, Select, walk
from compliance.cel.checker import TypeEnv, check_expr
from compliance.cel.codegen import PackCodegen, RuleSource, generated_program
from compliance.cel.compiler import VARS, CompileEnv, compile_expr, request_activation
from compliance.cel.parser import parse
from compliance.cel.types import (
    STRING,
    CelType,
    Constraint,
    ContextSchema,
    Limits,
    list_of,
    object_of,
    parse_type,
)
from compliance.cel.values import CelEvalError, CelUnknown
from compliance.errors import ConfigurationError

SCHEMA = ContextSchema({
    "request": object_of("request", {
        "n": parse_type("int"), "d": parse_type("double"), "s": parse_type("string"),
        "tags": parse_type("list<string>"), "scores": parse_type("map<string, double>"),
        "any": parse_type("dyn"),
    }),
})


def source_of(program: Any) -> str:
    """The generated source a program's code lives in (from ``linecache``)."""
    filename = program.__code__.co_filename
    return "".join(linecache.getlines(filename))


def run(text: str, context: dict[str, Any]) -> Any:
    return generated_program(parse(text), SCHEMA)(request_activation(context))


class TestCheckedTree:
    def test_every_node_has_a_type_and_paths_resolve(self) -> None:
        """Types per node; attribute paths carry their declared type; overloads are recorded."""
        expr = parse("size(request.s) > 1 && request.tags.exists(t, t == request.s)")
        checked = check_expr(expr, TypeEnv(SCHEMA))
        assert checked.type.kind == "bool"
        assert all(id(n) in checked.types for n in walk(expr))
        paths = {checked.refs[id(n)].path: checked.refs[id(n)]
                 for n in walk(expr) if id(n) in checked.refs}
        assert paths[("request", "s")].kind == "attribute"
        assert str(paths[("request", "tags")].type) == "list<string>"
        assert paths[("t",)].kind == "local"
        size = next(n for n in walk(expr) if isinstance(n, Call) and n.function == "size")
        assert len(checked.overloads[id(size)]) == 1  # bound: size(string)
        comp = next(n for n in walk(expr) if isinstance(n, Comprehension))
        assert checked.type_of(comp).kind == "bool"

    def test_vars_references_resolve(self) -> None:
        expr = parse("vars.limit > request.n")
        checked = check_expr(expr, TypeEnv(SCHEMA, {"limit": parse_type("int")}))
        node = next(n for n in walk(expr) if isinstance(n, Select))
        ref = checked.ref_of(node)
        assert ref is not None
        assert (ref.kind, ref.path, ref.type.kind) == ("vars", ("vars", "limit"), "int")

    PACK = ("pack: p\nversion: 1.0.0\ntier: policy\nvariables:\n"
            "  big: request.risk_scores['bio'] > 0.5\n"
            "rules:\n  - id: r\n    effect: deny\n    when: vars.big && request.model == 'x'\n"
            "    reason: too big\n")

    def test_checked_rules_carry_their_trees(self, packset: Any) -> None:
        from compliance import Engine
        from compliance.engine import check_paths

        _, checked = check_paths([packset({"p.yaml": self.PACK})])
        assert checked is not None
        Engine(checked)  # keeps them: the caller may build another engine
        (cpack,) = checked.packs
        (crule,) = cpack.rules
        assert crule.when is not None
        assert crule.checked[id(crule.when)].type.kind == "bool"
        assert cpack.checked_variables["big"].type.kind == "bool"

    def test_an_owning_engine_releases_the_trees(self, packset: Any) -> None:
        """``from_path`` (and ``keep_checked_trees=False``) empties the type tables once
        compiled; an engine built again from that set re-checks and decides the same."""
        from compliance import Engine
        from compliance.engine import check_paths

        root = packset({"p.yaml": self.PACK})
        owned = Engine.from_path(root)
        (cpack,) = owned.checked.packs
        assert cpack.rules[0].checked == {}
        assert cpack.checked_variables == {}
        assert cpack.rules[0].when is not None  # the expression itself stays
        _, checked = check_paths([root])
        assert checked is not None
        released = Engine(checked, keep_checked_trees=False)
        assert checked.packs[0].rules[0].checked == {}
        again = Engine(checked)
        context = {"request": {"model": "x", "risk_scores": {"bio": 0.9}}}
        decisions = [e.evaluate(context) for e in (owned, released, again)]
        assert [d.effect for d in decisions] == ["deny"] * 3
        assert len({str(d.matched) for d in decisions}) == 1


class TestGeneratedCode:
    def test_known_overloads_are_bound_and_dyn_dispatches(self) -> None:
        """``int + int`` is Python's ``+`` with the overflow check; ``dyn`` calls the table."""
        typed = generated_program(parse("request.n + 1 > 2"), SCHEMA)
        text = source_of(typed)
        assert "_ovf(" in text
        assert " > 2" in text
        assert "_f" not in text
        dynamic = generated_program(parse("request.any + 1 > 2"), SCHEMA)
        assert "_f" in source_of(dynamic)
        assert typed(request_activation({"request": {"n": 5}})) is True
        assert dynamic(request_activation({"request": {"any": 5}})) is True

    def test_overflow_is_an_error_at_the_operator(self) -> None:
        text = "request.n + 1 > 0"
        with pytest.raises(CelEvalError) as info:
            run(text, {"request": {"n": 2**63 - 1}})
        assert info.value.code == "overflow"
        assert text[info.value.start:info.value.end] == "request.n + 1"

    def test_literals_are_bound_not_interpolated(self) -> None:
        """A string literal never appears in the generated text (it is a bound constant)."""
        program = generated_program(parse('request.s == "x\\"); import os; ("'), SCHEMA)
        assert "import os" not in source_of(program)
        assert program(request_activation({"request": {"s": 'x"); import os; ('}})) is True

    @pytest.mark.parametrize(("text", "context", "want"), [
        ("request.n > 1 && request.s == 'a'", {"request": {"n": 0}}, False),  # false absorbs
        ("request.s == 'a' || request.n > 1", {"request": {"n": 5}}, True),  # true absorbs
        ("request.any && false", {"request": {"any": "str"}}, False),  # error absorbed
        ("request.n > 1 ? 'big' : request.s", {"request": {"n": 5}}, "big"),
    ])
    def test_absorption(self, text: str, context: dict[str, Any], want: object) -> None:
        assert run(text, context) == want

    def test_unknowns_merge_and_beat_errors(self) -> None:
        with pytest.raises(CelUnknown) as info:
            run("request.any > 1 && request.s == 'a' && request.n > 1",
                {"request": {"any": "x"}})
        assert info.value.paths == frozenset({"request.s", "request.n"})

    def test_equal_to_closures_on_macros_and_maps(self) -> None:
        text = "request.tags.exists(t, t == request.s) || {'a': 1}[request.s] == 1"
        for context in ({"request": {"tags": ["a"], "s": "a"}}, {"request": {"tags": []}},
                        {"request": {"tags": ["b"], "s": "z"}}):
            want = _outcome(compile_expr(parse(text), CompileEnv(schema=SCHEMA)), context)
            assert _outcome(generated_program(parse(text), SCHEMA), context) == want

    def test_too_deep_for_python_falls_back_to_closures(self) -> None:
        """Nesting beyond Python's block limit still compiles (closure fallback), same result."""
        text = "request.n > 0"
        for i in range(30):
            text = f"(request.n > {i} || ({text} && request.s == 'a'))"
        program = generated_program(parse(text), SCHEMA)
        assert program.__code__.co_filename.endswith("compiler.py")  # type: ignore[attr-defined]
        for context in ({"request": {"n": 0, "s": "a"}}, {"request": {"s": "b"}}, {}):
            want = _outcome(compile_expr(parse(text), CompileEnv(schema=SCHEMA)), context)
            assert _outcome(program, context) == want


_NESTED = [
    "request.s == 'a' && !(request.n > 1 || 'x' in request.tags)",
    "(request.s == 'a' || request.n == 1) && (request.d > 0.5 || request.any == 2)",
    "request.n > 1 || (request.s == 'a' && (request.d > 0.5 || 'x' in request.tags))",
    "!(request.s == 'a' && request.any) || request.n == 2",
    "(request.s == 'a' ? request.n > 1 : request.d > 0.5) && request.tags.size() > 0",
]
_VALUES: list[dict[str, Any]] = [
    {}, {"s": "a"}, {"s": "b", "n": 2}, {"n": 0, "d": 0.9}, {"s": "a", "n": 5, "d": 0.1},
    {"s": "a", "tags": ["x"]}, {"s": 1, "n": "2"}, {"any": "x", "s": "a"},
    {"s": "a", "n": 1, "d": 1.0, "tags": [], "any": 2}, {"tags": None, "n": 9},
    {"s": "a", "tags": ["y", 3]},
]


@pytest.mark.parametrize("text", _NESTED)
def test_unknowns_handed_over_inside_operands_match_the_closures(text: str) -> None:
    """An unknown inside an operand of `&&`/`||` (an absent attribute, a nested chain left
    undecided) leaves the operand by `break`, not by a raise caught in the same frame: the
    value, error (with its offsets) or unknown paths stay the closure compiler's."""
    program = generated_program(parse(text), SCHEMA)
    assert " = _CelUnknown(" in source_of(program)  # stored for the handler, not raised
    closure = compile_expr(parse(text), CompileEnv(schema=SCHEMA))
    for values in _VALUES:
        context = {"request": dict(values)}
        assert _outcome(program, context) == _outcome(closure, context), (text, values)
    assert _outcome(program, {}) == _outcome(closure, {})


def _condition(text: str) -> Any:
    """``text`` generated as a rule's condition is: returning the unknowns it decides."""
    source = RuleSource(PackCodegen(SCHEMA, {}, {}, "p"), "r")
    name = source.add(parse(text), None, "cond", returns_unknown=True)
    return source.build()[name]


def _read_as_the_evaluator_does(program: Any, context: dict[str, Any]) -> tuple[object, ...]:
    try:
        value = program(request_activation(context))
    except CelEvalError as err:
        return ("error", err.code, err.start, err.end)
    except CelUnknown as unknown:
        return ("unknown", unknown.paths)
    if type(value) is CelUnknown:
        return ("unknown", value.paths)
    return ("value", value)


@pytest.mark.parametrize("text", [*_NESTED, "request.s == 'a'", "'x' in request.tags",
                                  "request.n > 1 && request.s == 'a'"])
def test_a_condition_returns_its_unknown_with_the_same_meaning(text: str) -> None:
    """A rule's condition returns the unknown it decides (no raise for the evaluator to
    catch); read as the evaluator reads it, every outcome is the raising program's, and an
    error kept by a chain is still raised, with its offsets."""
    condition, raising = _condition(text), generated_program(parse(text), SCHEMA)
    assert "return _CelUnknown(" in source_of(condition) or "return t" in source_of(condition)
    returned = 0
    for values in [*_VALUES, None]:
        context = {"request": dict(values)} if values is not None else {}
        got = _read_as_the_evaluator_does(condition, context)
        assert got == _outcome(raising, context), (text, values)
        with contextlib.suppress(CelEvalError, CelUnknown):
            returned += type(condition(request_activation(context))) is CelUnknown
    assert returned > 0  # some unknown was returned, not raised


_CODE = CelType("string", constraint=Constraint(pattern="[A-Z]{2}", normalize=("trim", "upper")))
LISTS = ContextSchema({
    "p": object_of("p", {"codes": list_of(_CODE), "tags": list_of(STRING), "s": STRING}),
}, limits=Limits(max_list=3, max_string=8))


@pytest.mark.parametrize("text", [
    '"US" in p.codes', '"US" in p.tags', "p.s in p.codes", "p.s in p.tags",
    '"US" in p.codes || "FR" in p.tags', "size(p.codes) == 2 && p.codes[0] == 'US'",
])
@pytest.mark.parametrize("value", [
    [], ["US"], ["us"], [" US "], ["FR", "US"], ["US", None], ["US", 1], [1], ["USA"],
    ["US", "FR", "DE", "IT"], ["toolongtext"], ["é"], "US", None, {"US": 1},
])
def test_lists_of_strings_read_inline_as_the_reader_does(text: str, value: object) -> None:
    """The inline read of a list of strings (each element as itself, else the full judgement)
    and the inline `in` give the closure compiler's outcome: value, error, or unknown."""
    for field in ("codes", "tags"):
        context = {"p": {field: value, "s": "US"}}
        if value is None:
            context["p"].pop(field)
        want = _outcome(compile_expr(parse(text), CompileEnv(schema=LISTS)), context)
        program = generated_program(parse(text), LISTS)
        assert _outcome(program, context) == want, (field, value)
        assert _outcome(program, context) == want  # again: the verdicts are now kept


def _outcome(program: Any, context: dict[str, Any]) -> tuple[object, ...]:
    try:
        return ("value", program(request_activation(context)))
    except CelEvalError as err:
        return ("error", err.code, err.start, err.end)
    except CelUnknown as unknown:
        return ("unknown", unknown.paths)


class TestTracebacksAndProfiles:
    def test_traceback_shows_the_generated_line(self) -> None:
        pack = PackCodegen(SCHEMA, {}, {}, "mypack")
        program = pack.program(parse("request.n * request.n > 0"), None, "myrule")
        with pytest.raises(CelEvalError) as info:
            program(request_activation({"request": {"n": 2**40}}))
        frames = traceback.extract_tb(info.value.__traceback__)
        shown = [f for f in frames if f.filename.startswith("<compliance shape ")]
        assert shown
        assert "*" in (shown[0].line or "")  # the failing generated line, from linecache

    def test_rules_of_one_shape_share_code_but_not_constants(self) -> None:
        """Same-shaped rules share one code object; each keeps its own literals."""
        pack = PackCodegen(SCHEMA, {}, {}, "shape")
        first = pack.program(parse("request.s == 'a'"), None, "first")
        second = pack.program(parse("request.s == 'b'"), None, "second")
        other = pack.program(parse("request.s != 'b'"), None, "other")
        assert first.__code__ is second.__code__  # type: ignore[attr-defined]
        assert other.__code__ is not first.__code__  # type: ignore[attr-defined]
        assert other.__code__.co_filename != first.__code__.co_filename  # type: ignore[attr-defined]
        # the literals are each function's parameter defaults; the globals are shared
        assert "a" in first.__defaults__  # type: ignore[attr-defined]
        assert "b" in second.__defaults__  # type: ignore[attr-defined]
        assert first.__globals__ is second.__globals__  # type: ignore[attr-defined]
        assert set(first.__globals__) == {"__builtins__"}  # type: ignore[attr-defined]
        act = request_activation({"request": {"s": "b"}})
        assert (first(act), second(act), other(act)) == (False, True, False)

    def test_rule_names_name_each_rule(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """``COMPLIANCE_CODE_NAMES=rule``: one code object per rule, named after it."""
        monkeypatch.setenv("COMPLIANCE_CODE_NAMES", "rule")
        pack = PackCodegen(SCHEMA, {}, {}, "shape")
        first = pack.program(parse("request.s == 'a'"), None, "first")
        second = pack.program(parse("request.s == 'b'"), None, "second")
        assert first.__code__.co_filename == "<compliance shape/first>"  # type: ignore[attr-defined]
        assert second.__code__.co_filename == "<compliance shape/second>"  # type: ignore[attr-defined]
        assert linecache.getlines("<compliance shape/second>")
        act = request_activation({"request": {"s": "b"}})
        assert (first(act), second(act)) == (False, True)

    def test_a_misspelt_naming_is_refused(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("COMPLIANCE_CODE_NAMES", "rules")
        refused = "COMPLIANCE_CODE_NAMES must be `shape` or `rule`"
        with pytest.raises(ConfigurationError, match=refused):
            PackCodegen(SCHEMA, {}, {}, "p")

    def test_profile_names_the_generated_rule(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("COMPLIANCE_CODE_NAMES", "rule")
        pack = PackCodegen(SCHEMA, {}, {}, "profiled")
        program = pack.program(parse("request.n > 1"), None, "hot-rule")
        act = request_activation({"request": {"n": 2}})
        profiler = cProfile.Profile()
        profiler.runcall(program, act)
        files = {key[0] for key in pstats.Stats(profiler).stats}  # type: ignore[attr-defined]
        assert any(f.startswith("<compliance profiled/hot-rule") for f in files)


class TestVariables:
    def make(self) -> PackCodegen:
        variables = {"tags": parse("[request.s, request.s]"), "bad": parse("request.n / 0"),
                     "two": parse("size(vars.tags)")}
        return PackCodegen(SCHEMA, variables, {}, "vp")

    def test_compiled_once_per_pack(self) -> None:
        pack = self.make()
        assert pack.var_reader("tags") is pack.var_reader("tags")

    def test_evaluated_at_most_once_per_request(self) -> None:
        pack = self.make()
        first = pack.program(parse("vars.tags"), None, "r1")
        second = pack.program(parse("vars.two == 2 && vars.tags[0] == 'a'"), None, "r2")
        act = request_activation({"request": {"s": "a"}})
        value = first(act)
        assert second(act) is True
        assert first(act) is value  # the very list: not recomputed
        assert first(request_activation({"request": {"s": "a"}})) is not value  # per request
        routed = dict(act, request={"s": "b"})  # a routing pass: another activation
        assert first(routed) == ["b", "b"]

    def test_only_when_read_and_failures_memoised(self) -> None:
        pack = self.make()
        reads_bad = pack.program(parse("request.s == 'a' || vars.bad > 0"), None, "r")
        act = request_activation({"request": {"s": "a", "n": 1}})
        assert reads_bad(act) is True
        assert act[VARS] == {}  # `true || …` never read the variable
        act = request_activation({"request": {"s": "b", "n": 1}})
        with pytest.raises(CelEvalError) as one:
            reads_bad(act)
        with pytest.raises(CelEvalError) as two:
            reads_bad(act)
        assert one.value.code == "division-by-zero"
        assert one.value is two.value  # the memoised error, not a second evaluation
        act = request_activation({"request": {}})
        with pytest.raises(CelUnknown) as unknown:
            pack.program(parse("vars.tags"), None, "u")(act)
        assert unknown.value.paths == frozenset({"request.s"})
