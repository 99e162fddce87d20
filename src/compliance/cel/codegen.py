"""Generate one Python function per rule from the checked tree (the default backend).

The closure compiler (``compliance.cel.compiler``) calls one closure per node; here each
rule's conditions and templates become straight-line Python in one generated source, where
a node is one statement on local variables. The input is the checker's ``CheckedExpr``
(types and resolved references), never rule text:

- literals are bound as constants: the defaults of the function's parameters, read as fast
  locals (only numbers, booleans and identifiers the generator makes appear in the text);
- an overload the types pin down is bound at compile time (``a < b`` on two ints is Python's
  ``<``; ``a + b`` is Python's ``+`` with the int64 overflow check); ``dyn`` operands keep
  the run-time dispatch of ``compliance.cel.functions``;
- declared attribute paths use the closure compiler's getters, so values are read through
  ``compliance.cel.conform`` (memoised per request, constraints, limits) exactly as before;
- ``vars.<name>`` is compiled once per pack and evaluated at most once per request (a memo
  slot in the activation), its error or unknown memoised too;
- comprehensions, map and message literals, computed indexes and names outside the schema
  are delegated to the closure compiler's closure for that node (bound as a constant).

``&&``/``||`` chains are flattened into one sequence with CEL's absorption (false/true wins
whatever the other operands did; unknowns merge and beat errors; a refused cost charge is
never absorbed). Errors are located at the innermost call that raised: each call that can
raise sets ``_at`` first, and the function's one handler attaches it.

The source is registered with ``linecache`` so tracebacks and profiles show the generated
line. Rules of one shape generate the same text (their constants are each rule's parameter
defaults) and share one code object, named ``<compliance shape HASH>``: a per-rule copy
costs about 2 KB, 20 MB at 10 000 rules. ``COMPLIANCE_CODE_NAMES=rule`` gives every rule its
own copy named ``<compliance pack/rule>``, for profiling by rule. A tree the generator
cannot turn into Python (nested beyond Python's block limit) falls back to the closure
compiler for that expression.
"""

from __future__ import annotations

import hashlib
import itertools
import linecache
import math
import os
import sys
from collections.abc import Callable, Mapping
from types import CodeType, FunctionType
from typing import Any, TypeVar

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
)
from compliance.cel.budget import FREE_SIZE, charge
from compliance.cel.checker import CheckedExpr, TypeEnv, check_expr
from compliance.cel.compiler import (
    MEMOIZED_KINDS,
    VARS,
    CelCompileError,
    ClosureCompiler,
    CompileEnv,
    Program,
    attribute_reader,
    bool_error,
    merge_failures,
    select,
    walk_path,
)
from compliance.cel.conform import Nonconforming, fast_exit, reader, text_verdicts
from compliance.cel.functions import (
    IMPLEMENTATIONS,
    cel_eq,
    cel_in,
    charge_regex,
    checked_int,
    no_overload,
    regex_searcher,
)
from compliance.cel.types import DYN, CelType, ContextSchema
from compliance.cel.values import CelEvalError, CelUnknown, Duration, Timestamp, UInt
from compliance.errors import ConfigurationError

__all__ = ["PackCodegen", "generated_program"]

_NOCONST: Any = object()
_SERIAL = itertools.count(1)
_ORDERED = frozenset({"int", "uint", "double", "string", "bytes", "bool", "timestamp",
                      "duration"})
_COMPARE = {"_<_": "<", "_<=_": "<=", "_>_": ">", "_>=_": ">="}
_ARITH = {"_+_": "+", "_-_": "-", "_*_": "*"}


def _in_list(elem: object, container: object) -> bool:
    """``x in c`` where ``c`` may be a list: exact ``in`` for a string, charged by length."""
    if type(elem) is str and (type(container) is list or type(container) is tuple):
        if len(container) > FREE_SIZE:
            charge(len(container))
        return elem in container
    return cel_in(elem, container)


def _locate(err: BaseException, at: tuple[int, int]) -> BaseException:
    """Attach the offsets of the call that raised to an error that has none yet."""
    if type(err) is CelEvalError:
        err.at(*at)
    return err


def _matches(search: Callable[[str], bool], pattern: str) -> Callable[[object], bool]:
    """``s.matches(<constant pattern>)``: the compiled RE2 searcher, charged for long text."""

    def matches(s: object) -> bool:
        if type(s) is not str:
            raise no_overload("matches", s, pattern)
        if len(s) > FREE_SIZE:
            charge_regex(s, pattern)
        return search(s)

    return matches


