"""cel-python's interpreter as an evaluation backend: the reference oracle.

Why it exists: the closure compiler (``compliance.cel.compiler``) is the production backend;
this module runs the same conditions through an independent CEL implementation so that
differential tests (``tests/properties``) and ``Engine(checked, backend="interpreter")``
can catch compiler bugs. It is slow (an AST walk per call, about 10x the compiled
program) and is never imported by ``import compliance``; ``Engine`` imports it lazily.

Besides ``compliance.cel.parser`` this is the only module that imports celpy, and every celpy
import stays inside it. cel-python is untyped, so ``Any`` appears only at this boundary:
the context goes in as celpy values built from the schema, and results come back out as
``compliance.cel.values`` types.

How a program is built, once, at plan time:

1. ``vars.<name>`` references are replaced by the variable's own tree (recursively), so
   variables are evaluated lazily, at each use, as the compiled backend does.
2. The tree is printed back to CEL with ``compliance.cel.unparse`` and parsed by celpy's
   ``CELParser``; no ``celpy.Environment`` is built, because its constructor sets
   ``sys.setrecursionlimit(2500)`` for the whole process and mutates the caller's
   annotation dict. The parse tree is evaluated per call by a fresh
   ``celpy.evaluation.Evaluator`` over a fresh ``Activation``, so calls share no mutable
   state and programs are safe to call from several threads.
3. The attribute paths the expression reads are collected from the tree.

Differences from the compiled backend, by design:

- Unknowns are coarse. Before running, if any declared attribute path the expression
  reads is absent (missing or null) from the context, the program raises
  ``CelUnknown`` with all such paths. The compiled backend does CEL partial evaluation,
  where ``a || b`` with ``a`` absent and ``b`` true is ``true``, not unknown; here that
  expression is unknown. Differential tests therefore accept an interpreter unknown and
  only check that a compiled unknown names a subset of its paths.
- A constant string key into a declared map (``request.risk_scores["cyber"]``) is an
  attribute, as in the compiler: an absent key is unknown, not ``no-such-key``.
- Timestamps and durations are ``datetime``/``timedelta`` inside celpy, so sub-microsecond
  digits are dropped on the way in.
- Expressions nested so deeply that celpy's recursive walk exceeds Python's recursion
  limit fail with the ``cost-limit`` error rather than raising the process-wide limit.
- celpy's own deviations from the CEL spec are listed, with conformance case ids, in
  ``tests/properties/KNOWN_CELPY_BUGS.md``.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from compliance.cel.ast import (
    Call,
    Comprehension,
    CreateList,
    CreateMap,
    CreateStruct,
    Expr,
    Ident,
    Literal,
    Select,
    attribute_path,
    children,
    walk,
)
from compliance.cel.conform import Nonconforming, conform
from compliance.cel.types import DYN, CelType, ContextSchema
from compliance.cel.unparse import unparse
from compliance.cel.values import (
    NANOS,
    TYPE_CONSTANTS,
    CelEvalError,
    CelTypeValue,
    CelUnknown,
    Duration,
    Timestamp,
    UInt,
    to_duration,
    to_timestamp,
)
from compliance.diagnostics import RuntimeCode

__all__ = ["attribute_reads", "interpreted_program", "substitute_variables"]

Program = Callable[[Mapping[str, object]], object]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_VARS = "vars"
_parse_lock = threading.Lock()


def interpreted_program(
    expr: Expr, schema: ContextSchema, variables: Mapping[str, Expr]
) -> Program:
    """A program running ``expr`` on cel-python's interpreter; same contract as the compiler's.

    The program takes the request context (JSON-like values, as ``Engine.evaluate`` gets
    it), returns a ``compliance.cel.values`` runtime value, and raises ``CelEvalError`` or
    ``CelUnknown``. Unknowns are coarser than the compiled backend's (see the module
    docstring): any absent attribute the expression reads makes the whole result unknown.
    """
    expanded = substitute_variables(expr, variables)
    reads, tested = attribute_reads(expanded, schema)
    guarded, presence = _guard_null_tests(expanded, schema)
    tree = _parse(unparse(guarded))

    def program(context: Mapping[str, object]) -> object:
        absent = frozenset(".".join(p) for p in reads if _lookup(context, p) is _ABSENT)
        if absent:
            raise CelUnknown(absent)
        activation = _activation(context, reads, tested, schema)
        if presence:
            from celpy import celtypes  # noqa: PLC0415 - optional backend

            for name, path in presence.items():
                activation[name] = celtypes.BoolType(not _is_null(context, path))
        return _run(tree, activation)

    return program


# --- plan time: variables, attribute reads, parsing ------------------------------------------


def substitute_variables(expr: Expr, variables: Mapping[str, Expr]) -> Expr:
    """``expr`` with every ``vars.<name>`` replaced by that variable's (expanded) tree.

    A macro variable named ``vars`` shadows the pack variables inside its body. Raises
    ``ValueError`` for an undefined or cyclic variable (the checker rejects both first).
    """
    return _Substituter(variables).expand(expr, frozenset(), ())


class _Substituter:
    def __init__(self, variables: Mapping[str, Expr]) -> None:
        self.variables = variables

    def expand(self, node: Expr, bound: frozenset[str], stack: tuple[str, ...]) -> Expr:
        if (
            isinstance(node, Select)
            and not node.test_only
            and isinstance(node.operand, Ident)
            and node.operand.name == _VARS
            and _VARS not in bound
        ):
            return self.variable(node.field, stack)
        if isinstance(node, Comprehension):
            inner = bound | {node.var}
            return dataclasses.replace(
                node,
                range=self.expand(node.range, bound, stack),
                body=self.expand(node.body, inner, stack),
                predicate=None if node.predicate is None
                else self.expand(node.predicate, inner, stack),
            )
        return _map_children(node, lambda child: self.expand(child, bound, stack))

    def variable(self, name: str, stack: tuple[str, ...]) -> Expr:
        if name in stack:
            raise ValueError(f"variable `{name}` refers to itself: {' -> '.join((*stack, name))}")
        definition = self.variables.get(name)
        if definition is None:
            raise ValueError(f"undeclared variable `vars.{name}`")
        return self.expand(definition, frozenset(), (*stack, name))


def _map_children(node: Expr, fn: Callable[[Expr], Expr]) -> Expr:
    """A copy of ``node`` with ``fn`` applied to each direct child (comprehensions excepted)."""
    match node:
        case Select(operand=operand):
            return dataclasses.replace(node, operand=fn(operand))
        case Call(target=target, args=args):
            return dataclasses.replace(
                node, target=None if target is None else fn(target), args=tuple(map(fn, args))
            )
        case CreateList(elements=elements):
            return dataclasses.replace(node, elements=tuple(map(fn, elements)))
        case CreateMap(entries=entries):
            return dataclasses.replace(node, entries=tuple((fn(k), fn(v)) for k, v in entries))
        case CreateStruct(fields=fields):
            return dataclasses.replace(node, fields=tuple((f, fn(v)) for f, v in fields))
    return node


def attribute_reads(
    expr: Expr, schema: ContextSchema
) -> tuple[tuple[tuple[str, ...], ...], tuple[tuple[str, ...], ...]]:
    """``(reads, tested)``: the context attribute chains ``expr`` reads, and those it only tests.

    A chain is a whole name chain rooted at a declared variable (``request.risk_scores.cyber``
    included: selecting a map key by name is part of the chain, as in the compiler, so an
    absent key is unknown). ``has(request.model)`` tests ``request.model`` without reading
    it: its absence makes ``has`` false, not the expression unknown. Macro variables shadow
    context variables.
    """
    reads: set[tuple[str, ...]] = set()
    tested: set[tuple[str, ...]] = set()
    stack: list[tuple[Expr, frozenset[str]]] = [(expr, frozenset())]
    while stack:
        node, bound = stack.pop()
        if isinstance(node, Comprehension):
            inner = bound | {node.var}
            stack.append((node.range, bound))
            stack.append((node.body, inner))
            if node.predicate is not None:
                stack.append((node.predicate, inner))
            continue
        key = _constant_map_key(node, bound, schema)
        if key is not None:
            reads.add(key)
            continue
        if isinstance(node, Select) and node.test_only:
            path = attribute_path(node.operand)
            if path is not None and path[0] not in bound and path[0] in schema.variables:
                tested.add((*path, node.field))
                continue
        elif isinstance(node, Select | Ident):
            path = attribute_path(node)
            if path is not None and path[0] not in bound and path[0] in schema.variables:
                reads.add(path)
                continue
        stack.extend((child, bound) for child in children(node))
    return tuple(sorted(reads)), tuple(sorted(tested - reads))


def _guard_null_tests(
    expr: Expr, schema: ContextSchema
) -> tuple[Expr, dict[str, tuple[str, ...]]]:
    """``expr`` with each ``has(attr.path)`` on a declared attribute made false for a null.

    ``has(p)`` becomes ``has(p) && <name>``, where the returned map gives each synthetic
    ``<name>`` its path; at call time it is bound to false when the context holds null at
    that path (null counts as absent, as in the compiler), else true, which leaves celpy's
    ``has`` (and its errors) unchanged.
    """
    presence: dict[str, tuple[str, ...]] = {}

    def guard(node: Expr, bound: frozenset[str]) -> Expr:
        if isinstance(node, Comprehension):
            inner = bound | {node.var}
            return dataclasses.replace(
                node,
                range=guard(node.range, bound),
                body=guard(node.body, inner),
                predicate=None if node.predicate is None else guard(node.predicate, inner),
            )
        if isinstance(node, Select) and node.test_only:
            path = attribute_path(node.operand)
            if path is not None and path[0] not in bound and path[0] in schema.variables:
                name = f"null_guard_{len(presence)}__"
                presence[name] = (*path, node.field)
                flag = Ident(node.start, node.end, name)
                return Call(node.start, node.end, "_&&_", (node, flag))
        return _map_children(node, lambda child: guard(child, bound))

    return guard(expr, frozenset()), presence


def _is_null(context: Mapping[str, object], path: tuple[str, ...]) -> bool:
    """Whether ``path`` leads through objects to a key that holds null."""
    value: object = context
    for part in path[:-1]:
        if not isinstance(value, Mapping):
            return False
        value = value.get(part)
    return isinstance(value, Mapping) and path[-1] in value and value[path[-1]] is None


def _constant_map_key(
    node: Expr, bound: frozenset[str], schema: ContextSchema
) -> tuple[str, ...] | None:
    """``request.risk_scores.cyber`` for ``request.risk_scores["cyber"]``, else None.

    The compiler treats a constant string key into a declared map as part of the attribute
    chain (an absent key is unknown, not ``no-such-key``); constant key expressions such
    as ``"cy" + "ber"`` are folded first, as the compiler folds them.
    """
    if not (isinstance(node, Call) and node.function == "_[_]" and node.target is None
            and len(node.args) == 2):
        return None
    path = attribute_path(node.args[0])
    if path is None or path[0] in bound or path[0] not in schema.variables:
        return None
    declared = schema.lookup(".".join(path))
    if declared is None or declared.kind != "map":
        return None
    key = _fold_string(node.args[1])
    return None if key is None else (*path, key)


def _fold_string(node: Expr) -> str | None:
    """The value of a constant string expression (no names in it), else None."""
    if isinstance(node, Literal):
        return node.value if type(node.value) is str else None
    if any(isinstance(n, Ident) for n in walk(node)):
        return None
    try:
        value = _run(_parse(unparse(node)), {})
    except (CelEvalError, ValueError):
        return None
    return value if type(value) is str else None


def _declared_prefix(path: tuple[str, ...], schema: ContextSchema) -> tuple[str, ...]:
    """The longest prefix of ``path`` the schema declares (beyond it are map keys)."""
    for n in range(len(path), 0, -1):
        if schema.lookup(".".join(path[:n])) is not None:
            return path[:n]
    return path[:1]  # pragma: no cover - path[0] is a declared variable


def _parse(text: str) -> Any:
    """celpy's lark tree for ``text`` (its parser object keeps the text, hence the lock)."""
    from celpy.celparser import CELParseError, CELParser  # noqa: PLC0415 - optional backend

    with _parse_lock:
        try:
            return CELParser().parse(text)
        except CELParseError as err:
            message = f"cel-python cannot parse `{text}`: {err}"
            raise ValueError(message) from None


