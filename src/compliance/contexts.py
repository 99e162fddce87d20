"""Validating a request context against the schema, with messages that name the attribute.

``Engine.evaluate`` does not call this on the hot path (each compiled accessor checks
the one value it reads); the CLI and careful hosts call it up front to turn a malformed
context into one clear message per problem instead of a fail-closed decision.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from compliance.schema import CelType, ContextSchema
from compliance.values import CelEvalError, to_duration, to_timestamp

_MAX_DEPTH = 32


@dataclass(frozen=True, slots=True)
class ContextProblem:
    """One way a context departs from its schema: the attribute path and what is wrong."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"`{self.path}`: {self.message}" if self.path else self.message


def validate_context(schema: ContextSchema, context: object) -> list[ContextProblem]:
    """Every problem with ``context``; attributes the schema does not declare are ignored."""
    if not isinstance(context, Mapping):
        return [ContextProblem("", f"the context must be a JSON object, got {_kind(context)}")]
    problems: list[ContextProblem] = []
    for name, declared in schema.variables.items():
        if name in context:
            _check(declared, context[name], name, problems, 0)
    return problems


def _check(t: CelType, value: object, path: str, out: list[ContextProblem], depth: int) -> None:
    if depth > _MAX_DEPTH:
        out.append(ContextProblem(path, "nested too deeply"))
        return
    if value is None and t.kind != "null_type":
        return  # null reads as absent: the attribute is unknown, not wrong
    checker = _CHECKS.get(t.kind)
    if checker is not None:
        problem = checker(t, value)
        if problem:
            out.append(ContextProblem(path, problem))
        return
    if t.kind == "object":
        if not isinstance(value, Mapping):
            out.append(ContextProblem(path, f"must be an object, got {_kind(value)}"))
            return
        for fname, ftype in t.fields:
            if fname in value:
                _check(ftype, value[fname], f"{path}.{fname}", out, depth + 1)
    elif t.kind == "list":
        if not isinstance(value, list | tuple):
            out.append(ContextProblem(path, f"must be a list of {t.elem}, got {_kind(value)}"))
            return
        for i, item in enumerate(value):
            _check(t.elem, item, f"{path}[{i}]", out, depth + 1)
    elif t.kind == "map":
        if not isinstance(value, Mapping):
            out.append(ContextProblem(path, f"must be an object ({t}), got {_kind(value)}"))
            return
        for key, item in value.items():
            _check(t.value, item, f"{path}.{key}", out, depth + 1)


def _kind(value: object) -> str:
    names = {bool: "a bool", int: "a number", float: "a number", str: "a string",
             list: "a list", dict: "an object", type(None): "null"}
    text = names.get(type(value), type(value).__name__)
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return f"{text} `{str(value)[:40]}`"
    return text


def _string(t: CelType, v: object) -> str | None:
    if not isinstance(v, str):
        return f"must be a string, got {_kind(v)}"
    if t.enum and v not in t.enum:
        return f"must be one of {', '.join(t.enum)}; got `{v[:40]}`"
    return None


def _bool(_: CelType, v: object) -> str | None:
    return None if isinstance(v, bool) else f"must be true or false, got {_kind(v)}"


def _int(_: CelType, v: object) -> str | None:
    if isinstance(v, bool) or not isinstance(v, int):
        return f"must be an integer, got {_kind(v)}"
    return None if -(2**63) <= v < 2**63 else "is outside the int64 range"


def _uint(_: CelType, v: object) -> str | None:
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        return f"must be a non-negative integer, got {_kind(v)}"
    return None if v < 2**64 else "is outside the uint64 range"


def _double(_: CelType, v: object) -> str | None:
    if isinstance(v, bool) or not isinstance(v, int | float):
        return f"must be a number, got {_kind(v)}"
    return None


def _timestamp(_: CelType, v: object) -> str | None:
    if isinstance(v, datetime | str):
        try:
            to_timestamp(v)
        except ValueError as exc:
            return f"must be an RFC 3339 timestamp: {exc}"
        return None
    return f"must be an RFC 3339 timestamp string, got {_kind(v)}"


def _duration(_: CelType, v: object) -> str | None:
    try:
        if to_duration(v) is not None:
            return None
    except (ValueError, CelEvalError) as exc:
        return f"must be a duration such as `1.5s`: {exc}"
    return f"must be a duration such as `1.5s`, got {_kind(v)}"


def _bytes(_: CelType, v: object) -> str | None:
    return None if isinstance(v, bytes | str) else f"must be bytes, got {_kind(v)}"


_CHECKS = {"string": _string, "bool": _bool, "int": _int, "uint": _uint, "double": _double,
           "timestamp": _timestamp, "duration": _duration, "bytes": _bytes}
