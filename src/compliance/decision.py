"""The decision: what ``Engine.evaluate`` returns, as a pydantic model (the JSON boundary).

Field names of ``Decision`` are the audit record documented in docs/decision.md; outside
suites read them.
Models are built with ``model_construct`` on the hot path (the evaluator produces
well-typed values), and validated normally when a decision is read back from JSON.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Final, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, computed_field

from compliance.diagnostics import RuntimeCode
from compliance.errors import ObligationNotUnderstood, RequestDenied

DECISION_SCHEMA_VERSION = 1

# What a caller is told when a denial's own texts cannot honestly be shown: it failed closed
# (the rule's reason would claim what was not established) or no rule wrote a reason.
UNEVALUATED_DENIAL = "This request was declined because it could not be fully evaluated."
POLICY_DENIAL = "This request was declined under our usage policy."


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


_M = TypeVar("_M", bound=BaseModel)
_T = TypeVar("_T")


def _refuse(self: object, *args: object, **kwargs: object) -> Any:
    raise TypeError("this list is shared by every decision with the same outcome and is "
                    "read-only; copy it with list(...) to change it")


class ReadOnlyList(list[_T]):
    """A list that refuses every change: the lists decisions share.

    What depends only on which rules applied (``matched``, ``passes``,
    ``obligation_details``, ``conflicts``) and the pack set (``packs``) is built once and
    handed to every decision with that outcome; a change through one decision would show in
    all of them, so it raises ``TypeError`` instead. It reads, compares, serialises, copies
    and pickles as a list.
    """

    __slots__ = ()
    append: Any = _refuse
    extend: Any = _refuse
    insert: Any = _refuse
    pop: Any = _refuse
    remove: Any = _refuse
    clear: Any = _refuse
    sort: Any = _refuse
    reverse: Any = _refuse
    __setitem__: Any = _refuse
    __delitem__: Any = _refuse
    __iadd__: Any = _refuse
    __imul__: Any = _refuse

    def __reduce__(self) -> tuple[Any, ...]:
        return (ReadOnlyList, (list(self),))


def encodable(text: str) -> str:
    """``text`` encodable as UTF-8: a lone surrogate becomes its ``\\udXXX`` escape.

    Every text a decision carries (reasons, messages, models, missing paths) passes here:
    a decision is written as JSON, and a YAML escape or a context value can hold a lone
    surrogate, which no UTF-8 encoder accepts.
    """
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def build(cls: type[_M], fields: dict[str, Any], private: dict[str, Any] | None = None,
          names: set[str] | None = None) -> _M:
    """Construct a model from values the evaluator already typed, skipping validation.

    ``model_construct`` costs several microseconds per object (it resolves defaults and
    copies); one decision builds a handful, on every request. ``fields`` must name every
    field; ``names`` may pass a set of exactly those names to share between models (they
    are frozen, and pydantic copies the set before changing it). Models read back from
    JSON are validated normally.
    """
    model = cls.__new__(cls)
    set_dict(model, fields)
    set_fields_set(model, set(fields) if names is None else names)
    set_extra(model, None)
    set_private(model, private)
    return model


# The slots every pydantic model has, written through their descriptors: what
# ``object.__setattr__`` finds after a look-up by name, at about half its cost. Public for
# the evaluator, which builds each request's ``Decision`` the way ``build`` does, inline.
set_dict: Final = BaseModel.__dict__["__dict__"].__set__
set_fields_set: Final = BaseModel.__dict__["__pydantic_fields_set__"].__set__
set_extra: Final = BaseModel.__dict__["__pydantic_extra__"].__set__
set_private: Final = BaseModel.__dict__["__pydantic_private__"].__set__


class RuleRef(_Frozen):
    """A rule, named by its pack id and rule id."""

    pack: str
    rule: str


class InterventionOut(_Frozen):
    """An intervention applied to the request, with its disclosure to the user."""

    kind: Literal["refuse", "route", "modify", "steer", "degrade"]
    target: str | None = None
    disclosure: Literal["visible", "silent"]
    message: str | None = None
    pack: str
    rule: str
    justification: str | None = None
    instruction: str | None = None
    routing_pass: int = 1


class Obligations(_Frozen):
    """The merged obligations. Every key here is must-understand for the serving host."""

    retention_min_days: int | None = None
    retention_max_days: int | None = None
    training: Literal["allowed", "prohibited"] | None = None
    retention_purpose: list[str] | None = None
    custodian: str | None = None
    logging_level: Literal["none", "metadata", "full"] | None = None
    custom: dict[str, Any] = Field(default_factory=dict)


class ObligationDetail(_Frozen):
    """One merged obligation value with its provenance (who set it, whom it overrode)."""

    kind: str
    value: Any
    merge: str
    must_understand: bool = True
    set_by: list[RuleRef]
    overrode: list[RuleRef] = Field(default_factory=list)


class Conflict(_Frozen):
    """Two obligations that could not both hold, and how the clash was resolved."""

    obligation: str
    winner: RuleRef
    overridden: list[RuleRef]
    why: str


class Match(_Frozen):
    """An applicable rule. ``effect`` is ``obligate`` for obligation-only rules."""

    pack: str
    rule: str
    effect: Literal["allow", "deny", "intervene", "obligate"]
    routing_pass: int = 1
    fail_closed: bool = False


class EvalError(_Frozen):
    """An evaluation error in one rule; it made the decision fail closed."""

    pack: str
    rule: str
    code: RuntimeCode
    message: str
    location: str | None = None


class PackInfo(_Frozen):
    """Provenance of one pack that took part in the decision."""

    id: str
    version: str
    digest: str
    tier: str


class RoutingPass(_Frozen):
    """One evaluation pass: the model it evaluated and what it decided."""

    model: str | None
    effect: Literal["allow", "deny"]
    matched: list[RuleRef]
    route_to: str | None = None


class ConditionTrace(_Frozen):
    """The ``when`` and ``unless`` of one rule on one context, operand by operand.

    Each is a tree of ``{text, state, value?, missing?, error?, variable?, operands?}``
    (``compliance.cel.trace.TraceNode.to_json``); absent when the rule has no such clause or
    its window was not in effect.
    """

    when: dict[str, Any] | None = None
    unless: dict[str, Any] | None = None
    # The same trees with offsets (``TraceNode``s of ``when`` and ``unless``), for coverage.
    _nodes: Any = PrivateAttr(default=None)


class RuleExplanation(_Frozen):
    """Why one rule did or did not apply (``compliance eval --explain``)."""

    pack: str
    rule: str
    routing_pass: int
    status: Literal[
        "applied", "not-effective", "condition-false", "exception-held",
        "unknown-applied", "unknown-skipped", "error", "not-indexed",
    ]
    detail: str | None = None
    missing: list[str] = Field(default_factory=list)
    trace: ConditionTrace | None = None


class FactRead(_Frozen):
    """A fact that held for the request's key at ``request.time`` (``since`` ≤ t < ``until``)."""

    fact: str
    key: str
    since: datetime
    until: datetime