_RUNTIME: dict[str, object] = {  # the builtins of generated code: shared, never copied
    "_CelEvalError": CelEvalError,
    "_FAIL": (CelEvalError, CelUnknown),
    "_CelUnknown": CelUnknown,
    "_locate": _locate,
    "_merge": merge_failures,
    "_bool_error": bool_error,
    "_select": select,
    "_ovf": checked_int,  # the int64 range check of `+`, `-`, `*`, negation on known ints
    "_eq": cel_eq,
    "_in": _in_list,
    "_NOWHERE": (-1, -1),
    "_LOOKUP": (KeyError, TypeError, IndexError),
    "_walk": walk_path,
    "_Nonconforming": Nonconforming,
    "_UNSEEN": object(),  # a text no verdict is kept for (`conform.text_verdicts`)
    # the only Python builtins generated code may name
    "type": type, "len": len, "str": str, "tuple": tuple, "list": list, "bool": bool,
    "dict": dict,
}


_GLOBALS: dict[str, object] = {"__builtins__": _RUNTIME}  # of every generated function

_SHARED: dict[object, object] = {}
_SHARED_LIMIT = 65_536

_T = TypeVar("_T")


def _shared(value: _T) -> _T:
    """One object for equal path constants (a path, its unknown set) across all rules."""
    if len(_SHARED) >= _SHARED_LIMIT:
        _SHARED.clear()
    kept: _T = _SHARED.setdefault(value, value)  # type: ignore[assignment]
    return kept


def generated_program(expr: Expr, schema: ContextSchema | None = None,
                      variables: Mapping[str, Expr] | None = None, *, container: str = ""
                      ) -> Program:
    """One expression compiled alone (checked here; the planner passes the checker's trees).

    Without a schema every name is resolved at run time (as the closure compiler does).
    """
    pack = PackCodegen(schema, variables or {}, {}, "expr", container=container)
    return pack.program(expr, None, "expr")


class PackCodegen:
    """Compiles the expressions of one pack; variables once, shared by all its rules."""

    def __init__(self, schema: ContextSchema | None, variables: Mapping[str, Expr],
                 checked_variables: Mapping[str, CheckedExpr], pack_id: str, *,
                 container: str = "") -> None:
        self.schema = schema
        self.variables = variables
        self.checked_variables = checked_variables  # the caller's: emptied with its pack
        self.pack_id = pack_id
        self.rule_names = code_names() == "rule"
        self._readers: dict[str, Program] = {}
        self._constants: dict[str, object] = {}
        self._compiling: list[str] = []
        env = CompileEnv(schema=schema, variables=variables, container=container,
                         var_reader=self.var_reader)
        self.closures = ClosureCompiler(env)

    def env(self) -> TypeEnv:
        """The type environment rules of this pack were checked in."""
        types: dict[str, CelType] = dict.fromkeys(self.variables, DYN)
        types.update({n: c.type for n, c in self.checked_variables.items()})
        return TypeEnv(self.schema or ContextSchema({}), types)

    def checked(self, expr: Expr, checked: CheckedExpr | None) -> CheckedExpr:
        """The checker's tree for ``expr``, or a fresh check when none was passed."""
        return checked if checked is not None else check_expr(expr, self.env())

    def program(self, expr: Expr, checked: CheckedExpr | None, name: str) -> Program:
        """A single expression as its own generated function."""
        source = RuleSource(self, name)
        fn = source.add(expr, checked, "cond")
        return source.build()[fn]

    def var_constant(self, name: str) -> object:
        """The value of a variable whose expression is constant (immutable), else none."""
        if name not in self._constants:
            _, value = self.closures.compile(self.variables[name])
            self._constants[name] = value if _is_plain_const(value) else _NOCONST
        return self._constants[name]

    def var_reader(self, name: str) -> Program:
        """``vars.<name>``: its program, evaluated at most once per request (memo slot)."""
        reader = self._readers.get(name)
        if reader is not None:
            return reader
        if name in self._compiling:
            raise CelCompileError(f"variable `vars.{name}` refers to itself", 0, 0)
        self._compiling.append(name)
        try:
            expr = self.variables[name]
            source = RuleSource(self, f"vars.{name}")
            fn = source.add(expr, self.checked_variables.get(name), "var")
            program = source.build()[fn]
        finally:
            self._compiling.pop()
        reader = self._readers[name] = _memoised(program, (self.pack_id, name))
        return reader


def _memoised(program: Program, slot: object) -> Program:
    """``program`` run once per request: value, error or unknown kept in ``act[VARS]``.

    A hit must come from the very same activation: a routing pass (a new activation with
    another ``request.model``) or a macro scope shares the memo dict but not the values.
    The entry keeps the activation alive, so its identity cannot be reused meanwhile.
    """

    def read(act: Mapping[str, object]) -> object:
        memo: Any = act.get(VARS)
        if memo is None:
            return program(act)
        hit = memo.get(slot)
        if hit is None or hit[0] is not act:
            try:
                hit = (act, True, program(act))
            except (CelEvalError, CelUnknown) as err:
                hit = (act, False, err)
            memo[slot] = hit
        if hit[1]:
            return hit[2]
        try:
            raise hit[2]
        finally:  # the error's traceback holds this frame: it must not hold the error
            hit = None

    return read


