"""ONE table of CEL functions: overload signatures (checker) and implementations (compiler).

``SIGNATURES[name]`` lists the overloads of a function or operator (operators use cel-go's
names such as ``_+_`` and ``@in``) as ``Overload(params, result, receiver)`` in terms of
``schema.CelType``. Type parameters are ``dyn`` types with a ``name`` (``A``, ``K``, ``V``),
so a checker that ignores the name still sees ``dyn``. ``receiver=True`` means the first
parameter is the call target (``s.startsWith(p)``).

``IMPLEMENTATIONS[name]`` is one Python callable per name, taking the target (if any) and
the arguments positionally; it dispatches on the runtime types and raises ``CelEvalError``
(without offsets: the compiler adds them) when no overload matches or an operation fails.

Functions whose work or output grows with their inputs (``+``, ``replace``, ``split``,
``join``, ``format``, ``in`` …) charge the decision's run-time budget (``compliance.cel.budget``)
with the size they are about to scan or allocate, *before* doing it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from compliance.cel.budget import FREE_SIZE, charge, charge_chars
from compliance.cel.regex import RegexError, compile_re2, matcher
from compliance.cel.types import (
    BOOL,
    BYTES,
    DOUBLE,
    DURATION,
    DYN,
    INT,
    STRING,
    TIMESTAMP,
    TYPE,
    UINT,
    CelType,
    list_of,
    map_of,
)
from compliance.cel.values import (
    NANOS,
    OPTIONAL_NONE,
    CelEvalError,
    CelTypeValue,
    Duration,
    Optional,
    Timestamp,
    UInt,
    check_duration,
    check_timestamp,
    format_duration,
    format_timestamp,
    parse_duration,
    parse_timestamp,
    type_of,
)

__all__ = [
    "IMPLEMENTATIONS",
    "SIGNATURES",
    "Overload",
    "cel_eq",
    "cel_in",
    "charge_regex",
    "compile_regex",
    "format_double",
    "index",
    "no_overload",
    "regex_searcher",
]

INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1
UINT64_MAX = (1 << 64) - 1


@dataclass(frozen=True, slots=True)
class Overload:
    """One signature of a CEL function: parameter types, result type, receiver style."""

    params: tuple[CelType, ...]
    result: CelType
    receiver: bool = False


A = CelType("dyn", name="A")
B = CelType("dyn", name="B")
K = CelType("dyn", name="K")
V = CelType("dyn", name="V")
LIST_A = list_of(A)
MAP_KV = map_of(K, V)

Impl = Callable[..., object]
SIGNATURES: dict[str, list[Overload]] = {}
IMPLEMENTATIONS: dict[str, Impl] = {}


def _define(name: str, impl: Impl, *overloads: Overload) -> None:
    SIGNATURES.setdefault(name, []).extend(overloads)
    IMPLEMENTATIONS[name] = impl


def _o(*params: CelType, result: CelType, receiver: bool = False) -> Overload:
    return Overload(tuple(params), result, receiver)


# ---------------------------------------------------------------------------------------------
# errors and type tests


def no_overload(function: str, *args: object) -> CelEvalError:
    """The error for a call whose argument types match no overload."""
    kinds = ", ".join(_type_name(a) for a in args)
    return CelEvalError("no-matching-overload", f"no matching overload for `{function}({kinds})`")


def _type_name(value: object) -> str:
    try:
        return type_of(value).name
    except CelEvalError:
        return type(value).__name__


def _overflow(what: str = "integer") -> CelEvalError:
    return CelEvalError("overflow", f"{what} overflow")


def _is_int(v: object) -> bool:
    return type(v) is int


def _is_list(v: object) -> bool:
    return isinstance(v, list | tuple)


def _is_map(v: object) -> bool:
    return isinstance(v, Mapping)


_NUMERIC = (int, UInt, float)


def _is_num(v: object) -> bool:
    t = type(v)
    return t is int or t is float or t is UInt


def checked_int(v: int) -> int:
    """``v`` if it is an int64, else the ``overflow`` error (CEL integers never wrap)."""
    if INT64_MIN <= v <= INT64_MAX:
        return v
    raise _overflow()


def _checked_uint(v: int) -> UInt:
    if 0 <= v <= UINT64_MAX:
        return UInt(v)
    raise _overflow("unsigned integer")


# ---------------------------------------------------------------------------------------------
# equality, ordering, membership


def _charge_items(n: int) -> None:
    """Charge for scanning or allocating ``n`` list elements when over ``FREE_SIZE``."""
    if n > FREE_SIZE:
        charge(n)


def cel_eq(a: object, b: object) -> bool:
    """CEL equality: numbers compare across int/uint/double, other types must match exactly."""
    ta, tb = type(a), type(b)
    if ta is tb and (ta is str or ta is int or ta is bool):
        return a == b
    if ta is bool or tb is bool:
        return ta is tb and a == b
    if ta in _NUMERIC or tb in _NUMERIC:
        if ta is float or tb is float:  # as cel-go: int and uint compare with doubles as doubles
            return ta in _NUMERIC and tb in _NUMERIC and float(a) == float(b)  # type: ignore[arg-type]
        return ta in _NUMERIC and tb in _NUMERIC and a == b
    if _is_list(a):
        if not _is_list(b):
            return False
        la: Any = a
        lb: Any = b
        if len(la) != len(lb):
            return False
        _charge_items(len(la))
        return all(cel_eq(x, y) for x, y in zip(la, lb, strict=True))
    if isinstance(a, Mapping):
        return isinstance(b, Mapping) and _map_eq(a, b)
    if isinstance(b, list | tuple | Mapping):
        return False
    return ta is tb and a == b


def _map_eq(a: Mapping[Any, Any], b: Mapping[Any, Any]) -> bool:
    if len(a) != len(b):
        return False
    _charge_items(len(a))
    for key, value in a.items():
        found, other = _map_get(b, key)
        if not found or not cel_eq(value, other):
            return False
    return True


_MISSING = object()


def _map_get(m: Mapping[Any, Any], key: object) -> tuple[bool, object]:
    """Look ``key`` up with CEL key equality (``1``, ``1u``, ``1.0`` are one key; bools apart)."""
    tk = type(key)
    if tk is str:
        v = m.get(key, _MISSING)
        return (v is not _MISSING, v)
    if tk is float and not key.is_integer():  # type: ignore[attr-defined]
        return (False, None)
    for mk, mv in m.items():
        if type(mk) is str:
            continue
        if (tk is bool) == (type(mk) is bool) and mk == key:
            return (True, mv)
    return (False, None)


def cel_in(elem: object, container: object) -> bool:
    """``elem in container`` for lists (CEL equality) and maps (key presence)."""
    if isinstance(container, list | tuple):
        _charge_items(len(container))
        te = type(elem)
        if te is str:
            return any(type(x) is str and x == elem for x in container)
        return any(cel_eq(elem, x) for x in container)
    if isinstance(container, Mapping):
        return _map_get(container, elem)[0]
    raise no_overload("@in", elem, container)


def _ne(a: object, b: object) -> bool:
    return not cel_eq(a, b)


_ORDERED_SAME = (str, bytes, bool, Timestamp, Duration)


def _compare(fn: str, a: object, b: object) -> int:
    """-1/0/1, or 2 when unordered (NaN); raises for incomparable types."""
    ta, tb = type(a), type(b)
    if ta is not tb and (ta is float or tb is float) and ta in _NUMERIC and tb in _NUMERIC:
        a, b = float(a), float(b)  # type: ignore[arg-type]
        ta = tb = float
    if (ta in _NUMERIC and tb in _NUMERIC) or (ta is tb and ta in _ORDERED_SAME):
        if a < b:  # type: ignore[operator]
            return -1
        if a > b:  # type: ignore[operator]
            return 1
        if a == b:
            return 0
        return 2
    raise no_overload(fn, a, b)


def _lt(a: object, b: object) -> bool:
    return _compare("_<_", a, b) == -1


def _le(a: object, b: object) -> bool:
    return _compare("_<=_", a, b) in (-1, 0)


def _gt(a: object, b: object) -> bool:
    return _compare("_>_", a, b) == 1


def _ge(a: object, b: object) -> bool:
    return _compare("_>=_", a, b) in (0, 1)


# ---------------------------------------------------------------------------------------------
# arithmetic


def _add(a: Any, b: Any) -> object:
    ta, tb = type(a), type(b)
    if ta is tb:
        if ta is int:
            return checked_int(a + b)
        if ta is str or ta is bytes:
            charge_chars(len(a) + len(b))
            return a + b
        if ta is float:
            return a + b
        if ta is UInt:
            return _checked_uint(a + b)
        if ta is Duration:
            return check_duration(a.nanos + b.nanos)
    if _is_list(a) and _is_list(b):
        _charge_items(len(a) + len(b))
        return [*a, *b]
    if ta is Timestamp and tb is Duration:
        return check_timestamp(a.nanos + b.nanos)
    if ta is Duration and tb is Timestamp:
        return check_timestamp(a.nanos + b.nanos)
    raise no_overload("_+_", a, b)


def _sub(a: Any, b: Any) -> object:
    ta, tb = type(a), type(b)
    if ta is tb:
        if ta is int:
            return checked_int(a - b)
        if ta is float:
            return a - b
        if ta is UInt:
            return _checked_uint(a - b)
        if ta is Duration:
            return check_duration(a.nanos - b.nanos)
        if ta is Timestamp:  # as cel-go: the difference must fit int64 nanoseconds
            diff = a.nanos - b.nanos
            if not INT64_MIN <= diff <= INT64_MAX:
                raise _overflow("duration")
            return Duration(diff)
    if ta is Timestamp and tb is Duration:
        return check_timestamp(a.nanos - b.nanos)
    raise no_overload("_-_", a, b)


def _mul(a: Any, b: Any) -> object:
    ta, tb = type(a), type(b)
    if ta is tb:
        if ta is int:
            return checked_int(a * b)
        if ta is float:
            return a * b
        if ta is UInt:
            return _checked_uint(a * b)
    raise no_overload("_*_", a, b)


def _trunc_div(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


def _div(a: Any, b: Any) -> object:
    ta, tb = type(a), type(b)
    if ta is tb:
        if ta is int or ta is UInt:
            if b == 0:
                raise CelEvalError("division-by-zero", "division by zero")
            q = _trunc_div(a, b)
            return checked_int(q) if ta is int else UInt(q)
        if ta is float:
            return _float_div(a, b)
    raise no_overload("_/_", a, b)


def _float_div(a: float, b: float) -> float:
    if b == 0.0:
        if a == 0.0 or math.isnan(a):
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)
    return a / b


def _mod(a: Any, b: Any) -> object:
    ta, tb = type(a), type(b)
    if ta is tb and (ta is int or ta is UInt):
        if b == 0:
            raise CelEvalError("modulus-by-zero", "modulus by zero")
        r = abs(a) % abs(b)
        r = -r if a < 0 else r
        return r if ta is int else UInt(r)
    raise no_overload("_%_", a, b)


def _neg(a: Any) -> object:
    ta = type(a)
    if ta is int:
        return checked_int(-a)
    if ta is float:
        return -a
    if ta is Duration:
        return check_duration(-a.nanos)
    raise no_overload("-_", a)


def _not(a: object) -> bool:
    if type(a) is bool:
        return not a
    raise no_overload("!_", a)


# ---------------------------------------------------------------------------------------------
# indexing and size


def index(container: object, key: object) -> object:
    """``container[key]``: list by integral number, map by key (``no-such-key`` when absent)."""
    if isinstance(container, Mapping):
        found, value = _map_get(container, key)
        if found:
            return value
        if type(key) not in (str, int, UInt, bool, float):
            raise no_overload("_[_]", container, key)
        raise CelEvalError("no-such-key", f"no such key: `{_display(key)}`")
    if isinstance(container, list | tuple):
        tk = type(key)
        if tk is int or tk is UInt or (tk is float and key.is_integer()):  # type: ignore[attr-defined]
            i = int(key)  # type: ignore[call-overload]
        else:
            raise no_overload("_[_]", container, key)
        if 0 <= i < len(container):
            return container[i]
        raise CelEvalError("invalid-argument", f"index out of range: {i}")
    raise no_overload("_[_]", container, key)


def _size(v: object) -> int:
    if isinstance(v, str | bytes | list | tuple | Mapping):
        return len(v)
    raise no_overload("size", v)


# ---------------------------------------------------------------------------------------------
# strings and regexes


def _str_args(fn: str, *args: object) -> None:
    for a in args:
        if type(a) is not str:
            raise no_overload(fn, *args)


def _contains(s: object, sub: object) -> bool:
    _str_args("contains", s, sub)
    charge_chars(len(s))  # type: ignore[arg-type]
    return sub in s  # type: ignore[operator]


def _starts_with(s: Any, p: Any) -> bool:
    _str_args("startsWith", s, p)
    return bool(s.startswith(p))


def _ends_with(s: Any, p: Any) -> bool:
    _str_args("endsWith", s, p)
    return bool(s.endswith(p))


@lru_cache(maxsize=512)
def compile_regex(pattern: str) -> Any:
    """Compile an RE2 pattern once (linear-time matching); invalid ones raise ``CelEvalError``."""
    try:
        return compile_re2(pattern)
    except RegexError as err:
        message = f"invalid regular expression `{pattern}`: {err.reason}"
        raise CelEvalError("invalid-argument", message) from None


@lru_cache(maxsize=512)
def regex_searcher(pattern: str) -> Callable[[str], bool]:
    """A fast ``text -> bool`` partial-match test for an RE2 pattern (CEL ``matches``)."""
    return matcher(compile_regex(pattern), whole=False)


def _matches(s: Any, pattern: Any) -> bool:
    _str_args("matches", s, pattern)
    charge_regex(s, pattern)
    return regex_searcher(pattern)(s)


def charge_regex(subject: str, pattern: str) -> None:
    """RE2 is linear in the subject; its work per character grows with the pattern."""
    if len(subject) > FREE_SIZE:
        charge_chars(len(subject) * -(-len(pattern) // 4))


def _lower_ascii(s: Any) -> str:
    _str_args("lowerAscii", s)
    charge_chars(len(s))
    return str(s.translate(_LOWER))


def _upper_ascii(s: Any) -> str:
    _str_args("upperAscii", s)
    charge_chars(len(s))
    return str(s.translate(_UPPER))


_LOWER = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}
_UPPER = {c: c - 32 for c in range(ord("a"), ord("z") + 1)}
# Go's unicode.IsSpace set (Python's str.strip() also strips \x1c-\x1f, which Go keeps)
_SPACE = "\t\n\v\f\r \x85\xa0\u1680" + "".join(chr(c) for c in range(0x2000, 0x200B)) + (
    "\u2028\u2029\u202f\u205f\u3000"
)


def _trim(s: Any) -> str:
    _str_args("trim", s)
    charge_chars(len(s))
    return str(s.strip(_SPACE))


def _index_error(i: int) -> CelEvalError:
    return CelEvalError("invalid-argument", f"index out of range: {i}")


def _optional_int(rest: tuple[Any, ...]) -> bool:
    return not rest or (len(rest) == 1 and type(rest[0]) is int)


def _char_at(s: Any, i: Any) -> str:
    if type(s) is not str or type(i) is not int:
        raise no_overload("charAt", s, i)
    if not 0 <= i <= len(s):
        raise _index_error(i)
    return str(s[i:i + 1])


def _index_of(s: Any, sub: Any, *rest: Any) -> int:
    if type(s) is not str or type(sub) is not str or not _optional_int(rest):
        raise no_overload("indexOf", s, sub, *rest)
    start = rest[0] if rest else 0
    if not 0 <= start <= len(s):
        raise _index_error(start)
    charge_chars(len(s))
    return int(s.find(sub, start))


def _last_index_of(s: Any, sub: Any, *rest: Any) -> int:
    if type(s) is not str or type(sub) is not str or not _optional_int(rest):
        raise no_overload("lastIndexOf", s, sub, *rest)
    end = rest[0] if rest else len(s)
    if not 0 <= end <= len(s):
        raise _index_error(end)
    charge_chars(len(s))
    return int(s.rfind(sub, 0, end + len(sub)))


def _replace(s: Any, old: Any, new: Any, *rest: Any) -> str:
    if not (type(s) is str and type(old) is str and type(new) is str and _optional_int(rest)):
        raise no_overload("replace", s, old, new, *rest)
    count = rest[0] if rest else -1
    if len(s) > FREE_SIZE or len(new) > len(old):
        _charge_replace(s, old, new, count)
    return str(s.replace(old, new, count if count >= 0 else -1))


def _charge_replace(s: str, old: str, new: str, count: int) -> None:
    """Charge the scan and the output of ``s.replace(old, new)`` before building it.

    ``replace("", x)`` inserts ``x`` at every position: the output of a 30 000-character
    string is 900M characters, so its size is computed from the inputs first.
    """
    charge_chars(len(s))
    hits = len(s) + 1 if old == "" else s.count(old)
    if count >= 0:
        hits = min(hits, count)
    charge_chars(len(s) + hits * (len(new) - len(old)))


def _split(s: Any, sep: Any, *rest: Any) -> list[str]:
    if type(s) is not str or type(sep) is not str or not _optional_int(rest):
        raise no_overload("split", s, sep, *rest)
    limit = rest[0] if rest else -1
    if limit == 0:
        return []
    if len(s) > FREE_SIZE:  # the scan, the pieces' characters and one element per piece
        charge_chars(2 * len(s))
        pieces = len(s) if sep == "" else s.count(sep) + 1
        _charge_items(min(pieces, limit) if limit > 0 else pieces)
    if sep == "":
        chars = list(s)
        if 0 < limit < len(chars):
            return [*chars[:limit - 1], "".join(chars[limit - 1:])]
        return chars
    return list(s.split(sep, limit - 1 if limit > 0 else -1))


def _substring(s: Any, start: Any, *rest: Any) -> str:
    if type(s) is not str or type(start) is not int or not _optional_int(rest):
        raise no_overload("substring", s, start, *rest)
    end = rest[0] if rest else len(s)
    if not 0 <= start <= len(s):
        raise _index_error(start)
    if not 0 <= end <= len(s):
        raise _index_error(end)
    if end < start:
        message = f"invalid substring range. start: {start}, end: {end}"
        raise CelEvalError("invalid-argument", message)
    return str(s[start:end])


def _join(items: Any, *rest: Any) -> str:
    if not _is_list(items) or len(rest) > 1 or (rest and type(rest[0]) is not str):
        raise no_overload("join", items, *rest)
    if any(type(x) is not str for x in items):
        raise no_overload("join", items, *rest)
    sep = rest[0] if rest else ""
    _charge_items(len(items))
    charge_chars(sum(map(len, items)) + len(sep) * max(len(items) - 1, 0))
    return str(sep.join(items))


def _reverse(s: Any) -> str:
    _str_args("reverse", s)
    charge_chars(len(s))
    return str(s[::-1])


_QUOTE_ESCAPES = {
    "\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v",
    "\\": "\\\\", '"': '\\"',
}


def _quote(s: Any) -> str:
    _str_args("strings.quote", s)
    charge_chars(10 * len(s))  # `\U0010ffff`: ten characters out per character in
    out = ['"']
    for ch in s:
        esc = _QUOTE_ESCAPES.get(ch)
        if esc is not None:
            out.append(esc)
        elif ch.isprintable() or ch == " ":
            out.append(ch)
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


# ---------------------------------------------------------------------------------------------
# string formatting (``"%s".format([x])``, cel-go strings extension semantics)


def format_double(f: float) -> str:
    """A double as cel-go prints it (Go's ``strconv.FormatFloat(f, 'g', -1, 64)``)."""
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    if f == 0.0:
        return "-0" if math.copysign(1.0, f) < 0 else "0"
    text = repr(f)
    sign = "-" if text.startswith("-") else ""
    mantissa, _, exp_text = text.lstrip("-").partition("e")
    whole, _, frac = mantissa.partition(".")
    digits = (whole + frac).lstrip("0")
    point = len(whole) + int(exp_text or "0")
    if whole == "0":
        lead = len(frac) - len(frac.lstrip("0"))
        point = -lead + int(exp_text or "0")
    digits = digits.rstrip("0") or "0"
    exp = point - 1
    if exp < -4 or exp >= 6:  # Go: shortest %g switches to an exponent at 1e+06
        body = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{body}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return f"{sign}{digits}{'0' * (point - len(digits))}"
    return f"{sign}{digits[:point]}.{digits[point:]}"


def _display(v: object) -> str:
    """A value as ``%s`` and ``string()`` show it inside lists and maps."""
    t = type(v)
    if t is str:
        return v  # type: ignore[return-value]
    if t is bool:
        return "true" if v else "false"
    if v is None:
        return "null"
    if t is float:
        return _format_special(v) or format_double(v)  # type: ignore[arg-type]
    if t is bytes:
        return str(v.decode("utf-8", errors="replace"))  # type: ignore[attr-defined]
    if t is Timestamp:
        return format_timestamp(v)  # type: ignore[arg-type]
    if t is Duration:
        return format_duration(v)  # type: ignore[arg-type]
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_display(x) for x in v) + "]"
    if isinstance(v, Mapping):
        items = sorted((_display(k), _display(x)) for k, x in v.items())
        return "{" + ", ".join(f"{k}: {x}" for k, x in items) + "}"
    return str(int(v)) if isinstance(v, int) else str(v)


