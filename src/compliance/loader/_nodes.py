"""Reading YAML nodes as typed fields, collecting diagnostics instead of raising.

Every structural check of a pack (unknown, duplicate, missing and wrongly typed fields)
goes through ``Fields`` so that all of them word their messages the same way and point
at the offending key or value. Values are built from nodes by hand (never by PyYAML's
constructor on the whole tree) so positions survive and nothing is ever expanded.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from compliance.diagnostics import Diagnostic, DiagnosticCode, Severity
from compliance.source import Position, Span

TAG = "tag:yaml.org,2002:"
_CONSTRUCTOR = SafeConstructor()
_SCALAR_BUILDERS: dict[str, Callable[[ScalarNode], object]] = {
    TAG + "int": _CONSTRUCTOR.construct_yaml_int,
    TAG + "float": _CONSTRUCTOR.construct_yaml_float,
    TAG + "bool": _CONSTRUCTOR.construct_yaml_bool,
    TAG + "null": _CONSTRUCTOR.construct_yaml_null,
}
_TYPE_NAMES = {
    "int": "int",
    "float": "float",
    "bool": "bool",
    "str": "string",
    "timestamp": "timestamp",
    "null": "null",
}


@dataclass
class Ctx:
    """Per-file state while building a pack: file name, its lines and the diagnostics."""

    file: str
    lines: list[str]
    diagnostics: list[Diagnostic] = field(default_factory=list)

    def span(self, node: Node) -> Span:
        """The span of ``node`` from its start to its end mark."""
        start, end = node.start_mark, node.end_mark
        return Span(self.file, Position(start.line, start.column), Position(end.line, end.column))

    def head(self, node: Node) -> Span:
        """A one-line span to blame a whole mapping on: its first key, or its start."""
        if isinstance(node, MappingNode) and node.value:
            return self.span(node.value[0][0])
        mark = node.start_mark
        return Span.point(self.file, mark.line, mark.column)

    def report(
        self,
        code: DiagnosticCode,
        message: str,
        at: Node | Span,
        *,
        help_: str | None = None,
        notes: tuple[str, ...] = (),
        severity: Severity = Severity.ERROR,
    ) -> None:
        """Record one diagnostic at a node or span."""
        span = at if isinstance(at, Span) else self.span(at)
        self.diagnostics.append(Diagnostic(code, message, span, severity, help_, notes))


def suggest(name: str, choices: Sequence[str], cutoff: float = 0.6) -> str | None:
    """``did you mean `x`?`` for the closest choice, or None."""
    match = difflib.get_close_matches(name, list(choices), n=1, cutoff=cutoff)
    return f"did you mean `{match[0]}`?" if match else None


def one_of(choices: Sequence[str]) -> str:
    """``expected one of `a`, `b`, `c``` for help lines."""
    return "expected one of " + ", ".join(f"`{c}`" for c in choices)


def kind_of(node: Node) -> str:
    """The YAML kind of a scalar (``string``, ``int`` …), or ``mapping``/``list``."""
    if isinstance(node, MappingNode):
        return "mapping"
    if isinstance(node, SequenceNode):
        return "list"
    tag = node.tag.removeprefix(TAG)
    return _TYPE_NAMES.get(tag, tag)


def describe(node: Node) -> str:
    """How a found value reads in a message: ``string `high```, ``a list``, ``null``."""
    kind = kind_of(node)
    if kind in ("mapping", "list"):
        return f"a {kind}"
    if kind == "null" or not isinstance(node, ScalarNode):
        return kind
    text = node.value if len(node.value) <= 40 else node.value[:37] + "..."
    return f"{kind} `{text}`"


def scalar_value(node: ScalarNode) -> object:
    """The Python value of a scalar as YAML 1.1 resolves it (timestamps stay text)."""
    build = _SCALAR_BUILDERS.get(node.tag)
    return build(node) if build else node.value


def plain_data(node: Node) -> object:
    """The meaning of a node tree as plain data: what ``canonical`` digests.

    Non-finite floats become a tagged mapping, since canonical JSON has no NaN.
    """
    if isinstance(node, MappingNode):
        return {str(plain_data(k)): plain_data(v) for k, v in node.value}
    if isinstance(node, SequenceNode):
        return [plain_data(item) for item in node.value]
    value = scalar_value(node) if isinstance(node, ScalarNode) else None
    if isinstance(value, float) and not math.isfinite(value):
        return {"!float": repr(value)}
    return value


def is_str(node: Node | None) -> bool:
    """True for a scalar YAML reads as a string."""
    return isinstance(node, ScalarNode) and node.tag == TAG + "str"


class Fields:
    """The keys of one mapping node, checked against the fields it may have.

    Construction reports non-string keys, duplicate keys (at the second, noting the first)
    and unknown keys (with a did-you-mean); accessors report wrong types. ``where`` prefixes
    messages with chained context such as ``rule `r1`: ``.
    """

    def __init__(
        self,
        ctx: Ctx,
        node: MappingNode,
        allowed: Sequence[str],
        where: str = "",
        unknown: tuple[DiagnosticCode, str] = ("unknown-field", "field"),
    ) -> None:
        self.ctx, self.root, self.where, self.unknown = ctx, node, where, unknown
        self.items: dict[str, tuple[ScalarNode, Node]] = {}
        for key, value in node.value:
            self._add(key, value, allowed)

    def _add(self, key: Node, value: Node, allowed: Sequence[str]) -> None:
        if not isinstance(key, ScalarNode) or kind_of(key) in ("mapping", "list", "null"):
            self.ctx.report(
                "wrong-type", f"{self.where}keys must be names, found {describe(key)}", key
            )
            return
        name = key.value
        if name in self.items:
            first = self.items[name][0].start_mark
            self.ctx.report(
                "duplicate-key",
                f"{self.where}duplicate key `{name}`",
                key,
                notes=(f"`{name}` was first set at line {first.line + 1}",),
            )
        elif name not in allowed:
            code, noun = self.unknown
            self.ctx.report(
                code,
                f"{self.where}unknown {noun} `{name}`",
                key,
                help_=suggest(name, allowed) or one_of(allowed),
            )
        else:
            self.items[name] = (key, value)

    def key(self, name: str) -> ScalarNode | None:
        """The key node of ``name`` when present."""
        item = self.items.get(name)
        return item[0] if item else None

    def node(self, name: str) -> Node | None:
        """The value node of ``name`` when present."""
        item = self.items.get(name)
        return item[1] if item else None

    def require(self, *names: str) -> bool:
        """Report each missing field; True when all are present."""
        ok = True
        for name in names:
            if name not in self.items:
                ok = False
                self.ctx.report(
                    "missing-field",
                    f"{self.where}missing required field `{name}`",
                    self.ctx.head(self.root),
                )
        return ok

    def wrong(self, name: str, expected: str, node: Node) -> None:
        """Report ``name`` holding a value of the wrong type."""
        self.ctx.report(
            "wrong-type", f"{self.where}`{name}` must be {expected}, found {describe(node)}", node
        )

    def string(self, name: str) -> str | None:
        """A string field (numbers are refused so ids never silently change type)."""
        node = self.node(name)
        if node is None:
            return None
        if not is_str(node):
            self.wrong(name, "a string", node)
            return None
        assert isinstance(node, ScalarNode)
        return str(node.value)

    def text(self, name: str) -> str | None:
        """A free-text field: any scalar but null, read as written (``version: 1.0``)."""
        node = self.node(name)
        if node is None:
            return None
        if not isinstance(node, ScalarNode) or kind_of(node) == "null":
            self.wrong(name, "a string", node)
            return None
        return str(node.value)

    def integer(self, name: str) -> int | None:
        """An int field (``true`` is not an int here)."""
        node = self.node(name)
        if node is None:
            return None
        if not isinstance(node, ScalarNode) or kind_of(node) != "int":
            self.wrong(name, "an int", node)
            return None
        value = scalar_value(node)
        assert isinstance(value, int)
        return value

    def boolean(self, name: str) -> bool | None:
        """A bool field."""
        node = self.node(name)
        if node is None:
            return None
        if not isinstance(node, ScalarNode) or kind_of(node) != "bool":
            self.wrong(name, "a bool", node)
            return None
        return bool(scalar_value(node))

    def choice(self, name: str, choices: Sequence[str]) -> str | None:
        """A string field restricted to ``choices`` (``invalid-value`` with did-you-mean)."""
        node = self.node(name)
        if node is None:
            return None
        if not isinstance(node, ScalarNode) or kind_of(node) in ("mapping", "list", "null"):
            self.wrong(name, "one of " + ", ".join(f"`{c}`" for c in choices), node)
            return None
        if node.value not in choices:
            self.ctx.report(
                "invalid-value",
                f"{self.where}invalid `{name}` `{node.value}`",
                node,
                help_=suggest(node.value, choices) or one_of(choices),
            )
            return None
        return str(node.value)

    def mapping(self, name: str) -> MappingNode | None:
        """A mapping field."""
        node = self.node(name)
        if node is None:
            return None
        if not isinstance(node, MappingNode):
            self.wrong(name, "a mapping", node)
            return None
        return node

    def sequence(self, name: str) -> SequenceNode | None:
        """A list field."""
        node = self.node(name)
        if node is None:
            return None
        if not isinstance(node, SequenceNode):
            self.wrong(name, "a list", node)
            return None
        return node

    def strings(self, name: str) -> tuple[str, ...]:
        """A list of strings (a lone string is refused, to keep one spelling)."""
        seq = self.sequence(name)
        if seq is None:
            return ()
        out: list[str] = []
        for item in seq.value:
            if is_str(item):
                assert isinstance(item, ScalarNode)
                out.append(item.value)
            else:
                self.wrong(name, "a list of strings", item)
        return tuple(out)
