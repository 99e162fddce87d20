"""Pack files: a composed YAML node tree → ``Pack``, with every structural problem reported.

A pack with problems is still built from whatever parts are sound, so the checker can
report CEL errors in the rest of the file in the same run (STYLE R3); callers must not
evaluate a pack set while any error diagnostic stands.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import cast, get_args

from yaml.nodes import MappingNode, Node, ScalarNode

from compliance.canonical import digest
from compliance.diagnostics import Severity
from compliance.loader._celmap import cel_source, template
from compliance.loader._instants import window
from compliance.loader._nodes import Ctx, Fields, describe, plain_data
from compliance.loader._obligations import obligations, overrides, tier_of
from compliance.loader._signals import build_signals
from compliance.pack import (
    CelSource,
    Disclosure,
    Effect,
    Intervention,
    InterventionKind,
    Obligation,
    OnUnknown,
    Pack,
    Rule,
    Template,
    Variable,
    Window,
)
from compliance.source import SourceFile

PACK_FIELDS = (
    "pack",
    "version",
    "tier",
    "authority",
    "owners",
    "description",
    "effective",
    "forbid_silent",
    "variables",
    "signals",
    "rules",
)
RULE_FIELDS = (
    "id",
    "description",
    "when",
    "unless",
    "effect",
    "reason",
    "fail_closed_reason",
    "on_unknown",
    "priority",
    "effective",
    "intervention",
    "obligations",
    "overrides",
    "justification",
)
INTERVENTION_FIELDS = (
    "kind", "target", "disclosure", "message", "fail_closed_message", "instruction",
    "justification",
)
EFFECTS: tuple[str, ...] = get_args(Effect)
ON_UNKNOWN: tuple[str, ...] = get_args(OnUnknown)
KINDS: tuple[str, ...] = get_args(InterventionKind)
DISCLOSURES: tuple[str, ...] = get_args(Disclosure)
_PACK_ID = re.compile(r"[a-z0-9][a-z0-9._-]*")
_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TARGETED = ("route", "degrade")


def build_pack(ctx: Ctx, root: Node, source: SourceFile) -> Pack | None:
    """The ``Pack`` a file's root node describes, or None when it has no usable id."""
    if not isinstance(root, MappingNode):
        ctx.report("wrong-type", f"a pack file must be a mapping, found {describe(root)}", root)
        return None
    fields = Fields(ctx, root, PACK_FIELDS)
    fields.require("pack", "version", "tier", "rules")
    pack_id = _pack_id(ctx, fields)
    tier_node, effective = fields.node("tier"), fields.node("effective")
    tier = tier_of(ctx, tier_node, "") if tier_node is not None else None
    if pack_id is None:
        return None
    return Pack(
        id=pack_id,
        version=fields.text("version") or "",
        tier=tier[0] if tier else "product",
        tier_rank=tier[1] if tier else 0,
        source=source,
        span=ctx.head(root),
        digest=digest(plain_data(root)),
        authority=fields.string("authority"),
        owners=fields.strings("owners"),
        description=fields.string("description"),
        effective=window(ctx, effective, "pack: ") if effective else None,
        forbid_silent=bool(fields.boolean("forbid_silent")),
        variables=build_variables(ctx, fields.mapping("variables")),
        rules=_rules(ctx, fields),
        signals=build_signals(ctx, fields.sequence("signals")),
    )


def _pack_id(ctx: Ctx, fields: Fields) -> str | None:
    pack_id = fields.string("pack")
    node = fields.node("pack")
    if pack_id is not None and node is not None and not _PACK_ID.fullmatch(pack_id):
        ctx.report(
            "invalid-value",
            f"invalid pack id `{pack_id}`",
            node,
            help_="use lowercase letters, digits, `.`, `_` and `-`; start with a letter or digit",
        )
    return pack_id


def build_variables(ctx: Ctx, node: MappingNode | None) -> tuple[Variable, ...]:
    """``variables:`` of a pack or of the manifest: name -> CEL expression."""
    if node is None:
        return ()
    out: list[Variable] = []
    names = [k.value for k, _ in node.value if isinstance(k, ScalarNode)]
    fields = Fields(ctx, node, names, "variables: ")
    for name, (key, value) in fields.items.items():
        if not _VAR_NAME.fullmatch(name):
            ctx.report("invalid-value", f"variable name `{name}` is not a CEL identifier", key)
            continue
        expr = cel_source(ctx, value, f"variable `{name}`")
        if expr is not None:
            out.append(Variable(name, expr, ctx.span(key)))
    return tuple(out)


def _rules(ctx: Ctx, fields: Fields) -> tuple[Rule, ...]:
    seq = fields.sequence("rules")
    if seq is None:
        return ()
    if not seq.value:
        ctx.report("missing-field", "`rules` must list at least one rule", seq)
    out: list[Rule] = []
    seen: dict[str, Rule] = {}
    for index, node in enumerate(seq.value):
        rule = _rule(ctx, node, index)
        if rule is None:
            continue
        if rule.id in seen:
            first = seen[rule.id].span.start.line + 1
            ctx.report(
                "duplicate-rule-id",
                f"duplicate rule id `{rule.id}`",
                rule.span,
                notes=(f"rule `{rule.id}` is first defined at line {first}",),
            )
            continue
        seen[rule.id] = rule
        out.append(rule)
    return tuple(out)