# --- call time: context in, result out -----------------------------------------------------


_ABSENT: Any = object()


def _lookup(context: Mapping[str, object], path: tuple[str, ...]) -> Any:
    """The value at ``path``, or ``_ABSENT`` when a key is missing or null (null is absent).

    A non-object where the path needs an object is a ``bad-context`` error, as in the
    compiled backend.
    """
    value: object = context
    for i, part in enumerate(path):
        if not isinstance(value, Mapping):
            where = ".".join(path[:i])
            raise CelEvalError("bad-context", f"`{where}` must be an object")
        value = value.get(part)
        if value is None:
            return _ABSENT
    return value


class _Partial(dict[str, Any]):
    """An object of the context under construction: only the attributes the program reads."""


def _activation(
    context: Mapping[str, object],
    reads: tuple[tuple[str, ...], ...],
    tested: tuple[tuple[str, ...], ...],
    schema: ContextSchema,
) -> dict[str, Any]:
    """celpy variables holding exactly the attributes read or tested, converted per schema.

    Converting only what is read keeps the oracle's errors where the compiler's are: a
    malformed attribute the expression never touches is not an error.
    """
    root = _Partial()
    done: set[tuple[str, ...]] = set()
    for path in sorted((*reads, *tested), key=len):
        declared = _declared_prefix(path, schema)
        if any(declared[:n] in done for n in range(1, len(declared) + 1)):
            continue
        parent = root
        for part in declared[:-1]:  # a tested path's parents exist even when empty
            child = parent.setdefault(part, _Partial())
            if not isinstance(child, _Partial):  # pragma: no cover - guarded by `done`
                break
            parent = child
        else:
            value = _lookup(context, declared)
            t = schema.lookup(".".join(declared))
            if value is not _ABSENT and t is not None:
                value = _conformed(value, t, ".".join(declared), schema)
                if value is not None:  # an empty identifier counts as absent
                    parent[declared[-1]] = _to_celpy(value, t, ".".join(declared))
                done.add(declared)
    return {name: _wrap(value) for name, value in root.items()}


