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
import re
import sys
from bisect import bisect_right
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Final, Literal, NamedTuple

from compliance.canonical import context_json, digest_json
from compliance.cel import budget
from compliance.cel.ast import Expr
from compliance.cel.compiler import VARS, request_activation
from compliance.cel.conform import Nonconforming, describe, reader
from compliance.cel.memo import remember
from compliance.cel.types import STRING, CelType, Limits
from compliance.cel.values import (
    NANOS,
    TIMESTAMP_MAX_SECONDS,
    TIMESTAMP_MIN_SECONDS,
    CelEvalError,
    CelUnknown,
    Timestamp,
    to_timestamp,
)
from compliance.decision import (
    ConditionTrace,
    Decision,
    EvalError,
    FactRead,
    InterventionOut,
    Match,
    Obligations,
    ReadOnlyList,
    RoutingPass,
    RuleExplanation,
    build,
    encodable,
    set_dict,
    set_extra,
    set_fields_set,
    set_private,
)
from compliance.diagnostics import RuntimeCode
from compliance.errors import EvaluationError
from compliance.obligations import merge_obligations
from compliance.planner import Plan, PlannedRule, TemplatePart

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
_ID_COUNTER = itertools.count(1 << 48)  # hex() of it is "0x1" and the 12 digits shown

FactsHook = Callable[[Mapping[str, Any], int | None],
                     tuple[dict[str, bool], list[FactRead], EvalError | None]]
"""``(context, request time) -> (facts activation, facts that held, an error or None)``.

The one hook for stateful signals (``compliance.facts.FactReader``): called once per
decision before any rule, so rules read ``facts.<name>`` like any declared attribute.
"""


class _Outcome:
    """How one rule came out in one pass.

    Hand-written rather than a dataclass: one is made per applied rule on every request,
    and a dataclass's generated ``__init__`` with defaults costs about half again as much.
    """

    __slots__ = ("cause", "error", "missing", "rule", "status", "trace")

    def __init__(self, rule: PlannedRule, status: Status, missing: frozenset[str] = frozenset(),
                 error: EvalError | None = None, cause: BaseException | None = None) -> None:
        self.rule = rule
        self.status = status
        self.missing = missing
        self.error = error
        self.cause = cause  # the Python exception behind ``error``, if any
        self.trace: ConditionTrace | None = None  # with ``explain``: every operand's value


class _Pass:
    """The result of evaluating every rule once for one model (hand-written: see _Outcome)."""

    __slots__ = ("applied", "ctx", "effect", "model", "outcomes", "route_to", "unsure")

    def __init__(self, model: str | None, ctx: Mapping[str, Any]) -> None:
        self.model = model
        self.ctx = ctx
        self.outcomes: list[_Outcome] = []
        self.applied: list[_Outcome] = []
        self.route_to: str | None = None
        self.effect: Literal["allow", "deny"] = "allow"
        self.unsure = False  # some outcome left paths missing (a rule was undecidable)


def evaluate(plan: Plan, context: Mapping[str, Any], *, strict: bool = False,
             explain: bool = False, cost_limit: int = budget.DEFAULT_DECISION_BUDGET,
             facts: FactsHook | None = None) -> Decision:
    """Decide one request. Never raises unless ``strict`` (see the module docstring).

    Whatever goes wrong inside (an overflow, exhausted memory or recursion, a bug) becomes
    a fail-closed decision recording it as ``resource-exhausted`` or ``internal-error``
    with the pack and rule being evaluated when known; ``strict`` raises
    ``EvaluationError`` with the exception chained instead. ``cost_limit`` is the
    decision's run-time budget (``compliance.cel.budget``): a rule whose evaluation would
    exceed it fails closed with ``cost-limit``.
    """
    return decide(plan, context, strict, explain, cost_limit, facts)


# The functions of every decision take their arguments by position (`noqa: PLR0917`):
# passing four or five by keyword costs about 60 ns a call in CPython 3.11.


