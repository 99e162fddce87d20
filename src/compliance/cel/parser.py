"""The CEL parser adapter: the only module that imports celpy or lark.

``parse(text)`` runs cel-python's ``CELParser`` (never ``celpy.Environment``, which raises
the process recursion limit and mutates the caller's dict) and converts the lark tree into
``compliance.cel.ast`` nodes at once, so nothing above this module sees lark. Literals become
runtime values (``values.UInt`` for ``1u``), operators become ``Call`` nodes with cel-go's
names, macros become ``Comprehension`` nodes, and every node keeps its character offsets.
Syntax errors become ``CelSyntaxError`` with a real message and offsets.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import pickle
import sys
import threading
import zlib
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, Final

from compliance.cel import parse_cache
from compliance.cel.ast import (
    Call,
    Comprehension,
    CreateList,
    CreateMap,
    CreateStruct,
    Expr,
    Ident,
    Literal,
    MacroKind,
    Select,
    children,
)
from compliance.cel.values import UInt

__all__ = ["MAX_EXPRESSION_LENGTH", "MAX_NESTING", "CelSyntaxError", "parse"]

MAX_EXPRESSION_LENGTH = 100_000
INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1
UINT64_MAX = (1 << 64) - 1

RESERVED = frozenset(
    {"as", "break", "const", "continue", "else", "for", "function", "if", "import", "let",
     "loop", "package", "namespace", "return", "var", "void", "while", "in"}
)

_CHAIN = frozenset(
    {"expr", "conditionalor", "conditionaland", "relation", "addition", "multiplication",
     "unary", "member", "primary"}
)
_BINARY = {
    "conditionalor": "_||_", "conditionaland": "_&&_",
    "relation_lt": "_<_", "relation_le": "_<=_", "relation_gt": "_>_", "relation_ge": "_>=_",
    "relation_eq": "_==_", "relation_ne": "_!=_", "relation_in": "@in",
    "addition_add": "_+_", "addition_sub": "_-_",
    "multiplication_mul": "_*_", "multiplication_div": "_/_", "multiplication_mod": "_%_",
}
_MACROS: dict[str, tuple[MacroKind, tuple[int, ...]]] = {
    "all": ("all", (2,)), "exists": ("exists", (2,)), "exists_one": ("exists_one", (2,)),
    "map": ("map", (2, 3)), "filter": ("filter", (2,)),
}
MAX_NESTING = 250  # as cel-go's parser: keeps compile and evaluation far from Python's stack limit


class CelSyntaxError(ValueError):
    """A CEL expression that does not parse; ``start``/``end`` are offsets into its text."""

    def __init__(self, message: str, start: int, end: int) -> None:
        super().__init__(message)
        self.message = message
        self.start = start
        self.end = end

    def __reduce__(self) -> tuple[Any, ...]:
        return (CelSyntaxError, (self.message, self.start, self.end))


_INTERNED = 64  # string literals up to this length are interned: big pack sets repeat them
_lock = threading.Lock()
_parser: Any = None
_parse_error: type[Exception] = Exception  # celpy's CELParseError, once the parser is built
_terminal_text: dict[str, str] = {}


def _celparser_module() -> Any:
    """cel-python's ``celparser`` module, loaded without the rest of the ``celpy`` package.

    ``celpy/__init__`` imports its evaluator (pendulum, dateutil and more): about 6 MB and
    100 ms that parsing never uses. ``celparser.py`` needs only lark, so it is loaded alone
    from the installed package (pinned in pyproject.toml) under a private name; should
    that layout ever change, the package is imported as usual.
    """
    spec = importlib.util.find_spec("celpy")
    locations = list(spec.submodule_search_locations or ()) if spec is not None else []
    path = Path(locations[0], "celparser.py") if locations else None
    if path is not None and path.is_file() and (path.parent / "cel.lark").is_file():
        alone = importlib.util.spec_from_file_location("_compliance_celparser", path)
        if alone is not None and alone.loader is not None:
            module = importlib.util.module_from_spec(alone)
            alone.loader.exec_module(module)
            return module
    import celpy.celparser  # noqa: PLC0415 - the fallback: the whole package

    return celpy.celparser


def _get_parser() -> Any:
    """cel-python's parser, made once a process (from the shipped tables when they fit)."""
    global _parser, _parse_error  # noqa: PLW0603 - a lazily built process-wide singleton
    if _parser is None:
        with _lock:
            if _parser is None:
                module = _celparser_module()
                if module.CELParser.CEL_PARSER is None:
                    module.CELParser.CEL_PARSER = _shipped_tables(module)
                parser = module.CELParser()  # builds from the grammar if still None
                lark_parser = module.CELParser.CEL_PARSER
                for term in getattr(lark_parser, "terminals", ()):
                    if type(term.pattern).__name__ == "PatternStr":
                        _terminal_text[term.name] = term.pattern.value
                _parse_error = module.CELParseError
                _parser = parser
    return _parser


