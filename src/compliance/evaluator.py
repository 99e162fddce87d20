"""Stage 4: evaluate a plan against one request context and build the ``Decision``.

The error policy lives here, written down once:

* a condition that cannot be decided because attributes are absent follows the rule's
  ``on_unknown``: ``deny`` counts the rule as matched (fail closed; for an ``allow`` rule
  this denies the request), ``skip`` ignores it, ``error`` turns it into an error; the
  absent paths are reported in ``missing`` either way;
* an evaluation error (bad context value, overflow, a second route …) makes the whole
  decision ``deny``; the erroring rule counts as matched unless it is an ``allow`` rule,
  and the error is listed with its pack, rule and location. ``strict=True`` raises
  ``EvaluationError`` instead;
* any applicable deny wins; then interventions apply; otherwise the default effect.

Evaluation is pure: no I/O, no logging, no clock except ``evaluated_at``.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Literal

from compliance.compiler import request_activation
from compliance.conform import Nonconforming, describe, reader
from compliance.decision import (
    Decision,
    EvalError,
    InterventionOut,
    Match,
    RoutingPass,
    RuleExplanation,
    build,
)
from compliance.errors import EvaluationError
from compliance.obligations import merge_obligations
from compliance.planner import Plan, PlannedRule, TemplatePart
from compliance.schema import STRING, CelType, Limits
from compliance.values import CelEvalError, CelUnknown, Timestamp, to_timestamp

Status = Literal[
    "applied", "not-effective", "condition-false", "exception-held",
    "unknown-applied", "unknown-skipped", "error",
]
_ROUTING_KINDS = frozenset({"route", "degrade"})
_MAX_PASSES = 2
# Decision ids: a random per-process prefix and a counter, UUID-shaped. uuid4() costs a
# system call per decision; uniqueness only needs the prefix to differ between processes.
_ID_PREFIX = os.urandom(10).hex()
_ID_PREFIX = f"{_ID_PREFIX[:8]}-{_ID_PREFIX[8:12]}-{_ID_PREFIX[12:16]}-{_ID_PREFIX[16:20]}-"
_ID_COUNTER = itertools.count()


@dataclass(slots=True)
class _Outcome:
    """How one rule came out in one pass."""

    rule: PlannedRule
    status: Status
    missing: frozenset[str] = frozenset()
    error: EvalError | None = None


@dataclass(slots=True)
class _Pass:
    """The result of evaluating every rule once for one model."""

    model: str | None
    ctx: Mapping[str, Any]
    outcomes: list[_Outcome] = field(default_factory=list)
    applied: list[_Outcome] = field(default_factory=list)
    route_to: str | None = None
    effect: Literal["allow", "deny"] = "allow"


def evaluate(plan: Plan, context: Mapping[str, Any], *, strict: bool = False,
             explain: bool = False) -> Decision:
    """Decide one request. Never raises unless ``strict`` (see the module docstring)."""
    errors: list[EvalError] = []
    if not isinstance(context, Mapping):
        kind = type(context).__name__
        errors.append(_context_error(f"context must be a JSON object, got {kind}"))
        context = {}
    at, time_missing = _request_time(context, errors)
    passes: list[_Pass] = []
    model = _current_model(plan, context)
    ctx: Mapping[str, Any] = request_activation(context)
    reasons: list[str] = []
    interventions: list[InterventionOut] = []
    while True:
        number = len(passes) + 1
        current = _run_pass(plan, ctx, at, model, time_missing=time_missing, errors=errors,
                            explain=explain)
        passes.append(current)
        _collect_effect(current, number, errors, reasons, interventions)
        target = current.route_to
        if current.effect == "deny" or target is None or target == model:
            break
        if number >= _MAX_PASSES:
            errors.append(_route_loop_error(current, model, target))
            current.effect = "deny"
            break
        reasons.append(f"routed from `{model}` to `{target}`; evaluated again for `{target}`")
        model = target
        ctx = _with_model(ctx, target)
    if strict and errors:
        first = errors[0]
        where = f" (at {first.location})" if first.location else ""
        raise EvaluationError(first.code, first.message + where, pack=first.pack or None,
                              rule=first.rule or None)
    return _decision(plan, context, passes, at, errors=errors, reasons=reasons,
                     interventions=interventions, explain=explain)


# --- one pass ---------------------------------------------------------------------------


def _run_pass(plan: Plan, ctx: Mapping[str, Any], at: int | None, model: str | None, *,
              time_missing: bool, errors: list[EvalError], explain: bool) -> _Pass:
    """Evaluate the candidate rules (every rule when explaining) for one model."""
    current = _Pass(model=model, ctx=ctx)
    rules = plan.rules
    positions = range(len(rules)) if explain else plan.index.candidates(ctx)
    for position in positions:
        rule = rules[position]
        outcome = _run_rule(rule, ctx, at, time_missing)
        current.outcomes.append(outcome)
        if outcome.error is not None:
            errors.append(outcome.error)
        if outcome.status in ("applied", "unknown-applied") or (
            outcome.status == "error" and rule.effect != "allow"
        ):
            current.applied.append(outcome)
    return current


def _run_rule(rule: PlannedRule, ctx: Mapping[str, Any], at: int | None,
              time_missing: bool) -> _Outcome:
    """Window, then ``when``, then ``unless``, in three-valued logic (CEL: unknown beats error)."""
    missing: set[str] = set()
    if rule.has_window:
        if at is None:
            if time_missing:
                missing.add("request.time")
            else:
                return _Outcome(rule, "not-effective")  # malformed time: already an error
        elif (rule.start is not None and at < rule.start) or (
            rule.until is not None and at >= rule.until
        ):
            return _Outcome(rule, "not-effective")
    error: CelEvalError | None = None
    when = _truth(rule.when, ctx, missing) if rule.when is not None else True
    if when is False:
        return _Outcome(rule, "condition-false")
    if isinstance(when, CelEvalError):
        error = when
    if rule.unless is not None:
        missing_unless: set[str] = set()
        held = _truth(rule.unless, ctx, missing_unless)
        if held is True:
            return _Outcome(rule, "exception-held")
        missing |= missing_unless
        if isinstance(held, CelEvalError) and error is None:
            error = held
    if missing:
        return _unknown(rule, frozenset(missing))
    if error is not None:
        return _Outcome(rule, "error", error=_rule_error(rule, error.code, error.message))
    return _Outcome(rule, "applied")


def _truth(program: Any, ctx: Mapping[str, Any], missing: set[str]) -> bool | CelEvalError | None:
    """Run a condition: True/False, an error value, or None (unknown, paths added)."""
    try:
        value = program(ctx)
    except CelUnknown as unknown:
        missing |= unknown.paths
        return None
    except CelEvalError as error:
        return error
    except RecursionError:
        return CelEvalError("cost-limit", "expression too deeply nested to evaluate", 0, 0)
    if value is True or value is False:
        return value
    return CelEvalError("eval-type-error", f"condition is not a bool: got `{value!r}`", 0, 0)


def _unknown(rule: PlannedRule, missing: frozenset[str]) -> _Outcome:
    policy = rule.unknown_policy
    if policy == "skip":
        return _Outcome(rule, "unknown-skipped", missing)
    if policy == "error":
        names = ", ".join(f"`{m}`" for m in sorted(missing))
        err = _rule_error(rule, "unknown-attribute", f"needed attributes are missing: {names}")
        return _Outcome(rule, "error", missing, err)
    return _Outcome(rule, "unknown-applied", missing)


def _collect_effect(current: _Pass, number: int, errors: list[EvalError], reasons: list[str],
                    interventions: list[InterventionOut]) -> None:
    """Combine the applied rules of one pass: deny-overrides, then interventions."""
    denied = False
    routes: list[_Outcome] = []
    for outcome in current.applied:
        rule = outcome.rule
        if outcome.status == "error":
            denied = True
            reasons.append(f"rule `{rule.rule.id}` of pack `{rule.pack.id}` failed to evaluate; "
                           "failing closed")
        elif rule.effect == "deny" or (
            rule.effect == "allow" and outcome.status == "unknown-applied"
        ):
            denied = True
            reasons.append(_reason(rule, outcome, current.ctx))
        elif rule.effect == "intervene" and rule.intervention is not None:
            if rule.intervention.kind == "refuse":
                denied = True
                interventions.append(_intervention_out(rule, None, number, current.ctx))
                reasons.append(_message(rule, current.ctx) or _reason(rule, outcome, current.ctx))
            elif rule.intervention.kind in _ROUTING_KINDS:
                routes.append(outcome)
            else:
                interventions.append(_intervention_out(rule, None, number, current.ctx))
                _add_visible_reason(rule, reasons, current.ctx)
    if errors:
        denied = True
    if denied:
        current.effect = "deny"
        return
    if routes:
        current.route_to = _choose_route(routes, number, current.ctx, reasons, interventions)
    current.effect = "allow"


def _choose_route(routes: list[_Outcome], number: int, ctx: Mapping[str, Any], reasons: list[str],
                  interventions: list[InterventionOut]) -> str:
    """Pick the route by tier, then priority, then pack and rule id; report the losers."""
    def rank(o: _Outcome) -> tuple[int, int, str, str]:
        return (-o.rule.tier_rank, -o.rule.rule.priority, o.rule.pack.id, o.rule.rule.id)

    ordered = sorted(routes, key=rank)
    winner = ordered[0].rule
    assert winner.intervention is not None
    target = winner.intervention.target or ""
    for outcome in ordered:
        rule = outcome.rule
        assert rule.intervention is not None
        if rule.intervention.target == target:
            interventions.append(_intervention_out(rule, target, number, ctx))
            _add_visible_reason(rule, reasons, ctx)
        else:
            reasons.append(
                f"route to `{rule.intervention.target}` by rule `{rule.rule.id}` of pack "
                f"`{rule.pack.id}` not applied: rule `{winner.rule.id}` of pack "
                f"`{winner.pack.id}` routes to `{target}` with higher precedence"
            )
    return target


def _add_visible_reason(rule: PlannedRule, reasons: list[str], ctx: Mapping[str, Any]) -> None:
    visible = rule.intervention is not None and rule.intervention.disclosure == "visible"
    text = _message(rule, ctx) if visible else None
    reasons.append(text or _reason(rule, None, ctx))


# --- text ---------------------------------------------------------------------------------


def _render(parts: tuple[TemplatePart, ...], ctx: Mapping[str, Any]) -> str:
    out: list[str] = []
    for part in parts:
        if isinstance(part, str):
            out.append(part)
            continue
        try:
            out.append(_text(part(ctx)))
        except CelUnknown as unknown:
            out.append("<missing " + ", ".join(sorted(unknown.paths)) + ">")
        except CelEvalError:
            out.append("<error>")
    return "".join(out)


def _text(value: object) -> str:
    if value is True or value is False:
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_text(v) for v in value) + "]"
    return str(value)


def _reason(rule: PlannedRule, outcome: _Outcome | None, ctx: Mapping[str, Any]) -> str:
    prefix = ""
    if outcome is not None and outcome.status == "unknown-applied":
        names = ", ".join(f"`{m}`" for m in sorted(outcome.missing))
        prefix = f"failing closed: rule `{rule.rule.id}` could not be decided without {names}: "
    if rule.reason is not None:
        return prefix + _render(rule.reason, ctx)
    verb = {"deny": "denies", "allow": "allows", "intervene": "intervenes", "obligate": "applies"}
    return f"{prefix}rule `{rule.rule.id}` of pack `{rule.pack.id}` {verb[rule.effect]}"


def _message(rule: PlannedRule, ctx: Mapping[str, Any]) -> str | None:
    return _render(rule.message, ctx) if rule.message is not None else None


def _intervention_out(rule: PlannedRule, target: str | None, number: int,
                      ctx: Mapping[str, Any]) -> InterventionOut:
    iv = rule.intervention
    assert iv is not None
    return InterventionOut.model_construct(
        kind=iv.kind, target=target or iv.target, disclosure=iv.disclosure,
        message=_message(rule, ctx), pack=rule.pack.id, rule=rule.rule.id,
        justification=iv.justification, instruction=iv.instruction, routing_pass=number,
    )


# --- context helpers ----------------------------------------------------------------------


def _request_time(context: Mapping[str, Any], errors: list[EvalError]) -> tuple[int | None, bool]:
    """``request.time`` as epoch ns; (None, True) when absent, (None, False) when malformed.

    A ``Timestamp`` or an aware ``datetime`` is used as it is; a naive ``datetime`` is an
    error. Text goes through ``_fast_rfc3339``, which accepts exactly what the strict
    parser ``values.parse_timestamp`` accepts, or defers to it.
    """
    request = context.get("request")
    if not isinstance(request, Mapping) or request.get("time") is None:
        return None, True
    value = request["time"]
    moment = _fast_rfc3339(value) if type(value) is str else None
    try:
        stamp = to_timestamp(value if moment is None else moment)
    except (ValueError, CelEvalError) as exc:
        errors.append(_context_error(f"`request.time` must be an RFC 3339 timestamp: {exc}"))
        return None, False
    if stamp is None:
        kind = describe(request["time"])
        errors.append(_context_error(f"`request.time` must be an RFC 3339 timestamp, got {kind}"))
        return None, False
    return stamp.nanos, False


def _fast_rfc3339(text: str) -> datetime | None:
    """Parse ``YYYY-MM-DDTHH:MM:SS[.ffffff](Z|±HH:MM)`` quickly; None for any other shape.

    ``fromisoformat`` is fast but lenient (``12:10.00``, an offset of ``+01:90``, non-ASCII
    digits, seven fraction digits), so it only sees text whose every character this
    function has checked against the strict grammar; anything else, lower-case ``t``/``z``
    included, is left to the strict nanosecond parser. A Hypothesis differential test
    holds the two to the same answers.
    """
    n = len(text)
    if not 20 <= n <= 32 or not text.isascii():
        return None
    if text[4] != "-" or text[7] != "-" or text[10] != "T" or text[13] != ":" or text[16] != ":":
        return None
    if text[-1] == "Z":
        body = n - 1
    elif text[-6] in "+-" and text[-3] == ":":
        body = n - 6
        hours, minutes = text[-5:-3], text[-2:]
        if not (hours.isdigit() and minutes.isdigit()) or hours > "23" or minutes > "59":
            return None
    else:
        return None
    fields = text[0:4] + text[5:7] + text[8:10] + text[11:13] + text[14:16] + text[17:19]
    if not fields.isdigit():
        return None
    if body != 19 and not (text[19] == "." and 21 <= body <= 26 and text[20:body].isdigit()):
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _current_model(plan: Plan, context: Mapping[str, Any]) -> str | None:
    """``request.model`` as the rules read it (conformed: normalised, within the limits)."""
    request = context.get("request")
    model = request.get("model") if isinstance(request, Mapping) else None
    if model is None:
        return None
    schema = plan.schema
    declared = schema.lookup("request.model") if schema is not None else None
    limits = schema.limits if schema is not None else Limits()
    try:
        value = _model_reader(declared or STRING, limits)(model)
    except Nonconforming:
        return None  # the rules reading it report the error
    return value if isinstance(value, str) else None


@lru_cache(maxsize=16)
def _model_reader(declared: CelType, limits: Limits) -> Callable[[object], Any]:
    """The judgement of ``request.model`` for one schema (its verdicts cached by text)."""
    return reader(declared, "request.model", limits)


def _with_model(ctx: Mapping[str, Any], model: str) -> dict[str, Any]:
    out = dict(ctx)
    request = ctx.get("request")
    out["request"] = {**(request if isinstance(request, Mapping) else {}), "model": model}
    return out


def _context_error(message: str) -> EvalError:
    return EvalError.model_construct(pack="", rule="", code="bad-context", message=message,
                                     location=None)


def _rule_error(rule: PlannedRule, code: str, message: str) -> EvalError:
    span = rule.rule.when.span if rule.rule.when is not None else rule.rule.span
    location = f"{span.file}:{span.start.line + 1}:{span.start.col + 1}"
    return EvalError.model_construct(pack=rule.pack.id, rule=rule.rule.id, code=code,
                                     message=message, location=location)


def _route_loop_error(current: _Pass, model: str | None, target: str) -> EvalError:
    router = next(o.rule for o in current.applied if o.rule.effect == "intervene")
    return _rule_error(router, "route-loop",
                       f"second route in one decision (`{model}` to `{target}`); failing closed")


# --- the decision -------------------------------------------------------------------------


def _decision(plan: Plan, context: Mapping[str, Any], passes: list[_Pass], at: int | None, *,
              errors: list[EvalError], reasons: list[str],
              interventions: list[InterventionOut], explain: bool) -> Decision:
    final = passes[-1]
    effect = final.effect
    applied = [(n, o) for n, p in enumerate(passes, 1) for o in p.applied]
    obligations, details, conflicts = merge_obligations([o.rule for _, o in applied])
    missing = sorted({m for p in passes for o in p.outcomes for m in o.missing})
    if effect == "allow" and plan.default_effect == "deny" and not any(
        o.rule.effect in ("allow", "intervene") for _, o in applied
    ):
        effect = "deny"
        reasons.append("no rule allowed the request and the pack set's default effect is deny")
    if effect == "deny":
        interventions = [i for i in interventions if i.kind == "refuse"]
    boundary = plan.next_boundary(at) if at is not None else None
    fields = {
        "effect": effect,
        "model": final.model if effect == "allow" else None,
        "interventions": interventions,
        "obligations": obligations,
        "obligation_details": details,
        "conflicts": conflicts,
        "matched": [_match(n, o) for n, o in applied],
        "missing": missing,
        "errors": errors,
        "reasons": reasons,
        "valid_until": _from_nanos(boundary) if boundary is not None else None,
        "passes": [_routing_pass(p) for p in passes],
        "decision_id": f"{_ID_PREFIX}{next(_ID_COUNTER) & 0xFFFFFFFFFFFF:012x}",
        "evaluated_at": datetime.now(UTC),
        "packs": list(plan.pack_infos),
        "pack_set_digest": plan.pack_set_digest,
        "schema_version": 1,
        "explanation": _explanation(passes) if explain else None,
        "context_digest_value": None,
    }
    return build(Decision, fields, {"_context": context})  # context digested lazily


def _match(number: int, outcome: _Outcome) -> Match:
    failed = outcome.status in ("unknown-applied", "error")
    return outcome.rule.matches[number - 1 + (2 if failed else 0)]


def _routing_pass(p: _Pass) -> RoutingPass:
    return build(RoutingPass, {"model": p.model, "effect": p.effect,
                               "matched": [o.rule.ref for o in p.applied],
                               "route_to": p.route_to})


_DETAIL: dict[str, str] = {
    "applied": "conditions held",
    "not-effective": "request.time is outside the effective window",
    "condition-false": "`when` is false",
    "exception-held": "`unless` held",
    "unknown-applied": "attributes missing; failing closed",
    "unknown-skipped": "attributes missing; skipped (on_unknown: skip)",
    "error": "evaluation error",
}


def _explanation(passes: list[_Pass]) -> list[RuleExplanation]:
    return [
        RuleExplanation.model_construct(
            pack=o.rule.pack.id, rule=o.rule.rule.id, routing_pass=n, status=o.status,
            detail=o.error.message if o.error is not None else _DETAIL[o.status],
            missing=sorted(o.missing),
        )
        for n, p in enumerate(passes, 1) for o in p.outcomes
    ]


def _from_nanos(nanos: int) -> datetime:
    return Timestamp(nanos).to_datetime()
