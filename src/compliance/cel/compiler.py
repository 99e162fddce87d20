"""Compile CEL ``Expr`` trees into plain Python closures.

One closure per node, built once; overloads, attribute paths, regexes and constant
sub-expressions are resolved at compile time so a decision costs microseconds. A program
is called with the *activation* (the request context mapping) and returns a CEL value,
or raises ``CelEvalError`` (with the failing node's offsets) or ``CelUnknown`` (with the
attribute paths that were absent). Nothing here ever ``eval``s or ``exec``s rule text.

Error and unknown absorption follow the CEL spec: ``false && x`` is false whatever ``x``
is (in either order), ``true || x`` likewise; an unknown beats an error; two unknowns merge.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
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
    walk,
)
from compliance.cel.budget import FREE_SIZE, charge
from compliance.cel.conform import MEMO, Nonconforming, describe, reader, remembered
from compliance.cel.cost import ZERO_SIZES, estimate_cost
from compliance.cel.functions import (
    IMPLEMENTATIONS,
    cel_eq,
    cel_in,
    charge_regex,
    index,
    no_overload,
    regex_searcher,
)
from compliance.cel.types import DYN, CelType, ContextSchema, Limits
from compliance.cel.values import (
    OPTIONAL_NONE,
    TYPE_CONSTANTS,
    CelEvalError,
    CelUnknown,
    Optional,
    UInt,
)

__all__ = [
    "MEMO",
    "MEMOIZED_KINDS",
    "NOCONST",
    "VARS",
    "CelCompileError",
    "ClosureCompiler",
    "CompileEnv",
    "Program",
    "aborted",
    "attribute_reader",
    "bool_error",
    "compile_expr",
    "free_attributes",
    "merge_failures",
    "request_activation",
    "select",
    "walk_path",
]

Program = Callable[[Mapping[str, object]], object]
_Fn = Callable[[Any], Any]
_NOCONST = object()
_BUDGET = "\x00budget"
VARS = "\x00vars"
"""Activation key of the per-request memo of pack variables (``compliance.cel.codegen``)."""


def request_activation(context: Mapping[str, Any]) -> dict[str, Any]:
    """The activation for one request: the context plus empty memos.

    Each declared attribute is judged (``compliance.cel.conform``) on its first read in the
    request; later reads by other rules reuse the verdict. Pack variables are evaluated at
    most once per request (``VARS``). Macro scopes copy the activation, so they share both.
    """
    activation = dict(context)
    activation[MEMO] = {}
    activation[VARS] = {}
    return activation


class CelCompileError(ValueError):
    """An expression that cannot be compiled (e.g. an undefined ``vars.<name>``)."""

    def __init__(self, message: str, start: int, end: int) -> None:
        super().__init__(message)
        self.message = message
        self.start = start
        self.end = end


@dataclass(frozen=True)
class CompileEnv:
    """What a program may read: the declared context, pack variables, a CEL container."""

    schema: ContextSchema | None = None
    variables: Mapping[str, Expr] = field(default_factory=dict)
    container: str = ""
    max_iterations: int = 10_000
    #: ``vars.<name>`` -> its program, when the caller compiles variables once per pack.
    var_reader: Callable[[str], Program] | None = None


def compile_expr(expr: Expr, env: CompileEnv) -> Program:
    """Compile ``expr`` into a program ``activation -> value`` (raising CEL errors/unknowns)."""
    try:
        fn, _ = _Compiler(env).compile(expr)
    except RecursionError:
        raise CelCompileError("expression nested too deeply", expr.start, expr.end) from None
    return fn


def constant_value(expr: Expr, env: CompileEnv,
                   _seen: frozenset[str] = frozenset()) -> tuple[bool, object]:
    """``(True, value)`` when ``expr`` folds to a constant, reading nothing from the context.

    The compiler's own constant folding decides (``1 == 1``), plus what CEL's logic makes
    constant whatever the other side is (``false && x``, ``true || x``) and ``vars.``
    references to constant variables; an expression that does not compile is not constant.
    """
    if isinstance(expr, Call) and expr.function in ("_&&_", "_||_") and len(expr.args) == 2:
        absorbing = expr.function == "_||_"
        sides = [constant_value(arg, env, _seen) for arg in expr.args]
        if any(known and value is absorbing for known, value in sides):
            return True, absorbing
        if not all(known for known, _ in sides):
            return False, None
    path = attribute_path(expr) if isinstance(expr, Select) else None
    if path is not None and len(path) == 2 and path[0] == "vars" and path[1] in env.variables:
        if path[1] in _seen:
            return False, None  # a cycle: a check error elsewhere
        return constant_value(env.variables[path[1]], env, _seen | {path[1]})
    try:
        _, value = _Compiler(env).compile(expr)
    except (CelCompileError, RecursionError):
        return False, None
    return (False, None) if value is _NOCONST else (True, value)


def free_attributes(expr: Expr) -> set[str]:
    """The dotted attribute paths an expression reads (``request.model``), roots included."""
    out: set[str] = set()
    for node in walk(expr):
        path = attribute_path(node) if isinstance(node, Select | Ident) else None
        if path is not None:
            out.add(".".join(path))
    return out


# ---------------------------------------------------------------------------------------------
# small helpers shared by closures


def _const(value: object) -> _Fn:
    return lambda act: value


def _raiser(err: CelEvalError) -> _Fn:
    def fail(act: Any) -> Any:
        raise CelEvalError(err.code, err.message, err.start, err.end)

    return fail


def _bool_error(fn: str, value: object, start: int, end: int) -> CelEvalError:
    return no_overload(fn, value).at(start, end)


def _merge_unknown(first: BaseException, second: BaseException) -> BaseException:
    """Combine two failures per CEL: unknowns merge and beat errors; else the first wins.

    A refused cost charge beats both: it aborts the evaluation rather than being a value.
    """
    if type(first) is CelUnknown and type(second) is CelUnknown:  # the common case, first
        return CelUnknown(first.paths | second.paths)
    for failure in (first, second):
        if _aborted(failure):
            return failure
    if isinstance(first, CelUnknown):
        if isinstance(second, CelUnknown):
            return CelUnknown(first.paths | second.paths)
        return first
    if isinstance(second, CelUnknown):
        return second
    return first


class _Compiler:
    """Holds the environment, the lexical scope of macro variables and compiled variables."""

    def __init__(self, env: CompileEnv) -> None:
        self.env = env
        self.scopes: list[dict[str, str]] = []
        self.var_programs: dict[str, _Fn] = {}
        self.var_stack: list[str] = []
        self.declared = dict(env.schema.variables) if env.schema is not None else {}
        self.handlers: dict[type, Callable[[Any], tuple[_Fn, object]]] = {
            Literal: self._compile_literal,
            Ident: self._compile_ident,
            Select: self._compile_select,
            Call: self._compile_call,
            CreateList: self._compile_list,
            CreateMap: self._compile_map,
            CreateStruct: self._compile_struct,
            Comprehension: self._compile_comprehension,
        }

    def compile(self, node: Expr) -> tuple[_Fn, object]:
        """``(closure, constant value or _NOCONST)`` for one node."""
        return self.handlers[type(node)](node)

    def fold(self, fn: _Fn, node: Expr) -> tuple[_Fn, object]:
        """Evaluate a node whose inputs are all constant now; errors stay runtime errors."""
        try:
            value = fn({})
        except CelEvalError as err:
            return _raiser(err.at(node.start, node.end)), _NOCONST
        except CelUnknown:
            return fn, _NOCONST
        return _const(value), value

    # -- leaves ---------------------------------------------------------------------------------

    def _compile_literal(self, node: Literal) -> tuple[_Fn, object]:
        return _const(node.value), node.value

    def _local_key(self, name: str) -> str | None:
        for scope in reversed(self.scopes):
            if name in scope:
                return scope[name]
        return None

    def _compile_ident(self, node: Ident) -> tuple[_Fn, object]:
        key = self._local_key(node.name)
        if key is not None:
            return (lambda act: act[key]), _NOCONST
        return self._compile_name_chain(node, (node.name,))

    def _compile_select(self, node: Select) -> tuple[_Fn, object]:
        path = attribute_path(node)
        if path is not None and self._local_key(path[0]) is None:
            if path[0] == "vars" and len(path) >= 2 and self.env.variables is not None:
                return self._compile_vars(node, path)
            return self._compile_name_chain(node, path)
        if node.test_only:
            return self._compile_has(node)
        operand, _ = self.compile(node.operand)
        return _select_fn(operand, node.field, node.start, node.end), _NOCONST

    def _compile_has(self, node: Select) -> tuple[_Fn, object]:
        inner = attribute_path(node.operand)
        if inner is not None and self._local_key(inner[0]) is None and inner[0] in self.declared:
            path = (*inner, node.field)
            if self._path_type(path) is not None:
                return _has_declared_fn(self._declared_path(node, path)), _NOCONST
            getter = self._declared_path(node.operand, inner)
            return _has_fn(getter, node.field, node.start, node.end, absent_ok=True), _NOCONST
        operand, _ = self.compile(node.operand)
        return _has_fn(operand, node.field, node.start, node.end, absent_ok=False), _NOCONST

    def _compile_vars(self, node: Select, path: tuple[str, ...]) -> tuple[_Fn, object]:
        name = path[1]
        if name not in self.env.variables:
            known = ", ".join(f"`{n}`" for n in sorted(self.env.variables)) or "none"
            message = f"undefined variable `vars.{name}` (defined: {known})"
            raise CelCompileError(message, node.start, node.end)
        if name in self.var_stack:
            raise CelCompileError(f"variable `vars.{name}` refers to itself", node.start, node.end)
        program = self.var_programs.get(name)
        if program is None and self.env.var_reader is not None:
            program = self.var_programs[name] = self.env.var_reader(name)
        if program is None:
            self.var_stack.append(name)
            saved, self.scopes = self.scopes, []
            try:
                program, _ = self.compile(self.env.variables[name])
            finally:
                self.scopes = saved
                self.var_stack.pop()
            self.var_programs[name] = program
        fn = program
        for fname in path[2:]:
            fn = _select_fn(fn, fname, node.start, node.end)
        return fn, _NOCONST

    # -- names and attribute paths ---------------------------------------------------------------

    def _compile_name_chain(self, node: Expr, path: tuple[str, ...]) -> tuple[_Fn, object]:
        if not path[0].startswith(".") and path[0] in self.declared:
            return self._declared_path(node, path), _NOCONST
        return _resolve_fn(self._candidates(path), node.start, node.end), _NOCONST

    def _candidates(self, path: tuple[str, ...]) -> list[tuple[str, tuple[str, ...]]]:
        """Binding names to try, longest qualified name first, per CEL container resolution."""
        root = path[0]
        absolute = root.startswith(".")
        parts = (root.lstrip("."), *path[1:])
        prefixes = [""]
        if not absolute and self.env.container:
            segs = self.env.container.split(".")
            prefixes = [".".join(segs[:i]) + "." for i in range(len(segs), 0, -1)] + [""]
        out: list[tuple[str, tuple[str, ...]]] = []
        for n in range(len(parts), 0, -1):
            for prefix in prefixes:
                out.append((prefix + ".".join(parts[:n]), parts[n:]))
        return out

    def _path_type(self, path: tuple[str, ...]) -> CelType | None:
        """The declared type of an attribute path (None where the schema does not say)."""
        t: CelType | None = self.declared[path[0]]
        for name in path[1:]:
            t = _member_type(t, name)
        return t

    def path_reading(self, path: tuple[str, ...]
                     ) -> tuple[CelType, str, list[tuple[int, str]], Limits]:
        """How a declared path is read: its type, its shown name, the maps it passes through
        (``(length of the map's path, its shown path)``) and the limits."""
        t: CelType | None = self.declared[path[0]]
        shown = path[0]
        through_map: list[tuple[int, str]] = []
        for i, name in enumerate(path[1:], 1):
            if t is not None and t.kind == "map":
                through_map.append((i, shown))
                shown += f"[{json.dumps(name)}]"
            else:
                shown += f".{name}"
            t = _member_type(t, name)
        limits = self.env.schema.limits if self.env.schema is not None else Limits()
        return (t if t is not None else DYN), shown, through_map, limits

    def _declared_path(self, node: Expr, path: tuple[str, ...]) -> _Fn:
        """A getter for ``request.model``-style paths: absent keys are unknowns, values judged.

        The value is conformed to its declared type (``compliance.cel.conform``): normalised,
        checked element by element and within the limits; a violation is a ``bad-context``
        error naming the exact path.
        """
        t, shown, through_map, limits = self.path_reading(path)
        read = _reader(t, shown, limits, node.start, node.end)
        getter = _path_fn(path, ".".join(path), read, node.start, node.end)
        if not through_map:
            return getter
        return _map_size_guard(getter, path, through_map, limits.max_map, node)

    # -- calls ---------------------------------------------------------------------------------

    def _compile_call(self, node: Call) -> tuple[_Fn, object]:
        special = _SPECIAL.get(node.function)
        if special is not None and node.target is None:
            return special(self, node)
        qualified = self._qualified_function(node)
        if qualified is not None:
            return self._generic_call(node, qualified, node.args)
        args = node.args if node.target is None else (node.target, *node.args)
        return self._generic_call(node, node.function, args)

    def _qualified_function(self, node: Call) -> str | None:
        """``strings.quote(x)``: a namespaced global function rather than a method call."""
        if node.target is None:
            return None
        path = attribute_path(node.target)
        if path is None or self._local_key(path[0]) is not None or path[0] in self.declared:
            return None
        name = ".".join((*path, node.function))
        return name if name in IMPLEMENTATIONS else None

    def _generic_call(
        self, node: Call, name: str, arg_nodes: tuple[Expr, ...]
    ) -> tuple[_Fn, object]:
        compiled = [self.compile(a) for a in arg_nodes]
        impl = IMPLEMENTATIONS.get(name.lstrip("."))
        if impl is None:
            message = f"undeclared reference to function `{name}`"
            err = CelEvalError("no-matching-overload", message, node.start, node.end)
            return _raiser(err), _NOCONST
        if name == "matches" and len(compiled) == 2 and compiled[1][1] is not _NOCONST:
            return self._compile_matches(node, compiled)
        fns = [c[0] for c in compiled]
        fn = _call_fn(impl, fns, node.start, node.end)
        if all(c[1] is not _NOCONST for c in compiled) and name not in _IMPURE:
            return self.fold(fn, node)
        return fn, _NOCONST

    def _compile_matches(
        self, node: Call, compiled: list[tuple[_Fn, object]]
    ) -> tuple[_Fn, object]:
        pattern = compiled[1][1]
        if type(pattern) is not str:
            fns = [c[0] for c in compiled]
            return _call_fn(IMPLEMENTATIONS["matches"], fns, node.start, node.end), _NOCONST
        try:
            search = regex_searcher(pattern)
        except CelEvalError as err:
            return _raiser(err.at(node.start, node.end)), _NOCONST
        subject = compiled[0][0]
        start, end = node.start, node.end

        def matches(act: Any) -> bool:
            s = subject(act)
            if type(s) is not str:
                raise no_overload("matches", s, pattern).at(start, end)
            if len(s) > FREE_SIZE:
                try:
                    charge_regex(s, pattern)
                except CelEvalError as err:
                    raise err.at(start, end) from None
            return search(s)

        return matches, _NOCONST

    def _compile_and_or(self, node: Call) -> tuple[_Fn, object]:
        (left, lc), (right, rc) = (self.compile(a) for a in node.args)
        is_and = node.function == "_&&_"
        fn = _and_fn(left, right, node) if is_and else _or_fn(left, right, node)
        if lc is not _NOCONST and rc is not _NOCONST:
            return self.fold(fn, node)
        return fn, _NOCONST

    def _compile_not(self, node: Call) -> tuple[_Fn, object]:
        (operand, c), = (self.compile(a) for a in node.args)
        start, end = node.start, node.end

        def not_(act: Any) -> bool:
            v = operand(act)
            if v is True:
                return False
            if v is False:
                return True
            raise _bool_error("!_", v, start, end)

        return (self.fold(not_, node) if c is not _NOCONST else (not_, _NOCONST))

    def _compile_conditional(self, node: Call) -> tuple[_Fn, object]:
        (cond, cc), (then, _), (other, _) = (self.compile(a) for a in node.args)
        start, end = node.start, node.end
        if cc is True:
            return self.compile(node.args[1])
        if cc is False:
            return self.compile(node.args[2])

        def conditional(act: Any) -> Any:
            c = cond(act)
            if c is True:
                return then(act)
            if c is False:
                return other(act)
            raise _bool_error("_?_:_", c, start, end)

        return conditional, _NOCONST

    def _compile_in(self, node: Call) -> tuple[_Fn, object]:
        (elem, ec), (container, cc) = (self.compile(a) for a in node.args)
        start, end = node.start, node.end
        if ec is _NOCONST and isinstance(cc, list | tuple) and all(type(x) is str for x in cc):
            return _in_strings_fn(elem, tuple(cc), start, end), _NOCONST

        if type(ec) is str and cc is _NOCONST:
            return _const_str_in_fn(ec, container, start, end), _NOCONST

        def in_(act: Any) -> bool:
            e = elem(act)
            c = container(act)
            if type(e) is str and (type(c) is list or type(c) is tuple):
                if len(c) > FREE_SIZE:
                    _charge_at(len(c), start, end)
                return e in c
            try:
                return cel_in(e, c)
            except CelEvalError as err:
                raise err.at(start, end) from None

        if ec is not _NOCONST and cc is not _NOCONST:
            return self.fold(in_, node)
        return in_, _NOCONST

    def _compile_eq(self, node: Call) -> tuple[_Fn, object]:
        (left, lc), (right, rc) = (self.compile(a) for a in node.args)
        negate = node.function == "_!=_"
        if lc is not _NOCONST and rc is not _NOCONST:
            value = cel_eq(lc, rc) != negate
            return _const(value), value
        for fn, const in ((left, rc), (right, lc)):
            if type(const) in (str, bytes):
                return _eq_const_fn(fn, const, negate), _NOCONST
        if negate:
            return (lambda act: not cel_eq(left(act), right(act))), _NOCONST
        return (lambda act: cel_eq(left(act), right(act))), _NOCONST

    def _compile_index(self, node: Call) -> tuple[_Fn, object]:
        target_node, key_node = node.args
        path = attribute_path(target_node)
        (key, kc) = self.compile(key_node)
        if path is not None and self._local_key(path[0]) is None and path[0] in self.declared:
            t: CelType | None = self.declared[path[0]]
            for name in path[1:]:
                t = _member_type(t, name)
            if t is not None and t.kind == "map" and kc is not _NOCONST and type(kc) is str:
                return self._compile_name_chain(
                    Select(node.start, node.end, target_node, kc), (*path, kc)
                )
            if t is not None and t.kind == "map":
                return self._compile_dynamic_key(node, target_node, key, ".".join(path))
        container, cc = self.compile(target_node)
        start, end = node.start, node.end

        def index_(act: Any) -> Any:
            try:
                return index(container(act), key(act))
            except CelEvalError as err:
                raise err.at(start, end) from None

        if cc is not _NOCONST and kc is not _NOCONST:
            return self.fold(index_, node)
        return index_, _NOCONST

    def _compile_dynamic_key(
        self, node: Call, target_node: Expr, key: _Fn, dotted: str
    ) -> tuple[_Fn, object]:
        """A computed key into a declared map: an absent string key is unknown ``dotted.key``."""
        container, _ = self.compile(target_node)
        start, end = node.start, node.end

        def index_(act: Any) -> Any:
            c = container(act)
            k = key(act)
            try:
                return index(c, k)
            except CelEvalError as err:
                if type(k) is str and isinstance(c, Mapping) and k not in c:
                    raise CelUnknown(frozenset({f"{dotted}.{k}"})) from None
                raise err.at(start, end) from None

        return index_, _NOCONST

    # -- literals that build values --------------------------------------------------------------

    def _compile_list(self, node: CreateList) -> tuple[_Fn, object]:
        compiled = [self.compile(e) for e in node.elements]
        if all(c[1] is not _NOCONST for c in compiled):
            value = tuple(c[1] for c in compiled)
            return _const(value), value
        fns = [c[0] for c in compiled]
        return (lambda act: [f(act) for f in fns]), _NOCONST

    def _compile_map(self, node: CreateMap) -> tuple[_Fn, object]:
        entries = [(self.compile(k), self.compile(v), k) for k, v in node.entries]
        pairs = [(k[0], v[0], kn.start, kn.end) for k, v, kn in entries]

        def make_map(act: Any) -> dict[Any, Any]:
            out: dict[Any, Any] = {}
            for kf, vf, ks, ke in pairs:
                k = kf(act)
                if type(k) not in (str, int, UInt, bool):
                    message = f"unsupported map key type `{_tname(k)}`"
                    raise CelEvalError("invalid-argument", message, ks, ke)
                if k in out:
                    message = f"repeated key `{k}` in map literal"
                    raise CelEvalError("invalid-argument", message, ks, ke)
                out[k] = vf(act)
            return out

        if all(k[1] is not _NOCONST and v[1] is not _NOCONST for k, v, _ in entries):
            return self.fold(make_map, node)
        return make_map, _NOCONST

    def _compile_struct(self, node: CreateStruct) -> tuple[_Fn, object]:
        for _, value in node.fields:
            self.compile(value)
        message = f"message type `{node.type_name}` is not supported"
        return _raiser(CelEvalError("no-such-type", message, node.start, node.end)), _NOCONST

    # -- macros --------------------------------------------------------------------------------

    def _compile_comprehension(self, node: Comprehension) -> tuple[_Fn, object]:
        rng, _ = self.compile(node.range)
        key = f"\x00{node.var}#{len(self.scopes)}"
        self.scopes.append({node.var: key})
        try:
            body, _ = self.compile(node.body)
            pred = self.compile(node.predicate)[0] if node.predicate is not None else None
        finally:
            self.scopes.pop()
        loop = _LOOPS[node.kind]
        limit = (self.env.max_iterations, self._steps_per_element(node))
        return loop(rng, body, pred=pred, key=key, node=node, limit=limit), _NOCONST

    def _steps_per_element(self, node: Comprehension) -> int:
        """The closure calls one iteration makes, charged per element before the loop runs.

        Size-dependent work inside the body charges itself when it happens, so this is the
        static estimate with zero assumed sizes: the nodes, variables expanded.
        """
        parts = (node.body,) if node.predicate is None else (node.body, node.predicate)
        variables = self.env.variables or {}
        return 1 + sum(estimate_cost(p, None, variables, sizes=ZERO_SIZES) for p in parts)


def _tname(v: object) -> str:
    from compliance.cel.values import type_of  # noqa: PLC0415 - error path only

    try:
        return type_of(v).name
    except CelEvalError:
        return type(v).__name__


# ---------------------------------------------------------------------------------------------
# closure factories: names, paths, selection


def _resolve_fn(candidates: list[tuple[str, tuple[str, ...]]], start: int, end: int) -> _Fn:
    """Runtime lookup of an undeclared name chain among the bindings (container aware)."""
    if len(candidates) == 1 and not candidates[0][1]:
        name = candidates[0][0]
        type_value = TYPE_CONSTANTS.get(name)

        def lookup(act: Any) -> Any:
            try:
                return act[name]
            except KeyError:
                if type_value is not None:
                    return type_value
                message = f"undeclared reference to `{name}`"
                raise CelEvalError("undeclared-reference", message, start, end) from None

        return lookup
    first = candidates[0][0]

    def resolve(act: Any) -> Any:
        for name, rest in candidates:
            if name in act:
                value = act[name]
                for f in rest:
                    value = _select(value, f, start, end)
                return value
            if not rest and name in TYPE_CONSTANTS:
                return TYPE_CONSTANTS[name]
        message = f"undeclared reference to `{first}`"
        raise CelEvalError("undeclared-reference", message, start, end)

    return resolve


def _select(value: Any, name: str, start: int, end: int) -> Any:
    if type(value) is Optional:  # selecting through an optional stays optional
        inner = value.value
        if value.present and isinstance(inner, Mapping) and name in inner:
            return Optional(True, inner[name])
        return OPTIONAL_NONE
    if isinstance(value, Mapping):
        try:
            return value[name]
        except KeyError:
            raise CelEvalError("no-such-key", f"no such key: `{name}`", start, end) from None
    message = f"no such field `{name}` on a value of type `{_tname(value)}`"
    raise CelEvalError("no-such-field", message, start, end)


def _select_fn(operand: _Fn, name: str, start: int, end: int) -> _Fn:
    def select(act: Any) -> Any:
        value = operand(act)
        if type(value) is dict:
            try:
                return value[name]
            except KeyError:
                pass
        return _select(value, name, start, end)

    return select


def _has_fn(operand: _Fn, name: str, start: int, end: int, absent_ok: bool) -> _Fn:
    def has(act: Any) -> bool:
        try:
            value = operand(act)
        except CelUnknown:
            if absent_ok:
                return False
            raise
        if isinstance(value, Mapping):
            if absent_ok:  # a declared attribute: null counts as absent
                return value.get(name) is not None
            return name in value
        if type(value) is Optional:
            inner = value.value
            return value.present and isinstance(inner, Mapping) and name in inner
        if value is None and absent_ok:
            return False
        message = f"`has` cannot test field `{name}` on a value of type `{_tname(value)}`"
        raise CelEvalError("no-such-field", message, start, end)

    return has


def _member_type(t: CelType | None, name: str) -> CelType | None:
    if t is None:
        return None
    if t.kind == "object":
        return t.field_type(name)
    if t.kind == "map":
        return t.value
    return None


def _map_size_guard(getter: _Fn, path: tuple[str, ...], maps: list[tuple[int, str]],
                    max_map: int, node: Expr) -> _Fn:
    """Read ``request.risk_scores.bio`` only from a map within the size limit.

    A key look-up costs the same in any map, but a map beyond ``max_map`` is a value the
    context may not hold, whichever entry a rule reads: an error naming the map.
    """
    start, end = node.start, node.end

    def guarded(act: Any) -> Any:
        for length, shown in maps:
            value: Any = act
            for name in path[:length]:
                value = value.get(name) if isinstance(value, Mapping) else None
            if isinstance(value, Mapping) and len(value) > max_map:
                message = f"`{shown}` has more than {max_map} entries"
                raise CelEvalError("bad-context", message, start, end)
        return getter(act)

    return guarded


def _has_declared_fn(getter: _Fn) -> _Fn:
    """``has(request.use_case)``: the conformed value is present (an empty identifier is not)."""

    def has(act: Any) -> bool:
        try:
            getter(act)
        except CelUnknown:
            return False
        return True

    return has


def _path_fn(
    path: tuple[str, ...], dotted: str, read: Callable[[Any, Any], Any], start: int, end: int,
) -> _Fn:
    """The getter of a declared attribute path; absent keys (or nulls) raise ``CelUnknown``.

    ``read(act, value)`` conforms the raw value (None: it counts as absent).
    """
    unknown = frozenset({dotted})
    if len(path) == 2:
        k0, k1 = path

        def get2(act: Any) -> Any:
            try:
                v = act[k0][k1]
            except (KeyError, TypeError, IndexError):
                v = _walk(act, path, unknown, start, end)
            if v is None:
                raise CelUnknown(unknown)
            out = read(act, v)
            if out is None:
                raise CelUnknown(unknown)
            return out

        return get2
    if len(path) == 3:
        j0, j1, j2 = path

        def get3(act: Any) -> Any:
            try:
                v = act[j0][j1][j2]
            except (KeyError, TypeError, IndexError):
                v = _walk(act, path, unknown, start, end)
            if v is None:
                raise CelUnknown(unknown)
            out = read(act, v)
            if out is None:
                raise CelUnknown(unknown)
            return out

        return get3

    def get(act: Any) -> Any:
        v = _walk(act, path, unknown, start, end)
        if v is None:
            raise CelUnknown(unknown)
        out = read(act, v)
        if out is None:
            raise CelUnknown(unknown)
        return out

    return get


def _walk(act: Any, path: tuple[str, ...], unknown: frozenset[str], start: int, end: int) -> Any:
    value: Any = act
    for i, name in enumerate(path):
        if value is None:
            raise CelUnknown(unknown)
        if type(value) is not dict and not isinstance(value, Mapping):
            where = ".".join(path[:i])
            message = f"`{where}` must be an object, got {describe(value)}"
            raise CelEvalError("bad-context", message, start, end)
        if name not in value:
            raise CelUnknown(unknown)
        value = value[name]
    return value


_MEMOIZED: frozenset[str] = frozenset({"list", "map", "object", "dyn"})


def _reader(t: CelType, shown: str, limits: Limits, start: int, end: int
            ) -> Callable[[Any, Any], Any]:
    """``(act, raw) -> value``: the raw context value conformed, once per request.

    Containers are judged on first read and the verdict kept in the activation's memo
    (``conform.remembered``); scalars are checked on every read, which costs less (a
    constrained string's verdict is cached by its text).
    """
    conform = reader(t, shown, limits)

    def bad(exc: Nonconforming) -> CelEvalError:
        return CelEvalError("bad-context", str(exc), start, end)

    if t.kind not in _MEMOIZED:  # scalars: cheap, or cached by value (conform.reader)
        def read(act: Any, v: Any) -> Any:
            try:
                return conform(v)
            except Nonconforming as exc:
                raise bad(exc) from None

        return read

    def read_memo(act: Any, v: Any) -> Any:
        try:
            return remembered(act, shown, v, conform)
        except Nonconforming as exc:
            raise bad(exc) from None

    return read_memo


# ---------------------------------------------------------------------------------------------
# closure factories: calls and logic


def _call_fn(impl: Callable[..., Any], fns: list[_Fn], start: int, end: int) -> _Fn:
    if len(fns) == 1:
        (a,) = fns

        def call1(act: Any) -> Any:
            try:
                return impl(a(act))
            except CelEvalError as err:
                raise err.at(start, end) from None

        return call1
    if len(fns) == 2:
        a, b = fns

        def call2(act: Any) -> Any:
            try:
                return impl(a(act), b(act))
            except CelEvalError as err:
                raise err.at(start, end) from None

        return call2

    def call(act: Any) -> Any:
        try:
            return impl(*[f(act) for f in fns])
        except CelEvalError as err:
            raise err.at(start, end) from None

    return call


def _charge_at(units: int, start: int, end: int) -> None:
    """Charge the decision's budget; a refusal is a ``cost-limit`` error at this node."""
    try:
        charge(units)
    except CelEvalError as err:
        raise err.at(start, end) from None


def _in_strings_fn(elem: _Fn, items: tuple[str, ...], start: int, end: int) -> _Fn:
    """``x in ["a", "b"]``: a frozenset lookup, exact because strings only equal strings."""
    members = frozenset(items)

    def in_strings(act: Any) -> bool:
        v = elem(act)
        if type(v) is str:
            return v in members
        try:
            return cel_in(v, items)
        except CelEvalError as err:
            raise err.at(start, end) from None

    return in_strings


def _const_str_in_fn(elem: str, container: _Fn, start: int, end: int) -> _Fn:
    """``"US" in principal.nationalities``: Python's ``in`` on a list is exact for a string."""

    def const_in(act: Any) -> bool:
        c = container(act)
        if type(c) is list or type(c) is tuple:
            if len(c) > FREE_SIZE:
                _charge_at(len(c), start, end)
            return elem in c
        try:
            return cel_in(elem, c)
        except CelEvalError as err:
            raise err.at(start, end) from None

    return const_in


def _eq_const_fn(operand: _Fn, const: object, negate: bool) -> _Fn:
    """``x == "a"``: Python equality is CEL equality when one side is a string or bytes."""
    if negate:
        return lambda act: operand(act) != const
    return lambda act: operand(act) == const


def _and_fn(left: _Fn, right: _Fn, node: Call) -> _Fn:
    start, end = node.start, node.end

    def and_(act: Any) -> Any:
        try:
            lv = left(act)
        except (CelEvalError, CelUnknown) as err:
            failure: BaseException = err
        else:
            if lv is False:
                return False
            if lv is True:
                rv = right(act)
                if rv is True or rv is False:
                    return rv
                raise _bool_error("_&&_", rv, start, end)
            failure = _bool_error("_&&_", lv, start, end)
        return _absorb(failure, right, act, False)

    return and_


def _or_fn(left: _Fn, right: _Fn, node: Call) -> _Fn:
    start, end = node.start, node.end

    def or_(act: Any) -> Any:
        try:
            lv = left(act)
        except (CelEvalError, CelUnknown) as err:
            failure: BaseException = err
        else:
            if lv is True:
                return True
            if lv is False:
                rv = right(act)
                if rv is True or rv is False:
                    return rv
                raise _bool_error("_||_", rv, start, end)
            failure = _bool_error("_||_", lv, start, end)
        return _absorb(failure, right, act, True)

    return or_


def _absorb(failure: BaseException, right: _Fn, act: Any, absorbing: bool) -> bool:
    """The left side failed: the right side's absorbing value wins, else the failures merge.

    A refused cost charge (``cost-limit``) is never absorbed: the work was not done, so
    the decision must not be trusted even where CEL would not need the value.
    """
    if _aborted(failure):
        raise failure
    try:
        rv = right(act)
    except (CelEvalError, CelUnknown) as err:
        raise _merge_unknown(failure, err) from None
    if rv is absorbing:
        return bool(absorbing)
    raise failure


def _aborted(failure: BaseException) -> bool:
    """True for a refused cost charge, which stops the evaluation (see ``_absorb``)."""
    return type(failure) is CelEvalError and failure.code == "cost-limit"


_SPECIAL: dict[str, Callable[[_Compiler, Call], tuple[_Fn, object]]] = {
    "_&&_": _Compiler._compile_and_or,
    "_||_": _Compiler._compile_and_or,
    "!_": _Compiler._compile_not,
    "_?_:_": _Compiler._compile_conditional,
    "@in": _Compiler._compile_in,
    "_==_": _Compiler._compile_eq,
    "_!=_": _Compiler._compile_eq,
    "_[_]": _Compiler._compile_index,
}
_IMPURE: frozenset[str] = frozenset()


# ---------------------------------------------------------------------------------------------
# macros


def _range_items(value: Any, start: int, end: int) -> Any:
    if type(value) is list or type(value) is tuple:
        return value
    if isinstance(value, Mapping):
        return list(value.keys())
    if isinstance(value, list | tuple):
        return value
    raise CelEvalError(
        "no-matching-overload", f"cannot iterate over a value of type `{_tname(value)}`", start, end
    )


def _scope(act: Any, n: int, limit: tuple[int, int], start: int, end: int) -> dict[str, Any]:
    """A child activation for a macro, after charging ``n`` iterations to the budgets.

    ``limit`` is ``(max_iterations, steps per element)``: the iteration budget is shared
    with enclosing macros (per top-level comprehension); the decision's cost budget is
    charged ``n * steps`` up front, so a loop that cannot finish never starts.
    """
    max_iterations, per = limit
    units = n * per
    if units > FREE_SIZE:
        _charge_at(units, start, end)
    local = dict(act)
    budget = local.get(_BUDGET)
    if budget is None:
        budget = [max_iterations]
        local[_BUDGET] = budget
    budget[0] -= n
    if budget[0] < 0:
        message = f"comprehension work exceeds the limit of {max_iterations} iterations"
        raise CelEvalError("cost-limit", message, start, end)
    return local


_Loop = Callable[..., _Fn]


def _loop_quantifier(
    rng: _Fn, body: _Fn, *, pred: _Fn | None, key: str, node: Comprehension,
    limit: tuple[int, int],
) -> _Fn:
    start, end = node.start, node.end
    is_all = node.kind == "all"
    stop = not is_all  # all stops on false, exists on true

    def quantifier(act: Any) -> bool:
        items = _range_items(rng(act), start, end)
        local = _scope(act, len(items), limit, start, end)
        failure: BaseException | None = None
        for item in items:
            local[key] = item
            try:
                v = body(local)
            except (CelEvalError, CelUnknown) as err:
                if _aborted(err):
                    raise
                failure = err if failure is None else _merge_unknown(failure, err)
                continue
            if v is stop:
                return bool(stop)
            if v is not (not stop):
                err2 = _bool_error(node.kind, v, start, end)
                failure = err2 if failure is None else _merge_unknown(failure, err2)
        if failure is not None:
            raise failure
        return not stop

    return quantifier


def _loop_exists_one(
    rng: _Fn, body: _Fn, *, pred: _Fn | None, key: str, node: Comprehension,
    limit: tuple[int, int],
) -> _Fn:
    start, end = node.start, node.end

    def exists_one(act: Any) -> bool:
        items = _range_items(rng(act), start, end)
        local = _scope(act, len(items), limit, start, end)
        count = 0
        for item in items:
            local[key] = item
            v = body(local)
            if v is True:
                count += 1
            elif v is not False:
                raise _bool_error("exists_one", v, start, end)
        return count == 1

    return exists_one


def _loop_map(
    rng: _Fn, body: _Fn, *, pred: _Fn | None, key: str, node: Comprehension,
    limit: tuple[int, int],
) -> _Fn:
    start, end = node.start, node.end

    def map_(act: Any) -> list[Any]:
        items = _range_items(rng(act), start, end)
        local = _scope(act, len(items), limit, start, end)
        out = []
        for item in items:
            local[key] = item
            if pred is not None:
                keep = pred(local)
                if keep is False:
                    continue
                if keep is not True:
                    raise _bool_error("map", keep, start, end)
            out.append(body(local))
        return out

    return map_


def _loop_filter(
    rng: _Fn, body: _Fn, *, pred: _Fn | None, key: str, node: Comprehension,
    limit: tuple[int, int],
) -> _Fn:
    start, end = node.start, node.end

    def filter_(act: Any) -> list[Any]:
        items = _range_items(rng(act), start, end)
        local = _scope(act, len(items), limit, start, end)
        out = []
        for item in items:
            local[key] = item
            keep = body(local)
            if keep is True:
                out.append(item)
            elif keep is not False:
                raise _bool_error("filter", keep, start, end)
        return out

    return filter_


_LOOPS: dict[str, _Loop] = {
    "all": _loop_quantifier,
    "exists": _loop_quantifier,
    "exists_one": _loop_exists_one,
    "map": _loop_map,
    "filter": _loop_filter,
}



ClosureCompiler = _Compiler
NOCONST = _NOCONST
"""What ``ClosureCompiler.compile`` returns as the constant of a node that is not constant."""
"""The closure compiler, for the code generator's delegated nodes (macros, literals of maps)."""
aborted = _aborted
bool_error = _bool_error
merge_failures = _merge_unknown
select = _select
walk_path = _walk
attribute_reader = _reader
MEMOIZED_KINDS = _MEMOIZED
