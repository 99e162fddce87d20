"""An optional on-disk cache of parsed CEL trees, content-addressed and validated on read.

Parsing with lark costs about 0.5 ms an expression, and building cel-python's grammar
~100 ms a process, so a cold load of a large pack set is mostly parsing. With a cache
directory set (``COMPLIANCE_CACHE_DIR``, or ``set_cache_dir``), ``cel.parser.parse`` keeps
each tree it parses in ``<dir>/<aa>/<sha256>.json`` and reads it back in later processes.

Safety: the key is the SHA-256 of ``CACHE_VERSION`` and the text, so another text or an
older tree layout never matches. An entry is plain JSON (never pickle: reading it runs no
code), written to a temporary file and renamed into place, so a reader sees a whole entry
or none. Reading treats the file as untrusted: a size cap, the stored digest must be the
key, and every node is checked (known kinds, value types, spans inside the text, nesting
within the parser's own limit, names and unescaped strings present in the text at their
spans, a binary operator's symbol exactly what lies between its operands). Any failure makes
the entry a miss: the text is parsed again and the entry rewritten. This guards against
corruption, truncation and stale layouts; whoever can write the cache directory can change
what rules mean, exactly as whoever can write the pack files, so give it the packs'
permissions.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path
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
)
from compliance.cel.values import UInt

__all__ = ["CACHE_VERSION", "cache_dir", "load", "set_cache_dir", "store"]

CACHE_VERSION = "cel-ast-1"
"""Bump when ``compliance.cel.ast`` or the parser's conversion changes what a text yields."""

MAX_DEPTH = 300  # above the parser's MAX_NESTING (250): a deeper stored tree is not ours
_MACROS = frozenset({"all", "exists", "exists_one", "map", "filter"})
_OPERATORS = {
    "_&&_": "&&", "_||_": "||", "_?_:_": "?", "!_": "!", "-_": "-", "_==_": "==",
    "_!=_": "!=", "_<_": "<", "_<=_": "<=", "_>_": ">", "_>=_": ">=", "_+_": "+", "_-_": "-",
    "_*_": "*", "_/_": "/", "_%_": "%", "@in": "in", "_[_]": "[",
}

_state: dict[str, Path | None] = {"dir": None}
_env = os.environ.get("COMPLIANCE_CACHE_DIR")
if _env:
    _state["dir"] = Path(_env)


def set_cache_dir(directory: str | Path | None) -> None:
    """Keep parsed trees under ``directory`` (None: no disk cache, the default)."""
    _state["dir"] = Path(directory) if directory is not None else None


def cache_dir() -> Path | None:
    """The directory parsed trees are kept in, or None."""
    return _state["dir"]


def _key(text: str) -> str:
    return hashlib.sha256(f"{CACHE_VERSION}\0{text}".encode("utf-8", "surrogatepass")).hexdigest()


def _path(directory: Path, key: str) -> Path:
    return directory / key[:2] / f"{key}.json"


def load(text: str) -> Expr | None:
    """The cached tree of ``text``, or None (no cache, no entry, or an entry that fails checks)."""
    directory = _state["dir"]
    if directory is None:
        return None
    key = _key(text)
    path = _path(directory, key)
    try:
        with path.open("rb") as handle:
            data = handle.read(_max_bytes(text) + 1)
    except OSError:
        return None
    if len(data) > _max_bytes(text):
        return None
    try:
        entry = json.loads(data)
        if not isinstance(entry, dict) or entry.get("key") != key:
            return None
        return _Decoder(text).expr(entry["ast"], 0)
    except (ValueError, TypeError, KeyError, IndexError, RecursionError):
        return None


def store(text: str, expr: Expr) -> None:
    """Write ``expr`` as the entry of ``text``, atomically; failing to write is not an error."""
    directory = _state["dir"]
    if directory is None:
        return
    key = _key(text)
    path = _path(directory, key)
    try:
        payload = json.dumps({"key": key, "ast": _encode(expr)}, separators=(",", ":"),
                             allow_nan=False)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(payload)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except (OSError, ValueError, RecursionError):
        return  # a read-only or full disk costs speed, never correctness


def _max_bytes(text: str) -> int:
    # a tree has at most one node per character; a node is well under 200 bytes of JSON,
    # plus its literal values, which come from the text (x6 for JSON escapes)
    return 256 * len(text) + 4096


def _encode(expr: Expr) -> list[Any]:
    match expr:
        case Literal(start, end, value):
            return ["lit", start, end, *_encode_value(value)]
        case Ident(start, end, name):
            return ["id", start, end, name]
        case Select(start, end, operand, field, test_only):
            return ["sel", start, end, _encode(operand), field, test_only]
        case Call(start, end, function, args, target):
            return ["call", start, end, function, [_encode(a) for a in args],
                    None if target is None else _encode(target)]
        case CreateList(start, end, elements):
            return ["list", start, end, [_encode(e) for e in elements]]
        case CreateMap(start, end, entries):
            return ["map", start, end, [[_encode(k), _encode(v)] for k, v in entries]]
        case CreateStruct(start, end, type_name, fields):
            return ["struct", start, end, type_name, [[n, _encode(v)] for n, v in fields]]
        case Comprehension(start, end, kind, rng, var, body, predicate):
            return ["comp", start, end, kind, _encode(rng), var, _encode(body),
                    None if predicate is None else _encode(predicate)]
    raise TypeError(f"not a CEL node: {type(expr).__name__}")


