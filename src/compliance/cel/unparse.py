"""Our CEL syntax tree back to CEL source text.

Why this exists: cel-python is the reference evaluator, but it only reads text, so a
condition whose tree we have rewritten (variables substituted, say) must be printed again
before celpy can run it. Diagnostics and test failures also read better as CEL than as a
dataclass repr.

The output is canonical rather than pretty: binary operators get one space either side,
parentheses appear exactly where precedence or the lexer requires them, and literals are
spelt so that they read back as the same value (``123u``, shortest round-trip doubles,
``double("NaN")`` for the values CEL has no literal for, escaped strings and ``b"..."``).
For every tree ``cel.parse`` can produce, ``parse(unparse(e))`` equals ``e`` except for
character offsets; trees parse cannot produce (a negative double literal, a NaN) print as
text with the same value.
"""

from __future__ import annotations

import math

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
)
from compliance.cel.values import UInt

__all__ = ["unparse"]

# Precedence levels of cel.lark, loosest first: `?:` < `||` < `&&` < relations (`in`
# included) < `+ -` < `* / %` < unary `! -` < member/primary.
_TERNARY, _OR, _AND, _REL, _ADD, _MUL, _UNARY, _MEMBER = range(1, 9)

_BINARY: dict[str, tuple[str, int]] = {
    "_||_": ("||", _OR), "_&&_": ("&&", _AND),
    "_<_": ("<", _REL), "_<=_": ("<=", _REL), "_>_": (">", _REL), "_>=_": (">=", _REL),
    "_==_": ("==", _REL), "_!=_": ("!=", _REL), "@in": ("in", _REL),
    "_+_": ("+", _ADD), "_-_": ("-", _ADD),
    "_*_": ("*", _MUL), "_/_": ("/", _MUL), "_%_": ("%", _MUL),
}
_UNARY_OPS = {"!_": "!", "-_": "-"}

_STRING_ESCAPES = {
    "\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t",
    "\a": "\\a", "\b": "\\b", "\f": "\\f", "\v": "\\v",
}


def unparse(expr: Expr) -> str:
    """CEL source text for ``expr``, parenthesised only where precedence requires it."""
    return _Printer().text(expr)


def precedence(expr: Expr) -> int:
    """How tightly ``expr`` binds when printed (higher binds tighter)."""
    if isinstance(expr, Call) and expr.target is None:
        if expr.function == "_?_:_":
            return _TERNARY
        if expr.function in _BINARY and len(expr.args) == 2:
            return _BINARY[expr.function][1]
        if expr.function in _UNARY_OPS and len(expr.args) == 1:
            return _UNARY
    if isinstance(expr, Literal) and _is_number(expr.value):
        # A leading `-` is a unary operator, and `1.foo()` would lex as the double `1.`.
        return _UNARY
    return _MEMBER


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class _Printer:
    """One method per node kind; ``wrap`` adds parentheses when a child binds too loosely."""

    def text(self, expr: Expr) -> str:
        match expr:
            case Literal(value=value):
                return literal(value)
            case Ident(name=name):
                return name
            case Select(operand=operand, field=field, test_only=test_only):
                selected = f"{self.wrap(operand, _MEMBER)}.{field}"
                return f"has({selected})" if test_only else selected
            case Call():
                return self.call(expr)
            case CreateList(elements=elements):
                return "[" + ", ".join(self.text(e) for e in elements) + "]"
            case CreateMap(entries=entries):
                return "{" + ", ".join(f"{self.text(k)}: {self.text(v)}" for k, v in entries) + "}"
            case CreateStruct(type_name=type_name, fields=fields):
                return type_name + "{" + ", ".join(f"{f}: {self.text(v)}" for f, v in fields) + "}"
            case Comprehension():
                return self.comprehension(expr)
        raise TypeError(f"not a CEL expression node: {expr!r}")  # pragma: no cover

    def wrap(self, expr: Expr, minimum: int) -> str:
        """``expr`` as text, in parentheses when it binds looser than ``minimum``."""
        inner = self.text(expr)
        return inner if precedence(expr) >= minimum else f"({inner})"

    def call(self, call: Call) -> str:
        fn, args = call.function, call.args
        if call.target is not None:
            target = self.wrap(call.target, _MEMBER)
            return f"{target}.{fn}(" + ", ".join(self.text(a) for a in args) + ")"
        if fn == "_?_:_" and len(args) == 3:
            cond, then, other = args
            # `c ? t : e` is `conditionalor ? conditionalor : expr`: right-associative.
            return f"{self.wrap(cond, _OR)} ? {self.wrap(then, _OR)} : {self.text(other)}"
        if fn in _BINARY and len(args) == 2:
            op, level = _BINARY[fn]
            # Left-associative: the right operand must bind strictly tighter.
            return f"{self.wrap(args[0], level)} {op} {self.wrap(args[1], level + 1)}"
        if fn in _UNARY_OPS and len(args) == 1:
            return _UNARY_OPS[fn] + self.unary_operand(fn, args[0])
        if fn == "_[_]" and len(args) == 2:
            return f"{self.wrap(args[0], _MEMBER)}[{self.text(args[1])}]"
        return f"{fn}(" + ", ".join(self.text(a) for a in args) + ")"

    def unary_operand(self, fn: str, operand: Expr) -> str:
        """The operand of ``!``/``-``; a number after ``-`` is bracketed (``-5`` is a literal)."""
        if isinstance(operand, Literal) and _is_number(operand.value):
            return f"({literal(operand.value)})"
        text = self.wrap(operand, _UNARY)
        return f"({text})" if fn == "-_" and text.startswith("-") else text

    def comprehension(self, node: Comprehension) -> str:
        rng = self.wrap(node.range, _MEMBER)
        args = [node.var]
        if node.predicate is not None:
            args.append(self.text(node.predicate))
        args.append(self.text(node.body))
        return f"{rng}.{node.kind}(" + ", ".join(args) + ")"


def literal(value: object) -> str:
    """CEL text for a runtime constant that reads back as the same value and type."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, UInt):
        return f"{int(value)}u"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _double(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, bytes):
        return _bytes(value)
    raise TypeError(f"no CEL literal for a value of type `{type(value).__name__}`")


def _double(value: float) -> str:
    """Shortest round-trip spelling; always a double token (``1.0`` not ``1``)."""
    if math.isnan(value):
        return 'double("NaN")'
    if math.isinf(value):
        return 'double("Infinity")' if value > 0 else 'double("-Infinity")'
    return repr(value)  # `1e+300`, `5e-324`, `1.5`, `-0.0`: all valid CEL float literals


def _string(value: str) -> str:
    """A double-quoted literal; control, surrogate-free non-printable characters escaped."""
    out = ['"']
    for ch in value:
        escaped = _STRING_ESCAPES.get(ch)
        if escaped is not None:
            out.append(escaped)
            continue
        code = ord(ch)
        if 0xD800 <= code <= 0xDFFF:
            message = f"string contains a lone surrogate U+{code:04X}, which CEL cannot spell"
            raise ValueError(message)
        if ch.isprintable() and code < 0x80:
            out.append(ch)
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


def _bytes(value: bytes) -> str:
    r"""``b"..."``: printable ASCII as itself, every other byte as ``\xHH``."""
    out = ['b"']
    for byte in value:
        ch = chr(byte)
        escaped = _STRING_ESCAPES.get(ch)
        if escaped is not None:
            out.append(escaped)
        elif 0x20 <= byte < 0x7F:
            out.append(ch)
        else:
            out.append(f"\\x{byte:02x}")
    out.append('"')
    return "".join(out)
