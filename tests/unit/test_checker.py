"""Stage 2: the checker's passes over inline packs, asserting codes and underlined text."""

from __future__ import annotations

import textwrap
from dataclasses import replace

import pytest

from compliance.cel.ast import Expr
from compliance.cel.types import (
    BOOL,
    DOUBLE,
    STRING,
    TIMESTAMP,
    ContextSchema,
    list_of,
    map_of,
    object_of,
)
from compliance.checker import PASSES, CheckReport, check_pack_set, run_pass
from compliance.diagnostics import Diagnostic, Severity
from compliance.loader import load_pack_text
from compliance.pack import Pack, PackSet

KIND = replace(STRING, enum=("customer", "employee", "service", "government"))
SURFACE = replace(STRING, enum=("api", "chat", "agent"))
SCHEMA = ContextSchema({
    "principal": object_of("principal", {
        "id": STRING, "kind": KIND, "nationalities": list_of(STRING),
        "nationality_verified": BOOL, "country": STRING, "authorizations": list_of(STRING),
    }),
    "request": object_of("request", {
        "model": STRING, "time": TIMESTAMP, "use_case": STRING,
        "risk_scores": map_of(STRING, DOUBLE), "surface": SURFACE,
    }),
})


class Checked:
    """A check report plus the pack texts, so tests can read the underlined source."""

    def __init__(self, *bodies: str, headers: tuple[str, ...] = ()) -> None:
        self.sources: dict[str, str] = {}
        packs: list[Pack] = []
        for i, body in enumerate(bodies):
            header = headers[i] if i < len(headers) else ""
            text = f"pack: p{i}\nversion: '1'\ntier: policy\n{header}" + textwrap.dedent(body)
            name = f"p{i}.yaml"
            pack, found = load_pack_text(text, name)
            errors = [d for d in found if d.severity is Severity.ERROR]
            assert pack is not None, found
            assert not errors, [d.message for d in errors]
            self.sources[name] = text
            packs.append(pack)
        self.report: CheckReport = check_pack_set(PackSet(tuple(packs), SCHEMA))

    def of(self, code: str) -> list[Diagnostic]:
        """Every diagnostic with ``code``."""
        return [d for d in self.report.diagnostics if d.code == code]

    def one(self, code: str) -> Diagnostic:
        """The single diagnostic with ``code``."""
        found = self.of(code)
        assert len(found) == 1, [(d.code, d.message) for d in self.report.diagnostics]
        return found[0]

    def underlined(self, d: Diagnostic) -> str:
        """The source text under ``d``'s span (one line)."""
        assert d.span is not None
        line = self.sources[d.span.file].splitlines()[d.span.start.line]
        return line[d.span.start.col:d.span.end.col]

    def codes(self) -> list[str]:
        """Every diagnostic code, in report order."""
        return [d.code for d in self.report.diagnostics]


def assert_diagnostic(
    checked: Checked, d: Diagnostic, *, code: str, underlined: str,
    help: str | None = None, severity: Severity = Severity.ERROR,
) -> None:
    """``d`` has ``code``, ``severity``, underlines ``underlined`` and (if given) ``help``."""
    assert d.code == code
    assert d.severity is severity
    assert checked.underlined(d) == underlined
    if help is not None:
        assert d.help == help


def rule(when: str, *, extra: str = "", rule_id: str = "r1") -> str:
    """A one-rule ``rules:`` block denying when ``when`` (single-quoted YAML)."""
    quoted = when.replace("'", "''")
    return f"rules:\n  - id: {rule_id}\n    when: '{quoted}'\n    effect: deny\n{extra}"


class TestPassTable:
    def test_passes_are_named_and_unique(self) -> None:
        """The pass table lists every pass once, by name, for `check --explain`."""
        names = [name for name, _ in PASSES]
        assert len(names) == len(set(names))
        assert names[0] == "cel-syntax"
        assert {"types", "literals", "forbid-silent", "overrides"} <= set(names)

    def test_run_pass_runs_one_pass(self) -> None:
        """`run_pass` reports only what the named pass finds."""
        pack, _ = load_pack_text("pack: p\nversion: '1'\ntier: policy\n" + rule("reqest.id == 1"))
        assert pack is not None
        pack_set = PackSet((pack,), SCHEMA)
        assert [d.code for d in run_pass("types", pack_set)] == ["undeclared-reference"]
        assert run_pass("literals", pack_set) == []
        with pytest.raises(KeyError, match="no checker pass"):
            run_pass("nope", pack_set)


