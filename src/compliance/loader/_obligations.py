"""Obligations and overrides: the nested YAML flattened into typed ``Obligation`` records.

The evaluator merges obligations by kind without knowing how they were spelled, so the
format's table (docs/rule-pack-format.md, "Obligations and merge rules") is encoded here
once, as data: each written key maps to a kind, a value check and a merge rule.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import get_args

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from compliance.loader._nodes import (
    Ctx,
    Fields,
    describe,
    kind_of,
    plain_data,
    scalar_value,
    suggest,
)
from compliance.pack import TIER_RANKS, MergeRule, Obligation, Override

MERGE_RULES: tuple[str, ...] = get_args(MergeRule)
BUILTIN_GROUPS = ("retention", "training", "custodian", "logging")
_OBLIGATION_KEYS = ("retention", "training", "custodian", "logging", "custom")
_RETENTION_KEYS = ("min_days", "max_days", "purpose", "training")
_TRAINING = ("prohibited", "allowed")
_LOGGING = ("none", "metadata", "full")


def _days(value: object) -> str | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
    return None if ok else "an int of at least 0"


def _string(value: object) -> str | None:
    return None if isinstance(value, str) else "a string"


def _among(choices: tuple[str, ...]) -> Callable[[object], str | None]:
    def check(value: object) -> str | None:
        return None if value in choices else "one of " + ", ".join(f"`{c}`" for c in choices)

    return check


@dataclass(frozen=True, slots=True)
class _Spec:
    kind: str
    merge: MergeRule
    group: str
    check: Callable[[object], str | None]


_RETENTION: dict[str, _Spec] = {
    "min_days": _Spec("retention_min_days", "max", "retention", _days),
    "max_days": _Spec("retention_max_days", "min", "retention", _days),
    "purpose": _Spec("retention_purpose", "union", "retention", _string),
    "training": _Spec("training", "prohibit-wins", "training", _among(_TRAINING)),
}
_TOP: dict[str, _Spec] = {
    "training": _RETENTION["training"],
    "custodian": _Spec("custodian", "by-tier", "custodian", _string),
    "logging": _Spec("logging_level", "max", "logging", _among(_LOGGING)),
}


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_bool(value: object) -> bool:
    return isinstance(value, bool)


def _is_union(value: object) -> bool:
    return isinstance(value, str) or (
        isinstance(value, list) and all(isinstance(v, str) for v in value)
    )


_CUSTOM_VALUES: dict[str, tuple[Callable[[object], bool], str]] = {
    "max": (_is_number, "a number"),
    "min": (_is_number, "a number"),
    "union": (_is_union, "a string or a list of strings"),
    "prohibit-wins": (lambda v: v in _TRAINING, "`prohibited` or `allowed`"),
    "any-true": (_is_bool, "a bool"),
    "all-true": (_is_bool, "a bool"),
    "by-tier": (lambda v: not isinstance(v, dict), "a scalar or a list"),
}


def _invalid(ctx: Ctx, where: str, message: str, node: Node, help_: str | None = None) -> None:
    ctx.report("invalid-obligation", f"{where}{message}", node, help_=help_)


def _one(ctx: Ctx, spec: _Spec, name: str, node: Node, where: str) -> Obligation | None:
    value = scalar_value(node) if isinstance(node, ScalarNode) else None
    expected = spec.check(value) if isinstance(node, ScalarNode) else "a scalar"
    if expected is not None:
        _invalid(ctx, where, f"`{name}` must be {expected}, found {describe(node)}", node)
        return None
    return Obligation(spec.kind, value, spec.merge, spec.group, ctx.span(node))


def _table(
    ctx: Ctx, node: MappingNode, specs: dict[str, _Spec], allowed: tuple[str, ...], where: str
) -> tuple[Fields, list[Obligation]]:
    fields = Fields(ctx, node, allowed, where, ("invalid-obligation", "obligation"))
    out: list[Obligation] = []
    for name, spec in specs.items():
        value = fields.node(name)
        if value is not None and (ob := _one(ctx, spec, name, value, where)):
            out.append(ob)
    return fields, out


def obligations(ctx: Ctx, node: Node, where: str) -> tuple[Obligation, ...]:
    """Flatten a rule's ``obligations:`` mapping per the format table."""
    if not isinstance(node, MappingNode):
        _invalid(ctx, where, f"`obligations` must be a mapping, found {describe(node)}", node)
        return ()
    fields, out = _table(ctx, node, _TOP, _OBLIGATION_KEYS, where + "obligations: ")
    retention = fields.node("retention")
    if isinstance(retention, MappingNode):
        _, more = _table(ctx, retention, _RETENTION, _RETENTION_KEYS, where + "retention: ")
        out.extend(more)
    elif retention is not None:
        _invalid(
            ctx, where, f"`retention` must be a mapping, found {describe(retention)}", retention
        )
    trainings = [ob for ob in out if ob.kind == "training"]
    if len(trainings) > 1 and trainings[0].value != trainings[1].value:
        _invalid(
            ctx,
            where,
            "`training` is set twice with different values",
            fields.node("training") or node,
        )
    custom = fields.node("custom")
    if custom is not None:
        out.extend(_custom(ctx, custom, where))
    return tuple(out)