def _format_special(f: float) -> str | None:
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "Infinity" if f > 0 else "-Infinity"
    return None


def _format_error(message: str) -> CelEvalError:
    return CelEvalError("invalid-argument", f"error during formatting: {message}")


def _fmt_int_base(clause: str, v: object) -> str:
    t = type(v)
    if clause in "xX" and t is str:
        out = v.encode("utf-8").hex()  # type: ignore[attr-defined]
    elif clause in "xX" and t is bytes:
        out = v.hex()  # type: ignore[attr-defined]
    elif clause == "b" and t is bool:
        out = "1" if v else "0"
    elif t is int or t is UInt:
        n = int(v)  # type: ignore[call-overload]
        body = format(abs(n), {"x": "x", "X": "X", "o": "o", "b": "b"}[clause])
        out = ("-" if n < 0 else "") + body
    else:
        what = {"x": "only integers, byte buffers, and strings can be formatted as hex",
                "X": "only integers, byte buffers, and strings can be formatted as hex",
                "o": "octal clause can only be used on integers",
                "b": "only integers and bools can be formatted as binary"}[clause]
        raise _format_error(f"{what}, was given {_type_name(v)}")
    return str(out).upper() if clause == "X" else str(out)


def _fmt_float(clause: str, precision: int | None, v: object) -> str:
    t = type(v)
    if t not in _NUMERIC:
        what = "fixed-point" if clause == "f" else "scientific"
        raise _format_error(f"{what} clause can only be used on doubles, was given {_type_name(v)}")
    f = float(v)  # type: ignore[arg-type]
    special = _format_special(f)
    if special is not None:
        return special
    return format(f, f".{6 if precision is None else precision}{clause}")