def _encode_value(value: object) -> list[Any]:
    if value is None or isinstance(value, bool | str):
        return ["v", value]
    if isinstance(value, UInt):
        return ["u", int(value)]
    if isinstance(value, int):
        return ["i", value]
    if isinstance(value, float):
        return ["f", repr(value)]  # repr round-trips, and spells inf and nan
    if isinstance(value, bytes):
        return ["b", value.hex()]
    raise TypeError(f"not a CEL literal: {type(value).__name__}")


class _Decoder:
    """Rebuilds a tree from its JSON form, refusing anything the parser could not produce."""

    def __init__(self, text: str) -> None:
        self.text = text

    def expr(self, raw: Any, depth: int) -> Expr:
        if not isinstance(raw, list) or len(raw) < 3 or depth > MAX_DEPTH:
            raise ValueError("malformed node")
        kind, start, end = raw[0], raw[1], raw[2]
        if not (_is_int(start) and _is_int(end) and 0 <= start <= end <= len(self.text)):
            raise ValueError("span outside the text")
        here = self.text[start:end]
        d = depth + 1
        match kind, len(raw):
            case "lit", 5:
                value = _decode_value(raw[3], raw[4])
                if isinstance(value, str) and "\\" not in here:
                    _present(value, here)  # an unescaped string literal is its own text
                return Literal(start, end, value)
            case "id", 4:
                name = _str(raw[3])
                _present(name.lstrip("."), here)
                return Ident(start, end, name)
            case "sel", 6:
                field = _str(raw[4])
                _present(field, here)
                return Select(start, end, self.expr(raw[3], d), field, _bool(raw[5]))
            case "call", 6:
                function = _str(raw[3])
                args = tuple(self.expr(a, d) for a in _list(raw[4]))
                target = None if raw[5] is None else self.expr(raw[5], d)
                if function in _OPERATORS:
                    self._operator(function, start, end, args)
                else:
                    _present(function.lstrip("."), here)
                return Call(start, end, function, args, target)
            case "list", 4:
                return CreateList(start, end, tuple(self.expr(e, d) for e in _list(raw[3])))
            case "map", 4:
                entries = tuple(self._pair(p, d) for p in _list(raw[3]))
                return CreateMap(start, end, entries)
            case "struct", 5:
                fields = tuple(self._field(f, d) for f in _list(raw[4]))
                return CreateStruct(start, end, _str(raw[3]), fields)
            case "comp", 8:
                macro = _str(raw[3])
                if macro not in _MACROS:
                    raise ValueError("unknown macro")
                predicate = None if raw[7] is None else self.expr(raw[7], d)
                return Comprehension(start, end, macro, self.expr(raw[4], d),  # type: ignore[arg-type]
                                     _str(raw[5]), self.expr(raw[6], d), predicate)
        raise ValueError("unknown node kind")

    def _operator(self, function: str, start: int, end: int, args: tuple[Expr, ...]) -> None:
        """The operator's symbol must be what lies between its operands (or before one)."""
        symbol = _OPERATORS[function]
        if function == "_?_:_":  # the spans of a nested conditional may overlap
            if len(args) != 3 or "?" not in self.text[start:end] or ":" not in self.text[start:end]:
                raise ValueError("conditional does not match the text")
            return
        if function in ("!_", "-_"):  # a prefix operator's span may start with its operand's
            if len(args) != 1 or symbol not in self.text[start:end]:
                raise ValueError("operator does not match the text")
            return
        if len(args) != 2:
            raise ValueError("operator does not match the text")
        left, right = args
        if right.start <= left.end:  # a conditional operand's span may reach back over `- (`
            if symbol not in self.text[left.end:right.end]:
                raise ValueError("operator does not match the text")
        elif _gap(self.text[left.end:right.start]) != symbol:
            raise ValueError("operator does not match the text")

    def _pair(self, raw: Any, depth: int) -> tuple[Expr, Expr]:
        items = _list(raw)
        if len(items) != 2:
            raise ValueError("malformed map entry")
        return self.expr(items[0], depth), self.expr(items[1], depth)

    def _field(self, raw: Any, depth: int) -> tuple[str, Expr]:
        items = _list(raw)
        if len(items) != 2:
            raise ValueError("malformed field")
        return _str(items[0]), self.expr(items[1], depth)


def _decode_value(tag: Any, raw: Any) -> object:
    if tag == "v" and (raw is None or isinstance(raw, bool | str)):
        return raw
    if tag == "i" and _is_int(raw) and -(1 << 63) <= raw < 1 << 63:
        return raw
    if tag == "u" and _is_int(raw) and 0 <= raw < 1 << 64:
        return UInt(raw)
    if tag == "f" and isinstance(raw, str) and len(raw) <= 32:
        return float(raw)
    if tag == "b" and isinstance(raw, str):
        return bytes.fromhex(raw)
    raise ValueError("malformed literal")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("expected a string")
    return value


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError("expected a boolean")
    return value


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise TypeError("expected a list")
    return value


def _gap(text: str) -> str:
    return text.strip(" \t\r\n()")


def _present(name: str, here: str) -> None:
    if name not in here:
        raise ValueError("a name the text does not hold at its span")
