"""The CEL type checker: infers the type of an ``expr`` tree and reports what cannot run.

It works on ``compliance.cel.ast`` nodes against a ``TypeEnv`` (the context schema, the
types of the pack's ``vars.<name>``) and returns findings as ``TypeIssue`` values with
character offsets into the CEL text; the checker turns them into ``Diagnostic``s at file
spans. Keeping offsets here (not spans) lets this module check any CEL string, whatever
file or YAML scalar it came from.

Function, method and operator signatures come from ``functions.SIGNATURES`` (the one
table the compiler also binds implementations from), so the checker accepts exactly what
the runtime implements. A few operators need rules a signature cannot say and have their
own ``_check_*`` functions: ``&&``/``||`` (bool operands), ``==``/``!=`` (CEL's
heterogeneous equality: any two numeric types compare, unrelated types do not), ``in``
and indexing (element and key types), and the conditional.

``dyn`` is compatible with everything, and an expression already in error has type
``error``, which is treated like ``dyn`` so one mistake is reported once, not at every
enclosing operator.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal as TypingLiteral

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
from compliance.cel.functions import SIGNATURES, TYPE_NAMES, Overload
from compliance.cel.regex import RegexError, compile_re2
from compliance.cel.types import (
    BOOL,
    BYTES,
    DOUBLE,
    DYN,
    ERROR,
    INT,
    NULL,
    STRING,
    TYPE,
    UINT,
    CelType,
    ContextSchema,
    list_of,
    map_of,
    object_of,
)
from compliance.cel.values import (
    NANOS,
    CelEvalError,
    UInt,
    check_timestamp,
    parse_duration,
    parse_timestamp,
)
from compliance.diagnostics import DiagnosticCode

__all__ = [
    "CheckedExpr", "Ref", "TypeEnv", "TypeIssue", "check_expr", "infer", "literal_issues",
    "spell_type", "suggest",
]

_NUMERIC = frozenset({"int", "uint", "double"})
_LOOSE = frozenset({"dyn", "error"})
_OPERATORS = {
    "_==_": "==", "_!=_": "!=", "_<_": "<", "_<=_": "<=", "_>_": ">", "_>=_": ">=",
    "_+_": "+", "_-_": "-", "_*_": "*", "_/_": "/", "_%_": "%", "-_": "-", "!_": "!",
    "_&&_": "&&", "_||_": "||", "@in": "in", "_[_]": "[]", "_?_:_": "?:",
}


@dataclass(frozen=True, slots=True)
class TypeIssue:
    """A problem found in one CEL expression, at offsets ``[start, end)`` of its text."""

    code: DiagnosticCode
    message: str
    start: int
    end: int
    help: str | None = None


@dataclass(frozen=True, slots=True)
class TypeEnv:
    """What names mean: the context schema's variables and the pack's ``vars.<name>`` types."""

    schema: ContextSchema
    variables: Mapping[str, CelType] = field(default_factory=dict)


RefKind = TypingLiteral["attribute", "vars", "local", "type-name", "undeclared"]


@dataclass(frozen=True, slots=True)
class Ref:
    """What a name (an ``Ident`` or a ``Select`` chain) resolved to.

    ``attribute``: a declared context path (``path``, with its declared ``type``);
    ``vars``: ``vars.<name>`` (``path`` is ``("vars", name, *fields)``); ``local``: a
    comprehension variable; ``type-name``: ``int``, ``string`` … used as a value.
    """

    kind: RefKind
    path: tuple[str, ...]
    type: CelType


@dataclass(frozen=True, slots=True)
class CheckedExpr:
    """A checked tree: the expression with every node's type and every reference resolved.

    Side tables keyed by ``id(node)`` (the tree is immutable and kept alive here, so ids are
    stable): ``types`` for every node, ``refs`` for names and attribute paths, ``overloads``
    for calls (the signatures the argument types admit; one means the call is bound).
    The code generator reads these; nothing downstream re-derives a type.
    """

    expr: Expr
    type: CelType
    issues: tuple[TypeIssue, ...]
    types: Mapping[int, CelType]
    refs: Mapping[int, Ref]
    overloads: Mapping[int, tuple[Overload, ...]]

    def type_of(self, node: Expr) -> CelType:
        """The checked type of ``node`` (``dyn`` for a node this tree does not hold)."""
        return self.types.get(id(node), DYN)

    def ref_of(self, node: Expr) -> Ref | None:
        """What the name or path ``node`` resolved to, if it is one."""
        return self.refs.get(id(node))


def check_expr(expr: Expr, env: TypeEnv) -> CheckedExpr:
    """Check ``expr`` under ``env``: its checked tree (types, references, overloads, issues)."""
    checker = _Checker(env)
    result = checker.check(expr)
    return CheckedExpr(expr, result, tuple(checker.issues), checker.types, checker.refs,
                       checker.overloads)


def infer(expr: Expr, env: TypeEnv) -> tuple[CelType, tuple[TypeIssue, ...]]:
    """The type of ``expr`` under ``env`` and every issue found on the way."""
    checked = check_expr(expr, env)
    return checked.type, checked.issues


def suggest(name: str, candidates: Iterable[str]) -> str | None:
    """``did you mean `x`?`` for the closest candidate (difflib, cutoff 0.75), or None."""
    found = difflib.get_close_matches(name, sorted(set(candidates)), n=1, cutoff=0.75)
    return f"did you mean `{found[0]}`?" if found else None


def spell_type(t: CelType) -> str:
    """A type as users read it: type parameters (``A``) and errors read as ``dyn``."""
    if t.kind == "list":
        return f"list<{spell_type(t.params[0])}>"
    if t.kind == "map":
        return f"map<{spell_type(t.params[0])}, {spell_type(t.params[1])}>"
    if t.kind == "error":
        return "dyn"
    if t.kind == "dyn" and t.name:
        return t.name  # a type parameter of a signature, as in `size(list<A>)`
    return str(t)


# ---------------------------------------------------------------------------------------------
# type relations


def _loose(t: CelType) -> bool:
    return t.kind in _LOOSE


def _same(a: CelType, b: CelType) -> bool:
    """Equal types, with ``dyn`` as a wildcard at any depth (enums are ignored)."""
    if _loose(a) or _loose(b):
        return True
    if a.kind != b.kind:
        return False
    if a.kind == "object":
        return a.name == b.name
    return all(_same(x, y) for x, y in zip(a.params, b.params, strict=True))


def _comparable(a: CelType, b: CelType) -> bool:
    """Whether ``a == b`` type-checks: same types, numbers across kinds, or ``null``."""
    if _loose(a) or _loose(b) or NULL.kind in (a.kind, b.kind):
        return True
    if a.kind in _NUMERIC and b.kind in _NUMERIC:
        return True
    if a.kind != b.kind:
        return False
    if a.kind == "object":
        return a.name == b.name
    return all(_comparable(x, y) for x, y in zip(a.params, b.params, strict=True))


def _unify(param: CelType, arg: CelType, bound: dict[str, CelType]) -> bool:
    """Whether ``arg`` fits ``param``, binding type parameters (named ``dyn``) in ``bound``."""
    if _loose(arg):
        return True
    if param.kind == "dyn":
        if not param.name:
            return True
        previous = bound.get(param.name)
        if previous is None or _loose(previous):
            bound[param.name] = arg
            return True
        return _same(previous, arg)
    if param.kind != arg.kind:
        return False
    return all(_unify(p, a, bound) for p, a in zip(param.params, arg.params, strict=True))


def _substitute(t: CelType, bound: Mapping[str, CelType]) -> CelType:
    """``t`` with its type parameters replaced by what they were bound to (else ``dyn``)."""
    if t.kind == "dyn" and t.name:
        return bound.get(t.name, DYN)
    if t.params:
        return replace(t, params=tuple(_substitute(p, bound) for p in t.params))
    return t


def _join(types: Sequence[CelType]) -> CelType:
    """One type for several (list elements, conditional branches): equal, else ``dyn``."""
    concrete = [t for t in types if not _loose(t)]
    if not concrete:
        return DYN
    first = replace(concrete[0], enum=())
    return first if all(_same(first, t) for t in concrete) else DYN


def _literal_type(value: object) -> CelType:
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, UInt):
        return UINT
    if isinstance(value, int):
        return INT
    if isinstance(value, float):
        return DOUBLE
    if isinstance(value, str):
        return STRING
    if isinstance(value, bytes):
        return BYTES
    return NULL if value is None else DYN


def _describe(node: Expr) -> str:
    """``request.model`` for an attribute path, else a neutral word for messages."""
    path = attribute_path(node)
    return ".".join(path) if path else "the expression"


# ---------------------------------------------------------------------------------------------
# the checker


class _Checker:
    """One walk over one expression: a ``_check_<node>`` method per node kind."""

    def __init__(self, env: TypeEnv) -> None:
        self.env = env
        self.issues: list[TypeIssue] = []
        self.scopes: list[dict[str, CelType]] = []
        self.types: dict[int, CelType] = {}
        self.refs: dict[int, Ref] = {}
        self.overloads: dict[int, tuple[Overload, ...]] = {}
        self.calls: dict[str, Callable[[Call], CelType]] = {
            "_&&_": self._check_logical,
            "_||_": self._check_logical,
            "_?_:_": self._check_conditional,
            "_==_": self._check_equality,
            "_!=_": self._check_equality,
            "@in": self._check_in,
            "_[_]": self._check_index,
        }

    def report(
        self, code: DiagnosticCode, message: str, node: Expr, help_: str | None = None
    ) -> None:
        self.issues.append(TypeIssue(code, message, node.start, node.end, help_))

    def check(self, node: Expr) -> CelType:
        """The type of ``node``, recorded in the side table (dispatches on the node kind)."""
        t = self._dispatch(node)
        self.types[id(node)] = t
        return t

    def _dispatch(self, node: Expr) -> CelType:
        match node:
            case Literal():
                return self._check_literal(node)
            case Ident():
                return self._check_ident(node)
            case Select():
                return self._check_select(node)
            case Call():
                return self._check_call(node)
            case CreateList():
                return self._check_list(node)
            case CreateMap():
                return self._check_map(node)
            case CreateStruct():
                return self._check_struct(node)
            case Comprehension():
                return self._check_comprehension(node)
        return DYN  # pragma: no cover - the match is exhaustive over Expr

    def expect_bool(self, node: Expr, what: str) -> None:
        """Check ``node`` and report it unless it is ``bool`` (or ``dyn``)."""
        t = self.check(node)
        if t.kind != "bool" and not _loose(t):
            self.report("type-mismatch", f"{what} must be `bool`, found `{spell_type(t)}`", node)

    # -- names ------------------------------------------------------------------------------

    def _check_literal(self, node: Literal) -> CelType:
        return _literal_type(node.value)

    def _local(self, name: str) -> CelType | None:
        for scope in reversed(self.scopes):
            if name in scope:
                return scope[name]
        return None

    def _vars_type(self) -> CelType:
        return object_of("vars", self.env.variables)

    def _check_ident(self, node: Ident) -> CelType:
        name = node.name.removeprefix(".")
        local = None if node.name.startswith(".") else self._local(name)
        if local is not None:
            self.refs[id(node)] = Ref("local", (name,), local)
            return local
        declared = self.env.schema.variables.get(name)
        if declared is not None:
            self.refs[id(node)] = Ref("attribute", (name,), declared)
            return declared
        if name == "vars":
            return self._vars_type()
        if name in TYPE_NAMES:
            self.refs[id(node)] = Ref("type-name", (name,), TYPE)
            return TYPE
        known = [*self.env.schema.variables, "vars", *(n for s in self.scopes for n in s)]
        help_ = suggest(name, known) or "declared names: " + ", ".join(f"`{n}`" for n in known)
        self.report("undeclared-reference", f"undeclared reference to `{name}`", node, help_)
        return ERROR

    def _check_select(self, node: Select) -> CelType:
        operand = self.check(node.operand)
        result = self._field_of(node, operand)
        if not node.test_only:
            self._resolve_path(node, result)
        return BOOL if node.test_only else result

    def _resolve_path(self, node: Select, result: CelType) -> None:
        """Record what ``a.b.c`` names: a declared attribute, a ``vars.`` read, a local's field."""
        path = attribute_path(node)
        if path is None:
            return
        root = self.refs.get(id(_root(node)))
        if root is not None and root.kind in ("attribute", "local"):
            self.refs[id(node)] = Ref(root.kind, path, result)
        elif path[0] == "vars" and self._local("vars") is None:
            self.refs[id(node)] = Ref("vars", path, result)

    def _field_of(self, node: Select, operand: CelType) -> CelType:
        if _loose(operand):
            return DYN
        if operand.kind == "map" and operand.key.kind in ("string", "dyn"):
            return operand.value
        if operand.kind != "object":
            message = f"`{spell_type(operand)}` has no fields: cannot select `{node.field}`"
            self.report("type-mismatch", message, node)
            return ERROR
        found = operand.field_type(node.field)
        if found is not None:
            return found
        self._unknown_field(node, operand)
        return ERROR

    def _unknown_field(self, node: Select, operand: CelType) -> None:
        path = attribute_path(replace(node, test_only=False))
        names = [n for n, _ in operand.fields]
        if path is not None:
            message = f"undeclared reference to `{'.'.join(path)}`"
        else:
            message = f"undeclared reference to field `{node.field}` of `{spell_type(operand)}`"
        owner = "vars" if operand.name == "vars" else f"`{operand.name}`"
        listing = ", ".join(f"`{n}`" for n in names) if names else "none"
        fallback = f"{owner} declares {listing}" if len(names) <= 12 else None
        self.report("undeclared-reference", message, node, suggest(node.field, names) or fallback)

    # -- calls ------------------------------------------------------------------------------

    def _check_call(self, node: Call) -> CelType:
        qualified = self._qualified_function(node)
        if qualified is not None:
            call = replace(node, function=qualified, target=None)
            result = self._check_overloaded(call)
            if id(call) in self.overloads:  # recorded under the node the tree holds
                self.overloads[id(node)] = self.overloads.pop(id(call))
            return result
        special = self.calls.get(node.function)
        return special(node) if special is not None else self._check_overloaded(node)

    def _qualified_function(self, node: Call) -> str | None:
        """``strings.quote`` when ``strings.quote(x)`` parsed as a method call on ``strings``."""
        if node.target is None:
            return None
        path = attribute_path(node.target)
        if path is None or self._local(path[0]) is not None:
            return None
        if path[0] in self.env.schema.variables or path[0] == "vars":
            return None
        name = ".".join((*path, node.function))
        return name if name in SIGNATURES else None

    def _check_overloaded(self, node: Call) -> CelType:
        args = ([node.target] if node.target is not None else []) + list(node.args)
        types = [self.check(a) for a in args]
        overloads = SIGNATURES.get(node.function)
        if overloads is None:
            self._unknown_function(node)
            return ERROR
        results: list[CelType] = []
        chosen: list[Overload] = []
        for overload in overloads:
            if overload.receiver != (node.target is not None) or len(overload.params) != len(types):
                continue
            bound: dict[str, CelType] = {}
            if all(_unify(p, t, bound) for p, t in zip(overload.params, types, strict=True)):
                results.append(_substitute(overload.result, bound))
                chosen.append(overload)
        if not results:
            self._no_overload(node, args, types, overloads)
            return ERROR
        self.overloads[id(node)] = tuple(chosen)
        return _join(results)

    def _unknown_function(self, node: Call) -> None:
        kind = "method" if node.target is not None else "function"
        names = [n for n in SIGNATURES if n.replace(".", "").isidentifier()]
        self.report(
            "undeclared-reference", f"undeclared reference to {kind} `{node.function}`",
            node, suggest(node.function, names),
        )

    def _no_overload(
        self, node: Call, args: list[Expr], types: list[CelType], overloads: list[Overload]
    ) -> None:
        spelled = [f"`{spell_type(t)}`" for t in types]
        op = _OPERATORS.get(node.function)
        if op is not None:
            on = " and ".join(spelled)
            self.report("type-mismatch", f"`{op}` cannot be applied to {on}",
                        _blame(node, args), _operand_help(args, types))
            return
        where = f"`{spell_type(types[0])}.{node.function}`" if node.target is not None else (
            f"`{node.function}`")
        given = ", ".join(spell_type(t) for t in (types[1:] if node.target is not None else types))
        accepted = sorted({_signature(node.function, o) for o in overloads})
        help_ = "accepted: " + ", ".join(f"`{s}`" for s in accepted[:8])
        self.report("no-matching-overload",
                    f"no matching overload for {where} applied to `({given})`", node, help_)

    def _check_logical(self, node: Call) -> CelType:
        op = _OPERATORS[node.function]
        for arg in node.args:
            self.expect_bool(arg, f"operand of `{op}`")
        return BOOL

    def _check_conditional(self, node: Call) -> CelType:
        cond, then, other = node.args
        self.expect_bool(cond, "condition of `?:`")
        return _join([self.check(then), self.check(other)])

    def _check_equality(self, node: Call) -> CelType:
        left, right = node.args
        lt, rt = self.check(left), self.check(right)
        if not _comparable(lt, rt):
            op = _OPERATORS[node.function]
            message = f"`{op}` compares `{spell_type(lt)}` with `{spell_type(rt)}`: never equal"
            self.report("type-mismatch", message, _blame(node, [left, right]),
                        _operand_help([left, right], [lt, rt]))
            return BOOL
        self._check_enum(left, lt, right)
        self._check_enum(right, rt, left)
        return BOOL

    def _check_enum(self, attribute: Expr, t: CelType, other: Expr) -> None:
        """Report a string literal compared with an ``enum`` attribute it can never equal."""
        if not t.enum or not isinstance(other, Literal) or not isinstance(other.value, str):
            return
        if other.value in t.enum:
            return
        allowed = ", ".join(f"`{v}`" for v in t.enum)
        message = f"`{other.value}` is not a declared value of `{_describe(attribute)}` ({allowed})"
        self.report("enum-mismatch", message, other, suggest(other.value, t.enum))

    def _check_in(self, node: Call) -> CelType:
        elem, container = node.args
        et, ct = self.check(elem), self.check(container)
        if _loose(ct):
            return BOOL
        if ct.kind not in ("list", "map"):
            help_ = "use `==` to compare strings, or `.contains()` for a substring" if (
                ct.kind == "string") else None
            message = f"`in` needs a list or map on the right, found `{spell_type(ct)}`"
            self.report("type-mismatch", message, container, help_)
            return BOOL
        inner = ct.elem if ct.kind == "list" else ct.key
        if not _comparable(et, inner):
            message = f"`in` looks for `{spell_type(et)}` in `{spell_type(ct)}`: never found"
            self.report("type-mismatch", message, _blame(node, [elem, container]))
        elif isinstance(container, CreateList):
            for item in container.elements:
                self._check_enum(elem, et, item)
        return BOOL

    def _check_index(self, node: Call) -> CelType:
        container, key = node.args
        ct, kt = self.check(container), self.check(key)
        if _loose(ct):
            return DYN
        if ct.kind == "list" and (kt.kind in ("int", "uint") or _loose(kt)):
            return ct.elem
        if ct.kind == "map" and _comparable(ct.key, kt) and kt.kind != "null_type":
            return ct.value
        if ct.kind in ("list", "map"):
            wanted = "int" if ct.kind == "list" else spell_type(ct.key)
            message = f"`{spell_type(ct)}` is indexed by `{wanted}`, found `{spell_type(kt)}`"
            self.report("type-mismatch", message, key)
        else:
            self.report("type-mismatch", f"`{spell_type(ct)}` cannot be indexed", node)
        return ERROR

    # -- literals and comprehensions ----------------------------------------------------------

    def _check_list(self, node: CreateList) -> CelType:
        return list_of(_join([self.check(e) for e in node.elements]))

    def _check_map(self, node: CreateMap) -> CelType:
        keys = [self.check(k) for k, _ in node.entries]
        values = [self.check(v) for _, v in node.entries]
        return map_of(_join(keys), _join(values))

    def _check_struct(self, node: CreateStruct) -> CelType:
        for _, value in node.fields:
            self.check(value)
        return DYN

    def _check_comprehension(self, node: Comprehension) -> CelType:
        rt = self.check(node.range)
        var = DYN
        if rt.kind in ("list", "map"):
            var = rt.elem if rt.kind == "list" else rt.key
        elif not _loose(rt):
            message = f"`{node.kind}` iterates over a list or map, found `{spell_type(rt)}`"
            self.report("type-mismatch", message, node.range)
        self.scopes.append({node.var: var})
        try:
            if node.predicate is not None:
                self.expect_bool(node.predicate, f"predicate of `{node.kind}`")
            if node.kind == "map":
                return list_of(replace(self.check(node.body), enum=()))
            self.expect_bool(node.body, f"predicate of `{node.kind}`")
        finally:
            self.scopes.pop()
        return list_of(var) if node.kind == "filter" else BOOL