def _conformed(value: object, t: CelType, path: str, schema: ContextSchema) -> object:
    """The value as the compiled backend reads it (``compliance.cel.conform``: one type rule)."""
    try:
        return conform(t, value, path, schema.limits)
    except Nonconforming as exc:
        raise CelEvalError("bad-context", str(exc)) from None


def _wrap(value: Any) -> Any:
    from celpy import celtypes  # noqa: PLC0415 - optional backend

    if isinstance(value, _Partial):
        return celtypes.MapType({celtypes.StringType(k): _wrap(v) for k, v in value.items()})
    return value


def _run(tree: Any, activation: dict[str, Any]) -> object:
    """Evaluate celpy's tree over ``activation``; celpy errors become ``CelEvalError``."""
    from celpy.evaluation import Activation, CELEvalError, Evaluator  # noqa: PLC0415

    try:
        result = Evaluator(tree, Activation(vars=activation)).evaluate()
    except CELEvalError as err:
        raise _eval_error(err) from None
    except RecursionError:
        raise CelEvalError("cost-limit", "expression too deeply nested to evaluate") from None
    except (ArithmeticError, TypeError, ValueError, KeyError, AttributeError, IndexError) as err:
        # celpy lets some Python exceptions escape; each is a CEL error, not a crash of ours.
        raise CelEvalError("eval-error", f"cel-python: {type(err).__name__}: {err}") from None
    return _from_celpy(result)