class Decision(_Frozen):
    """An auditable decision for one request (docs/decision.md, field by field)."""

    effect: Literal["allow", "deny"]
    model: str | None
    interventions: list[InterventionOut]
    obligations: Obligations
    obligation_details: list[ObligationDetail]
    conflicts: list[Conflict]
    matched: list[Match]
    missing: list[str]
    errors: list[EvalError]
    reasons: list[str]
    valid_until: datetime | None
    passes: list[RoutingPass]
    decision_id: str
    evaluated_at: datetime
    packs: list[PackInfo]
    pack_set_digest: str
    schema_version: int = DECISION_SCHEMA_VERSION
    # Which CEL backend decided: the interpreter is a test oracle, never the default.
    backend: Literal["compiled", "interpreter"] = "compiled"
    explanation: list[RuleExplanation] | None = None
    # The facts the decision read from the signal store that held at request.time.
    facts: list[FactRead] = Field(default_factory=list)
    context_digest_value: str | None = Field(default=None, exclude=True, repr=False)

    _context: Any = PrivateAttr(default=None)
    _context_json: bytes | None = PrivateAttr(default=None)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def context_digest(self) -> str:
        """sha256 of the canonical JSON of the evaluated context (``canonical.digest_json``).

        The evaluator takes the context's canonical bytes when it decides, so changing the
        caller's dict afterwards changes nothing; they are hashed when first asked for (a
        host that logs nothing never pays for it). A decision built without them digests
        ``_context``.
        """
        if self.context_digest_value is not None:
            return self.context_digest_value
        from compliance.canonical import digest_bytes, digest_json  # noqa: PLC0415  (leaf)

        data = self._context_json
        value = digest_bytes(data) if data is not None else digest_json(self._context)
        self.__dict__["context_digest_value"] = value
        return value

    # --- host API (additive: reads fields, never changes them) ------------------------------

    @property
    def allowed(self) -> bool:
        """True when the host may serve the request (``effect == "allow"``)."""
        return self.effect == "allow"

    @property
    def user_reasons(self) -> list[str]:
        """The reasons that may be shown to the caller of a denied request; empty when allowed.

        Visible refusal messages first (written for users, honest when failing closed). A
        denial without one shows its rules' own ``reason`` texts, except when it failed closed
        or errored (those texts would claim what was not established, and the evaluator's notes
        name packs and rules): then one neutral sentence. Pack, rule and attribute names never
        reach the caller; they stay in ``reasons`` for the audit log.
        """
        if self.allowed:
            return []
        shown = [i.message for i in self.interventions
                 if i.kind == "refuse" and i.disclosure == "visible" and i.message]
        if shown:
            return list(dict.fromkeys(shown))
        if self.errors or any(m.fail_closed for m in self.matched):
            return [UNEVALUATED_DENIAL]
        denying = {(m.pack, m.rule) for m in self.matched if m.effect == "deny"}
        if not denying:
            return [POLICY_DENIAL]
        # A deny rule's reason is its author's sentence; the evaluator's own notes (a rule
        # without a reason, routing, the default effect) quote identifiers in backticks.
        # Intervention messages are excluded too: a route of pass 1 did not serve this request.
        told = {i.message for i in self.interventions}
        texts = [r for r in self.reasons if "`" not in r and r not in told
                 and not r.startswith("no rule allowed")]
        return list(dict.fromkeys(texts)) or [POLICY_DENIAL]

    def raise_for_deny(self) -> None:
        """Raise ``RequestDenied`` (user-facing reasons and the decision id) unless allowed."""
        if not self.allowed:
            raise RequestDenied(self.user_reasons, self.decision_id)

    def require_understood(self, kinds: Iterable[str]) -> None:
        """Fail closed unless the host can discharge every must-understand obligation here.

        ``kinds`` are the obligation kinds the host declares it handles (``ObligationDetail``
        kinds such as ``retention_max_days``, ``training``, or a custom kind). Any other kind
        raises ``ObligationNotUnderstood`` naming them: the host must not serve the request.
        """
        known = set(kinds)
        unknown = {d.kind for d in self.obligation_details
                   if d.must_understand and d.kind not in known}
        if unknown:
            raise ObligationNotUnderstood(unknown, self.decision_id)
