"""The manifest ``packset.yaml``: the set's id, default effect, shared variables and schema.

Shared ``variables:`` (e.g. the frontier model list) are declared once here and read by
every pack as ``vars.<name>``; a pack may not redeclare one (``duplicate-variable``).

Type strings are parsed by ``compliance.cel.types.parse_type``; its error offsets are added
to the scalar's column so a typo like ``list<strng>`` is underlined where it is written.

A leaf may constrain its values (``compliance.cel.types.Constraint``): ``enum``, ``pattern``
(an RE2 full match), ``normalize`` (``trim``, ``casefold``/``lower``/``upper``), ``empty``
(``absent``, the default for a constrained string, or ``keep``) and, for doubles,
``finite``. On ``list<T>`` and ``map<K, T>`` they apply to the elements/values ``T``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal, cast

from yaml.nodes import MappingNode, Node, ScalarNode

from compliance.cel.regex import RegexError, compile_re2
from compliance.cel.types import (
    NORMALIZERS,
    STRING,
    TIMESTAMP,
    CelType,
    Constraint,
    ContextSchema,
    TypeSyntaxError,
    object_of,
    parse_type,
)
from compliance.loader._celmap import map_scalar
from compliance.loader._nodes import Ctx, Fields, describe, is_str, kind_of, scalar_value
from compliance.loader._pack import build_variables
from compliance.pack import Variable
from compliance.source import SourceMap

MANIFEST_FIELDS = ("packset", "default_effect", "variables", "context", "events")
LEAF_FIELDS = ("type", "enum", "pattern", "normalize", "empty", "finite", "description",
               "sensitive")
_CASES = ("casefold", "lower", "upper")
DEFAULT_EFFECTS = ("allow", "deny")


@dataclass(frozen=True, slots=True)
class Manifest:
    """What ``packset.yaml`` declares."""

    name: str
    default_effect: Literal["allow", "deny"]
    schema: ContextSchema | None
    variables: tuple[Variable, ...] = ()  # shared by every pack, read as `vars.<name>`
    events: ContextSchema | None = None  # `events:`, what signal predicates read as `event`


def build_manifest(ctx: Ctx, root: Node) -> Manifest:
    """Read a manifest root node (the schema is None when ``context`` is unusable)."""
    if not isinstance(root, MappingNode):
        ctx.report("wrong-type", f"`packset.yaml` must be a mapping, found {describe(root)}", root)
        return Manifest("", "allow", None)
    fields = Fields(ctx, root, MANIFEST_FIELDS)
    fields.require("packset", "context")
    effect = fields.choice("default_effect", DEFAULT_EFFECTS) or "allow"
    context = fields.mapping("context")
    schema = build_schema(ctx, context) if context is not None else None
    shared = build_variables(ctx, fields.mapping("variables"))
    events_node = fields.mapping("events")
    events = build_event_schema(ctx, events_node) if events_node is not None else None
    return Manifest(
        fields.string("packset") or "", cast("Literal['allow', 'deny']", effect), schema, shared,
        events,
    )


EVENT_BUILTINS: dict[str, CelType] = {"kind": STRING, "time": TIMESTAMP}
"""What every event has (``compliance.signals.Event`` validates them before any predicate)."""


def event_schema(fields: dict[str, CelType] | None = None) -> ContextSchema:
    """The schema of ``event``: ``kind`` and ``time`` plus the declared fields."""
    return ContextSchema({"event": object_of("event", {**(fields or {}), **EVENT_BUILTINS})})


def build_event_schema(ctx: Ctx, node: MappingNode) -> ContextSchema:
    """The ``events:`` mapping (types as in ``context:``) as the schema of ``event``."""
    declared = _fields(ctx, node, "event.")
    for name, builtin in EVENT_BUILTINS.items():
        if name in declared and declared[name].kind != builtin.kind:
            key = next(k for k, _ in node.value if isinstance(k, ScalarNode) and k.value == name)
            ctx.report("invalid-type", f"events: `{name}` is always a `{builtin}`", key)
    return event_schema(declared)


def build_schema(ctx: Ctx, node: MappingNode) -> ContextSchema:
    """A ``ContextSchema`` from a ``context:`` mapping (bad entries are reported and left out)."""
    return ContextSchema(
        _fields(ctx, node, ""), source=ctx.file, sensitive_paths=_sensitive_paths(node, "")
    )


def _sensitive_paths(node: MappingNode, prefix: str) -> frozenset[str]:
    """Paths whose leaf spec says ``sensitive: true`` (audit logs redact them)."""
    found: set[str] = set()
    for key, value in node.value:
        if not isinstance(key, ScalarNode) or not isinstance(value, MappingNode):
            continue
        path = prefix + key.value
        leaf = {k.value: v for k, v in value.value if isinstance(k, ScalarNode)}
        if "type" in leaf:
            flag = leaf.get("sensitive")
            if isinstance(flag, ScalarNode) and kind_of(flag) == "bool" and scalar_value(flag):
                found.add(path)
        else:
            found |= _sensitive_paths(value, path + ".")
    return frozenset(found)


def _fields(ctx: Ctx, node: MappingNode, prefix: str) -> dict[str, CelType]:
    names = [k.value for k, _ in node.value if isinstance(k, ScalarNode)]
    fields = Fields(
        ctx, node, names, f"context `{prefix.rstrip('.')}`: " if prefix else "context: "
    )
    out: dict[str, CelType] = {}
    for name, (_, value) in fields.items.items():
        t = _declared(ctx, value, prefix + name)
        if t is not None:
            out[name] = t
    return out


def _declared(ctx: Ctx, node: Node, path: str) -> CelType | None:
    if isinstance(node, MappingNode):
        if any(isinstance(k, ScalarNode) and k.value == "type" for k, _ in node.value):
            return _leaf(ctx, node, path)
        return object_of(path, _fields(ctx, node, path + "."))
    return _type(ctx, node, path)


def _type(ctx: Ctx, node: Node, path: str) -> CelType | None:
    if not is_str(node):
        ctx.report(
            "wrong-type", f"context `{path}`: a type must be a string, found {describe(node)}", node
        )
        return None
    assert isinstance(node, ScalarNode)
    try:
        return parse_type(node.value)
    except TypeSyntaxError as exc:
        where = SourceMap(ctx.file, tuple(map_scalar(node, ctx.lines, ctx.file).segments))
        ctx.report(
            "invalid-type",
            f"context `{path}`: {exc}",
            where.span(exc.offset, exc.offset + 1),
            help_="types are `int`, `uint`, `double`, `bool`, `string`, `bytes`, "
            "`timestamp`, `duration`, `dyn`, `list<T>`, `map<K, V>`",
        )
        return None


def _leaf(ctx: Ctx, node: MappingNode, path: str) -> CelType | None:
    fields = Fields(ctx, node, LEAF_FIELDS, f"context `{path}`: ")
    type_node = fields.node("type")
    t = _type(ctx, type_node, path) if type_node is not None else None
    fields.string("description")
    fields.boolean("sensitive")  # read by _sensitive_paths; checked here for its type
    if t is None:
        return None
    scalar = _scalar(t)
    string_only = [n for n in ("enum", "pattern", "normalize", "empty") if fields.node(n)]
    if string_only and scalar.kind != "string":
        name = string_only[0]
        ctx.report("invalid-value",
                   f"context `{path}`: `{name}` is only allowed for `string`, not `{t}`",
                   fields.key(name) or node)
        return t
    if fields.node("finite") is not None and scalar.kind != "double":
        ctx.report("invalid-value",
                   f"context `{path}`: `finite` is only allowed for `double`, not `{t}`",
                   fields.key("finite") or node)
        return t
    enum = fields.strings("enum")
    pattern = _pattern(ctx, fields, path)
    normalize = _normalize(ctx, fields, path)
    empty = fields.choice("empty", ("absent", "keep"))
    constrained = bool(enum or pattern or normalize)
    finite = fields.boolean("finite")
    constraint = Constraint(
        pattern=pattern, normalize=normalize,
        empty_absent=(empty or ("absent" if constrained else "keep")) == "absent",
        finite=finite is not False,
    )
    return _with_scalar(t, replace(scalar, enum=enum, constraint=constraint))


def _scalar(t: CelType) -> CelType:
    """The scalar a leaf's constraints apply to: list elements, map values, or ``t``."""
    while t.kind in ("list", "map"):
        t = t.elem if t.kind == "list" else t.value
    return t