_ERROR_CODES: tuple[tuple[str, RuntimeCode], ...] = (
    ("ZeroDivisionError", "division-by-zero"),
    ("divide by zero", "division-by-zero"),
    ("overflow", "overflow"),
    ("no such key", "no-such-key"),
    ("no such member", "no-such-key"),
    ("KeyError", "no-such-key"),
    ("IndexError", "invalid-argument"),
    ("no such overload", "no-matching-overload"),
    ("no matching overload", "no-matching-overload"),
    ("TypeError", "no-matching-overload"),
    ("undeclared reference", "undeclared-reference"),
)


def _eval_error(err: Any) -> CelEvalError:
    """A ``CelEvalError`` with a stable code from celpy's ``CELEvalError(message, type, args)``."""
    args = getattr(err, "args", ())
    message = str(args[0]) if args else str(err)
    haystack = " ".join(str(a) for a in args) + " " + " ".join(
        getattr(a, "__name__", "") for a in args
    )
    for needle, code in _ERROR_CODES:
        if needle in haystack:
            return CelEvalError(code, f"cel-python: {message}")
    return CelEvalError("eval-error", f"cel-python: {message}")


def _invalid(path: str, t: CelType, value: object) -> CelEvalError:
    message = f"`{path}` must be {t}, got `{type(value).__name__}`"
    return CelEvalError("bad-context", message)