def _fmt_one(clause: str, precision: int | None, v: object) -> str:
    if clause == "s":
        return _display(v)
    if clause == "d":
        t = type(v)
        if t is int or t is UInt:
            return str(int(v))  # type: ignore[call-overload]
        if t is float and _format_special(v) is not None:  # type: ignore[arg-type]
            return _format_special(v) or ""  # type: ignore[arg-type]
        what = "decimal clause can only be used on integers"
        raise _format_error(f"{what}, was given {_type_name(v)}")
    if clause in "xXob":
        return _fmt_int_base(clause, v)
    return _fmt_float(clause, precision, v)


def _format(template: Any, args: Any) -> str:
    if type(template) is not str or not _is_list(args):
        raise no_overload("format", template, args)
    out: list[str] = []
    charge_chars(len(template))
    i, n, arg_index = 0, len(template), 0
    while i < n:
        ch = template[i]
        if ch != "%":
            out.append(ch)
            i += 1
            continue
        if i + 1 < n and template[i + 1] == "%":
            out.append("%")
            i += 2
            continue
        j = i + 1
        precision: int | None = None
        if j < n and template[j] == ".":
            k = j + 1
            while k < n and template[k].isdigit():
                k += 1
            precision = int(template[j + 1:k] or "0")
            j = k
        clause = template[j] if j < n else ""
        if clause not in ("s", "d", "f", "e", "x", "X", "o", "b"):
            message = f"could not parse formatting clause: unrecognized clause `{clause}`"
            raise CelEvalError("invalid-argument", message)
        if arg_index >= len(args):
            raise CelEvalError("invalid-argument", f"index {arg_index} out of range")
        piece = _fmt_one(clause, precision, args[arg_index])
        charge_chars(len(piece))
        out.append(piece)
        arg_index += 1
        i = j + 1
    return "".join(out)