def decide(plan: Plan, context: Mapping[str, Any], strict: bool,  # noqa: PLR0917
           explain: bool, cost_limit: int, facts: FactsHook | None) -> Decision:
    """``evaluate`` with its arguments by position: what ``Engine`` calls.

    One function for the common decision's steps: a Python call costs about a thousand
    machine instructions here, and a decision is on every request. What is rare (a time or
    model not seen before, facts, a second pass) goes through the helpers below.
    """
    progress = _Progress()
    token = budget.start(cost_limit)
    try:
        errors: list[EvalError] = []
        if type(context) is not dict and not isinstance(context, Mapping):
            kind = type(context).__name__
            errors.append(_context_error(f"context must be a JSON object, got {kind}"))
            context = {}
        request = context.get("request")
        if type(request) is not dict and not isinstance(request, Mapping):
            request = None
        # `request.time` and `request.model` as cached the last time they were read (the
        # same look-ups `_fast_rfc3339` and `_current_model` start with); anything else
        # goes through them.
        at: int | None = None
        time_missing = False
        model = request.get("model") if request is not None else None
        text = request.get("time") if request is not None else None
        if type(text) is str:
            seconds = _MINUTES.get(text[:16])
            if seconds is not None:
                after = _TAILS.get(text[16:])
                if after is not None:
                    at = seconds * NANOS + after
        if at is None:
            at, time_missing = _request_time(request, errors)
        if model is not None:
            verdicts = plan.model_verdicts
            known = verdicts.get(model) if verdicts is not None and type(model) is str else None
            model = known if type(known) is str else _current_model(plan, request)
        passes: list[_Pass] = []
        activation = request_activation(context)
        read: list[FactRead] = []
        if facts is not None:  # always the engine's facts, never a `facts` the caller sent
            activation["facts"], read, failure = facts(context, at)
            if failure is not None:
                errors.append(failure)
        ctx: Mapping[str, Any] = activation
        reasons: list[str] = []
        interventions: list[InterventionOut] = []
        while True:
            number = len(passes) + 1
            current = _run_pass(plan, ctx, at, model, time_missing, errors, explain, progress)
            passes.append(current)
            if current.applied or errors:  # else nothing to combine: the pass allows
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
        variables = activation.get(VARS)
        if variables:  # its entries hold their activations: free them now, not by the collector
            variables.clear()
        if strict and errors:
            first = errors[0]
            raise EvaluationError(first.code, first.message, pack=first.pack or None,
                                  rule=first.rule or None, location=first.location
                                  ) from progress.causes.get(id(first))
        progress.rule = None
        # The decision: the skeleton's fields (shared, read-only) with this request's.
        key = _pass_key(passes[0]) if len(passes) == 1 else tuple(map(_pass_key, passes))
        skeleton = plan.skeletons.get(key) or _skeleton(plan, passes, key)
        if skeleton.default_denied:
            reasons.append(_DEFAULT_DENY)
        if interventions and skeleton.effect == "deny":
            interventions = [i for i in interventions if i.kind == "refuse"]
        if len(passes) > 1 or passes[0].unsure:
            paths = frozenset().union(*[o.missing for p in passes for o in p.outcomes])
            listed = plan.missing_lists.get(paths)
            if listed is None:
                listed = plan.missing_lists.put(paths, tuple(map(encodable, sorted(paths))))
            missing = list(listed)
        else:
            missing = []
        fields = skeleton.fields.copy()
        fields["interventions"] = interventions
        fields["missing"] = missing
        fields["errors"] = errors
        fields["reasons"] = (reasons if not reasons or all(map(str.isascii, reasons))
                             else [encodable(r) for r in reasons])
        boundary = None  # the first window edge after the request's time
        edges = plan.boundaries
        if at is not None and edges:
            i = bisect_right(edges, at)
            if i < len(edges):
                boundary = edges[i]
        if read:
            boundary = _facts_end(boundary, read)
        if boundary is not None:
            fields["valid_until"] = _from_nanos(boundary)
        fields["decision_id"] = _ID_PREFIX + hex(next(_ID_COUNTER))[-12:]  # as `_next_id`
        fields["evaluated_at"] = datetime.now(UTC)
        fields["facts"] = read
        if explain:
            fields["explanation"] = _explanation(passes)
        # Built as `decision.build` builds, inline. The context's canonical bytes are taken
        # now, from what was evaluated: a later change to the caller's dict cannot change
        # the record of a decision already made.
        decision = _new(Decision)
        set_dict(decision, fields)
        set_fields_set(decision, _DECISION_FIELDS)
        set_extra(decision, None)
        set_private(decision, {"_context": None, "_context_json": context_json(context)})
        return decision
    except EvaluationError:
        if strict:
            raise
        return _crashed(plan, context, sys.exception() or Exception(), progress, strict=False)
    except Exception as exc:  # MemoryError, RecursionError, bugs: all fail closed
        return _crashed(plan, context, exc, progress, strict=strict)
    finally:
        budget.finish(token)


_NO_CAUSES: Final[dict[int, BaseException]] = {}  # never written: replaced on the first cause