def _root(node: Expr) -> Expr:
    """The innermost operand of a selection chain (its ``Ident``)."""
    while isinstance(node, Select):
        node = node.operand
    return node


def _blame(node: Call, operands: Sequence[Expr]) -> Expr:
    """The node to underline: the one literal operand when there is exactly one, else all."""
    literals = [a for a in operands if isinstance(a, Literal)]
    return literals[0] if len(literals) == 1 and len(operands) > 1 else node


def _operand_help(operands: Sequence[Expr], types: Sequence[CelType]) -> str | None:
    """A fix for the common slips: quoted numbers, bare instants, quoted booleans."""
    kinds = {t.kind for t in types}
    for arg in operands:
        if not isinstance(arg, Literal):
            continue
        value = arg.value
        if isinstance(value, str) and kinds & _NUMERIC and re.fullmatch(r"-?\d+(\.\d+)?", value):
            return f"drop the quotes to compare numbers: `{value}`"
        if isinstance(value, str) and "bool" in kinds and value.lower() in ("true", "false"):
            return f"drop the quotes: `{value.lower()}`"
        if "timestamp" in kinds and not isinstance(value, bool):
            return 'write an instant as `timestamp("2026-06-15T17:21:00Z")`'
        if "duration" in kinds and not isinstance(value, bool):
            return 'write a length of time as `duration("30m")`'
    return None