# ---------------------------------------------------------------------------------------------
# conversions


def _to_int(v: Any) -> int:
    t = type(v)
    if t is int:
        return int(v)
    if t is UInt:
        return checked_int(int(v))
    if t is float:
        if math.isnan(v) or not -9.223372036854775808e18 < v < 9.223372036854775807e18:
            raise CelEvalError("overflow", "double out of int range")
        return int(v)
    if t is str:
        try:
            return checked_int(int(v, 10))
        except ValueError:
            raise CelEvalError("invalid-argument", f"cannot convert `{v}` to int") from None
    if t is Timestamp:
        return int(v.nanos // NANOS)
    raise no_overload("int", v)


def _to_uint(v: Any) -> UInt:
    t = type(v)
    if t is UInt:
        return UInt(v)
    if t is int:
        return _checked_uint(v)
    if t is float:
        if math.isnan(v) or not -1.0 < v < 1.8446744073709552e19:
            raise CelEvalError("overflow", "double out of uint range")
        return UInt(int(v))
    if t is str:
        try:
            return _checked_uint(int(v, 10))
        except ValueError:
            raise CelEvalError("invalid-argument", f"cannot convert `{v}` to uint") from None
    raise no_overload("uint", v)


_GO_FLOAT_SPECIAL = {"nan": math.nan, "inf": math.inf, "+inf": math.inf, "-inf": -math.inf,
                     "infinity": math.inf, "+infinity": math.inf, "-infinity": -math.inf}


def _to_double(v: Any) -> float:
    t = type(v)
    if t is float:
        return float(v)
    if t is int or t is UInt:
        return float(v)
    if t is str:
        special = _GO_FLOAT_SPECIAL.get(v.lower())
        if special is not None:
            return special
        try:
            if "_" in v or v.strip() != v:
                raise ValueError(v)
            return float(v)
        except ValueError:
            raise CelEvalError("invalid-argument", f"cannot convert `{v}` to double") from None
    raise no_overload("double", v)


def _to_string(v: Any) -> str:
    t = type(v)
    if t is str:
        return str(v)
    if t is int or t is UInt:
        return str(int(v))
    if t is float:
        return format_double(v)
    if t is bool:
        return "true" if v else "false"
    if t is bytes:
        charge_chars(len(v))
        try:
            return str(v.decode("utf-8"))
        except UnicodeDecodeError:
            raise CelEvalError("invalid-argument", "invalid UTF-8 in bytes") from None
    if t is Timestamp:
        return format_timestamp(v)
    if t is Duration:
        return format_duration(v)
    raise no_overload("string", v)


def _to_bytes(v: Any) -> bytes:
    if type(v) is bytes:
        return bytes(v)
    if type(v) is str:
        charge_chars(4 * len(v))
        return bytes(v.encode("utf-8"))
    raise no_overload("bytes", v)


_BOOL_STRINGS = {"1": True, "t": True, "T": True, "true": True, "TRUE": True, "True": True,
                 "0": False, "f": False, "F": False, "false": False, "FALSE": False, "False": False}


def _to_bool(v: Any) -> bool:
    if type(v) is bool:
        return bool(v)
    if type(v) is str:
        if v in _BOOL_STRINGS:
            return _BOOL_STRINGS[v]
        raise CelEvalError("invalid-argument", f"cannot convert `{v}` to bool")
    raise no_overload("bool", v)


def _to_timestamp(v: Any) -> Timestamp:
    t = type(v)
    if t is Timestamp:
        return v  # type: ignore[no-any-return]
    if t is str:
        try:
            return parse_timestamp(v)
        except ValueError as err:
            raise CelEvalError("invalid-argument", str(err)) from None
    if t is int:
        return check_timestamp(v * NANOS)
    raise no_overload("timestamp", v)


def _to_duration(v: Any) -> Duration:
    t = type(v)
    if t is Duration:
        return v  # type: ignore[no-any-return]
    if t is str:
        try:
            return parse_duration(v)
        except ValueError as err:
            raise CelEvalError("invalid-argument", str(err)) from None
    if t is int:
        return check_duration(v * NANOS)
    raise no_overload("duration", v)


def _type(v: object) -> CelTypeValue:
    return type_of(v)


def _dyn(v: object) -> object:
    return v


# ---------------------------------------------------------------------------------------------
# timestamps and durations


@lru_cache(maxsize=256)
def _zone(name: str) -> tzinfo:
    sign = 1
    text = name
    if text[:1] in "+-":
        sign = -1 if text[0] == "-" else 1
        text = text[1:]
    if len(text) == 5 and text[2] == ":" and text[:2].isdigit() and text[3:].isdigit():
        return timezone(sign * timedelta(hours=int(text[:2]), minutes=int(text[3:])))
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise CelEvalError("invalid-argument", f"unknown time zone `{name}`") from None


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _local(fn: str, ts: Any, rest: tuple[Any, ...]) -> datetime:
    if type(ts) is not Timestamp or len(rest) > 1 or (rest and type(rest[0]) is not str):
        raise no_overload(fn, ts, *rest)
    zone: tzinfo = _zone(rest[0]) if rest else UTC
    utc = _EPOCH + timedelta(seconds=ts.nanos // NANOS)
    try:
        return utc if zone is UTC else utc.astimezone(zone)
    except OverflowError:
        raise CelEvalError("overflow", "timestamp out of range in time zone") from None


def _duration_part(fn: str, d: Any, rest: tuple[Any, ...], unit: int) -> int | None:
    if type(d) is Duration and not rest:
        return _trunc_div(d.nanos, unit)
    return None


def _accessor(fn: str, local: Callable[[datetime], int], unit: int | None = None) -> Impl:
    def impl(value: Any, *rest: Any) -> int:
        if unit is not None:
            part = _duration_part(fn, value, rest, unit)
            if part is not None:
                return part
        if fn == "getMilliseconds" and type(value) is Timestamp:
            _local(fn, value, rest)
            return int(value.nanos % NANOS // 1_000_000)
        return local(_local(fn, value, rest))

    impl.__name__ = fn
    return impl


# ---------------------------------------------------------------------------------------------
# the table


def _register_operators() -> None:
    num = (INT, UINT, DOUBLE)
    _define("_==_", cel_eq, _o(A, A, result=BOOL))
    _define("_!=_", _ne, _o(A, A, result=BOOL))
    cmp_types = [(t, t) for t in (*num, STRING, BYTES, BOOL, TIMESTAMP, DURATION)]
    cmp_types += [(a, b) for a in num for b in num if a != b]
    for name, fn in (("_<_", _lt), ("_<=_", _le), ("_>_", _gt), ("_>=_", _ge)):
        _define(name, fn, *(_o(a, b, result=BOOL) for a, b in cmp_types))
    _define("_+_", _add, *(_o(t, t, result=t) for t in (*num, STRING, BYTES)),
            _o(LIST_A, LIST_A, result=LIST_A), _o(TIMESTAMP, DURATION, result=TIMESTAMP),
            _o(DURATION, TIMESTAMP, result=TIMESTAMP), _o(DURATION, DURATION, result=DURATION))
    _define("_-_", _sub, *(_o(t, t, result=t) for t in num),
            _o(TIMESTAMP, TIMESTAMP, result=DURATION), _o(TIMESTAMP, DURATION, result=TIMESTAMP),
            _o(DURATION, DURATION, result=DURATION))
    _define("_*_", _mul, *(_o(t, t, result=t) for t in num))
    _define("_/_", _div, *(_o(t, t, result=t) for t in num))
    _define("_%_", _mod, _o(INT, INT, result=INT), _o(UINT, UINT, result=UINT))
    _define("-_", _neg, _o(INT, result=INT), _o(DOUBLE, result=DOUBLE))
    _define("!_", _not, _o(BOOL, result=BOOL))
    _define("@in", cel_in, _o(A, LIST_A, result=BOOL), _o(K, MAP_KV, result=BOOL))
    _define("_[_]", index, _o(LIST_A, INT, result=A), _o(LIST_A, UINT, result=A),
            _o(MAP_KV, K, result=V))
    SIGNATURES["_&&_"] = [_o(BOOL, BOOL, result=BOOL)]
    SIGNATURES["_||_"] = [_o(BOOL, BOOL, result=BOOL)]
    SIGNATURES["_?_:_"] = [_o(BOOL, A, A, result=A)]


def _register_library() -> None:
    sized = (STRING, BYTES, LIST_A, MAP_KV)
    _define("size", _size, *(_o(t, result=INT) for t in sized),
            *(_o(t, result=INT, receiver=True) for t in sized))
    for name, fn in (("contains", _contains), ("startsWith", _starts_with),
                     ("endsWith", _ends_with), ("matches", _matches)):
        _define(name, fn, _o(STRING, STRING, result=BOOL, receiver=True))
    SIGNATURES["matches"].append(_o(STRING, STRING, result=BOOL))
    _define("int", _to_int, *(_o(t, result=INT) for t in (INT, UINT, DOUBLE, STRING, TIMESTAMP)))
    _define("uint", _to_uint, *(_o(t, result=UINT) for t in (UINT, INT, DOUBLE, STRING)))
    _define("double", _to_double, *(_o(t, result=DOUBLE) for t in (DOUBLE, INT, UINT, STRING)))
    _define("string", _to_string, *(_o(t, result=STRING) for t in (
        STRING, INT, UINT, DOUBLE, BOOL, BYTES, TIMESTAMP, DURATION)))
    _define("bytes", _to_bytes, _o(BYTES, result=BYTES), _o(STRING, result=BYTES))
    _define("bool", _to_bool, _o(BOOL, result=BOOL), _o(STRING, result=BOOL))
    _define("timestamp", _to_timestamp, _o(TIMESTAMP, result=TIMESTAMP),
            _o(STRING, result=TIMESTAMP), _o(INT, result=TIMESTAMP))
    _define("duration", _to_duration, _o(DURATION, result=DURATION), _o(STRING, result=DURATION))
    _define("type", _type, _o(A, result=TYPE))
    _define("dyn", _dyn, _o(A, result=DYN))


def _register_time() -> None:
    accessors: list[tuple[str, Callable[[datetime], int], int | None]] = [
        ("getFullYear", lambda d: d.year, None),
        ("getMonth", lambda d: d.month - 1, None),
        ("getDayOfYear", lambda d: d.timetuple().tm_yday - 1, None),
        ("getDayOfMonth", lambda d: d.day - 1, None),
        ("getDate", lambda d: d.day, None),
        ("getDayOfWeek", lambda d: (d.weekday() + 1) % 7, None),
        ("getHours", lambda d: d.hour, 3600 * NANOS),
        ("getMinutes", lambda d: d.minute, 60 * NANOS),
        ("getSeconds", lambda d: d.second, NANOS),
        ("getMilliseconds", lambda d: d.microsecond // 1000, 1_000_000),
    ]
    for name, local, unit in accessors:
        overloads = [_o(TIMESTAMP, result=INT, receiver=True),
                     _o(TIMESTAMP, STRING, result=INT, receiver=True)]
        if unit is not None:
            overloads.append(_o(DURATION, result=INT, receiver=True))
        _define(name, _accessor(name, local, unit), *overloads)


def _register_strings_ext() -> None:
    r = True
    _define("lowerAscii", _lower_ascii, _o(STRING, result=STRING, receiver=r))
    _define("upperAscii", _upper_ascii, _o(STRING, result=STRING, receiver=r))
    _define("trim", _trim, _o(STRING, result=STRING, receiver=r))
    _define("reverse", _reverse, _o(STRING, result=STRING, receiver=r))
    _define("charAt", _char_at, _o(STRING, INT, result=STRING, receiver=r))
    _define("indexOf", _index_of, _o(STRING, STRING, result=INT, receiver=r),
            _o(STRING, STRING, INT, result=INT, receiver=r))
    _define("lastIndexOf", _last_index_of, _o(STRING, STRING, result=INT, receiver=r),
            _o(STRING, STRING, INT, result=INT, receiver=r))
    _define("replace", _replace, _o(STRING, STRING, STRING, result=STRING, receiver=r),
            _o(STRING, STRING, STRING, INT, result=STRING, receiver=r))
    _define("split", _split, _o(STRING, STRING, result=list_of(STRING), receiver=r),
            _o(STRING, STRING, INT, result=list_of(STRING), receiver=r))
    _define("substring", _substring, _o(STRING, INT, result=STRING, receiver=r),
            _o(STRING, INT, INT, result=STRING, receiver=r))
    _define("join", _join, _o(list_of(STRING), result=STRING, receiver=r),
            _o(list_of(STRING), STRING, result=STRING, receiver=r))
    _define("format", _format, _o(STRING, list_of(DYN), result=STRING, receiver=r))
    _define("strings.quote", _quote, _o(STRING, result=STRING))


def _optional_of(v: object) -> Optional:
    return Optional(True, v)


def _optional_none() -> Optional:
    return OPTIONAL_NONE


def _has_value(o: object) -> bool:
    if type(o) is Optional:
        return o.present
    raise no_overload("hasValue", o)


def _or_value(o: object, default: object) -> object:
    if type(o) is Optional:
        return o.value if o.present else default
    raise no_overload("orValue", o, default)


def _register_optionals() -> None:
    """A minimal slice of cel-go's optional library: enough to carry and test optionals."""
    opt = CelType("optional_type", (A,))
    _define("optional.of", _optional_of, _o(A, result=opt))
    _define("optional.none", _optional_none, _o(result=opt))
    _define("hasValue", _has_value, _o(opt, result=BOOL, receiver=True))
    _define("orValue", _or_value, _o(opt, A, result=A, receiver=True))


_register_operators()
_register_optionals()
_register_library()
_register_time()
_register_strings_ext()

TYPE_NAMES = frozenset({"int", "uint", "double", "bool", "string", "bytes", "list", "map",
                        "null_type", "type", "google.protobuf.Timestamp",
                        "google.protobuf.Duration", "dyn"})
"""Identifiers that denote types (``type(x) == int``); ``dyn`` is a type but not a value."""