class _Progress:
    """What evaluation was doing, so a crash can name the pack and rule.

    Class-level defaults and no ``__init__``: one is made per decision, and calling an
    ``__init__`` costs more than the instance's first attribute write.
    """

    rule: PlannedRule | None = None
    causes: dict[int, BaseException] = _NO_CAUSES  # id(EvalError) -> cause


def _crashed(plan: Plan, context: object, exc: BaseException, progress: _Progress, *,
             strict: bool) -> Decision:
    """The fail-closed decision for an exception that escaped evaluation."""
    code: RuntimeCode = (
        "resource-exhausted" if isinstance(exc, MemoryError | RecursionError) else "internal-error")
    rule = progress.rule
    pack_id, rule_id = (rule.pack.id, rule.rule.id) if rule is not None else ("", "")
    message = encodable(f"evaluation stopped by {type(exc).__name__}: {_exc_text(exc)}"[:500])
    if strict:
        raise EvaluationError(code, message, pack=pack_id or None,
                              rule=rule_id or None) from exc
    where = f" in rule `{rule_id}` of pack `{pack_id}`" if rule is not None else ""
    error = EvalError.model_construct(pack=pack_id, rule=rule_id, code=code, message=message,
                                      location=_location(rule) if rule is not None else None)
    fields = {
        "effect": "deny", "model": None, "interventions": [],
        "obligations": Obligations.model_construct(), "obligation_details": [],
        "conflicts": [], "matched": [], "missing": [], "errors": [error],
        "reasons": [f"evaluation failed{where} ({code}); failing closed"],
        "valid_until": None, "passes": [],
        "decision_id": _next_id(), "evaluated_at": datetime.now(UTC),
        "packs": list(plan.pack_infos), "pack_set_digest": plan.pack_set_digest,
        "schema_version": 1, "backend": plan.backend, "explanation": None,
        "context_digest_value": _safe_digest(context),
    }
    return build(Decision, fields)


