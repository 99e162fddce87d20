"""Evaluation semantics (docs/semantics.md) on small inline pack sets."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from compliance import Engine, EvaluationError

PackSet = Callable[..., Path]


def ctx(**request: Any) -> dict[str, Any]:
    """A context with a verified customer and a request at a fixed time."""
    base: dict[str, Any] = {
        "time": "2026-07-01T12:00:00Z",
        "model": "fable-5",
        "use_case": "coding",
        "risk_scores": {},
    }
    base.update(request)
    return {
        "principal": {"id": "p", "kind": "customer", "nationalities": ["US"], "authorizations": []},
        "org": {"id": "o", "zdr": False},
        "request": base,
    }


def engine_for(packset: PackSet, *packs: str, default: str = "allow") -> Engine:
    files = {f"p{i}.yaml": text for i, text in enumerate(packs)}
    return Engine.from_path(packset(files, default=default))


DENY_BIO = """
pack: bio
version: "1"
tier: policy
rules:
  - id: bio-high
    when: request.use_case == "bio" && request.risk_scores["bio"] >= 0.8
    effect: deny
    reason: "bio request with score {request.risk_scores['bio']}"
"""

ALLOW_ALL = """
pack: allow-all
version: "1"
tier: product
rules:
  - id: everyone
    effect: allow
"""


class TestCombination:
    def test_deny_overrides_allow(self, packset: PackSet) -> None:
        """An applicable deny wins over an applicable allow, across tiers."""
        engine = engine_for(packset, DENY_BIO, ALLOW_ALL)
        d = engine.evaluate(ctx(use_case="bio", risk_scores={"bio": 0.9}))
        assert d.effect == "deny"
        assert d.model is None
        assert {(m.pack, m.rule) for m in d.matched} == {
            ("bio", "bio-high"),
            ("allow-all", "everyone"),
        }
        assert d.reasons == ["bio request with score 0.9"]

    def test_default_allow(self, packset: PackSet) -> None:
        """With nothing applicable, the default effect (allow) serves the requested model."""
        d = engine_for(packset, DENY_BIO).evaluate(ctx())
        assert (d.effect, d.model, d.matched) == ("allow", "fable-5", [])

    def test_default_deny_needs_an_allow(self, packset: PackSet) -> None:
        """With default deny, only an applicable allow rule lets a request through."""
        assert engine_for(packset, DENY_BIO, default="deny").evaluate(ctx()).effect == "deny"
        assert (
            engine_for(packset, DENY_BIO, ALLOW_ALL, default="deny").evaluate(ctx()).effect
            == "allow"
        )


UNKNOWNS = """
pack: unknowns
version: "1"
tier: law
rules:
  - id: needs-nationality
    when: '!("US" in principal.nationalities)'
    effect: deny
  - id: skip-on-unknown
    when: org.zdr
    effect: deny
    on_unknown: skip
  - id: error-on-unknown
    when: request.use_case == "chem" && request.risk_scores["chem"] > 0.5
    effect: deny
    on_unknown: error
"""


class TestUnknowns:
    def test_missing_attribute_fails_closed(self, packset: PackSet) -> None:
        """A deny rule that cannot be decided applies (fail closed) and names the missing path."""
        c = ctx()
        del c["principal"]["nationalities"]
        d = engine_for(packset, UNKNOWNS).evaluate(c)
        assert d.effect == "deny"
        assert "principal.nationalities" in d.missing
        assert [m.rule for m in d.matched if m.fail_closed] == ["needs-nationality"]

    def test_skip_reports_but_does_not_deny(self, packset: PackSet) -> None:
        """`on_unknown: skip` ignores the rule but still reports what was missing."""
        c = ctx()
        del c["org"]["zdr"]
        d = engine_for(packset, UNKNOWNS).evaluate(c)
        assert d.effect == "allow"
        assert d.missing == ["org.zdr"]

    def test_error_policy_records_an_error(self, packset: PackSet) -> None:
        """`on_unknown: error` turns a missing map key into an evaluation error and denies."""
        d = engine_for(packset, UNKNOWNS).evaluate(ctx(use_case="chem"))
        assert d.effect == "deny"
        assert [(e.rule, e.code) for e in d.errors] == [("error-on-unknown", "unknown-attribute")]
        assert d.missing == ["request.risk_scores.chem"]

    def test_absorbed_unknown_is_not_missing(self, packset: PackSet) -> None:
        """`false && unknown` is false: a rule whose other side is false reports nothing."""
        c = ctx(use_case="coding")
        d = engine_for(packset, UNKNOWNS).evaluate(c)
        assert d.missing == []
        assert d.effect == "allow"


ERRORS = """
pack: errors
version: "1"
tier: policy
rules:
  - id: time-compare
    when: request.time > timestamp("2026-01-01T00:00:00Z")
    effect: intervene
    intervention: {kind: modify, disclosure: visible, message: "note", instruction: "be careful"}