def _to_celpy(value: object, t: CelType, path: str) -> Any:
    """``value`` from the context as the celpy value of declared type ``t``."""
    from celpy import celtypes  # noqa: PLC0415 - optional backend

    if value is None:
        return None
    kind = t.kind
    if kind == "object":
        if not isinstance(value, Mapping):
            raise _invalid(path, t, value)
        return celtypes.MapType({
            celtypes.StringType(name): _to_celpy(value[name], ftype, f"{path}.{name}")
            for name, ftype in t.fields
            if value.get(name) is not None
        })
    if kind == "list":
        if not isinstance(value, list | tuple):
            raise _invalid(path, t, value)
        return celtypes.ListType(
            [_to_celpy(v, t.elem, f"{path}[{i}]") for i, v in enumerate(value)]
        )
    if kind == "map":
        if not isinstance(value, Mapping):
            raise _invalid(path, t, value)
        return celtypes.MapType({
            _to_celpy(k, t.key, path): _to_celpy(v, t.value, f"{path}.{k}")
            for k, v in value.items()
        })
    scalar = _SCALARS.get(kind)
    if scalar is None:
        return _dyn_to_celpy(value, path)
    converted = scalar(value)
    if converted is _WRONG:
        raise _invalid(path, t, value)
    return converted


_WRONG = object()


def _int(value: object) -> Any:
    from celpy import celtypes  # noqa: PLC0415

    if type(value) is not int:
        return _WRONG
    if not -(1 << 63) <= value < (1 << 63):
        raise CelEvalError("overflow", f"int value {value} out of range")
    return celtypes.IntType(value)


def _uint(value: object) -> Any:
    from celpy import celtypes  # noqa: PLC0415

    if isinstance(value, bool) or not isinstance(value, int):
        return _WRONG
    if not 0 <= value < (1 << 64):
        raise CelEvalError("overflow", f"uint value {value} out of range")
    return celtypes.UintType(value)


def _double(value: object) -> Any:
    from celpy import celtypes  # noqa: PLC0415

    if isinstance(value, bool) or not isinstance(value, int | float):
        return _WRONG
    return celtypes.DoubleType(float(value))


def _bool(value: object) -> Any:
    from celpy import celtypes  # noqa: PLC0415

    return celtypes.BoolType(value) if isinstance(value, bool) else _WRONG


def _string(value: object) -> Any:
    from celpy import celtypes  # noqa: PLC0415

    return celtypes.StringType(value) if isinstance(value, str) else _WRONG


def _bytes(value: object) -> Any:
    from celpy import celtypes  # noqa: PLC0415

    return celtypes.BytesType(value) if isinstance(value, bytes) else _WRONG