def _exc_text(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:  # a failing __str__ must not escape either
        return "(no message)"


def _safe_digest(context: object) -> str:
    try:
        return digest_json(context)
    except Exception:  # digest_json does not raise; MemoryError still could
        return digest_json("<unrepresentable context>")


# --- one pass ---------------------------------------------------------------------------


def _run_pass(plan: Plan, ctx: Mapping[str, Any], at: int | None,  # noqa: PLR0917
              model: str | None, time_missing: bool, errors: list[EvalError], explain: bool,
              progress: _Progress) -> _Pass:
    """Evaluate the candidate rules (every rule when explaining) for one model.

    Each rule: its window, then ``when``, then ``unless`` (``_conclude``), in three-valued
    logic (CEL: unknown beats error). The window and ``when`` are read here, inline: most
    candidates end at one of them, or apply with no ``unless`` to read.
    """
    current = _Pass(model, ctx)
    rules = plan.rules
    positions: Sequence[int]
    if explain:
        positions = range(len(rules))
    else:  # `plan.index.candidates(ctx)`, its look-up inline
        index = plan.index
        key = index.key(ctx)
        known = index.known.get(key)
        positions = known if known is not None else index.for_key(key)
    outcomes, applied = current.outcomes, current.applied
    for position in positions:
        rule = rules[position]
        progress.rule = rule
        quiet: Quiet | None = None  # no match, no missing path, no error
        missing = _NO_PATHS
        error: CelEvalError | None = None
        if rule.has_window:
            if at is None:
                if time_missing:
                    missing = _TIME_MISSING
                else:
                    quiet = "not-effective"  # malformed time: already an error
            elif (rule.start is not None and at < rule.start) or (
                rule.until is not None and at >= rule.until
            ):
                quiet = "not-effective"
        when = rule.when
        if quiet is None and when is not None:
            try:
                value = when(ctx)
            except Exception as exc:
                failed = _failure(exc)
                if isinstance(failed, CelEvalError):
                    error = failed
                else:
                    missing = missing | failed
            else:
                if value is False:
                    quiet = "condition-false"
                elif value is not True:
                    if type(value) is CelUnknown:  # a generated condition returns its unknown
                        missing = missing | value.paths
                    else:
                        error = _not_bool(value)
        if quiet is None:
            if rule.unless is None and not missing and error is None:
                outcome = _Outcome(rule, "applied")
            else:
                concluded = _conclude(rule, ctx, missing, error)
                if isinstance(concluded, str):
                    quiet = concluded
                else:
                    outcome = concluded
        if quiet is not None:
            if not explain:
                continue  # nothing of it reaches the decision: only `--explain` lists it
            outcome = _Outcome(rule, quiet)
        if explain and outcome.status != "not-effective":
            outcome.trace = _trace(plan.schema, rule, ctx, outcome.status)
        outcomes.append(outcome)
        if outcome.missing:
            current.unsure = True
        if outcome.error is not None:
            errors.append(outcome.error)
            if outcome.cause is not None:
                if progress.causes is _NO_CAUSES:
                    progress.causes = {}
                progress.causes[id(outcome.error)] = outcome.cause
        if outcome.status in ("applied", "unknown-applied") or (
            outcome.status == "error" and rule.effect != "allow"
        ):
            applied.append(outcome)
    return current


Quiet = Literal["not-effective", "condition-false", "exception-held"]
"""Outcomes that leave no trace in a decision (no match, no missing path, no error)."""


def _conclude(rule: PlannedRule, ctx: Mapping[str, Any], missing: frozenset[str],
              error: CelEvalError | None) -> _Outcome | Quiet:
    """``unless``, then the rule's outcome from what its window and ``when`` left: the
    paths that were missing and the first error (``_run_pass`` has read both)."""
    if rule.unless is not None:
        held = _truth(rule.unless, ctx)
        if held is True:
            return "exception-held"
        if isinstance(held, CelEvalError):
            if error is None:
                error = held
        elif held is not False:
            missing = missing | held
    if missing:
        return _unknown(rule, missing)
    if error is not None:
        return _Outcome(rule, "error", error=_rule_error(rule, error.code, error.message),
                        cause=error.__cause__)
    return _Outcome(rule, "applied")


_TIME_MISSING: Final = frozenset({"request.time"})
_NO_PATHS: Final[frozenset[str]] = frozenset()


def _truth(program: Any, ctx: Mapping[str, Any]) -> bool | CelEvalError | frozenset[str]:
    """Run a condition: True/False, an error value, or the paths that left it unknown.

    ``_run_pass`` runs ``when`` the same way inline (most rules have no ``unless``). A
    condition's unknown is raised (closures, the interpreter, code it calls) or, decided by
    generated code itself, returned as the value: the two mean the same.
    """
    try:
        value = program(ctx)
    except Exception as exc:
        return _failure(exc)
    if value is True or value is False:
        return value
    if type(value) is CelUnknown:
        return value.paths
    return _not_bool(value)


def _failure(exc: Exception) -> CelEvalError | frozenset[str]:
    """What a condition that raised ``exc`` comes to: unknown paths or an error value.

    An unknown or a CEL error is a value: its traceback is dropped, so the frames it passed
    through are freed at once instead of waiting, in a reference cycle, for the collector.
    """
    if isinstance(exc, CelUnknown):
        exc.__traceback__ = exc.__context__ = None
        return exc.paths
    if isinstance(exc, CelEvalError):
        exc.__traceback__ = exc.__context__ = None  # `__cause__`, if any, stays: it is news
        return exc
    if isinstance(exc, RecursionError):
        return CelEvalError("cost-limit", "expression too deeply nested to evaluate", 0, 0)
    if isinstance(exc, MemoryError):
        return _caused(CelEvalError("resource-exhausted", "out of memory evaluating", 0, 0),
                       exc)
    text = f"{type(exc).__name__}: {_exc_text(exc)}"[:300]
    return _caused(CelEvalError("internal-error", text, 0, 0), exc)


def _not_bool(value: object) -> CelEvalError:
    return CelEvalError("eval-type-error", f"condition is not a bool: got `{value!r}`", 0, 0)


_TRACERS: dict[int, tuple[Expr, Any]] = {}
"""Tracing programs by ``id`` of the checked tree (kept alive here, so ids stay unique)."""


def _tracer(expr: Expr, rule: PlannedRule, schema: Any) -> Any:
    """The instrumented program of one condition, compiled on first explain."""
    from compliance.cel.trace import Tracer  # noqa: PLC0415  (only explain pays for it)

    held = _TRACERS.get(id(expr))
    if held is not None and held[0] is expr:
        return held[1]
    if len(_TRACERS) >= 8192:
        _TRACERS.clear()
    tracer = Tracer(expr, schema, rule.variables)
    _TRACERS[id(expr)] = (expr, tracer)
    return tracer


def _trace(schema: Any, rule: PlannedRule, ctx: Mapping[str, Any], status: str
           ) -> ConditionTrace:
    """The operand-by-operand trace of ``when`` and ``unless`` (``explain=True`` only).

    It re-evaluates with the closure compiler, which the differential tests hold equal to
    the generated code; ``unless`` is shown unevaluated when ``when`` was false.
    """
    nodes: list[Any] = []
    live = budget.current()
    saved = budget.start(live.limit if live is not None else budget.DEFAULT_DECISION_BUDGET)
    try:  # its own budget: tracing must not spend what later rules of the decision may use
        for expr, skip in ((rule.when_expr, False),
                           (rule.unless_expr, status == "condition-false")):
            if expr is None:
                nodes.append(None)
                continue
            tracer = _tracer(expr, rule, schema)
            nodes.append(tracer.skipped() if skip else tracer.run(ctx))
    finally:
        budget.finish(saved)
    when, unless = nodes
    trace = ConditionTrace.model_construct(
        when=when.to_json() if when is not None else None,
        unless=unless.to_json() if unless is not None else None)
    trace._nodes = (when, unless)
    return trace


def _caused(error: CelEvalError, cause: BaseException) -> CelEvalError:
    error.__cause__ = cause
    return error


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
                out = _intervention_out(rule, outcome, None, number, current.ctx)
                interventions.append(out)
                # The user's message is the reason, except when failing closed: then the
                # reason names the missing information (the message cannot, honestly).
                shown = None if _failed_closed(outcome) else out.message
                reasons.append(shown or _reason(rule, outcome, current.ctx))
            elif rule.intervention.kind in _ROUTING_KINDS:
                routes.append(outcome)
            else:
                interventions.append(_intervention_out(rule, outcome, None, number, current.ctx))
                _add_visible_reason(rule, outcome, reasons, current.ctx)
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
            interventions.append(_intervention_out(rule, outcome, target, number, ctx))
            _add_visible_reason(rule, outcome, reasons, ctx)
        else:
            reasons.append(
                f"route to `{rule.intervention.target}` by rule `{rule.rule.id}` of pack "
                f"`{rule.pack.id}` not applied: rule `{winner.rule.id}` of pack "
                f"`{winner.pack.id}` routes to `{target}` with higher precedence"
            )
    return target


def _add_visible_reason(rule: PlannedRule, outcome: _Outcome, reasons: list[str],
                        ctx: Mapping[str, Any]) -> None:
    visible = rule.intervention is not None and rule.intervention.disclosure == "visible"
    text = _message(rule, outcome, ctx) if visible and not _failed_closed(outcome) else None
    reasons.append(text or _reason(rule, outcome, ctx))


# --- text ---------------------------------------------------------------------------------
#
# Honesty: a rule that applies only because it failed closed (status `unknown-applied`)
# shows its `fail_closed_reason` / `fail_closed_message` (plain text) or a neutral default,
# never its ordinary text, which would claim what was not established. An ordinary text
# whose interpolation cannot be rendered (missing value, error) falls back to the same
# neutral kind of text: no `<missing …>` placeholder ever reaches a reason or a message.

_MAX_VALUE_CHARS = 200  # an interpolated value is cut here: reasons are not a data channel
_MAX_VALUE_DEPTH = 8
_FAIL_CLOSED_MESSAGES = {
    "refuse": "This request was declined because it could not be fully evaluated.",
    "route": "This request was handled by {target} because it could not be fully evaluated.",
    "degrade": "This request was handled by {target} because it could not be fully evaluated.",
    "modify": "This request was adjusted because it could not be fully evaluated.",
    "steer": "This request was adjusted because it could not be fully evaluated.",
}
_NEUTRAL_MESSAGES = {
    "refuse": "This request was declined under our usage policy.",
    "route": "This request was handled by {target} under our usage policy.",
    "degrade": "This request was handled by {target} under our usage policy.",
    "modify": "This request was adjusted under our usage policy.",
    "steer": "This request was adjusted under our usage policy.",
}


def _render(parts: tuple[TemplatePart, ...], ctx: Mapping[str, Any]) -> str | None:
    """The template's text, or None when any interpolation has no value to show."""
    out: list[str] = []
    for part in parts:
        if isinstance(part, str):
            out.append(part)
            continue
        try:
            value = part(ctx)
        except (CelUnknown, CelEvalError):
            return None
        if type(value) is CelUnknown:  # a part that is also a condition returns its unknown
            return None
        out.append(_text(value, _MAX_VALUE_DEPTH))
    return encodable("".join(out))


def _text(value: object, depth: int) -> str:
    """A value as reason text: bounded in depth and length, so any context value renders."""
    if value is True or value is False:
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, list | tuple):
        if depth <= 0:
            return "[…]"
        shown = [_text(v, depth - 1) for v in value[:20]]
        return "[" + ", ".join(shown) + (", …" if len(value) > 20 else "") + "]"
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 600:
        return "(a very large integer)"
    text = value if isinstance(value, str) else str(value)
    return text if len(text) <= _MAX_VALUE_CHARS else text[:_MAX_VALUE_CHARS] + "…"