"""


class TestErrors:
    def test_bad_context_value_fails_closed(self, packset: PackSet) -> None:
        """A malformed `request.time` denies with a `bad-context` error naming the attribute."""
        d = engine_for(packset, ERRORS).evaluate(ctx(time="yesterday"))
        assert d.effect == "deny"
        assert d.errors
        assert d.errors[0].code == "bad-context"
        assert "request.time" in d.errors[0].message

    def test_strict_mode_raises(self, packset: PackSet) -> None:
        """`strict=True` raises instead of returning a fail-closed decision."""
        with pytest.raises(EvaluationError):
            engine_for(packset, ERRORS).evaluate(ctx(time="yesterday"), strict=True)

    def test_context_not_an_object(self, packset: PackSet) -> None:
        """A context that is not a mapping is a fail-closed decision, not an exception."""
        d = engine_for(packset, ERRORS).evaluate([1, 2])  # type: ignore[arg-type]
        assert d.effect == "deny"
        assert d.errors[0].code == "bad-context"


def route(pack: str, tier: str, target: str, *, when: str = "true", priority: int = 0) -> str:
    return f"""
pack: {pack}
version: "1"
tier: {tier}
rules:
  - id: {pack}-route
    when: '{when}'
    effect: intervene
    priority: {priority}
    intervention:
      {{kind: route, target: {target}, disclosure: visible, message: "routed to {target}"}}
"""


DENY_OPUS = """
pack: deny-opus
version: "1"
tier: law
rules:
  - id: no-opus
    when: request.model == "opus-4.8"
    effect: deny
"""


class TestRouting:
    def test_route_is_evaluated_again(self, packset: PackSet) -> None:
        """A route serves the target model and records both passes."""
        d = engine_for(
            packset, route("r", "policy", "opus-4.8", when='request.model == "fable-5"')
        ).evaluate(ctx())
        assert (d.effect, d.model) == ("allow", "opus-4.8")
        assert [p.model for p in d.passes] == ["fable-5", "opus-4.8"]
        assert [(i.kind, i.target, i.disclosure) for i in d.interventions] == [
            ("route", "opus-4.8", "visible")
        ]
        assert "routed to opus-4.8" in d.reasons

    def test_route_to_denied_model_ends_in_deny(self, packset: PackSet) -> None:
        """A fallback can never reach a model the packs deny."""
        d = engine_for(
            packset, route("r", "policy", "opus-4.8", when='request.model == "fable-5"'), DENY_OPUS
        ).evaluate(ctx())
        assert d.effect == "deny"
        assert len(d.passes) == 2
        assert d.passes[1].effect == "deny"

    def test_deny_beats_route(self, packset: PackSet) -> None:
        """When a deny applies in the first pass, there is no routing at all."""
        d = engine_for(packset, route("r", "policy", "opus-4.8"), DENY_BIO).evaluate(
            ctx(use_case="bio", risk_scores={"bio": 0.95})
        )
        assert d.effect == "deny"
        assert len(d.passes) == 1
        assert d.interventions == []

    def test_second_route_fails_closed(self, packset: PackSet) -> None:
        """A route in the second pass to yet another model is a `route-loop` error."""
        d = engine_for(
            packset,
            route("a", "policy", "m2", when='request.model == "fable-5"'),
            route("b", "policy", "m3", when='request.model == "m2"'),
        ).evaluate(ctx())
        assert d.effect == "deny"
        assert [e.code for e in d.errors] == ["route-loop"]

    def test_higher_tier_route_wins(self, packset: PackSet) -> None:
        """Two routes to different targets: the higher tier wins, the other is reported."""
        d = engine_for(
            packset, route("low", "product", "m-low"), route("high", "law", "m-high")
        ).evaluate(ctx())
        assert d.model == "m-high"
        assert any("not applied" in r for r in d.reasons)

    def test_priority_breaks_tier_ties(self, packset: PackSet) -> None:
        """Within one tier, the higher priority route wins."""
        d = engine_for(
            packset,
            route("a", "policy", "m-a", priority=1),
            route("b", "policy", "m-b", priority=5),
        ).evaluate(ctx())
        assert d.model == "m-b"


ZDR = """
pack: zdr
version: "1"
tier: contract
rules:
  - id: zdr-contract
    when: org.zdr
    obligations:
      retention: {max_days: 0}
      training: prohibited
"""

SAFETY = """
pack: safety
version: "1"
tier: policy
rules:
  - id: safety-retention
    when: request.model == "fable-5"
    obligations:
      retention: {min_days: 30, purpose: safety-review}
      training: prohibited
    overrides: {retention: contract}
    justification: "safety review needs 30 days of data"