_TABLES: Final = Path(__file__).with_name("cel_lalr.tables")
"""lark's LALR tables for cel-python's grammar, analysed once and shipped (``write_tables``).

Analysing the grammar costs about 150 ms, a sixth of loading 1000 rules cold; reading the
tables back costs about 10 ms. The file is the fingerprint of what it was built from on its
first line, then lark's own serialisation of the parser (a zlib-compressed pickle, written
by ``write_tables`` from this project's checkout, never from input). When the installed
lark or cel-python differs from the fingerprint, the parser is built from the grammar as
before: the same parser, only slower to make.
"""


def _fingerprint(module: Any) -> bytes:
    """What the tables depend on: lark's version, celpy's grammar and its parser options."""
    import lark  # noqa: PLC0415 - only the parser pays for lark

    source = Path(module.__file__)
    digest = hashlib.sha256(lark.__version__.encode())
    for path in (source, source.parent / "cel.lark"):
        digest.update(b"\0" + path.read_bytes())
    return digest.hexdigest().encode()


def _shipped_tables(module: Any) -> Any:
    """A parser read from ``_TABLES``, or None when they were built for another lark/celpy."""
    import lark  # noqa: PLC0415

    try:
        fingerprint, _, packed = _TABLES.read_bytes().partition(b"\n")
        if fingerprint != _fingerprint(module):
            return None
        saved = pickle.loads(zlib.decompress(packed))  # our own file, see _TABLES
        callbacks = {"IDENT": module.CELParser.ambiguous_literals}
        return lark.Lark.__new__(lark.Lark)._load(saved, lexer_callbacks=callbacks)
    except Exception:  # unreadable or from another layout: build from the grammar instead
        return None


def write_tables(path: Path = _TABLES) -> None:
    """Analyse cel-python's grammar and write the tables ``_get_parser`` reads.

    Run after changing the pinned lark or cel-python:
    ``python -c "from compliance.cel.parser import write_tables; write_tables()"``.
    """
    import lark  # noqa: PLC0415

    module = _celparser_module()
    saved_parser = module.CELParser.CEL_PARSER
    module.CELParser.CEL_PARSER = None
    try:
        module.CELParser()
        built: lark.Lark = module.CELParser.CEL_PARSER
    finally:
        module.CELParser.CEL_PARSER = saved_parser
    built.options.lexer_callbacks = {}  # a function is passed again on load, not pickled
    data, memo = built.memo_serialize([lark.lexer.TerminalDef, lark.grammar.Rule])
    packed = zlib.compress(pickle.dumps({"data": data, "memo": memo}, protocol=4), 9)
    path.write_bytes(_fingerprint(module) + b"\n" + packed)


def parse(text: str) -> Expr:
    """Parse CEL ``text`` into an ``Expr``; raise ``CelSyntaxError`` when it is not valid CEL.

    Trees are immutable, so parses are cached by text: reloading a pack set, or the same
    condition in many packs, costs lark's parser (about 0.5-2 ms an expression) only once
    a process; with a cache directory (``compliance.cel.parse_cache``) only once a text.
    """
    return _parse_cached(text)


@functools.lru_cache(maxsize=16384)
def _parse_cached(text: str) -> Expr:
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise _too_long(text)
    cached = parse_cache.load(text)
    if cached is not None:
        return cached
    expr = _parse_text(text)
    parse_cache.store(text, expr)
    return expr


def _too_long(text: str) -> CelSyntaxError:
    return CelSyntaxError(
        f"expression is too long ({len(text)} characters, limit {MAX_EXPRESSION_LENGTH})",
        MAX_EXPRESSION_LENGTH, len(text),
    )