def _failed_closed(outcome: _Outcome | None) -> bool:
    return outcome is not None and outcome.status == "unknown-applied"


def _reason(rule: PlannedRule, outcome: _Outcome | None, ctx: Mapping[str, Any]) -> str:
    """The rule's reason: built once by the planner when it interpolates nothing."""
    if outcome is not None and outcome.status == "unknown-applied":  # failed closed
        key = (rule.order, outcome.missing)
        text = rule.failed_reasons.get(key)
        if text is None:
            text = rule.failed_reasons.put(key, _failed_reason(rule, outcome.missing))
        return text
    if rule.reason_text is not None:  # made encodable by the planner, never empty
        return rule.reason_text
    text = _render(rule.reason, ctx) if rule.reason is not None else None
    return text or rule.default_reason


def _failed_reason(rule: PlannedRule, missing: frozenset[str]) -> str:
    """The reason of a rule that applies because it failed closed on ``missing``."""
    ident = rule.ident
    names = ", ".join(sorted(missing))
    own = rule.rule.fail_closed_reason
    if own is not None:
        return f"{own} (missing: {names}; {ident} failed closed)"
    return (f"{ident} could not be evaluated: required information is missing ({names}); "
            "failing closed")


def _message(rule: PlannedRule, outcome: _Outcome | None, ctx: Mapping[str, Any]) -> str | None:
    """The user-facing message of an intervention (honest when it failed closed)."""
    iv = rule.intervention
    if iv is None:
        return None
    if _failed_closed(outcome):
        text = iv.fail_closed_message or _FAIL_CLOSED_MESSAGES[iv.kind]
        return text.replace("{target}", iv.target or "another model")
    if rule.message is None:
        return None
    if rule.message_text is not None:  # made encodable by the planner
        return rule.message_text
    rendered = _render(rule.message, ctx)
    if rendered is not None:
        return rendered
    return _NEUTRAL_MESSAGES[iv.kind].replace("{target}", iv.target or "another model")