class TestSyntax:
    def test_syntax_error_is_reported_at_the_token(self) -> None:
        """A CEL syntax error is `cel-syntax` underlining the unexpected token."""
        c = Checked(rule('request.model == && true'))
        d = c.one("cel-syntax")
        assert_diagnostic(c, d, code="cel-syntax", underlined="&&")
        assert d.message.startswith("rule `r1`: `when`: ")
        assert c.report.checked is None

    def test_syntax_error_skips_only_that_rule(self) -> None:
        """A syntax error in one rule does not hide type errors in another."""
        c = Checked(rule("request.model ==", rule_id="bad")
                    + rule("reqest.model == 'x'", rule_id="r2")[7:])
        assert sorted(c.codes()) == ["cel-syntax", "undeclared-reference"]


class TestReferences:
    def test_unknown_top_level_name(self) -> None:
        """An unknown variable is an undeclared reference with a did-you-mean."""
        c = Checked(rule('reqest.model == "x"'))
        d = c.one("undeclared-reference")
        assert_diagnostic(c, d, code="undeclared-reference", underlined="reqest",
                          help="did you mean `request`?")
        assert d.message == "rule `r1`: `when`: undeclared reference to `reqest`"

    def test_unknown_field(self) -> None:
        """A misspelt field underlines the whole path and suggests the field."""
        c = Checked(rule('request.modle == "x"'))
        assert_diagnostic(c, c.one("undeclared-reference"), code="undeclared-reference",
                          underlined="request.modle", help="did you mean `model`?")

    def test_undefined_variable(self) -> None:
        """`vars.x` for an undeclared variable suggests the declared one."""
        c = Checked(rule("vars.restricted_modl"),
                    headers=('variables:\n  restricted_model: request.model == "x"\n',))
        assert_diagnostic(c, c.one("undeclared-reference"), code="undeclared-reference",
                          underlined="vars.restricted_modl",
                          help="did you mean `restricted_model`?")

    def test_comprehension_variable_is_in_scope(self) -> None:
        """A macro's variable is declared inside its body only."""
        c = Checked(rule('principal.nationalities.exists(n, n == "US") && n == "x"'))
        assert_diagnostic(c, c.one("undeclared-reference"), code="undeclared-reference",
                          underlined="n")

    def test_unknown_function(self) -> None:
        """A call to an unknown function is an undeclared reference with a suggestion."""
        c = Checked(rule('request.model.startWith("x")'))
        d = c.one("undeclared-reference")
        assert c.underlined(d) == 'request.model.startWith("x")'
        assert d.help == "did you mean `startsWith`?"


class TestVariables:
    def test_cycle_is_reported_once(self) -> None:
        """Two variables reading each other are one `variable-cycle` at the first."""
        c = Checked(rule("vars.a"), headers=("variables:\n  a: vars.b\n  b: '!vars.a'\n",))
        d = c.one("variable-cycle")
        assert_diagnostic(c, d, code="variable-cycle", underlined="a")
        assert "`vars.a` -> `vars.b` -> `vars.a`" in d.message

    def test_variable_types_flow_into_rules(self) -> None:
        """A variable's inferred type is checked where the rule uses it."""
        c = Checked(rule("vars.m > 1"), headers=("variables:\n  m: request.model\n",))
        assert_diagnostic(c, c.one("type-mismatch"), code="type-mismatch", underlined="1")

    def test_errors_inside_variables_name_the_variable(self) -> None:
        """A type error in a variable is reported once, in the variable."""
        c = Checked(rule("vars.m"), headers=("variables:\n  m: request.modle == 'x'\n",))
        d = c.one("undeclared-reference")
        assert d.message.startswith("variable `m`: ")


