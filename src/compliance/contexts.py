"""Validating a request context against the schema, with messages that name the attribute.

``Engine.evaluate`` does not call this on the hot path (each compiled accessor conforms
the one value it reads, with the same rule); the CLI and careful hosts call it up front to
turn a malformed context into one clear message per problem instead of a fail-closed
decision. Values are judged by ``compliance.cel.conform``, the one definition of a value of
type T; on top of that, keys the schema does not declare are reported (with a
did-you-mean), since a typo such as ``nationalites`` silently leaves an attribute absent.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from compliance.cel.conform import describe, problems, shown_text
from compliance.cel.types import CelType, ContextSchema, object_of

__all__ = ["ContextProblem", "validate_context"]


@dataclass(frozen=True, slots=True)
class ContextProblem:
    """One way a context departs from its schema: the attribute path and what is wrong.

    ``severity`` is ``error`` for a value a rule reading it would fail closed on, and
    ``warning`` for a key the schema does not declare (no rule can read it; often a typo).
    """

    path: str
    message: str
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        return f"`{self.path}`: {self.message}" if self.path else self.message


def validate_context(schema: ContextSchema, context: object) -> list[ContextProblem]:
    """Every problem with ``context``: wrong or out-of-limit values, and undeclared keys."""
    if not isinstance(context, Mapping):
        return [ContextProblem("", f"the context must be a JSON object, got {describe(context)}")]
    out: list[ContextProblem] = []
    for name, declared in schema.variables.items():
        if name in context:
            out.extend(ContextProblem(p.path, p.message)
                       for p in problems(declared, context[name], name, schema.limits))
    out.extend(_undeclared(object_of("", schema.variables), context, "",
                           schema.limits.max_depth))
    return out


def _undeclared(t: CelType, value: Mapping[object, object], prefix: str,
                depth: int) -> list[ContextProblem]:
    """Keys of an object the schema does not declare, each with the closest declared name."""
    out: list[ContextProblem] = []
    if depth < 0:
        return out
    names = [name for name, _ in t.fields]
    for key in value:
        shown = shown_text(key) if isinstance(key, str) else describe(key)
        declared = t.field_type(key) if isinstance(key, str) else None
        path = f"{prefix}{shown}"
        if declared is None:
            close = difflib.get_close_matches(shown, names, n=1)
            hint = f"; did you mean `{prefix}{close[0]}`?" if close else ""
            out.append(ContextProblem(path, f"is not declared in the schema{hint}", "warning"))
        elif declared.kind == "object":
            child = value[key]
            if isinstance(child, Mapping):
                out.extend(_undeclared(declared, child, path + ".", depth - 1))
    return out
