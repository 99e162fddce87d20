"""A pack's ``signals:`` section: counted events that raise facts (issue 12).

Each entry names a signal, a CEL predicate ``on:`` and key ``key:`` over ``event``, the
request context path ``key_path:`` the key matches, a ``count`` within a ``within:`` window,
the fact it raises (``raise:``) and how long the fact holds (``for:``). Structure problems
are reported here; types, positivity and duplicates are the checker's (``signals`` pass).
"""

from __future__ import annotations

import re

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from compliance.cel.values import parse_duration
from compliance.loader._celmap import cel_source
from compliance.loader._nodes import Ctx, Fields, describe, is_str
from compliance.pack import Signal
from compliance.source import Span

SIGNAL_FIELDS = ("name", "description", "on", "key", "key_path", "count", "within", "raise",
                 "for")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


def build_signals(ctx: Ctx, node: SequenceNode | None) -> tuple[Signal, ...]:
    """The signals of a ``signals:`` list (entries with problems are reported and left out)."""
    if node is None:
        return ()
    out: list[Signal] = []
    for index, item in enumerate(node.value):
        signal = _signal(ctx, item, index)
        if signal is not None:
            out.append(signal)
    return tuple(out)


def _signal(ctx: Ctx, node: Node, index: int) -> Signal | None:
    if not isinstance(node, MappingNode):
        ctx.report("wrong-type", f"signal {index + 1} must be a mapping, found {describe(node)}",
                   node)
        return None
    quiet = Fields(Ctx(ctx.file, ctx.lines), node, SIGNAL_FIELDS)
    name = quiet.string("name")
    where = f"signal `{name}`: " if name else f"signal {index + 1}: "
    fields = Fields(ctx, node, SIGNAL_FIELDS, where)
    ok = fields.require("name", "on", "key", "key_path", "count", "within", "raise", "for")
    fields.string("description")
    name = fields.string("name")
    fact = fields.string("raise")
    key_path = fields.string("key_path")
    count = fields.integer("count")
    on_node, key_node = fields.node("on"), fields.node("key")
    on = cel_source(ctx, on_node, f"{where}`on`") if on_node is not None else None
    key = cel_source(ctx, key_node, f"{where}`key`") if key_node is not None else None
    within = _duration(ctx, fields, "within", where)
    lifetime = _duration(ctx, fields, "for", where)
    for label, value, pattern in (("name", name, _NAME), ("raise", fact, _NAME),
                                  ("key_path", key_path, _PATH)):
        at = fields.node(label)
        if value is not None and at is not None and pattern.fullmatch(value) is None:
            ctx.report("invalid-value", f"{where}`{label}` `{value}` is not "
                       + ("a dotted context path" if label == "key_path" else "an identifier"),
                       at, help_="use letters, digits and `_`, starting with a letter or `_`")
            ok = False
    if (not ok or name is None or fact is None or key_path is None or count is None
            or on is None or key is None or within is None or lifetime is None):
        return None
    return Signal(
        name=name, span=_span(ctx, fields, "name", node), on=on, key=key,
        key_path=key_path, key_path_span=_span(ctx, fields, "key_path", node),
        count=count, count_span=_span(ctx, fields, "count", node),
        within_ns=within, within_span=_span(ctx, fields, "within", node),
        fact=fact, fact_span=_span(ctx, fields, "raise", node),
        lifetime_ns=lifetime, lifetime_span=_span(ctx, fields, "for", node),
    )


def _span(ctx: Ctx, fields: Fields, name: str, node: Node) -> Span:
    return ctx.span(fields.node(name) or node)


def _duration(ctx: Ctx, fields: Fields, name: str, where: str) -> int | None:
    """A duration such as ``10m`` or ``24h`` in nanoseconds (``invalid-duration`` otherwise)."""
    node = fields.node(name)
    if node is None:
        return None
    if not is_str(node):
        fields.wrong(name, "a duration such as `10m` or `24h`", node)
        return None
    assert isinstance(node, ScalarNode)
    try:
        return parse_duration(node.value).nanos
    except ValueError as err:
        ctx.report("invalid-duration", f"{where}`{name}`: {err}", node,
                   help_="write a duration such as `90s`, `10m` or `24h`")
        return None