def _with_scalar(t: CelType, scalar: CelType) -> CelType:
    if t.kind == "list":
        return replace(t, params=(_with_scalar(t.elem, scalar),))
    if t.kind == "map":
        return replace(t, params=(t.key, _with_scalar(t.value, scalar)))
    return scalar


def _pattern(ctx: Ctx, fields: Fields, path: str) -> str:
    pattern = fields.string("pattern")
    if pattern is None:
        return ""
    try:
        compile_re2(pattern)
    except RegexError as err:
        where = fields.node("pattern")
        assert where is not None
        ctx.report("invalid-value",
                   f"context `{path}`: `pattern` is not an RE2 pattern: {err.reason}", where)
        return ""
    return pattern


def _normalize(ctx: Ctx, fields: Fields, path: str) -> tuple[str, ...]:
    steps = fields.strings("normalize")
    unknown = [s for s in steps if s not in NORMALIZERS]
    cases = [s for s in steps if s in _CASES]
    where = fields.node("normalize")
    if where is None:
        return ()
    if unknown:
        ctx.report("invalid-value",
                   f"context `{path}`: unknown normalisation `{unknown[0]}` "
                   f"(known: {', '.join(NORMALIZERS)})", where)
        return ()
    if len(cases) > 1 or len(set(steps)) != len(steps):
        ctx.report("invalid-value",
                   f"context `{path}`: `normalize` takes `trim` and at most one of "
                   f"{', '.join(_CASES)}, each once", where)
        return ()
    return tuple(sorted(steps, key=NORMALIZERS.index))  # trim first, then case