def _custom(ctx: Ctx, node: Node, where: str) -> list[Obligation]:
    if not isinstance(node, MappingNode):
        _invalid(ctx, where, f"`custom` must be a mapping, found {describe(node)}", node)
        return []
    out: list[Obligation] = []
    builtin = {spec.kind for spec in (*_TOP.values(), *_RETENTION.values())}
    for key, value in node.value:
        name = key.value if isinstance(key, ScalarNode) else str(plain_data(key))
        if name in builtin or name in BUILTIN_GROUPS:
            _invalid(ctx, where, f"custom obligation `{name}` shadows a built-in one", key)
            continue
        if (ob := _custom_one(ctx, name, value, where + f"custom `{name}`: ")) is not None:
            out.append(ob)
    return out


def _custom_one(ctx: Ctx, name: str, node: Node, where: str) -> Obligation | None:
    if not isinstance(node, MappingNode):
        _invalid(ctx, where, f"must be `{{value, merge}}`, found {describe(node)}", node)
        return None
    fields = Fields(ctx, node, ("value", "merge"), where)
    if not fields.require("value", "merge"):
        return None
    merge_node = fields.node("merge")
    assert merge_node is not None
    merge = merge_node.value if isinstance(merge_node, ScalarNode) else None
    if merge not in MERGE_RULES:
        _invalid(
            ctx,
            where,
            f"unknown merge rule {describe(merge_node)}",
            merge_node,
            suggest(str(merge), MERGE_RULES)
            or "expected one of " + ", ".join(f"`{m}`" for m in MERGE_RULES),
        )
        return None
    value_node = fields.node("value")
    assert value_node is not None
    value = plain_data(value_node)
    accepts, expected = _CUSTOM_VALUES[merge]
    if not accepts(value) or (isinstance(value_node, SequenceNode) and merge != "union"):
        _invalid(
            ctx,
            where,
            f"merge `{merge}` needs {expected}, found {describe(value_node)}",
            value_node,
        )
        return None
    frozen = tuple(value) if isinstance(value, list) else value
    return Obligation(name, frozen, merge, name, ctx.span(value_node))


def overrides(ctx: Ctx, node: Node, groups: set[str], where: str) -> tuple[Override, ...]:
    """Read ``overrides: {group: tier}``; ``groups`` are the custom names this rule declares."""
    if not isinstance(node, MappingNode):
        ctx.report(
            "wrong-type", f"{where}`overrides` must be a mapping, found {describe(node)}", node
        )
        return ()
    known = (*BUILTIN_GROUPS, *sorted(groups))
    out: list[Override] = []
    fields = Fields(ctx, node, known, where + "overrides: ")
    for group, (_, value) in fields.items.items():
        tier = tier_of(ctx, value, where + f"overrides `{group}`: ")
        if tier is not None:
            out.append(Override(group, tier[0], tier[1], ctx.span(value)))
    return tuple(out)


def tier_of(ctx: Ctx, node: Node, where: str) -> tuple[str, int] | None:
    """A tier name (``law`` …) or an int rank, as ``(name, rank)``."""
    if isinstance(node, ScalarNode) and kind_of(node) == "int":
        rank = scalar_value(node)
        assert isinstance(rank, int)
        return str(rank), rank
    if isinstance(node, ScalarNode) and node.value in TIER_RANKS:
        return node.value, TIER_RANKS[node.value]
    choices = list(TIER_RANKS)
    text = node.value if isinstance(node, ScalarNode) else ""
    ctx.report(
        "invalid-value",
        f"{where}invalid tier {describe(node)}",
        node,
        help_=suggest(text, choices)
        or "expected `law`, `contract`, `policy`, `product` or an int rank",
    )
    return None