def _parse_text(text: str) -> Expr:
    """Parse with lark and convert; syntax errors are never cached (they are cheap to redo)."""
    parser = _get_parser()
    try:
        tree = parser.parse(text)
    except _parse_error as err:
        raise _syntax_error(err, text) from None
    except RecursionError:
        raise CelSyntaxError("expression nested too deeply", 0, len(text)) from None
    try:
        return _Converter(text).convert(tree)
    except RecursionError:
        raise CelSyntaxError("expression nested too deeply", 0, len(text)) from None


# ---------------------------------------------------------------------------------------------
# syntax errors


def _syntax_error(err: Exception, text: str) -> CelSyntaxError:
    """Turn celpy's ``CELParseError`` (and the lark error behind it) into a readable message."""
    ctx = err.__context__
    token = getattr(ctx, "token", None)
    expected: set[str] = set(getattr(ctx, "expected", None) or getattr(ctx, "allowed", None) or ())
    if token is not None:
        if token.type == "$END":
            message = f"unexpected end of expression, expected {_describe(expected)}"
            return CelSyntaxError(message, len(text), len(text))
        start = token.start_pos if token.start_pos is not None else 0
        end = token.end_pos if token.end_pos is not None else start + len(token.value)
        return CelSyntaxError(f"unexpected `{token.value}`{_expected_suffix(expected)}", start, end)
    pos = getattr(ctx, "pos_in_stream", None)
    if pos is None:
        return CelSyntaxError(f"invalid syntax: {str(err).splitlines()[0]}", 0, len(text))
    char = text[pos] if pos < len(text) else ""
    if char in "\"'":
        return CelSyntaxError("unterminated string literal", pos, len(text))
    message = f"unexpected character `{char}`{_expected_suffix(expected)}"
    return CelSyntaxError(message, pos, pos + 1)


def _expected_suffix(expected: set[str]) -> str:
    return f", expected {_describe(expected)}" if expected else ""


def _describe(expected: set[str]) -> str:
    """Summarise lark's expected terminals as words a rule author understands."""
    if "INT_LIT" in expected or "IDENT" in expected:
        return "an operand"
    names = sorted(f"`{_terminal_text.get(t, t)}`" for t in expected)
    if len(names) <= 3:
        return " or ".join(names)
    return "an operator"


# ---------------------------------------------------------------------------------------------
# tree conversion


def _token_span(tok: Any) -> tuple[int, int]:
    return (tok.start_pos or 0, tok.end_pos or 0)


def _widen(node: Expr, children: list[Expr]) -> Expr:
    """Stretch a node's span over its children (lark misses tokens made by lexer callbacks)."""
    start = min([node.start, *(c.start for c in children)])
    end = max([node.end, *(c.end for c in children)])
    if start == node.start and end == node.end:
        return node
    return replace(node, start=start, end=end)


