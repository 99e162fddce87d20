"""An instrumented evaluation of one condition: the value of every operand on one context.

``compliance eval --explain`` and condition coverage need more than a condition's result:
the value each ``&&``/``||``/``!`` operand, comparison and call took, which operands were
short-circuited, and which were unknown (with the absent paths) or failed. The normal path
(generated code) stays untouched: this module compiles the same checked tree a second time
with the closure compiler (``compliance.cel.compiler``, the differential oracle of the
generated code: same function table, same value readers) and wraps each node's closure so
it records its outcome in the activation. Only ``explain=True`` pays for it.

Macro bodies run once per element, so nodes inside them are not recorded one by one: the
macro is shown with its value. ``vars.<name>`` is compiled inline so the trace shows the
variable's own operands as a sub-trace.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from compliance.cel.ast import (
    Call,
    Comprehension,
    Expr,
    Ident,
    Select,
    attribute_path,
    children,
)
from compliance.cel.ast import (
    Literal as LiteralNode,
)
from compliance.cel.compiler import NOCONST, ClosureCompiler, CompileEnv, Program
from compliance.cel.types import ContextSchema
from compliance.cel.unparse import unparse
from compliance.cel.values import CelEvalError, CelUnknown, Duration, Timestamp, UInt

__all__ = ["TraceNode", "TraceState", "Tracer", "jsonable", "trace_lines"]

TraceState = Literal["value", "unknown", "error", "not-evaluated"]

_TRACE = "\x00trace"
_BOOLEAN_OPS = frozenset({"_&&_", "_||_"})
_MISSING = object()


@dataclass(frozen=True, slots=True)
class TraceNode:
    """One operand: its CEL text, offsets, what it came to, and its own operands.

    ``start``/``end`` are offsets into the condition's text, or into the variable's text
    when ``variable`` names the ``vars.<name>`` whose expression this node belongs to.
    """

    text: str
    start: int
    end: int
    state: TraceState
    value: Any = None
    missing: tuple[str, ...] = ()
    error: str | None = None
    variable: str | None = None
    boolean_operand: bool = False  # a direct operand of ``&&`` or ``||`` (condition coverage)
    children: tuple[TraceNode, ...] = ()

    def walk(self) -> list[TraceNode]:
        """This node and every node below it, parents first."""
        out: list[TraceNode] = []
        stack = [self]
        while stack:
            node = stack.pop()
            out.append(node)
            stack.extend(reversed(node.children))
        return out

    def to_json(self, parent_variable: str | None = None) -> dict[str, Any]:
        """The node as JSON (``explanation[].trace`` in the decision); ``variable`` is set
        where a ``vars.<name>`` sub-trace starts."""
        out: dict[str, Any] = {"text": self.text, "state": self.state}
        if self.state == "value":
            out["value"] = jsonable(self.value)
        if self.missing:
            out["missing"] = list(self.missing)
        if self.error is not None:
            out["error"] = self.error
        if self.variable is not None and self.variable != parent_variable:
            out["variable"] = self.variable
        if self.children:
            out["operands"] = [c.to_json(self.variable) for c in self.children]
        return out


def jsonable(value: Any, depth: int = 0) -> Any:
    """A CEL value as plain JSON (timestamps and durations as their CEL text)."""
    if depth > 32:
        return "…"
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, UInt):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, bytes):
        return "b" + json.dumps(value.decode("latin-1"))
    if isinstance(value, list | tuple):
        return [jsonable(v, depth + 1) for v in value]
    if isinstance(value, Mapping):
        return {str(jsonable(k, depth + 1)): jsonable(v, depth + 1) for k, v in value.items()}
    if isinstance(value, Timestamp | Duration):
        return str(value)
    return str(value)


def trace_lines(when: Mapping[str, Any] | None, unless: Mapping[str, Any] | None,
                indent: str = "") -> list[str]:
    """The ``when``/``unless`` trees (``TraceNode.to_json``) as text: one operand a line,
    indented under the operator it belongs to, with its value."""
    lines: list[str] = []
    for clause, tree in (("when", when), ("unless", unless)):
        if tree is None:
            continue
        lines.append(f"{indent}{clause}:")
        stack: list[tuple[Mapping[str, Any], int]] = [(tree, 1)]
        while stack:
            node, depth = stack.pop()
            via = f"  (value of vars.{node['variable']})" if node.get("variable") else ""
            lines.append(f"{indent}{'  ' * depth}{_visible(str(node['text']))} -> "
                         f"{_visible(_shown(node))}{via}")
            stack.extend((c, depth + 1) for c in reversed(node.get("operands", ())))
    return lines


def _shown(node: Mapping[str, Any]) -> str:
    state = node["state"]
    if state == "value":
        text = json.dumps(node.get("value"), ensure_ascii=False, sort_keys=True)
        return text if len(text) <= 200 else text[:199] + "…"
    if state == "unknown":
        return "unknown (missing: " + ", ".join(node.get("missing", ())) + ")"
    if state == "error":
        return f"error: {node.get('error')}"
    return "not evaluated"


_INVISIBLE = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069]")


def _visible(text: str) -> str:
    """Control and invisible characters from pack or context text as escapes."""
    return _INVISIBLE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


class _Recording(ClosureCompiler):
    """The closure compiler with every node outside a macro body recording its outcome."""

    def __init__(self, env: CompileEnv) -> None:
        super().__init__(env)
        self.constants: dict[int, object] = {}

    def compile(self, node: Expr) -> tuple[Any, object]:
        fn, const = super().compile(node)
        if self.scopes:
            return fn, const  # inside a macro body: once per element, not recorded
        key = id(node)
        if const is not NOCONST:
            self.constants[key] = const

        def recorded(act: Any) -> Any:
            sink = act.get(_TRACE) if isinstance(act, dict) else None
            try:
                value = fn(act)
            except (CelEvalError, CelUnknown) as failure:
                if sink is not None:
                    sink[key] = failure
                raise
            if sink is not None:
                sink[key] = value
            return value

        return recorded, const


class Tracer:
    """One condition compiled for tracing: ``run(activation)`` gives its ``TraceNode`` tree."""

    def __init__(self, expr: Expr, schema: ContextSchema | None,
                 variables: Mapping[str, Expr]) -> None:
        self.expr = expr
        self.variables = dict(variables)
        self._compiler = _Recording(CompileEnv(schema=schema, variables=self.variables))
        self._program: Program = self._compiler.compile(expr)[0]
        self._texts: dict[int, str] = {}

    def run(self, activation: Mapping[str, Any]) -> TraceNode:
        """Evaluate on ``activation`` (a request activation) and build the tree."""
        act = dict(activation)
        sink: dict[int, object] = {}
        act[_TRACE] = sink
        try:
            self._program(act)
        except (CelEvalError, CelUnknown):
            pass  # recorded at the root
        except RecursionError:
            sink[id(self.expr)] = CelEvalError(
                "cost-limit", "expression too deeply nested to evaluate")
        return self._build(self.expr, sink, None, False, set())

    def skipped(self) -> TraceNode:
        """The tree with nothing evaluated (``unless`` after a false ``when``)."""
        return self._build(self.expr, {}, None, False, set())

    def _text(self, node: Expr) -> str:
        text = self._texts.get(id(node))
        if text is None:
            text = self._texts[id(node)] = unparse(node)
        return text

    def _build(self, node: Expr, sink: Mapping[int, object], variable: str | None,
               operand: bool, expanding: set[str]) -> TraceNode:
        key = id(node)
        kids: list[TraceNode] = []
        for child, child_var, child_operand in self._operands(node, variable, expanding):
            if id(child) in self._compiler.constants and not isinstance(child, Select | Ident):
                continue  # a literal list or folded constant: its value is in the text
            inner = expanding | {child_var} if child_var not in (None, variable) else expanding
            kids.append(self._build(child, sink, child_var, child_operand, inner))
        outcome = sink.get(key, _MISSING)
        if outcome is _MISSING and key in self._compiler.constants:
            outcome = self._compiler.constants[key]
        base = {"text": self._text(node), "start": node.start, "end": node.end,
                "variable": variable, "boolean_operand": operand, "children": tuple(kids)}
        if outcome is _MISSING:
            return TraceNode(state="not-evaluated", **base)  # type: ignore[arg-type]
        if isinstance(outcome, CelUnknown):
            return TraceNode(state="unknown", missing=tuple(sorted(outcome.paths)),
                             **base)  # type: ignore[arg-type]
        if isinstance(outcome, CelEvalError):
            return TraceNode(state="error", error=f"{outcome.code}: {outcome.message}",
                             **base)  # type: ignore[arg-type]
        return TraceNode(state="value", value=outcome, **base)  # type: ignore[arg-type]

    def _operands(self, node: Expr, variable: str | None, expanding: set[str]
                  ) -> list[tuple[Expr, str | None, bool]]:
        """The sub-expressions shown under ``node`` (literals and name chains are leaves)."""
        if isinstance(node, Select | Ident):
            path = attribute_path(node)
            if path is not None:
                if (len(path) == 2 and path[0] == "vars" and path[1] in self.variables
                        and path[1] not in expanding):
                    return [(self.variables[path[1]], path[1], False)]
                return []
            if isinstance(node, Select) and not node.test_only:
                return [(node.operand, variable, False)]
            return []
        if isinstance(node, Comprehension):
            return [(node.range, variable, False)]
        if isinstance(node, Call):
            boolean = node.function in _BOOLEAN_OPS
            return [(c, variable, boolean) for c in children(node)
                    if not isinstance(c, LiteralNode)]
        return []