class RuleSource:
    """One generated source file: the functions of one rule (or one variable)."""

    def __init__(self, pack: PackCodegen, label: str) -> None:
        self.pack = pack
        self.label = label
        self.chunks: list[str] = []
        self.defaults: dict[str, tuple[object, ...]] = {}  # each function's constants
        self.fallbacks: dict[str, Program] = {}
        self.exprs: dict[str, Expr] = {}  # by function name, for the closure fallback
        self.counter = itertools.count()

    def next(self) -> int:
        """A fresh number for generated identifiers."""
        return next(self.counter)

    def add(self, expr: Expr, checked: CheckedExpr | None, role: str, *,
            returns_unknown: bool = False) -> str:
        """Generate one function for ``expr``; returns its name in ``build()``'s result.

        ``returns_unknown``: the function returns an unknown it decides itself (a
        ``CelUnknown`` as its value) instead of raising it, for a caller that tests the
        value anyway (a rule's ``when`` and ``unless``, read by the evaluator). Unknowns
        raised by code it calls, and every error, are still raised.
        """
        name = f"{role}_{self.next()}"
        self.exprs[name] = expr
        gen = _FunctionGen(self, self.pack.checked(expr, checked), returns_unknown)
        try:
            self.chunks.append(gen.function(name))
            self.defaults[name] = tuple(gen.values)
        except RecursionError:
            self.fallbacks[name] = self.pack.closures.compile(expr)[0]
        return name

    def build(self) -> dict[str, Program]:
        """Compile the source once, register it with ``linecache``, return its functions.

        The source is never run: each function is made from its code object, with this
        rule's constants as the defaults of its parameters (read as fast locals) and the
        globals every generated function shares. So a rule costs its function objects
        and a tuple of constants, not a namespace dict, and same-shaped rules share code.
        """
        source = "\n".join(self.chunks)
        out: dict[str, Program] = dict(self.fallbacks)
        try:
            code = _compiled(source)
            if self.pack.rule_names:
                filename = _filename(self.pack.pack_id, self.label, source)
                code = _renamed(code, filename)
            filename = code.co_filename
        except (SyntaxError, RecursionError, MemoryError):  # too nested for Python: closures
            return self._all_closures()
        linecache.cache[filename] = (len(source), None, _lines(source), filename)
        codes = {c.co_name: c for c in code.co_consts if isinstance(c, CodeType)}
        for name, defaults in self.defaults.items():
            if name not in out:
                out[name] = FunctionType(codes[name], _GLOBALS, name, defaults or None)
        return out

    def _all_closures(self) -> dict[str, Program]:
        out = dict(self.fallbacks)
        for name, expr in self.exprs.items():
            out.setdefault(name, self.pack.closures.compile(expr)[0])
        return out


_CODE: dict[str, CodeType] = {}
_LINES: dict[str, list[str]] = {}
_CODE_LIMIT = 4096


def _lines(source: str) -> list[str]:
    """The source's lines for ``linecache``, one list shared by rules of the same shape."""
    lines = _LINES.get(source)
    if lines is None:
        if len(_LINES) >= _CODE_LIMIT:
            _LINES.clear()
        lines = _LINES[source] = source.splitlines(True)
    return lines


def code_names() -> str:
    """How generated code is named: ``shape`` (the default) or ``rule``.

    From ``COMPLIANCE_CODE_NAMES``, read when a pack is compiled; any other value is refused
    rather than ignored (``ConfigurationError``), so a misspelt setting cannot silently
    profile the wrong way.
    """
    value = os.environ.get("COMPLIANCE_CODE_NAMES", "shape")
    if value not in ("shape", "rule"):
        raise ConfigurationError(
            f"COMPLIANCE_CODE_NAMES must be `shape` or `rule`, not {value!r}")
    return value


def _compiled(source: str) -> CodeType:
    """``compile(source)`` as ``<compliance shape HASH>``, once per shape.

    Constants are each rule's parameter defaults, so two rules of one shape (a pack of country
    rules) generate the same text, and compiling is most of the load time. The cache is
    emptied when full (rules already built keep their code).
    """
    code = _CODE.get(source)
    if code is None:
        if len(_CODE) >= _CODE_LIMIT:
            _CODE.clear()
        code = _CODE[source] = compile(source, _shape_filename(source), "exec",
                                       dont_inherit=True)
    return code


def _shape_filename(source: str) -> str:
    """``<compliance shape HASH>``: the same name for the same generated text."""
    digest = hashlib.blake2b(source.encode(), digest_size=6).hexdigest()
    return f"<compliance shape {digest}>"


def _renamed(code: CodeType, filename: str) -> CodeType:
    """``code`` and the functions it defines, with ``co_filename`` set to ``filename``."""
    consts = tuple(_renamed(c, filename) if isinstance(c, CodeType) else c
                   for c in code.co_consts)
    return code.replace(co_filename=filename, co_consts=consts)