class _Converter:
    """Walks cel-python's lark tree and builds ``expr`` nodes (one method per rule)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.depth = 0
        self.cursor = 0
        self.handlers: dict[str, Callable[[Any], Expr]] = {
            "conditionalor": self._binary_rule,
            "conditionaland": self._binary_rule,
            "relation": self._binary_rule,
            "addition": self._binary_rule,
            "multiplication": self._binary_rule,
            "expr": self._conditional,
            "unary": self._unary,
            "member_dot": self._member_dot,
            "member_dot_arg": self._member_dot_arg,
            "member_index": self._member_index,
            "member_object": self._member_object,
            "literal": self._literal,
            "ident": self._ident,
            "dot_ident": self._ident,
            "ident_arg": self._ident_arg,
            "dot_ident_arg": self._ident_arg,
            "paren_expr": self._paren,
            "list_lit": self._list,
            "map_lit": self._map,
        }

    def convert(self, tree: Any) -> Expr:
        """Convert one subtree, skipping the grammar's single-child chain rules in a loop."""
        while tree.data in _CHAIN and len(tree.children) == 1 and hasattr(tree.children[0], "data"):
            tree = tree.children[0]
        handler = self.handlers.get(tree.data)
        if handler is None:
            start, end = self._span(tree)
            raise CelSyntaxError(f"unsupported syntax `{self.text[start:end]}`", start, end)
        self.depth += 1
        if self.depth > MAX_NESTING:
            start, end = self._span(tree)
            raise CelSyntaxError("expression nested too deeply", start, end)
        try:
            node = handler(tree)
        finally:
            self.depth -= 1
        kids = children(node)
        if kids:
            node = _widen(node, kids)
        self.cursor = max(self.cursor, node.end)
        return node

    def _span(self, tree: Any) -> tuple[int, int]:
        """``tree``'s offsets; a ``true``/``false`` token (re-made by celpy) is found by search."""
        meta = tree.meta
        empty = getattr(meta, "empty", True)
        start = None if empty else getattr(meta, "start_pos", None)
        end = None if empty else getattr(meta, "end_pos", None)
        if start is not None and end is not None:
            return (start, end)
        if tree.data == "literal":
            word = str(tree.children[0])
            at = self.text.find(word, self.cursor)
            if at >= 0:
                return (at, at + len(word))
        start = self.cursor if start is None else start
        return (start, start if end is None else end)

    def _binary_rule(self, tree: Any) -> Expr:
        left_tree, right_tree = tree.children
        start, end = self._span(tree)
        op_tree = left_tree
        if tree.data in ("conditionalor", "conditionaland"):
            fn = _BINARY[tree.data]
        else:
            fn = _BINARY[op_tree.data]
            left_tree = op_tree.children[0]
        left = self.convert(left_tree)
        right = self.convert(right_tree)
        return Call(start, end, fn, (left, right))

    def _conditional(self, tree: Any) -> Expr:
        cond, then, other = (self.convert(c) for c in tree.children)
        start, end = self._span(tree)
        return Call(start, end, "_?_:_", (cond, then, other))

    def _unary(self, tree: Any) -> Expr:
        op, operand_tree = tree.children
        start, end = self._span(tree)
        if op.data == "unary_neg":
            lit = _int_literal_token(operand_tree)
            if lit is not None:
                return Literal(start, end, self._int_value("-" + lit.value, start, end))
            return Call(start, end, "-_", (self.convert(operand_tree),))
        return Call(start, end, "!_", (self.convert(operand_tree),))

    def _member_dot(self, tree: Any) -> Expr:
        operand_tree, name = tree.children
        start, end = self._span(tree)
        # interned: a big pack set repeats the same few field names tens of thousands of times
        return Select(start, end, self.convert(operand_tree), sys.intern(str(name)))

    def _member_dot_arg(self, tree: Any) -> Expr:
        operand_tree, name = tree.children[0], sys.intern(str(tree.children[1]))
        arg_trees = tree.children[2].children if len(tree.children) > 2 else []
        start, end = self._span(tree)
        target = self.convert(operand_tree)
        macro = _MACROS.get(name)
        if macro is not None and len(arg_trees) in macro[1]:
            return self._macro(macro[0], target, arg_trees, start, end)
        args = tuple(self.convert(a) for a in arg_trees)
        return Call(start, end, name, args, target)

    def _macro(
        self, kind: MacroKind, target: Expr, arg_trees: list[Any], start: int, end: int
    ) -> Expr:
        var_node = self.convert(arg_trees[0])
        if not isinstance(var_node, Ident):
            message = f"`{kind}` expects a variable name as its first argument"
            raise CelSyntaxError(message, var_node.start, var_node.end)
        rest = [self.convert(a) for a in arg_trees[1:]]
        if kind == "map" and len(rest) == 2:
            return Comprehension(start, end, kind, target, var_node.name, rest[1], rest[0])
        return Comprehension(start, end, kind, target, var_node.name, rest[0])

    def _member_index(self, tree: Any) -> Expr:
        operand_tree, index_tree = tree.children
        start, end = self._span(tree)
        return Call(start, end, "_[_]", (self.convert(operand_tree), self.convert(index_tree)))

    def _member_object(self, tree: Any) -> Expr:
        type_node = self.convert(tree.children[0])
        start, end = self._span(tree)
        name = _qualified_name(type_node)
        if name is None:
            message = "expected a message type name before `{`"
            raise CelSyntaxError(message, type_node.start, type_node.end)
        fields: list[tuple[str, Expr]] = []
        if len(tree.children) > 1:
            items = tree.children[1].children
            for i in range(0, len(items), 2):
                fields.append((str(items[i]), self.convert(items[i + 1])))
        return CreateStruct(start, end, name, tuple(fields))

    def _ident(self, tree: Any) -> Expr:
        tok = tree.children[0]
        start, end = self._span(tree)
        name = sys.intern(str(tok))
        if name in RESERVED:
            raise CelSyntaxError(f"`{name}` is a reserved word", start, end)
        return Ident(start, end, "." + name if tree.data == "dot_ident" else name)

    def _ident_arg(self, tree: Any) -> Expr:
        tok = tree.children[0]
        start, end = self._span(tree)
        name = sys.intern(str(tok))
        if name in RESERVED:
            raise CelSyntaxError(f"`{name}` is a reserved word", *_token_span(tok))
        arg_trees = tree.children[1].children if len(tree.children) > 1 else []
        if name == "has" and tree.data == "ident_arg":
            return self._has(arg_trees, start, end)
        args = tuple(self.convert(a) for a in arg_trees)
        return Call(start, end, "." + name if tree.data == "dot_ident_arg" else name, args)

    def _has(self, arg_trees: list[Any], start: int, end: int) -> Expr:
        if len(arg_trees) != 1:
            raise CelSyntaxError("`has` expects exactly one argument", start, end)
        arg = self.convert(arg_trees[0])
        if not isinstance(arg, Select) or arg.test_only:
            message = "invalid argument to `has`, expected a field selection"
            raise CelSyntaxError(message, arg.start, arg.end)
        return Select(start, end, arg.operand, arg.field, test_only=True)

    def _paren(self, tree: Any) -> Expr:
        return self.convert(tree.children[0])

    def _list(self, tree: Any) -> Expr:
        start, end = self._span(tree)
        items = tree.children[0].children if tree.children else []
        return CreateList(start, end, tuple(self.convert(c) for c in items))

    def _map(self, tree: Any) -> Expr:
        start, end = self._span(tree)
        items = tree.children[0].children if tree.children else []
        entries = tuple(
            (self.convert(items[i]), self.convert(items[i + 1])) for i in range(0, len(items), 2)
        )
        return CreateMap(start, end, entries)

    def _literal(self, tree: Any) -> Expr:
        tok = tree.children[0]
        start, end = self._span(tree)
        return Literal(start, end, self._literal_value(tok.type, str(tok), start, end))

    def _literal_value(self, kind: str, raw: str, start: int, end: int) -> object:
        if kind == "INT_LIT":
            return self._int_value(raw, start, end)
        if kind == "UINT_LIT":
            return _uint_value(raw, start, end)
        if kind == "FLOAT_LIT":
            return float(raw)
        if kind == "BOOL_LIT":
            return raw == "true"
        if kind == "NULL_LIT":
            return None
        if kind == "BYTES_LIT":
            return decode_bytes_literal(raw[1:], start, end)
        text = decode_string_literal(raw, start, end)
        return sys.intern(text) if len(text) <= _INTERNED else text  # country codes, models

    @staticmethod
    def _int_value(raw: str, start: int, end: int) -> int:
        neg = raw.startswith("-")
        body = raw[1:] if neg else raw
        value = _literal_int(body)
        if neg:
            value = -value
        if not INT64_MIN <= value <= INT64_MAX:
            message = f"integer literal `{_shown(raw)}` is out of the int64 range"
            raise CelSyntaxError(message, start, end)
        return value