"""

SAFETY_NO_OVERRIDE = """
pack: safety
version: "1"
tier: policy
rules:
  - id: safety-retention
    when: request.model == "fable-5"
    obligations:
      retention: {min_days: 30}
"""


class TestObligations:
    def test_override_wins_conflict(self, packset: PackSet) -> None:
        """A justified override lets the policy floor beat the contract ceiling, on record."""
        c = ctx()
        c["org"]["zdr"] = True
        d = engine_for(packset, ZDR, SAFETY).evaluate(c)
        assert d.obligations.retention_min_days == 30
        assert d.obligations.retention_max_days is None
        assert d.obligations.training == "prohibited"
        [conflict] = d.conflicts
        assert conflict.obligation == "retention"
        assert (conflict.winner.pack, conflict.winner.rule) == ("safety", "safety-retention")
        assert [(o.pack, o.rule) for o in conflict.overridden] == [("zdr", "zdr-contract")]
        assert "safety review needs 30 days" in conflict.why

    def test_higher_tier_wins_without_override(self, packset: PackSet) -> None:
        """Without an override the contract tier keeps its ceiling and the floor is dropped."""
        c = ctx()
        c["org"]["zdr"] = True
        d = engine_for(packset, ZDR, SAFETY_NO_OVERRIDE).evaluate(c)
        assert d.obligations.retention_max_days == 0
        assert d.obligations.retention_min_days is None
        assert d.conflicts[0].winner.rule == "zdr-contract"

    def test_no_conflict_on_other_models(self, packset: PackSet) -> None:
        """The ZDR ceiling alone holds when the safety floor does not apply."""
        c = ctx(model="other")
        c["org"]["zdr"] = True
        d = engine_for(packset, ZDR, SAFETY).evaluate(c)
        assert (d.obligations.retention_max_days, d.obligations.retention_min_days) == (0, None)
        assert d.conflicts == []

    def test_obligations_apply_to_denied_requests(self, packset: PackSet) -> None:
        """Obligations are merged even when the request is denied."""
        c = ctx(use_case="bio", risk_scores={"bio": 1.0})
        d = engine_for(packset, SAFETY, DENY_BIO).evaluate(c)
        assert d.effect == "deny"
        assert d.obligations.retention_min_days == 30

    def test_provenance(self, packset: PackSet) -> None:
        """Each merged obligation names the rules that set it and is must-understand."""
        c = ctx()
        c["org"]["zdr"] = True
        d = engine_for(packset, ZDR, SAFETY).evaluate(c)
        training = next(x for x in d.obligation_details if x.kind == "training")
        assert {r.pack for r in training.set_by} == {"zdr", "safety"}
        assert all(x.must_understand for x in d.obligation_details)


WINDOWED = """
pack: windowed
version: "1"
tier: law
effective: {from: "2026-06-12T17:21:00[America/New_York]"}
rules:
  - id: suspended
    when: request.model == "fable-5"
    effect: deny
  - id: ends
    effective: {until: "2026-09-01T00:00:00Z"}
    when: request.model == "m-ending"
    effect: deny