class TestTypes:
    def test_timestamp_compared_with_int(self) -> None:
        """`request.time > 5` underlines the literal and says how to write an instant."""
        c = Checked(rule("request.time > 5"))
        d = c.one("type-mismatch")
        assert_diagnostic(c, d, code="type-mismatch", underlined="5")
        assert "`>` cannot be applied to `timestamp` and `int`" in d.message

    def test_in_a_string(self) -> None:
        """`"US" in principal.country` needs a list: the string operand is underlined."""
        c = Checked(rule('"US" in principal.country'))
        assert_diagnostic(c, c.one("type-mismatch"), code="type-mismatch",
                          underlined="principal.country")

    def test_bool_equals_string(self) -> None:
        """Equality of unrelated types is an error at the literal."""
        c = Checked(rule('principal.nationality_verified == "yes"'))
        assert_diagnostic(c, c.one("type-mismatch"), code="type-mismatch", underlined='"yes"')

    def test_quoted_number_gets_help(self) -> None:
        """Comparing a number with a quoted number suggests dropping the quotes."""
        c = Checked(rule('request.risk_scores["bio"] >= "0.8"'))
        assert c.one("type-mismatch").help == "drop the quotes to compare numbers: `0.8`"

    def test_arithmetic_on_strings(self) -> None:
        """`string + int` has no overload."""
        c = Checked(rule('request.model + 1 == "x"'))
        assert_diagnostic(c, c.one("type-mismatch"), code="type-mismatch", underlined="1")

    def test_heterogeneous_numeric_comparison_is_allowed(self) -> None:
        """CEL compares int, uint and double across kinds."""
        c = Checked(rule('request.risk_scores["bio"] > 1 && 1u < 2.5 && 1 == 1.0'))
        assert c.codes() == []

    def test_function_overload(self) -> None:
        """`size(1)` is `no-matching-overload` listing the accepted signatures."""
        c = Checked(rule("size(1) > 0"))
        d = c.one("no-matching-overload")
        assert_diagnostic(c, d, code="no-matching-overload", underlined="size(1)")
        assert "`size(string)`" in (d.help or "")

    def test_method_overload(self) -> None:
        """A method with a wrong argument type names the receiver type."""
        c = Checked(rule("request.model.startsWith(1)"))
        d = c.one("no-matching-overload")
        assert "`string.startsWith` applied to `(int)`" in d.message

    def test_non_bool_condition(self) -> None:
        """A `when` of type string is `non-bool-condition` over the whole expression."""
        c = Checked(rule("request.model"))
        assert_diagnostic(c, c.one("non-bool-condition"), code="non-bool-condition",
                          underlined="request.model")

    def test_non_bool_unless(self) -> None:
        """`unless` must be bool too."""
        c = Checked(rule("true", extra="    unless: request.risk_scores\n"))
        d = c.one("non-bool-condition")
        assert d.message.startswith("rule `r1`: `unless`: ")

    def test_template_parts_are_checked(self) -> None:
        """`reason` and `message` interpolations are type-checked (any type is fine)."""
        body = rule("true", extra='    reason: "{size(request.model)} {request.modle}"\n')
        c = Checked(body)
        d = c.one("undeclared-reference")
        assert_diagnostic(c, d, code="undeclared-reference", underlined="request.modle")
        assert d.message.startswith("rule `r1`: `reason`: ")

    def test_message_parts_are_checked(self) -> None:
        """An intervention message's interpolation is checked too."""
        c = Checked("""\
            rules:
              - id: r1
                effect: intervene
                intervention:
                  kind: refuse
                  disclosure: visible
                  message: "declined for {reqest.model}"
            """)
        assert_diagnostic(c, c.one("undeclared-reference"), code="undeclared-reference",
                          underlined="reqest")


class TestEnums:
    def test_equality_with_value_outside_enum(self) -> None:
        """Comparing an enum attribute with an undeclared value is `enum-mismatch`."""
        c = Checked(rule('principal.kind == "emplyee"'))
        assert_diagnostic(c, c.one("enum-mismatch"), code="enum-mismatch",
                          underlined='"emplyee"', help="did you mean `employee`?")

    def test_in_literal_list(self) -> None:
        """Each literal of an `in` list is checked against the enum."""
        c = Checked(rule('request.surface in ["api", "web"] || request.surface != "chat"'))
        assert_diagnostic(c, c.one("enum-mismatch"), code="enum-mismatch", underlined='"web"')

    def test_declared_values_pass(self) -> None:
        """Declared values raise nothing."""
        c = Checked(rule('"agent" == request.surface'))
        assert c.codes() == []