def _int_literal_token(tree: Any) -> Any:
    """The INT_LIT token when ``tree`` is just an integer literal (so ``-N`` is one literal)."""
    while hasattr(tree, "data") and tree.data in _CHAIN and len(tree.children) == 1:
        tree = tree.children[0]
    if hasattr(tree, "data") and tree.data == "literal":
        tok = tree.children[0]
        if tok.type == "INT_LIT" and not str(tok).startswith("-"):
            return tok
    return None


def _literal_int(body: str) -> int:
    """An unsigned decimal or hex literal's value; beyond 64 bits only "too large" matters.

    Python refuses ``int()`` on strings of more than 4 300 decimal digits, so a longer
    literal maps to ``UINT64_MAX + 1`` unconverted and the range check reports it.
    """
    if body[:2].lower() == "0x":
        digits = body[2:].lstrip("0")
        return int(digits, 16) if len(digits) <= 16 else UINT64_MAX + 1
    digits = body.lstrip("0")
    return int(digits or "0", 10) if len(digits) <= 20 else UINT64_MAX + 1


def _shown(raw: str) -> str:
    """A literal as quoted in a message: a 5 000-digit number is cut to its first digits."""
    return raw if len(raw) <= 30 else f"{raw[:24]}... ({len(raw)} characters)"