def _intervention_out(rule: PlannedRule, outcome: _Outcome | None, target: str | None,
                      number: int, ctx: Mapping[str, Any]) -> InterventionOut:
    iv = rule.intervention
    assert iv is not None
    return InterventionOut.model_construct(
        kind=iv.kind, target=target or iv.target, disclosure=iv.disclosure,
        message=_message(rule, outcome, ctx), pack=rule.pack.id, rule=rule.rule.id,
        justification=iv.justification, instruction=iv.instruction, routing_pass=number,
    )


# --- context helpers ----------------------------------------------------------------------


def _request_time(request: Mapping[str, Any] | None, errors: list[EvalError]
                  ) -> tuple[int | None, bool]:
    """``request.time`` as epoch ns; (None, True) when absent, (None, False) when malformed.

    ``request`` is the context's ``request`` object (None when it is absent or not one). A
    ``Timestamp`` or an aware ``datetime`` is used as it is; a naive ``datetime`` is an
    error. Text goes through ``_fast_rfc3339``, which accepts exactly what the strict
    parser ``values.parse_timestamp`` accepts, or defers to it.
    """
    if request is None or request.get("time") is None:
        return None, True
    value = request["time"]
    if type(value) is str:
        nanos = _fast_rfc3339(value)
        if nanos is not None:
            return nanos, False
    elif type(value) is Timestamp:
        return value.nanos, False
    try:
        stamp = to_timestamp(value)
    except (ValueError, CelEvalError) as exc:
        errors.append(_context_error(f"`request.time` must be an RFC 3339 timestamp: {exc}"))
        return None, False
    if stamp is None:
        kind = describe(request["time"])
        errors.append(_context_error(f"`request.time` must be an RFC 3339 timestamp, got {kind}"))
        return None, False
    return stamp.nanos, False


_DAYS_BEFORE_EPOCH: Final = 719_163  # date(1970, 1, 1).toordinal()
_FIRST_SECOND: Final = TIMESTAMP_MIN_SECONDS
_LAST_SECOND: Final = TIMESTAMP_MAX_SECONDS
_naive = datetime.fromisoformat
# RFC 3339 as the strict parser reads it, ASCII digits only (`re.ASCII`: `\d` is not `٢`).
_RFC3339: Final = re.compile(
    r"(\d{4}-\d\d-\d\dT\d\d:\d\d):(\d\d)(?:\.(\d{1,9}))?(?:Z|([+-])(\d\d):(\d\d))",
    re.ASCII)