def _rule(ctx: Ctx, node: Node, index: int) -> Rule | None:
    if not isinstance(node, MappingNode):
        ctx.report(
            "wrong-type", f"rule {index + 1} must be a mapping, found {describe(node)}", node
        )
        return None
    id_fields = Fields(Ctx(ctx.file, ctx.lines), node, RULE_FIELDS)  # read the id quietly first
    rule_id = id_fields.string("id")
    where = f"rule `{rule_id}`: " if rule_id else f"rule {index + 1}: "
    fields = Fields(ctx, node, RULE_FIELDS, where)
    if not fields.require("id") or rule_id is None:
        fields.string("id")
        return None
    effect = cast("Effect | None", fields.choice("effect", EFFECTS))
    rule = Rule(
        id=rule_id,
        span=ctx.span(fields.node("id") or node),
        effect=effect,
        when=_cel(ctx, fields, "when", where),
        unless=_cel(ctx, fields, "unless", where),
        reason=_template(ctx, fields, "reason", where),
        fail_closed_reason=fields.string("fail_closed_reason"),
        on_unknown=cast("OnUnknown | None", fields.choice("on_unknown", ON_UNKNOWN)),
        effective=_window(ctx, fields, where),
        priority=fields.integer("priority") or 0,
        intervention=_intervention_field(ctx, fields, effect, where),
        obligations=_obligations(ctx, fields, where),
        justification=fields.string("justification"),
        description=fields.string("description"),
    )
    return _with_overrides(ctx, fields, rule, where)


def _cel(ctx: Ctx, fields: Fields, name: str, where: str) -> CelSource | None:
    node = fields.node(name)
    return cel_source(ctx, node, f"{where}`{name}`") if node is not None else None


def _template(ctx: Ctx, fields: Fields, name: str, where: str) -> Template | None:
    node = fields.node(name)
    return template(ctx, node, f"{where}`{name}`") if node is not None else None


def _window(ctx: Ctx, fields: Fields, where: str) -> Window | None:
    node = fields.node("effective")
    return window(ctx, node, where) if node is not None else None


def _obligations(ctx: Ctx, fields: Fields, where: str) -> tuple[Obligation, ...]:
    node = fields.node("obligations")
    return obligations(ctx, node, where) if node is not None else ()


def _with_overrides(ctx: Ctx, fields: Fields, rule: Rule, where: str) -> Rule:
    """Attach ``overrides`` (which need a ``justification``) and warn about inert rules."""
    node = fields.node("overrides")
    if node is None:
        if fields.node("effect") is None and not rule.obligations:
            ctx.report(
                "no-effect",
                f"{where}rule has neither `effect` nor `obligations`",
                rule.span,
                severity=Severity.WARNING,
            )
        return rule
    custom = {ob.group for ob in rule.obligations}
    found = overrides(ctx, node, custom, where)
    if not rule.justification:
        ctx.report(
            "missing-justification",
            f"{where}`overrides` needs a `justification`",
            fields.key("overrides") or node,
            help_="say why this rule may beat a higher tier; the decision cites it",
        )
    return replace(rule, overrides=found)


def _intervention_field(
    ctx: Ctx, fields: Fields, effect: Effect | None, where: str
) -> Intervention | None:
    """``intervention`` is required exactly when the effect is ``intervene``."""
    node = fields.node("intervention")
    if effect == "intervene" and node is None:
        ctx.report(
            "missing-field",
            f"{where}`effect: intervene` needs an `intervention`",
            fields.node("effect") or fields.root,
        )
        return None
    if node is None:
        return None
    if effect != "intervene":
        ctx.report(
            "unexpected-field",
            f"{where}`intervention` is only allowed with `effect: intervene`",
            fields.key("intervention") or node,
            help_="set `effect: intervene` or drop it",
        )
        return None
    if not isinstance(node, MappingNode):
        fields.wrong("intervention", "a mapping", node)
        return None
    return _intervention(ctx, node, where + "intervention: ")


def _intervention(ctx: Ctx, node: MappingNode, where: str) -> Intervention | None:
    fields = Fields(ctx, node, INTERVENTION_FIELDS, where)
    fields.require("kind", "disclosure")
    kind = fields.choice("kind", KINDS)
    disclosure = fields.choice("disclosure", DISCLOSURES)
    target = _target(ctx, fields, kind, where)
    message_node = fields.node("message")
    message = template(ctx, message_node, f"{where}`message`") if message_node else None
    justification = fields.string("justification")
    if disclosure == "silent" and not justification:
        ctx.report(
            "missing-justification",
            f"{where}a silent `{kind}` needs a `justification`",
            fields.node("disclosure") or node,
            help_="explain why the user is not told, or make it `disclosure: visible`",
        )
    if disclosure == "visible" and kind != "modify" and message_node is None and kind:
        ctx.report(
            "missing-message",
            f"{where}a visible `{kind}` should carry a `message` for the user",
            fields.node("disclosure") or node,
            severity=Severity.WARNING,
        )
    if kind is None or disclosure is None:
        return None
    return Intervention(
        kind=cast("InterventionKind", kind),
        disclosure=cast("Disclosure", disclosure),
        span=ctx.head(node),
        target=target,
        message=message,
        fail_closed_message=fields.string("fail_closed_message"),
        justification=justification,
        instruction=fields.string("instruction"),
    )


def _target(ctx: Ctx, fields: Fields, kind: str | None, where: str) -> str | None:
    target = fields.string("target")
    if kind in _TARGETED and fields.node("target") is None:
        ctx.report(
            "missing-field",
            f"{where}`{kind}` needs a `target` model",
            fields.node("kind") or fields.root,
        )
    elif kind is not None and kind not in _TARGETED and fields.node("target") is not None:
        ctx.report(
            "unexpected-field",
            f"{where}`target` is only used by `route` and `degrade`",
            fields.key("target") or fields.root,
            severity=Severity.WARNING,
        )
    return target