def _uint_value(raw: str, start: int, end: int) -> object:
    body = raw[:-1]
    if body.startswith("-"):
        raise CelSyntaxError(f"unsigned integer literal `{raw}` cannot be negative", start, end)
    value = _literal_int(body)
    if value > UINT64_MAX:
        message = f"unsigned integer literal `{_shown(raw)}` is out of the uint64 range"
        raise CelSyntaxError(message, start, end)
    return UInt(value)


def _qualified_name(node: Expr) -> str | None:
    parts: list[str] = []
    while isinstance(node, Select) and not node.test_only:
        parts.append(node.field)
        node = node.operand
    if isinstance(node, Ident):
        parts.append(node.name)
        return ".".join(reversed(parts))
    return None


# ---------------------------------------------------------------------------------------------
# string and bytes literals

_SIMPLE_ESCAPES = {
    "a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
    "\\": "\\", "'": "'", '"': '"', "`": "`", "?": "?",
}


def _split_quotes(raw: str) -> tuple[bool, str]:
    """``(is_raw, body)`` of a quoted literal such as ``r'''x'''``."""
    is_raw = raw[:1] in "rR"
    if is_raw:
        raw = raw[1:]
    quote = raw[:3] if raw[:3] in ('"""', "'''") else raw[:1]
    return is_raw, raw[len(quote):len(raw) - len(quote)]


def decode_string_literal(raw: str, start: int, end: int) -> str:
    """The value of a CEL string literal, with CEL's escape rules (raw strings keep escapes)."""
    is_raw, body = _split_quotes(raw)
    if is_raw:
        return body
    return "".join(chr(c) if isinstance(c, int) else c for c in _unescape(body, False, start, end))


def decode_bytes_literal(raw: str, start: int, end: int) -> bytes:
    """The value of a CEL bytes literal (after ``b``): escapes are raw bytes, text is UTF-8."""
    is_raw, body = _split_quotes(raw)
    if is_raw:
        return body.encode("utf-8")
    out = bytearray()
    for piece in _unescape(body, True, start, end):
        if isinstance(piece, int):
            out.append(piece)
        else:
            out += piece.encode("utf-8")
    return bytes(out)


def _unescape(body: str, is_bytes: bool, start: int, end: int) -> list[str | int]:
    """Split ``body`` into text and escaped code units; an invalid escape is a syntax error."""
    out: list[str | int] = []
    i, n = 0, len(body)
    while i < n:
        ch = body[i]
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        if i + 1 >= n:
            raise CelSyntaxError("invalid escape sequence at end of string", start, end)
        esc = body[i + 1]
        if esc in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[esc])
            i += 2
        elif esc in "xX":
            out.append(_hex(body, i + 2, 2, start, end))
            i += 4
        elif esc in "uU" and not is_bytes:
            width = 4 if esc == "u" else 8
            code = _hex(body, i + 2, width, start, end)
            if 0xD800 <= code <= 0xDFFF or code > 0x10FFFF:
                escape = body[i:i + 2 + width]
                raise CelSyntaxError(f"invalid code point in escape `{escape}`", start, end)
            out.append(chr(code))
            i += 2 + width
        elif esc in "0123" and i + 3 < n and _is_octal(body[i + 2]) and _is_octal(body[i + 3]):
            out.append(int(body[i + 1:i + 4], 8))
            i += 4
        else:
            raise CelSyntaxError(f"invalid escape sequence `\\{esc}`", start, end)
    return out


def _hex(body: str, at: int, width: int, start: int, end: int) -> int:
    digits = body[at:at + width]
    if len(digits) != width or any(c not in "0123456789abcdefABCDEF" for c in digits):
        raise CelSyntaxError(f"invalid hex escape `\\{body[at - 1]}{digits}`", start, end)
    return int(digits, 16)


def _is_octal(ch: str) -> bool:
    return ch in "01234567"