class TestLiterals:
    @pytest.mark.parametrize(
        ("pattern", "reason"),
        [
            ("[a-", "missing ]"),
            ("(a)\\\\1", "backreferences are not supported"),
            ("(?=x)y", "lookahead and lookbehind are not supported"),
        ],
        ids=["syntax", "backreference", "lookaround"],
    )
    def test_invalid_regex(self, pattern: str, reason: str) -> None:
        """A literal pattern RE2 rejects is `invalid-regex` at the pattern."""
        c = Checked(rule(f'request.model.matches("{pattern}")'))
        d = c.one("invalid-regex")
        assert_diagnostic(c, d, code="invalid-regex", underlined=f'"{pattern}"')
        assert reason in d.message

    def test_valid_regex(self) -> None:
        """A pattern RE2 accepts raises nothing."""
        assert Checked(rule('matches(request.model, "^fable-[0-9]+$")')).codes() == []

    def test_invalid_timestamp(self) -> None:
        """`timestamp()` of a bad literal is `invalid-timestamp` at the literal."""
        c = Checked(rule('request.time > timestamp("2026-02-30T00:00:00Z")'))
        assert_diagnostic(c, c.one("invalid-timestamp"), code="invalid-timestamp",
                          underlined='"2026-02-30T00:00:00Z"')

    def test_timestamp_without_offset(self) -> None:
        """A timestamp literal without an offset is rejected."""
        c = Checked(rule('request.time > timestamp("2026-02-01T00:00:00")'))
        assert c.codes() == ["invalid-timestamp"]

    def test_invalid_duration(self) -> None:
        """`duration()` of a bad literal is `invalid-duration`."""
        c = Checked(rule('request.time - timestamp("2026-01-01T00:00:00Z") > duration("3d")'))
        assert_diagnostic(c, c.one("invalid-duration"), code="invalid-duration",
                          underlined='"3d"')


SILENT = """\
    rules:
      - id: llm-dev-degrade
        when: request.use_case == "llm-dev"
        effect: intervene
        intervention:
          kind: degrade
          target: small-model
          disclosure: silent
          justification: "research"
    """


class TestForbidSilent:
    def test_silent_intervention_forbidden_by_another_pack(self) -> None:
        """A silent intervention is an error when any pack sets `forbid_silent: true`."""
        forbid = rule("true", rule_id="log")
        c = Checked(SILENT, forbid, headers=("", "forbid_silent: true\n"))
        d = c.one("forbid-silent")
        assert d.message == ("rule `llm-dev-degrade` of pack `p0`: silent intervention "
                             "forbidden by pack `p1`")
        assert d.span is not None
        assert d.span.file == "p0.yaml"
        assert c.report.checked is None

    def test_silent_allowed_without_forbidding_pack(self) -> None:
        """Without `forbid_silent`, a justified silent intervention passes."""
        c = Checked(SILENT)
        assert c.report.ok


class TestOverrides:
    BODY = """\
        rules:
          - id: safety-retention
            obligations:
              retention: {min_days: 30}
            overrides: {retention: contract}
            justification: "safety review needs 30 days"
        """

    def test_every_override_is_listed(self) -> None:
        """Each override is a note and an `OverrideInfo` in the checked set."""
        c = Checked(self.BODY)
        d = c.one("override")
        assert_diagnostic(c, d, code="override", underlined="contract", severity=Severity.NOTE)
        assert d.notes == ("justification: safety review needs 30 days",)
        assert c.report.checked is not None
        (info,) = c.report.checked.overrides
        assert (info.pack, info.rule, info.group, info.tier) == (
            "p0", "safety-retention", "retention", "contract")

    def test_override_of_a_lower_tier_warns(self) -> None:
        """Overriding a tier that is not higher than the pack's own is a warning."""
        c = Checked(self.BODY.replace("contract", "product"))
        assert_diagnostic(c, c.one("override-not-higher"), code="override-not-higher",
                          underlined="product", severity=Severity.WARNING)


def route(rule_id: str, target: str, when: str, priority: int = 0) -> str:
    """A route intervention rule block (without the `rules:` line)."""
    return (f"  - id: {rule_id}\n    when: '{when}'\n    effect: intervene\n"
            f"    priority: {priority}\n    intervention:\n      kind: route\n"
            f"      target: {target}\n      disclosure: visible\n      message: routed\n")