_MINUTES: dict[str, int] = {}  # "YYYY-MM-DDTHH:MM" -> epoch seconds (a pure function: exact)
_TAILS: dict[str, int] = {}  # ":SS[.fffffffff](Z|±HH:MM)" -> ns after the minute's start
_CACHED: Final = 4096
_SAFE_FIRST: Final = _FIRST_SECOND + 86_400  # a minute here stays in range whatever its tail
_SAFE_LAST: Final = _LAST_SECOND - 86_400


def _fast_rfc3339(text: str) -> int | None:
    """Epoch ns of ``YYYY-MM-DDTHH:MM:SS[.fffffffff](Z|±HH:MM)``; None for anything else.

    The grammar splits at a fixed place: the first 16 characters are the minute, the rest
    the tail (seconds, fraction, offset). Both are cached once one compiled pattern has
    accepted them, so the requests of one minute, and every tail of whole seconds, cost two
    dict lookups; a minute within a day of the representable range is never cached, so a
    cached pair is always in range. On a miss the pattern checks the grammar; the date and
    minute are read by ``fromisoformat`` (in C: month, day of month, leap years, hour 23),
    and integer arithmetic adds the second (up to 59), the fraction (up to 9 digits) and
    the offset (up to 23:59), and checks years 0001-9999 after the offset. Anything it does
    not accept - lower-case ``t``/``z`` included - is left to the strict parser, which also
    words the error. A Hypothesis differential test holds the two to the same answers.
    """
    seconds: int | None = _MINUTES.get(text[:16])
    if seconds is not None:
        after = _TAILS.get(text[16:])
        if after is not None:
            return seconds * NANOS + after
    match = _RFC3339.fullmatch(text)
    if match is None:
        return None
    minute, second, digits, sign, hours, minutes = match.groups()
    if seconds is None:
        try:
            moment = _naive(minute)
        except ValueError:  # no such day or time (Feb 30, 24:00, year 0)
            return None
        seconds = ((moment.toordinal() - _DAYS_BEFORE_EPOCH) * 86400 + moment.hour * 3600
                   + moment.minute * 60)
        if _SAFE_FIRST <= seconds <= _SAFE_LAST:
            remember(_MINUTES, minute, seconds, _CACHED)
    if second > "59":
        return None
    after = int(second) * NANOS
    if sign is not None:
        if hours > "23" or minutes > "59":
            return None
        offset = (int(hours) * 3600 + int(minutes) * 60) * NANOS
        after = after - offset if sign == "+" else after + offset
    if digits is not None:
        after += int(digits) * 10 ** (9 - len(digits))
    if not _FIRST_SECOND * NANOS <= seconds * NANOS + after < (_LAST_SECOND + 1) * NANOS:
        return None
    remember(_TAILS, text[16:], after, _CACHED)
    return seconds * NANOS + after


def _current_model(plan: Plan, request: Mapping[str, Any] | None) -> str | None:
    """``request.model`` as the rules read it (conformed: normalised, within the limits)."""
    model = request.get("model") if request is not None else None
    if model is None:
        return None
    verdicts = plan.model_verdicts
    if verdicts is not None and type(model) is str:
        known = verdicts.get(model)
        if type(known) is str:  # the conformed text (a Nonconforming verdict is no model)
            return known
    read = plan.model_reader
    if read is None:
        schema = plan.schema
        declared = schema.lookup("request.model") if schema is not None else None
        read = _model_reader(declared or STRING, schema.limits if schema is not None else Limits())
    try:
        value = read(model)
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
    return EvalError.model_construct(pack="", rule="", code="bad-context",
                                     message=encodable(message), location=None)


def _location(rule: PlannedRule) -> str:
    span = rule.rule.when.span if rule.rule.when is not None else rule.rule.span
    return f"{span.file}:{span.start.line + 1}:{span.start.col + 1}"


def _rule_error(rule: PlannedRule, code: RuntimeCode, message: str) -> EvalError:
    return EvalError.model_construct(pack=rule.pack.id, rule=rule.rule.id, code=code,
                                     message=encodable(message), location=_location(rule))


def _next_id() -> str:
    return _ID_PREFIX + hex(next(_ID_COUNTER))[-12:]


def _route_loop_error(current: _Pass, model: str | None, target: str) -> EvalError:
    router = next(o.rule for o in current.applied if o.rule.effect == "intervene")
    return _rule_error(router, "route-loop",
                       f"second route in one decision (`{model}` to `{target}`); failing closed")


# --- the decision -------------------------------------------------------------------------


def _facts_end(boundary: int | None, facts: list[FactRead]) -> int | None:
    """A fact that stops holding ends the decision's validity too (epoch ns)."""
    for fact in facts:
        until = to_timestamp(fact.until)
        if until is not None:
            boundary = until.nanos if boundary is None else min(boundary, until.nanos)
    return boundary