def _timestamp(value: object) -> Any:
    from celpy import celtypes  # noqa: PLC0415

    try:
        ts = to_timestamp(value)
    except ValueError as err:
        raise CelEvalError("bad-context", str(err)) from None
    if ts is None:
        return _WRONG
    return celtypes.TimestampType(_EPOCH + timedelta(microseconds=ts.nanos // 1000))


def _duration(value: object) -> Any:
    from celpy import celtypes  # noqa: PLC0415

    try:
        d = to_duration(value)
    except ValueError as err:
        raise CelEvalError("bad-context", str(err)) from None
    if d is None:
        return _WRONG
    return celtypes.DurationType(timedelta(microseconds=_trunc_div(d.nanos, 1000)))


def _trunc_div(a: int, b: int) -> int:
    """Division rounding toward zero (durations lose digits symmetrically)."""
    q = abs(a) // b
    return q if a >= 0 else -q


_SCALARS: dict[str, Callable[[object], Any]] = {
    "int": _int, "uint": _uint, "double": _double, "bool": _bool, "string": _string,
    "bytes": _bytes, "timestamp": _timestamp, "duration": _duration,
}


def _dyn_to_celpy(value: object, path: str) -> Any:
    """A value of declared type ``dyn``: its CEL type follows its Python type."""
    from celpy import celtypes  # noqa: PLC0415

    if value is None:
        return None
    if isinstance(value, bool):
        return celtypes.BoolType(value)
    if isinstance(value, UInt):
        return _uint(value)
    if isinstance(value, int):
        return _int(value)
    if isinstance(value, float):
        return celtypes.DoubleType(value)
    if isinstance(value, str):
        return celtypes.StringType(value)
    if isinstance(value, bytes):
        return celtypes.BytesType(value)
    if isinstance(value, Timestamp | datetime):
        return _timestamp(value)
    if isinstance(value, Duration | timedelta):
        return _duration(value)
    if isinstance(value, list | tuple):
        return celtypes.ListType([_dyn_to_celpy(v, f"{path}[{i}]") for i, v in enumerate(value)])
    if isinstance(value, Mapping):
        return celtypes.MapType(
            {_dyn_to_celpy(k, path): _dyn_to_celpy(v, f"{path}.{k}") for k, v in value.items()}
        )
    raise _invalid(path, DYN, value)


def _from_celpy(value: Any) -> object:
    """A celpy result as a ``compliance.cel.values`` runtime value (errors inside re-raised)."""
    from celpy import celtypes  # noqa: PLC0415
    from celpy.evaluation import CELEvalError  # noqa: PLC0415

    if value is None or isinstance(value, celtypes.NullType):
        return None
    if isinstance(value, CELEvalError):
        raise _eval_error(value)
    if isinstance(value, bool | celtypes.BoolType):
        return bool(value)
    if isinstance(value, celtypes.UintType):
        return UInt(int(value))
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bytes):
        return bytes(value)
    if isinstance(value, datetime):
        delta = value - _EPOCH
        return Timestamp((delta.days * 86_400 + delta.seconds) * NANOS + delta.microseconds * 1000)
    if isinstance(value, timedelta):
        return Duration((value.days * 86_400 + value.seconds) * NANOS + value.microseconds * 1000)
    if isinstance(value, Mapping):
        return {_from_celpy(k): _from_celpy(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_from_celpy(v) for v in value]
    if isinstance(value, type):
        return _type_value(value)
    message = f"cel-python returned an unsupported value of type `{type(value).__name__}`"
    raise CelEvalError("eval-error", message)


def _type_value(cls: type) -> CelTypeValue:
    """celpy represents CEL types as its Python classes; map them to our type values."""
    from celpy import celtypes  # noqa: PLC0415

    names: dict[type, str] = {
        celtypes.BoolType: "bool", celtypes.IntType: "int", celtypes.UintType: "uint",
        celtypes.DoubleType: "double", celtypes.StringType: "string",
        celtypes.BytesType: "bytes", celtypes.ListType: "list", celtypes.MapType: "map",
        celtypes.NullType: "null_type", type(None): "null_type", celtypes.TypeType: "type",
        celtypes.TimestampType: "google.protobuf.Timestamp",
        celtypes.DurationType: "google.protobuf.Duration",
    }
    name = names.get(cls)
    if name is None:
        raise CelEvalError("eval-error", f"cel-python returned the unsupported type `{cls}`")
    return TYPE_CONSTANTS[name]