def _filename(pack_id: str, label: str, source: str) -> str:
    """``<compliance pack/rule>``, numbered when that name already holds other source."""
    base = f"<compliance {pack_id}/{label}>"
    held = linecache.getlines(base)
    if not held or "".join(held) == source:
        return base
    return f"<compliance {pack_id}/{label}#{next(_SERIAL)}>"


class _FunctionGen:
    """Generates one function: one statement per node, results in local temporaries."""

    def __init__(self, source: RuleSource, checked: CheckedExpr,
                 returns_unknown: bool = False) -> None:
        self.source = source
        self.checked = checked
        self.returns_unknown = returns_unknown
        self.lines: list[str] = []
        self.params: list[str] = []  # the constants this function binds, in order
        self.values: list[object] = []
        self.indent = 2
        # Inside an operand of `&&`/`||`: the variable an unknown is put in before `break`
        # leaves the operand's one-pass loop (``_logic``), instead of being raised and caught
        # in the same frame. None where an unknown must be raised (``unknown``).
        self.unknown_exit: str | None = None
        self.exit_used = False

    # -- emission -------------------------------------------------------------------------

    def emit(self, line: str) -> None:
        self.lines.append("    " * self.indent + line)

    def tmp(self) -> str:
        return f"t{self.source.next()}"

    def bind(self, value: object, prefix: str = "_k") -> str:
        # Interned: rules of one shape bind the same names, and a big pack set has many.
        name = sys.intern(f"{prefix}{self.source.next()}")
        self.params.append(name)
        self.values.append(value)
        return name

    def unknown(self, value: str, *, certain: bool = True) -> None:
        """Emit: the expression is undecided with ``value`` (an unknown, or, unless
        ``certain``, a failure kept by a ``&&``/``||`` chain, which may be an error).

        Handed to the enclosing operand's handler inside a chain; at the function's own
        level (no handler of generated code encloses it) returned when the function
        ``returns_unknown`` and the value is an unknown, else raised.
        """
        if self.unknown_exit is None:
            if self.returns_unknown and certain:
                self.emit(f"return {value}")
            elif self.returns_unknown:
                self.emit(f"if type({value}) is _CelUnknown:")
                self.emit(f"    return {value}")
                self.emit(f"raise {value}")
            else:
                self.emit(f"raise {value}")
            return
        self.exit_used = True
        self.emit(f"{self.unknown_exit} = {value}")
        self.emit("break")

    def at(self, node: Expr) -> None:
        """Record the node whose error an unlocated ``CelEvalError`` raised next is."""
        self.emit(f"_at = {self.bind((node.start, node.end), '_p')}")

    def function(self, name: str) -> str:
        result, _ = self.expr(self.checked.expr)
        body = self.lines or ["        pass"]
        return "\n".join([
            f"def {name}(act{''.join(', ' + p for p in self.params)}):",
            "    _at = _NOWHERE",
            "    try:",
            *body,
            f"        return {result}",
            "    except _CelEvalError as _e:",
            "        raise _e.at(*_at) from None",
            "",
        ])

    def const(self, value: object) -> str:
        """A constant as source: small numbers and singletons inline, the rest bound."""
        if value is None or value is True or value is False:
            return repr(value)
        if type(value) is int and abs(value) < 2**63:
            return repr(value)
        if type(value) is float and math.isfinite(value):
            return repr(value)
        return self.bind(value)

    def kind(self, node: Expr) -> str:
        return self.checked.type_of(node).kind

    # -- dispatch -------------------------------------------------------------------------

    def expr(self, node: Expr) -> tuple[str, object]:
        """Python source for ``node``'s value (a name or constant) and its constant value."""
        match node:
            case Literal(value=value):
                return self.const(value), value
            case CreateList():
                return self._list(node)
            case Ident() | Select():
                return self._name(node)
            case Call():
                return self._call(node)
            case Comprehension() | CreateMap() | CreateStruct():
                return self.delegate(node)
        return self.delegate(node)  # pragma: no cover - the match is exhaustive over Expr

    def delegate(self, node: Expr) -> tuple[str, object]:
        """The closure compiler's program for this node, called from the generated code."""
        fn, value = self.source.pack.closures.compile(node)
        if value is not _NOCONST and _is_plain_const(value):
            return self.const(value), value
        out = self.tmp()
        self.emit(f"{out} = {self.bind(fn, '_d')}(act)")
        return out, _NOCONST

    def into(self, node: Expr) -> str:
        """``node``'s value as source (a name or a constant)."""
        code, _ = self.expr(node)
        return code

    def named(self, code: str) -> str:
        """``code`` as a variable name, so ``is`` tests never compare against a literal."""
        if code.isidentifier() and code not in ("None", "True", "False"):
            return code
        out = self.tmp()
        self.emit(f"{out} = {code}")
        return out

    # -- names ----------------------------------------------------------------------------

    def _name(self, node: Ident | Select) -> tuple[str, object]:
        if isinstance(node, Select) and node.test_only:
            return self._has(node)
        ref = self.checked.ref_of(node)
        closures = self.source.pack.closures
        if ref is not None and ref.kind == "attribute" and ref.path[0] in closures.declared:
            return self._attribute(node, ref.path), _NOCONST
        if (ref is not None and ref.kind == "vars" and len(ref.path) >= 2
                and ref.path[1] in self.source.pack.variables):
            value = self.source.pack.var_constant(ref.path[1])
            if value is not _NOCONST and len(ref.path) == 2:
                return self.const(value), value  # a constant variable is its value
            out = self.tmp()
            reader = self.source.pack.var_reader(ref.path[1])
            self.emit(f"{out} = {self.bind(reader, '_v')}(act)")
            for field_name in ref.path[2:]:
                nxt = self.tmp()
                key = self.bind(field_name)
                self.emit(f"{nxt} = _select({out}, {key}, {node.start}, {node.end})")
                out = nxt
            return out, _NOCONST
        if isinstance(node, Select) and ref is None and attribute_path(node) is None:
            operand = self.into(node.operand)  # a field of a computed value
            out = self.tmp()
            key = self.bind(node.field)
            self.emit(f"{out} = _select({operand}, {key}, {node.start}, {node.end})")
            return out, _NOCONST
        return self.delegate(node)  # names outside the schema: the closure compiler resolves

    def _attribute(self, node: Expr, path: tuple[str, ...], *, has: bool = False) -> str:
        """Read a declared path inline: absent (or null) is unknown, the value is conformed.

        The same steps as the closure compiler's getter (``_path_fn``/``_reader``), with the
        reader of ``compliance.cel.conform`` called directly; a path through a map keeps the
        closure getter (it guards the map's size). Each step is a ``get`` on a dict; anything
        else on the way (null, a non-dict mapping, a wrong type) goes to ``_walk``, which
        says what it is. With ``has`` the result is whether the conformed value is present
        (``has(path)``), and absence is no exception.
        """
        closures = self.source.pack.closures
        t, shown, through_map, limits = closures.path_reading(path)
        if through_map or len(path) > 4:
            getter = self.bind(closures._declared_path(node, path), "_g")
            out = self.tmp()
            if has:
                self.emit("try:")
                self.emit(f"    {getter}(act)")
                self.emit("except _CelUnknown:")
                self.emit(f"    {out} = False")
                self.emit("else:")
                self.emit(f"    {out} = True")
            else:
                self.emit(f"{out} = {getter}(act)")
            return out
        out = self.tmp()
        unknown = self.bind(_shared(frozenset({".".join(path)})))
        walk = (f"{out} = _walk(act, {self.bind(_shared(path))}, {unknown}, "
                f"{node.start}, {node.end})")
        self.emit(f"{out} = act.get({self.bind(path[0])})")
        opened = 0
        for name in path[1:]:
            self.emit(f"if type({out}) is dict:")
            self.indent += 1
            self.emit(f"{out} = {out}.get({self.bind(name)})")
            opened += 1
        for _ in range(opened):
            self.indent -= 1
            self.emit(f"elif {out} is not None:")  # not a dict: `_walk` judges it
            if has:
                self.emit("    try:")
                self.emit(f"        {walk}")
                self.emit("    except _CelUnknown:")
                self.emit(f"        {out} = None")
            else:
                self.emit(f"    {walk}")
        if has:
            self.emit(f"if {out} is not None:")
            self.indent += 1
        else:
            self.emit(f"if {out} is None:")
            self.indent += 1
            self.unknown(f"_CelUnknown({unknown})")
            self.indent -= 1
        if t.kind in MEMOIZED_KINDS:  # containers: judged once per request (the memo)
            read = attribute_reader(t, shown, limits, node.start, node.end)
            if t.kind == "list" and t.elem.kind == "string":
                self._string_list(out, reader(t.elem, shown, limits), limits.max_list)
                self.indent += 1
            self.emit(f"{out} = {self.bind(read, '_r')}(act, {out})")
            if t.kind == "list" and t.elem.kind == "string":
                self.indent -= 1
        else:
            self._conform(out, reader(t, shown, limits), node)
        if has:
            self.indent -= 1
            self.emit(f"{out} = {out} is not None")
        else:
            self.emit(f"if {out} is None:")
            self.indent += 1
            self.unknown(f"_CelUnknown({unknown})")
            self.indent -= 1
        return out

    def _string_list(self, out: str, elem: Callable[[object], Any], longest: int) -> None:
        """Open ``if not <every element of list out reads as itself>:`` (the caller's read
        goes inside). The element test is the element reader's own, as in ``_conform``: a
        constrained string whose kept verdict equals it, or a plain string passing the
        reader's fast exit; any other element, or a list over the limit, is judged in full
        (and memoised). An element that reads as an equal string leaves the list as it is:
        CEL compares strings by value, so the list reads the same.
        """
        verdicts, unchanged = text_verdicts(elem), fast_exit(elem)
        if verdicts is not None:
            seen = self.bind(verdicts, "_v")
            bad = f"type(_e) is not str or {seen}.get(_e) != _e"
        elif unchanged is not None:
            bad = f"not ({unchanged.format(v='_e')})"
        else:
            self.emit("if True:")
            return
        fine = self.tmp()
        self.emit(f"{fine} = type({out}) is list and len({out}) <= {int(longest)}")
        self.emit(f"if {fine}:")
        self.emit(f"    for _e in {out}:")
        self.emit(f"        if {bad}:")
        self.emit(f"            {fine} = False")
        self.emit("            break")
        self.emit(f"if not {fine}:")

    def _conform(self, out: str, read: Callable[[object], Any], node: Expr) -> None:
        """Conform scalar ``out`` in place: the common well-formed case inline, else ``read``.

        The inline tests are the reader's own (``conform.text_verdicts``: a constrained
        string's verdict by text; ``conform.fast_exit``: a plain ASCII string within the
        length limit, a bool), so the result is the reader's; anything else calls it, and
        its ``Nonconforming`` becomes the error.
        """
        conform = self.bind(read, "_r")
        verdicts, unchanged = text_verdicts(read), fast_exit(read)
        indent = "    "
        if verdicts is not None:
            seen, known = self.bind(verdicts, "_v"), self.tmp()
            self.emit(f"{known} = {seen}.get({out}, _UNSEEN) if type({out}) is str else _UNSEEN")
            self.emit(f"if {known} is not _UNSEEN and type({known}) is not _Nonconforming:")
            self.emit(f"    {out} = {known}")
            self.emit("else:")
        elif unchanged is not None:
            self.emit(f"if not ({unchanged.format(v=out)}):")
        else:
            indent = ""
        self.emit(f"{indent}try:")
        self.emit(f"{indent}    {out} = {conform}({out})")
        self.emit(f"{indent}except _Nonconforming as _x:")
        self.emit(f"{indent}    raise _CelEvalError('bad-context', str(_x), "
                  f"{node.start}, {node.end}) from None")

    def _has(self, node: Select) -> tuple[str, object]:
        """``has(request.x)`` on a declared path: the conformed value is present."""
        inner = self.checked.ref_of(node.operand)
        closures = self.source.pack.closures
        if inner is None or inner.kind != "attribute" or inner.path[0] not in closures.declared:
            return self.delegate(node)
        path = (*inner.path, node.field)
        if closures._path_type(path) is None:
            return self.delegate(node)
        return self._attribute(node, path, has=True), _NOCONST

    # -- literals ---------------------------------------------------------------------------

    def _list(self, node: CreateList) -> tuple[str, object]:
        parts = [self.expr(e) for e in node.elements]
        if all(c is not _NOCONST for _, c in parts):
            value = tuple(c for _, c in parts)
            return self.bind(value), value
        out = self.tmp()
        self.emit(f"{out} = [{', '.join(code for code, _ in parts)}]")
        return out, _NOCONST

    # -- calls ------------------------------------------------------------------------------

    def _call(self, node: Call) -> tuple[str, object]:
        fn = node.function
        if node.target is None:
            special = {
                "_&&_": self._logic, "_||_": self._logic, "_?_:_": self._conditional,
                "@in": self._in, "_==_": self._equality, "_!=_": self._equality,
                "!_": self._not, "_[_]": self.delegate,
            }.get(fn)
            if special is not None:
                return special(node)
        elif self.checked.ref_of(node.target) is None and attribute_path(node.target) is not None:
            return self.delegate(node)  # `strings.quote(x)`: a namespaced function
        if fn not in IMPLEMENTATIONS:
            return self.delegate(node)  # the closure compiler raises the undeclared reference
        args = (node.args if node.target is None else (node.target, *node.args))
        if fn == "matches" and len(args) == 2 and isinstance(args[1], Literal):
            return self._matches(node, args)
        return self._generic(node, fn, args)

    def _generic(self, node: Call, fn: str, args: tuple[Expr, ...]) -> tuple[str, object]:
        parts = [self.expr(a) for a in args]
        codes = [c for c, _ in parts]
        if all(v is not _NOCONST for _, v in parts):
            try:
                value = IMPLEMENTATIONS[fn](*(v for _, v in parts))
            except CelEvalError:
                pass  # raised at run time, at this node
            else:
                if _is_plain_const(value):
                    return self.const(value), value
        kinds = tuple(self.kind(a) for a in args)
        out = self.tmp()
        inline = _bound_overload(fn, kinds, codes)
        if inline is not None:
            text, raises = inline
            if raises:
                self.at(node)
            self.emit(f"{out} = {text}")
            return out, _NOCONST
        self.at(node)
        self.emit(f"{out} = {self.bind(IMPLEMENTATIONS[fn], '_f')}({', '.join(codes)})")
        return out, _NOCONST

    def _matches(self, node: Call, args: tuple[Expr, ...]) -> tuple[str, object]:
        pattern = args[1]
        assert isinstance(pattern, Literal)
        if type(pattern.value) is not str:
            return self._generic(node, "matches", args)
        try:
            search = regex_searcher(pattern.value)
        except CelEvalError:
            return self.delegate(node)
        subject = self.into(args[0])
        out = self.tmp()
        self.at(node)
        self.emit(f"{out} = {self.bind(_matches(search, pattern.value), '_f')}({subject})")
        return out, _NOCONST

    def _not(self, node: Call) -> tuple[str, object]:
        (arg,) = node.args
        code, value = self.expr(arg)
        if value is True or value is False:
            return repr(not value), not value
        code = self.named(code)
        out = self.tmp()
        if self.kind(arg) == "bool":
            self.emit(f"{out} = not {code}")
        else:
            self.emit(f"if {code} is True:")
            self.emit(f"    {out} = False")
            self.emit(f"elif {code} is False:")
            self.emit(f"    {out} = True")
            self.emit("else:")
            self.emit(f"    raise _bool_error('!_', {code}, {node.start}, {node.end})")
        return out, _NOCONST

    def _equality(self, node: Call) -> tuple[str, object]:
        left, right = node.args
        (lc, lv), (rc, rv) = self.expr(left), self.expr(right)
        negate = node.function == "_!=_"
        op = "!=" if negate else "=="
        if lv is not _NOCONST and rv is not _NOCONST:
            value = cel_eq(lv, rv) != negate
            return repr(value), value
        out = self.tmp()
        lk, rk = self.kind(left), self.kind(right)
        if type(lv) in (str, bytes) or type(rv) in (str, bytes) or (
                lk == rk and lk in _ORDERED):
            self.emit(f"{out} = {lc} {op} {rc}")  # Python equality is CEL's for these
            return out, _NOCONST
        self.at(node)
        self.emit(f"{out} = {'not ' if negate else ''}_eq({lc}, {rc})")
        return out, _NOCONST

    def _in(self, node: Call) -> tuple[str, object]:
        elem, container = node.args
        (ec, ev), (cc, cv) = self.expr(elem), self.expr(container)
        out = self.tmp()
        if (ev is _NOCONST and isinstance(cv, tuple) and all(type(x) is str for x in cv)):
            members = self.bind(frozenset(cv))
            if self.kind(elem) == "string":
                self.emit(f"{out} = {ec} in {members}")
                return out, _NOCONST
            self.at(node)
            self.emit(f"{out} = {ec} in {members} if type({ec}) is str else _in({ec}, {cc})")
            return out, _NOCONST
        if ev is not _NOCONST and cv is not _NOCONST:
            try:
                value = cel_in(ev, cv)
            except CelEvalError:
                pass
            else:
                return repr(value), value
        self.at(node)
        if self.kind(elem) == "string":  # a string in a short list: `_in`'s own fast case
            self.emit(f"{out} = {ec} in {cc} if type({cc}) is list and len({cc}) <= "
                      f"{int(FREE_SIZE)} else _in({ec}, {cc})")
            return out, _NOCONST
        self.emit(f"{out} = _in({ec}, {cc})")
        return out, _NOCONST

    def _conditional(self, node: Call) -> tuple[str, object]:
        cond, then, other = node.args
        cc, cv = self.expr(cond)
        if cv is True:
            return self.expr(then)
        if cv is False:
            return self.expr(other)
        cc = self.named(cc)
        out = self.tmp()
        self.emit(f"if {cc} is True:")
        self._branch(then, out)
        self.emit(f"elif {cc} is False:")
        self._branch(other, out)
        self.emit("else:")
        self.emit(f"    raise _bool_error('_?_:_', {cc}, {node.start}, {node.end})")
        return out, _NOCONST

    def _branch(self, node: Expr, out: str) -> None:
        self.indent += 1
        code, _ = self.expr(node)
        self.emit(f"{out} = {code}")
        self.indent -= 1

    def _logic(self, node: Call) -> tuple[str, object]:
        """A flattened ``&&``/``||`` chain: one guarded step per operand, CEL absorption.

        An operand that can come out unknown inline (an absent attribute, a nested chain
        left undecided) runs in a one-pass ``while True`` loop: the unknown is stored and
        ``break`` leaves the loop, so the failure reaches the handler below without a
        raise. Generated code has no other loop around such a point (comprehensions are
        delegated, and the element loop of a string list holds none). Other failures
        (raised by called code) are caught as before; an operand with no inline unknown is
        emitted without the loop.
        """
        is_and = node.function == "_&&_"
        absorbing = "False" if is_and else "True"
        operands = _flatten(node, node.function)
        out, failure = self.tmp(), self.tmp()
        self.emit(f"{out} = None")
        self.emit(f"{failure} = None")
        for operand, owner in operands:
            self.emit(f"if {out} is None:")
            self.indent += 1
            value, kept = self.tmp(), self.tmp()
            self.emit("try:")
            self.indent += 1
            start = len(self.lines)
            self.emit("while True:")
            self.indent += 1
            outer = self.unknown_exit, self.exit_used
            self.unknown_exit, self.exit_used = kept, False
            code, _ = self.expr(operand)
            looped = self.exit_used
            self.unknown_exit, self.exit_used = outer
            if code.isidentifier() and code.startswith("t"):
                value = code  # already a temporary: no copy
            else:
                self.emit(f"{value} = {code}")  # a name: `is` below never tests a literal
            self.indent -= 1
            if looped:
                self.emit("    break")
                self.lines.insert(start, "    " * self.indent + f"{kept} = None")
            else:  # nothing breaks out: drop the loop, the operand one level out
                del self.lines[start]
                self.lines[start:] = [line[4:] for line in self.lines[start:]]
            self.indent -= 1
            self.emit("except _FAIL as _err:")
            # the cost-limit check inline: most failures caught here are unknowns
            self.emit("    if type(_err) is _CelEvalError:")
            self.emit("        _locate(_err, _at)")
            self.emit("        if _err.code == 'cost-limit':")
            self.emit("            raise")
            # Kept as a value: without its traceback it holds no frame (no cycle for the GC).
            self.emit("    _err.__traceback__ = _err.__context__ = None")
            self.emit(f"    {failure} = _err if {failure} is None else _merge({failure}, _err)")
            self.emit("else:")
            if looped:  # an unknown (or a nested chain's kept failure, already located)
                self.emit(f"    if {kept} is not None:")
                self.emit(f"        {failure} = {kept} if {failure} is None "
                          f"else _merge({failure}, {kept})")
                self.emit(f"    elif {value} is {absorbing}:")
            else:
                self.emit(f"    if {value} is {absorbing}:")
            self.emit(f"        {out} = {absorbing}")
            if self.kind(operand) != "bool":
                self.emit(f"    elif {value} is not {'True' if is_and else 'False'}:")
                self.emit(f"        _err = _bool_error({node.function!r}, {value}, "
                          f"{owner.start}, {owner.end})")
                self.emit(f"        {failure} = _err if {failure} is None "
                          f"else _merge({failure}, _err)")
            self.indent -= 1
        self.emit(f"if {out} is None:")
        self.emit(f"    if {failure} is not None:")
        self.indent += 2
        self.unknown(failure, certain=False)
        self.indent -= 2
        self.emit(f"    {out} = {'True' if is_and else 'False'}")
        return out, _NOCONST