def _signature(function: str, overload: Overload) -> str:
    params = [spell_type(p) for p in overload.params]
    if overload.receiver:
        return f"{params[0]}.{function}({', '.join(params[1:])})"
    return f"{function}({', '.join(params)})"


# ---------------------------------------------------------------------------------------------
# literal arguments: regular expressions, timestamps, durations


def literal_issues(expr: Expr) -> list[TypeIssue]:
    """Constant arguments that would fail at run time: bad regexes, instants and durations.

    These are checked at load because a constant that cannot work is an authoring
    mistake, and failing at run time would turn it into a fail-closed decision on every
    request that reaches it.
    """
    found: list[TypeIssue] = []
    for node in walk(expr):
        if not isinstance(node, Call):
            continue
        issue = _literal_issue(node)
        if issue is not None:
            found.append(issue)
    return found


def _literal_issue(node: Call) -> TypeIssue | None:
    args = ([node.target] if node.target is not None else []) + list(node.args)
    if node.function == "matches" and len(args) == 2:
        return _regex_issue(args[1])
    if node.target is None and len(args) == 1 and isinstance(args[0], Literal):
        if node.function == "timestamp":
            return _timestamp_issue(args[0])
        if node.function == "duration":
            return _duration_issue(args[0])
    return None


def _regex_issue(pattern: Expr) -> TypeIssue | None:
    if not isinstance(pattern, Literal) or not isinstance(pattern.value, str):
        return None
    try:
        compile_re2(pattern.value)
    except RegexError as err:
        message = f"invalid regular expression `{pattern.value}`: {_regex_reason(err.reason)}"
        help_ = "CEL regexes are RE2: no backreferences or lookaround, so matching stays linear"
        return TypeIssue("invalid-regex", message, pattern.start, pattern.end, help_)
    return None