class TestInterventionOverlap:
    def test_unconditional_routes_overlap(self) -> None:
        """Two routes to different models for the same requests warn."""
        c = Checked("rules:\n" + route("a", "m1", "true") + route("b", "m2", "true"))
        d = c.one("intervention-overlap")
        assert d.severity is Severity.WARNING
        assert "rule `b` of pack `p0`: routes to `m2`" in d.message

    def test_disjoint_model_sets_do_not_overlap(self) -> None:
        """Routes pinned to disjoint `request.model` literals cannot both apply."""
        c = Checked("rules:\n" + route("a", "m1", 'request.model == "x"')
                    + route("b", "m2", 'request.model in ["y", "z"]'))
        assert c.of("intervention-overlap") == []

    def test_overlap_through_variables(self) -> None:
        """Constraints are read through `vars.<name>`."""
        c = Checked("rules:\n" + route("a", "m1", 'vars.f && request.use_case == "cyber"')
                    + route("b", "m2", 'request.model == "y"'),
                    headers=('variables:\n  f: request.model in ["x", "y"]\n',))
        assert len(c.of("intervention-overlap")) == 1

    def test_priority_breaks_the_tie(self) -> None:
        """Different priorities decide, so there is nothing to warn about."""
        c = Checked("rules:\n" + route("a", "m1", "true", 1) + route("b", "m2", "true"))
        assert c.of("intervention-overlap") == []

    def test_same_target_is_no_conflict(self) -> None:
        """Two routes to the same model agree."""
        c = Checked("rules:\n" + route("a", "m1", "true") + route("b", "m1", "true"))
        assert c.of("intervention-overlap") == []


class TestUnreachable:
    def test_when_false(self) -> None:
        """`when: false` is an unreachable rule."""
        c = Checked(rule("false"))
        assert_diagnostic(c, c.one("unreachable-rule"), code="unreachable-rule",
                          underlined="false", severity=Severity.WARNING)

    def test_unless_true(self) -> None:
        """`unless: true` also makes a rule unreachable."""
        c = Checked(rule("request.model == 'x'", extra="    unless: 'true'\n"))
        assert c.codes() == ["unreachable-rule"]

    def test_rule_window_outside_pack_window(self) -> None:
        """A rule window disjoint from the pack window never applies."""
        header = 'effective: {from: "2026-06-01T00:00:00Z", until: "2026-07-01T00:00:00Z"}\n'
        extra = '    effective: {from: "2027-01-01T00:00:00Z"}\n'
        c = Checked(rule("true", extra=extra), headers=(header,))
        d = c.one("window-outside-pack")
        assert d.severity is Severity.WARNING
        assert "never applies" in d.message

    def test_rule_window_extending_outside(self) -> None:
        """A rule window that starts before the pack window warns too."""
        header = 'effective: {from: "2026-06-01T00:00:00Z"}\n'
        extra = '    effective: {from: "2026-01-01T00:00:00Z"}\n'
        c = Checked(rule("true", extra=extra), headers=(header,))
        assert "extends outside" in c.one("window-outside-pack").message


class TestCheckedPackSet:
    def test_clean_pack_is_checked(self) -> None:
        """A clean pack set yields parsed conditions, variables and template parts."""
        c = Checked(
            rule("vars.m", extra='    unless: \'"X" in principal.authorizations\'\n'
                 '    reason: "model {request.model} blocked"\n'),
            headers=('variables:\n  m: request.model == "x"\n',),
        )
        assert c.report.ok
        checked = c.report.checked
        assert checked is not None
        (cpack,) = checked.packs
        assert set(cpack.variables) == {"m"}
        (crule,) = cpack.rules
        assert crule.when is not None
        assert crule.unless is not None
        assert crule.reason_parts[0] == "model "
        assert isinstance(crule.reason_parts[1], Expr)
        assert crule.message_parts == ()

    def test_errors_withhold_the_checked_set(self) -> None:
        """Any error leaves `checked` as None and `ok` false."""
        c = Checked(rule("reqest.id == 'x'"))
        assert not c.report.ok
        assert c.report.checked is None
        assert [d.code for d in c.report.errors] == ["undeclared-reference"]