_new: Final = object.__new__
_DECISION_FIELDS: Final = set(Decision.model_fields)
"""The names of every field: each decision built here sets all of them (shared, see build)."""
_BLANK_FIELDS: Final[dict[str, Any]] = dict.fromkeys(Decision.model_fields)


_DEFAULT_DENY = "no rule allowed the request and the pack set's default effect is deny"


class _Skeleton(NamedTuple):
    """The part of a decision fixed by which rules applied in which pass (cached per plan).

    Everything here follows from its key (``_pass_key`` of each pass: model, effect,
    route and the applied rules with their status), the merged obligations included;
    per-request fields (id, time, digest, missing, errors, reasons, messages,
    ``valid_until``) are filled in by ``decide``. A named tuple: built on every new
    outcome, and a frozen dataclass costs several times as much to make.
    """

    effect: Literal["allow", "deny"]
    default_denied: bool  # the pack set's default effect turned an allow into a deny
    fields: dict[str, Any]  # every field of the decision; the per-request ones are None


def _pass_key(p: _Pass) -> tuple[Any, ...]:
    """Model, effect, route and each applied rule: its order, with its status unless
    ``applied`` (an int and a tuple never compare equal, so the key stays exact)."""
    applied = p.applied
    if not applied:
        return (p.model, p.effect, p.route_to)
    if len(applied) == 1:  # the common case, on every decision: no list to splat
        o = applied[0]
        return (p.model, p.effect, p.route_to,
                o.rule.order if o.status == "applied" else (o.rule.order, o.status))
    return (p.model, p.effect, p.route_to, *[
        o.rule.order if o.status == "applied" else (o.rule.order, o.status) for o in p.applied])


def _skeleton(plan: Plan, passes: list[_Pass], key: tuple[Any, ...]) -> _Skeleton:
    """The skeleton for ``key`` (``_pass_key`` of each pass), built on a first sight."""
    final = passes[-1]
    effect = final.effect
    # One walk over the applied rules (a miss is a first sight, on the tail).
    matched: list[Match] = []
    owing: list[PlannedRule] = []  # only rules with obligations matter to the merge
    permits = False  # some applied rule allows or intervenes
    for number, p in enumerate(passes, 1):
        for o in p.applied:
            rule = o.rule
            matched.append(_match(number, o))
            if rule.obligations:
                owing.append(rule)
            if rule.effect in {"allow", "intervene"}:
                permits = True
    default_denied = effect == "allow" and plan.default_effect == "deny" and not permits
    if default_denied:
        effect = "deny"
    obligations, details, conflicts = merge_obligations(owing, plan.merges)
    fields = _BLANK_FIELDS.copy()  # every field, in the model's order
    fields["effect"] = effect
    fields["model"] = encodable(final.model) if effect == "allow" and final.model else None
    fields["obligations"] = obligations
    fields["obligation_details"] = ReadOnlyList(details)
    fields["conflicts"] = ReadOnlyList(conflicts)
    fields["matched"] = ReadOnlyList(matched)
    fields["passes"] = ReadOnlyList([_routing_pass(p) for p in passes])
    fields["packs"] = plan.pack_list
    fields["pack_set_digest"] = plan.pack_set_digest
    fields["schema_version"] = 1
    fields["backend"] = plan.backend
    skeleton = _Skeleton(effect, default_denied, fields)  # by position: a miss is a first sight
    stored: _Skeleton = plan.skeletons.put(key, skeleton)
    return stored


def _match(number: int, outcome: _Outcome) -> Match:
    return outcome.rule.match(number, outcome.status in ("unknown-applied", "error"))


def _routing_pass(p: _Pass) -> RoutingPass:
    return build(RoutingPass, {"model": encodable(p.model) if p.model else p.model,
                               "effect": p.effect,
                               "matched": [o.rule.ref for o in p.applied],
                               "route_to": p.route_to}, None, _ROUTING_FIELDS)


_ROUTING_FIELDS: Final = set(RoutingPass.model_fields)
"""Every routing pass sets all of its fields: one shared set of names (see ``build``)."""


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
            missing=sorted(o.missing), trace=o.trace,
        )
        for n, p in enumerate(passes, 1) for o in p.outcomes
    ]


@lru_cache(maxsize=256)
def _from_nanos(nanos: int) -> datetime:
    """A window edge as a datetime (edges are few and fixed per plan; datetimes immutable)."""
    return Timestamp(nanos).to_datetime()