def _flatten(node: Call, function: str) -> list[tuple[Expr, Call]]:
    """The operands of a chain of one logical operator, each with the node that owns it."""
    out: list[tuple[Expr, Call]] = []
    stack: list[tuple[Expr, Call]] = [(node.args[1], node), (node.args[0], node)]
    while stack:
        operand, owner = stack.pop()
        if isinstance(operand, Call) and operand.function == function and operand.target is None:
            stack.append((operand.args[1], operand))
            stack.append((operand.args[0], operand))
        else:
            out.append((operand, owner))
    return out


def _is_plain_const(value: object) -> bool:
    """A value safe to share between requests as a constant (immutable)."""
    return value is None or type(value) in (bool, int, float, str, bytes, UInt, Timestamp,
                                            Duration) or (
        isinstance(value, tuple) and all(_is_plain_const(v) for v in value))


def _bound_overload(fn: str, kinds: tuple[str, ...], codes: list[str]
                    ) -> tuple[str, bool] | None:
    """Python for an overload the operand types pin down: ``(source, may raise)``, or None.

    Only where Python's operator is exactly CEL's for those runtime types (values read as a
    declared type are conformed to it, so an ``int`` attribute is a Python ``int``).
    """
    if len(kinds) == 2 and kinds[0] == kinds[1]:
        kind = kinds[0]
        a, b = codes
        if fn in _COMPARE and kind in _ORDERED:
            return f"{a} {_COMPARE[fn]} {b}", False
        if fn in _ARITH and kind == "int":
            return f"_ovf({a} {_ARITH[fn]} {b})", True
        if fn in _ARITH and kind == "double":
            return f"{a} {_ARITH[fn]} {b}", False
    if len(kinds) == 2 and kinds == ("string", "string"):
        a, b = codes
        if fn == "startsWith":
            return f"{a}.startswith({b})", False
        if fn == "endsWith":
            return f"{a}.endswith({b})", False
    if fn == "size" and len(kinds) == 1 and kinds[0] in ("string", "list", "map", "bytes"):
        return f"len({codes[0]})", False
    if fn == "-_" and kinds == ("int",):
        return f"_ovf(-{codes[0]})", True
    if fn == "-_" and kinds == ("double",):
        return f"-{codes[0]}", False
    return None