"""


class TestWindows:
    @pytest.mark.parametrize(
        ("time", "effect"),
        [
            ("2026-06-12T21:20:59.999999999Z", "allow"),
            ("2026-06-12T21:21:00Z", "deny"),
            ("2026-06-12T17:21:00-04:00", "deny"),
        ],
    )
    def test_from_is_inclusive(self, packset: PackSet, time: str, effect: str) -> None:
        """The window opens exactly at 17:21 New York time (21:21Z in summer), inclusive."""
        assert engine_for(packset, WINDOWED).evaluate(ctx(time=time)).effect == effect

    def test_until_is_exclusive(self, packset: PackSet) -> None:
        """At the `until` instant the rule no longer applies."""
        engine = engine_for(packset, WINDOWED)
        assert engine.evaluate(ctx(model="m-ending", time="2026-08-31T23:59:59Z")).effect == "deny"
        assert engine.evaluate(ctx(model="m-ending", time="2026-09-01T00:00:00Z")).effect == "allow"

    def test_valid_until_is_next_edge(self, packset: PackSet) -> None:
        """`valid_until` is the next window edge after the request time."""
        engine = engine_for(packset, WINDOWED)
        before = engine.evaluate(ctx(time="2026-06-01T00:00:00Z"))
        assert before.valid_until is not None
        assert before.valid_until.isoformat() == "2026-06-12T21:21:00+00:00"
        after = engine.evaluate(ctx(time="2026-10-01T00:00:00Z"))
        assert after.valid_until is None

    def test_missing_time_fails_closed(self, packset: PackSet) -> None:
        """Without `request.time` a windowed deny rule fails closed and says why."""
        c = ctx()
        del c["request"]["time"]
        d = engine_for(packset, WINDOWED).evaluate(c)
        assert d.effect == "deny"
        assert "request.time" in d.missing


class TestAudit:
    def test_json_has_section_5_fields(self, packset: PackSet) -> None:
        """The JSON record carries every core field of docs/decision.md."""
        d = engine_for(packset, DENY_BIO).evaluate(ctx())
        record = json.loads(d.model_dump_json())
        for name in [
            "effect",
            "model",
            "interventions",
            "obligations",
            "conflicts",
            "matched",
            "missing",
            "errors",
            "reasons",
            "valid_until",
            "decision_id",
            "evaluated_at",
            "packs",
            "pack_set_digest",
            "context_digest",
        ]:
            assert name in record
        assert record["packs"][0]["id"] == "bio"
        assert record["packs"][0]["digest"].startswith("sha256:")
        assert {"retention_min_days", "retention_max_days", "training"} <= set(
            record["obligations"]
        )

    def test_context_digest_is_stable(self, packset: PackSet) -> None:
        """Equal contexts digest equally regardless of key order; different ones do not."""
        engine = engine_for(packset, DENY_BIO)
        a = engine.evaluate(ctx())
        reordered = dict(reversed(list(ctx().items())))
        assert engine.evaluate(reordered).context_digest == a.context_digest
        assert engine.evaluate(ctx(model="x")).context_digest != a.context_digest

    def test_replay_gives_same_decision(self, packset: PackSet) -> None:
        """Same pack set and context give the same decision, ids and timestamps aside."""
        engine = engine_for(packset, DENY_BIO, ALLOW_ALL)
        c = ctx(use_case="bio", risk_scores={"bio": 0.9})
        skip = {"decision_id", "evaluated_at"}
        assert engine.evaluate(c).model_dump(exclude=skip) == engine.evaluate(c).model_dump(
            exclude=skip
        )


class TestExplain:
    def test_statuses(self, packset: PackSet) -> None:
        """`explain=True` says per rule why it did or did not apply."""
        engine = engine_for(packset, WINDOWED, UNKNOWNS)
        c = ctx(time="2026-01-01T00:00:00Z")
        del c["org"]["zdr"]
        d = engine.evaluate(c, explain=True)
        assert d.explanation is not None
        status = {x.rule: x.status for x in d.explanation}
        assert status["suspended"] == "not-effective"
        assert status["needs-nationality"] == "condition-false"
        assert status["skip-on-unknown"] == "unknown-skipped"


class TestThreads:
    def test_concurrent_evaluations_agree(self, packset: PackSet) -> None:
        """One engine shared by many threads gives every thread the same decisions."""
        engine = engine_for(
            packset, DENY_BIO, route("r", "policy", "opus-4.8", when='request.model == "fable-5"')
        )
        contexts = [ctx(), ctx(use_case="bio", risk_scores={"bio": 0.9}), ctx(model="x")]
        expected = [(d.effect, d.model) for d in map(engine.evaluate, contexts)]
        failures: list[object] = []

        def work() -> None:
            for _ in range(200):
                got = [(d.effect, d.model) for d in map(engine.evaluate, contexts)]
                if got != expected:
                    failures.append(got)

        threads = [threading.Thread(target=work) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert failures == []


class TestRequestTime:
    @pytest.mark.parametrize(
        "text",
        [
            "2026-07-01T12:00:00Z",
            "2026-07-01T12:00:00.123456+02:00",
            "2026-07-01T12:00:00.123456789Z",
            "2026-07-01T12:00:00.1234567-05:00",
            "2026-07-01t12:00:00.5z",
            "2026-07-01T23:59:59-00:30",
        ],
    )
    def test_fast_path_is_exact(self, text: str) -> None:
        """The fast request-time path agrees with the strict nanosecond parser."""
        from compliance.cel.values import parse_timestamp
        from compliance.evaluator import _request_time

        assert _request_time({"time": text}, []) == (
            parse_timestamp(text).nanos,
            False,
        )

    @pytest.mark.parametrize(
        "text",
        [
            "2026-07-01 12:00:00Z",
            "2026-07-01T12:00:00",
            "2026-13-01T12:00:00Z",
            "2026-07-01T12:00:00,5Z",
            "tomorrow",
        ],
    )
    def test_malformed_times_are_errors(self, text: str) -> None:
        """Shapes RFC 3339 does not allow are context errors, even if fromisoformat takes them."""
        from compliance.evaluator import _request_time

        errors: list[object] = []
        assert _request_time({"time": text}, errors) == (None, False)  # type: ignore[arg-type]
        assert errors