def _regex_reason(reason: str) -> str:
    """RE2's parse error, named in plain words for the constructs RE2 deliberately lacks."""
    if re.search(r"invalid escape sequence: \\[1-9]", reason):
        return "backreferences are not supported"
    if re.search(r"invalid perl operator: \(\?<?[=!]", reason):
        return "lookahead and lookbehind are not supported"
    return reason


def _timestamp_issue(arg: Literal) -> TypeIssue | None:
    try:
        if isinstance(arg.value, str):
            parse_timestamp(arg.value)
        elif isinstance(arg.value, int) and not isinstance(arg.value, bool | UInt):
            check_timestamp(arg.value * NANOS)
    except (ValueError, CelEvalError) as err:
        message = f"invalid timestamp: {_error_text(err, arg)}"
        help_ = 'write RFC 3339 with an offset, e.g. `timestamp("2026-06-15T17:21:00-04:00")`'
        return TypeIssue("invalid-timestamp", message, arg.start, arg.end, help_)
    return None


def _duration_issue(arg: Literal) -> TypeIssue | None:
    if not isinstance(arg.value, str):
        return None
    try:
        parse_duration(arg.value)
    except ValueError as err:
        message = f"invalid duration: {err}"
        help_ = 'use units h, m, s, ms, us, ns, e.g. `duration("1h30m")`'
        return TypeIssue("invalid-duration", message, arg.start, arg.end, help_)
    return None


def _error_text(err: Exception, arg: Literal) -> str:
    if isinstance(err, CelEvalError):
        return f"`{arg.value}` seconds is outside the timestamp range"
    return str(err)
