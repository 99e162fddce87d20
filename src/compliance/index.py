"""The rule index: evaluate only the rules whose ``when`` can possibly hold for a context.

Most rules target a particular model, organisation or use case (``request.model in
["fable-5", "mythos-5"]``, ``org.id == "acme"``), so a context matches a handful of a
thousand rules. Running every ``when`` costs microseconds per rule; a few dictionary
look-ups cost almost nothing. The index must never change a decision, so it is built on
one narrow, provable fact:

    A rule may be skipped only when one of its top-level conjuncts is *certainly false*.

CEL's ``&&`` is false as soon as either side is false, whatever the other side is (error
and unknown included, in either order), so a certainly-false conjunct makes ``when``
false, the rule ``condition-false``, and nothing of it reaches ``missing`` or ``errors``:
exactly what evaluating it would have produced. A conjunct ``path == c`` / ``path in [c1,
c2]`` (also ``c == path``, a bare bool ``path`` or ``!path``, same-path ``||`` of those,
also through ``vars.<name>``) is
certainly false only when the attribute is present, not null, conforms to its declared
type (``compliance.cel.conform``, the same judgement and normalisation the compiled getter
applies: ``" Fable-5"`` is looked up as ``fable-5`` when the schema lower-cases it), and
its conformed value is unequal under CEL equality to every constant. Anything else -
absent, null, wrong type, a non-mapping on the way - makes the rule a candidate, so the
evaluator sees the unknown or the error as before; except that a constraint conjoined
with ``has(path)`` (``has(principal.country) && principal.country in [..]``) is certainly
false when the value is absent or null, since ``has`` is false there.

A conjunct that is a ``||`` across paths (``request.origin_country in [..] ||
principal.country in [..]``) is certainly false only when every disjunct is; a disjunct
that is itself a ``&&`` is certainly false when one of its conjuncts is, so one indexable
conjunct stands for it. Such a rule is filed under each of its disjuncts' paths, and runs
when any of them may hold (or is unknown).

Numbers follow ``functions.cel_eq``: int, uint and double compare as numbers (an int
against a double compares as doubles), bools never equal numbers. To keep set look-ups
exact, numeric constants are indexed only when they are integral with magnitude below
2**53 (where int and double comparison agree) or non-integral finite doubles; other
numeric constants (NaN, infinities, huge values) leave the conjunct unindexed.

Paths are chosen by selectivity, not popularity: per rule, the indexable conjunct whose
constants the fewest rules share (the rules a matching context would pull in); then the
fewest constants, then the path more rules can use (fewer paths to read), then path
order. A path no rule chose is not read; there is no cap, so a pack of country-only
sanctions rules is indexed however many other paths exist (each indexed path costs one
look-up per context, far less than one rule evaluated).
``candidates`` reduces a context to one key per path and caches the sorted candidate
tuple per key combination (bounded), so the steady-state cost is a few dict look-ups.
"""

from __future__ import annotations

import hashlib
import linecache
import math
from collections import Counter
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Final, NamedTuple

from compliance.cel.ast import Call, CreateList, Expr, Ident, Literal, Select, attribute_path
from compliance.cel.conform import Nonconforming, fast_exit, reader, remembered
from compliance.cel.memo import remember
from compliance.cel.types import DYN, CelType, ContextSchema, Limits
from compliance.cel.values import UInt

__all__ = ["RuleIndex"]

_CACHE_SIZE: Final = 4096
"""Cached key combinations (and texts per path); a full cache drops its oldest eighth."""

_TEXT_CACHED: Final = 64
"""Longest text whose key a path remembers (identifiers are short; long text is rare)."""

_EXACT: Final = 2**53
"""Integers below this magnitude compare the same as ints and as doubles."""

_INDEXABLE_KINDS: Final = frozenset({"string", "bool", "int", "uint", "double", "dyn"})


class _Marker:
    """A sentinel key with a readable repr (for debugging cached keys)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


_UNKNOWN: Final = _Marker("<unknown>")  # wrong type, no mapping on the way: every rule runs
_ABSENT: Final = _Marker("<absent>")  # absent or null: every rule runs but the guarded ones
_OTHER: Final = _Marker("<other>")  # a valid value no rule on the path names: none of them runs
_NOTHING: Final[frozenset[int]] = frozenset()
_TRUE: Final = ("bool", True)  # bools are tagged: True == 1 in Python, never in CEL
_FALSE: Final = ("bool", False)

_Key = Hashable
_Lookup = Callable[[Mapping[str, object]], _Key]


@dataclass(frozen=True, slots=True)
class _Constraint:
    """``path`` must equal one of ``keys`` (normalised constants) for the conjunct to hold."""

    path: tuple[str, ...]
    keys: frozenset[_Key]
    bool_only: bool = False  # a bare `path` / `!path` conjunct: exact only if declared bool
    # `has(path)` is conjoined with it: an absent or null value makes the conjunct false
    # (has() is false there, and false absorbs the rest), not unknown.
    guarded: bool = False


_Conjunct = tuple[_Constraint, ...]
"""A conjunct's constraints, one per path: it is certainly false when all of them are."""


class RuleIndex:
    """Maps a context to the rule positions that must be evaluated for it.

    .. versionadded:: 0.1.0
    """

    __slots__ = ("_also", "_always", "_by_value", "_on_path", "_paths", "_size", "_unguarded",
                 "key", "known")

    def __init__(self, size: int, always: Sequence[int],
                 by_path: Mapping[tuple[str, ...], Mapping[int, frozenset[_Key]]],
                 kinds: Mapping[tuple[str, ...], CelType], *,
                 limits: Limits | None = None,
                 also: Mapping[int, Sequence[_Constraint]] | None = None,
                 guarded: Mapping[tuple[str, ...], frozenset[int]] | None = None) -> None:
        self._size = size
        self._always = frozenset(always)
        self._paths = tuple(by_path)
        self._on_path = tuple(frozenset(by_path[p]) for p in self._paths)
        # The rules on a path that still run when it is absent or null (not guarded by a
        # conjoined `has()`): for them an absent value is unknown, as the evaluator says.
        self._unguarded = tuple(on - (guarded or {}).get(p, _NOTHING)
                                for p, on in zip(self._paths, self._on_path, strict=True))
        self._by_value: tuple[dict[_Key, frozenset[int]], ...] = tuple(
            _invert(by_path[p]) for p in self._paths
        )
        # A rule's other indexable conjuncts on paths the index reads anyway: a candidate
        # whose value on one of them is certainly unequal is dropped too (one conjunct
        # certainly false suffices). Their constants join the path's universe of keys.
        at = {p: i for i, p in enumerate(self._paths)}
        read = {position: tuple((at[c.path], c.keys, c.guarded) for c in cs if c.path in at)
                for position, cs in (also or {}).items()}
        self._also: dict[int, tuple[tuple[int, frozenset[_Key], bool], ...]] = {
            position: checks for position, checks in read.items() if checks}
        named: list[set[_Key]] = [set(v) for v in self._by_value]
        for extra in self._also.values():
            for i, keys, _ in extra:
                named[i] |= keys
        lookups = [_lookup(p, kinds[p], frozenset(v), limits or Limits())
                   for p, v in zip(self._paths, named, strict=True)]
        #: The context's index key (generated code, one value per path); ``candidates``
        #: of a context is ``known[key(ctx)]`` once seen, else ``for_key(key(ctx))``. The
        #: evaluator reads both inline: a method call costs more than the look-up.
        self.key: Callable[[Mapping[str, object]], tuple[_Key, ...]] = _key_function(
            self._paths, lookups)
        self.known: dict[tuple[_Key, ...], tuple[int, ...]] = {}

    @classmethod
    def build(cls, whens: Sequence[tuple[Expr | None, Mapping[str, Expr]]], *,
              schema: ContextSchema | None = None) -> RuleIndex:
        """Index rule ``i`` of ``whens`` (its ``when`` and its pack's variables).

        ``schema`` must be the one the rules were compiled with: the declared type of a
        path decides which context values its getter accepts without an error. Without
        it every path is treated as ``dyn`` (the value is compared as it is).
        """
        found: list[list[_Conjunct]] = []
        kinds: dict[tuple[str, ...], CelType] = {}
        for when, variables in whens:
            usable = [cs for cs in _constraints(when, variables, schema)
                      if all(_usable(c, schema) for c in cs)]
            kinds.update((c.path, _declared_type(c.path, schema)) for cs in usable for c in cs)
            found.append(usable)
        # How many rules name each (path, constant): a context whose value is that constant
        # runs all of them, so a conjunct's cost is the rules its constants pull in.
        named: Counter[tuple[tuple[str, ...], _Key]] = Counter(
            (c.path, key) for cs in found for c in _one_per_path(cs) for key in c.keys)
        # On a tie, the path more rules can use: fewer paths to read per context.
        used = Counter(c.path for cs in found for c in _one_per_path(cs))
        always: list[int] = []
        by_path: dict[tuple[str, ...], dict[int, frozenset[_Key]]] = {}
        guarded: dict[tuple[str, ...], set[int]] = {}
        also: dict[int, list[_Constraint]] = {}
        for position, conjuncts in enumerate(found):
            if not conjuncts:
                always.append(position)
                continue
            best = min(conjuncts, key=lambda cs: (
                sum(named[c.path, k] for c in cs for k in c.keys), sum(len(c.keys) for c in cs),
                len(cs), -min(used[c.path] for c in cs), tuple(c.path for c in cs)))
            # A disjunction is filed under each of its paths: the rule is a candidate when
            # any alternative may hold (only all of them certainly false rule it out).
            for c in best:
                by_path.setdefault(c.path, {})[position] = c.keys
                if c.guarded:
                    guarded.setdefault(c.path, set()).add(position)
            filed = best[0].path if len(best) == 1 else None
            others = [c for c in _one_per_path(conjuncts) if c.path != filed]
            if others:
                also[position] = others
        return cls(len(whens), always, by_path, kinds,
                   limits=schema.limits if schema is not None else None, also=also,
                   guarded={p: frozenset(v) for p, v in guarded.items()})

    @property
    def paths(self) -> tuple[str, ...]:
        """The dotted attribute paths the index reads, for ``--explain`` and tests."""
        return tuple(".".join(p) for p in self._paths)

    @property
    def always(self) -> frozenset[int]:
        """Rule positions without an indexable conjunct: candidates for every context."""
        return self._always

    def candidates(self, ctx: Mapping[str, object]) -> tuple[int, ...]:
        """Sorted positions of the rules whose ``when`` is not certainly false for ``ctx``."""
        key = self.key(ctx)
        hit = self.known.get(key)
        if hit is not None:
            return hit
        return self.for_key(key)

    def for_key(self, key: tuple[_Key, ...]) -> tuple[int, ...]:
        """``candidates`` of the contexts whose index key is ``key`` (remembered in ``known``)."""
        hit = self.known.get(key)
        if hit is not None:
            return hit
        found = set(self._always)
        for on_path, unguarded, by_value, k in zip(self._on_path, self._unguarded,
                                                  self._by_value, key, strict=True):
            if k is _UNKNOWN:
                found |= on_path
            elif k is _ABSENT:
                found |= unguarded
            elif k is not _OTHER:
                found |= by_value.get(k, _NOTHING)
        also = self._also
        kept: list[int] = []
        for position in found:  # plain loops: a miss is a first sight, on the tail
            checks = also.get(position)
            if checks is not None:
                for i, keys, guarded in checks:
                    k = key[i]
                    if k is not _UNKNOWN and (guarded or k is not _ABSENT) and k not in keys:
                        break  # that conjunct is certainly false
                else:
                    kept.append(position)
            else:
                kept.append(position)
        kept.sort()
        result = tuple(kept)
        remember(self.known, key, result, _CACHE_SIZE)
        return result

    def __len__(self) -> int:
        """Number of rules indexed (indexed or not)."""
        return self._size

    def __repr__(self) -> str:
        indexed = self._size - len(self._always)
        return f"RuleIndex(rules={self._size}, indexed={indexed}, paths={list(self.paths)})"


def _one_per_path(conjuncts: list[_Conjunct]) -> list[_Constraint]:
    """A rule's one-path conjuncts, at most one per path (the last), so no rule counts twice.

    A disjunction across paths is left out: it is certainly false only when all of its
    alternatives are, which a check of one path cannot tell.
    """
    return list({cs[0].path: cs[0] for cs in conjuncts if len(cs) == 1}.values())


def _invert(rules: Mapping[int, frozenset[_Key]]) -> dict[_Key, frozenset[int]]:
    out: dict[_Key, set[int]] = {}
    for position, keys in rules.items():
        for key in keys:
            out.setdefault(key, set()).add(position)
    return {k: frozenset(v) for k, v in out.items()}


# --- finding indexable conjuncts ----------------------------------------------------------


def _constraints(when: Expr | None, variables: Mapping[str, Expr],
                 schema: ContextSchema | None) -> list[_Conjunct]:
    """Every indexable top-level conjunct of ``when`` (``vars.<name>`` inlined)."""
    if when is None:
        return []
    out: list[_Conjunct] = []
    conjuncts = _conjuncts(when, variables)
    guards = _tested(conjuncts, variables, schema)
    for conjunct in conjuncts:
        c = _alternatives(conjunct, variables, schema, guards)
        if c is not None:
            out.append(c)
    return out


def _tested(conjuncts: Sequence[Expr], variables: Mapping[str, Expr],
            schema: ContextSchema | None) -> frozenset[tuple[str, ...]]:
    """The paths of the ``has(path)`` tests among ``conjuncts``.

    Such a test is false when the path is absent or null (the evaluator reads null as
    absent), and a false conjunct makes its whole conjunction false: so a constraint on
    that path anywhere in the conjunction is false, not unknown, for an absent value.
    """
    out: set[tuple[str, ...]] = set()
    for node in conjuncts:
        if isinstance(node, Select) and node.test_only:
            path = _path(Select(node.start, node.end, node.operand, node.field), variables,
                         schema)
            if path is not None:
                out.add(path)
    return frozenset(out)


def _alternatives(node: Expr, variables: Mapping[str, Expr], schema: ContextSchema | None,
                  guards: frozenset[tuple[str, ...]] = frozenset()) -> _Conjunct | None:
    """The constraints of which one must hold for ``node`` to be anything but false.

    A ``||`` across paths, such as ``request.origin_country in [..] ||
    principal.country in [..]``, is certainly false only when every disjunct is; a disjunct
    that is itself a ``&&`` is certainly false when one of its conjuncts is, so one
    indexable conjunct stands for it. Alternatives on one path merge into one constraint.
    ``guards`` are the paths a conjoined ``has()`` tests (``_tested``): a constraint on one
    of them is ``guarded``, and a ``&&`` disjunct adds its own.
    """
    single = _constraint(node, variables, schema)
    if single is not None:
        return (replace(single, guarded=True) if single.path in guards else single,)
    if not (isinstance(node, Call) and node.function == "_||_" and node.target is None
            and len(node.args) == 2):
        return None
    merged: dict[tuple[str, ...], _Constraint] = {}
    for side in node.args:
        options = _alternatives(side, variables, schema, guards)
        if options is None or not all(_usable(c, schema) for c in options):
            conjuncts = _conjuncts(side, variables)
            inner = guards | _tested(conjuncts, variables, schema)
            parts = (_alternatives(part, variables, schema, inner) for part in conjuncts)
            options = next((cs for cs in parts
                            if cs is not None and all(_usable(c, schema) for c in cs)), None)
        if options is None:
            return None
        for c in options:
            have = merged.get(c.path)
            # One of two alternatives on a path: false when absent only if both are.
            merged[c.path] = c if have is None else _Constraint(
                c.path, have.keys | c.keys, have.bool_only or c.bool_only,
                have.guarded and c.guarded)
    return tuple(merged.values())


def _usable(c: _Constraint, schema: ContextSchema | None) -> bool:
    """Whether the index can judge ``c``'s path exactly (its declared type allows it)."""
    kind = _declared_type(c.path, schema).kind
    return kind in _INDEXABLE_KINDS and (kind == "bool" or not c.bool_only)


def _conjuncts(expr: Expr, variables: Mapping[str, Expr]) -> list[Expr]:
    """The operands of top-level ``&&`` chains, looking through ``vars.<name>``."""
    out: list[Expr] = []
    stack: list[tuple[Expr, frozenset[str]]] = [(expr, frozenset())]
    while stack:
        node, seen = stack.pop()
        if isinstance(node, Call) and node.function == "_&&_" and node.target is None:
            stack.extend((arg, seen) for arg in reversed(node.args))
            continue
        name = _var_name(node, variables)
        if name is not None and name not in seen:
            stack.append((variables[name], seen | {name}))
            continue
        out.append(node)
    return out


def _var_name(node: Expr, variables: Mapping[str, Expr]) -> str | None:
    """``x`` for a ``vars.x`` node naming a defined variable, else None."""
    if (isinstance(node, Select) and not node.test_only and isinstance(node.operand, Ident)
            and node.operand.name == "vars" and node.field in variables):
        return node.field
    return None


def _constraint(node: Expr, variables: Mapping[str, Expr],
                schema: ContextSchema | None) -> _Constraint | None:
    """The constraint a conjunct imposes, if it is ``==``/``in`` of a path and constants
    (a ``||`` of them is ``_alternatives``'s: one constraint when they share a path).

    A bare ``org.zdr`` (or ``!org.zdr``) is ``org.zdr == true`` (``false``) only when the
    path is declared bool: a value of another type is an error there, not false.
    """
    path = _path(node, variables, schema)
    if path is not None:
        return _Constraint(path, frozenset({_TRUE}), bool_only=True)
    if isinstance(node, Call) and node.function == "!_" and len(node.args) == 1:
        path = _path(node.args[0], variables, schema)
        if path is not None and node.target is None:
            return _Constraint(path, frozenset({_FALSE}), bool_only=True)
    if not isinstance(node, Call) or node.target is not None or len(node.args) != 2:
        return None
    left, right = node.args
    if node.function == "_==_":
        for side, other in ((left, right), (right, left)):
            path = _path(side, variables, schema)
            key = _constant_key(other)
            if path is not None and key is not None:
                return _Constraint(path, frozenset({key}))
        return None
    if node.function == "@in" and isinstance(right, CreateList):
        path = _path(left, variables, schema)
        keys = [_constant_key(e) for e in right.elements]
        if path is None or any(k is None for k in keys):
            return None
        return _Constraint(path, frozenset(k for k in keys if k is not None))
    return None


def _path(node: Expr, variables: Mapping[str, Expr],
          schema: ContextSchema | None) -> tuple[str, ...] | None:
    """The declared attribute path ``node`` reads, following ``vars.x`` aliases of paths."""
    seen: set[str] = set()
    while (name := _var_name(node, variables)) is not None and name not in seen:
        seen.add(name)
        node = variables[name]
    if not isinstance(node, Select):
        return None  # a bare root (``request``) is a map, never an indexable scalar
    path = attribute_path(node)
    if path is None or path[0] == "vars" or any("." in part for part in path):
        return None
    if schema is not None and path[0] not in schema.variables:
        return None  # undeclared roots resolve by container rules at run time: not indexed
    return path


def _constant_key(node: Expr) -> _Key | None:
    """The look-up key of a literal, or None when it cannot be indexed exactly."""
    if not isinstance(node, Literal):
        return None
    value = node.value
    if type(value) is str:
        return value
    if type(value) is bool:
        return _TRUE if value else _FALSE
    if type(value) is int or type(value) is UInt:
        return int(value) if abs(value) < _EXACT else None
    if type(value) is float:
        if math.isnan(value) or abs(value) >= _EXACT:
            return None
        return int(value) if value.is_integer() else value
    return None


def _declared_type(path: tuple[str, ...], schema: ContextSchema | None) -> CelType:
    """The declared type of ``path`` as the compiler resolves it (``dyn`` if unknown)."""
    if schema is None:
        return DYN
    t: CelType | None = schema.variables.get(path[0])
    for name in path[1:]:
        if t is None:
            break
        if t.kind == "object":
            t = t.field_type(name)
        elif t.kind == "map":
            t = t.value
        else:
            t = None
    return t if t is not None else DYN


# --- reading a context ----------------------------------------------------------------------


def _number_key(value: int | float) -> _Key:
    """The key of a number after the getter's coercion (see the module docstring)."""
    if type(value) is float:
        if math.isnan(value) or abs(value) >= _EXACT:
            return _OTHER  # equals no indexed constant under CEL numeric equality
        return int(value) if value.is_integer() else value
    return int(value) if abs(value) < _EXACT else _OTHER


def _key_string(v: object) -> _Key:
    return v if type(v) is str else _UNKNOWN


def _key_bool(v: object) -> _Key:
    if type(v) is bool:
        return _TRUE if v else _FALSE
    return _UNKNOWN


def _key_int(v: object) -> _Key:
    return _number_key(v) if type(v) is int else _UNKNOWN


def _key_uint(v: object) -> _Key:
    if type(v) is UInt or (type(v) is int and v >= 0):
        return _number_key(int(v))
    return _UNKNOWN


def _key_double(v: object) -> _Key:
    if type(v) is float:
        return _number_key(v)
    if type(v) is int or type(v) is UInt:
        return _number_key(float(v))  # the getter coerces to double first
    return _UNKNOWN


def _key_dyn(v: object) -> _Key:
    t = type(v)
    if t is str:
        return v
    if t is bool:
        return _TRUE if v else _FALSE
    if t is int or t is UInt or t is float:
        return _number_key(v)  # type: ignore[arg-type]
    return _UNKNOWN  # lists, maps, bytes, timestamps: not worth proving anything about


_KEYERS: Final[dict[str, Callable[[object], _Key]]] = {
    "string": _key_string, "bool": _key_bool, "int": _key_int, "uint": _key_uint,
    "double": _key_double, "dyn": _key_dyn,
}


class _PathLookup(NamedTuple):
    """How ``_key_function`` reads one path: the full lookup, and its shortcuts."""

    look: _Lookup  # ctx -> key, for any context
    texts: dict[str, _Key] | None  # a text's key once judged (scalars, not plain strings)
    plain: str | None  # a plain string's fast-exit test over ``{v}``, under which ...
    universe: frozenset[_Key]  # ... the key is the text if some rule names it, else _OTHER


def _lookup(path: tuple[str, ...], declared: CelType, universe: frozenset[_Key],
            limits: Limits) -> _PathLookup:
    """A function ``ctx -> key``: the path's conformed value as a key, ``_OTHER`` or ``_UNKNOWN``.

    Returned with what ``_key_function`` reads inline: for a plain string (no enum, no
    constraint) the reader's fast-exit test, under which the conformed value is the text
    itself, so its key is the text or ``_OTHER``, with no judgement and nothing cached;
    for another scalar, the path's cache of keys by text (None for ``dyn``).

    A two-segment path whose value is absent or null under a dict gives ``_ABSENT``: the
    rules on the path then run, except those a conjoined ``has()`` makes false. Any other
    failure on the way (a non-mapping, an absent root, a value that does not conform or
    counts as absent) gives ``_UNKNOWN``: every rule on the path then runs and reports the
    unknown or the error itself. ``universe`` is every constant some rule on the path
    names.
    """
    keyer = _KEYERS[declared.kind]
    shown = ".".join(path)  # indexed paths are scalars of objects: shown as the getters do
    conform = reader(declared, shown, limits)

    scalar = declared.kind != "dyn"  # scalars are cheap to judge (or cached by text)

    texts: dict[str, _Key] = {}  # text -> key: judging text is exact by value (immutable)

    def key_of(ctx: Mapping[str, object], value: object) -> _Key:
        if scalar and type(value) is str:
            key = texts.get(value)
            if key is None:
                key = judged(ctx, value)
                if len(value) <= _TEXT_CACHED:
                    remember(texts, value, key, _CACHE_SIZE)
            return key
        return judged(ctx, value)

    def judged(ctx: Mapping[str, object], value: object) -> _Key:
        try:
            value = conform(value) if scalar else remembered(ctx, shown, value, conform)
        except Nonconforming:
            return _UNKNOWN
        if value is None:
            return _UNKNOWN
        key = keyer(value)
        if key is _UNKNOWN or key is _OTHER:
            return key
        return key if key in universe else _OTHER

    if len(path) == 2:
        first, second = path

        def look2(ctx: Mapping[str, object]) -> _Key:
            outer = ctx.get(first)
            if type(outer) is not dict:
                return look(ctx)
            value = outer.get(second)
            if value is None:
                return _ABSENT
            return key_of(ctx, value)

    def look(ctx: Mapping[str, object]) -> _Key:
        value: object = ctx
        for name in path:
            if not isinstance(value, Mapping):
                return _UNKNOWN
            value = value.get(name)
            if value is None:
                return _UNKNOWN
        return key_of(ctx, value)

    plain = fast_exit(conform) if declared.kind == "string" else None
    kept = texts if scalar and plain is None else None
    if len(path) == 2:
        return _PathLookup(look2, kept, plain, universe)
    return _PathLookup(look, kept, plain, universe)


def _key_function(paths: Sequence[tuple[str, ...]],
                  lookups: Sequence[_PathLookup]
                  ) -> Callable[[Mapping[str, object]], tuple[_Key, ...]]:
    """One generated function ``ctx -> key per path``, the same keys the lookups give.

    Calling one lookup per path costs a few Python calls each; the generated function reads
    every two-segment path inline, one ``ctx.get`` per root. A plain string's key is the
    text itself when some rule names it, else ``_OTHER``, under the reader's own fast-exit
    test (a first sight costs what a repeat does); another scalar's text takes its key from
    the path's cache of keys by text (exact: the lookup fills it with the key it computed).
    An absent or null value is ``_ABSENT``, as the lookup says.
    ``true`` and ``false`` get the keys the lookup gave them when the function was built.
    Anything else - a root that is not a dict, a value of another type, a text not seen
    yet, a longer path - calls the path's lookup. The source is built from positions only
    (names and caches are bound as constants), never from rule or context text.
    """
    namespace: dict[str, object] = {"_u": _UNKNOWN, "_a": _ABSENT, "_o": _OTHER}
    lines = ["def index_key(ctx):"]
    by_root: dict[str, list[int]] = {}
    plain: dict[int, str] = {}
    for i, (path, (look, texts, fast, universe)) in enumerate(zip(paths, lookups, strict=True)):
        namespace[f"_l{i}"] = look
        if len(path) == 2 and fast is not None:
            namespace[f"_s{i}"] = universe
            namespace[f"_f{i}"] = path[1]
            plain[i] = fast.format(v="v")
            by_root.setdefault(path[0], []).append(i)
        elif len(path) == 2 and texts is not None:
            namespace[f"_t{i}"] = texts
            namespace[f"_f{i}"] = path[1]
            # A scalar's key does not depend on the rest of the context: the keys of
            # `true` and `false` are the lookup's own answers, asked once here.
            namespace[f"_y{i}"] = look({path[0]: {path[1]: True}})
            namespace[f"_n{i}"] = look({path[0]: {path[1]: False}})
            by_root.setdefault(path[0], []).append(i)
        else:
            lines.append(f"    k{i} = _l{i}(ctx)")
    for r, (root, members) in enumerate(by_root.items()):
        namespace[f"_r{r}"] = root
        lines.append(f"    o = ctx.get(_r{r})")
        lines.append("    if type(o) is dict:")
        for i in members:
            lines.append(f"        v = o.get(_f{i})")
            if i in plain:  # the text is its own key when the reader's fast exit holds
                lines.append(f"        if {plain[i]}:")
                lines.append(f"            k{i} = v if v in _s{i} else _o")
                lines.append("        elif v is None:")
                lines.append(f"            k{i} = _a")
                lines.append("        else:")
                lines.append(f"            k{i} = _l{i}(ctx)")
                continue
            lines.append("        if type(v) is str:")
            lines.append(f"            k{i} = _t{i}.get(v)")
            lines.append(f"            if k{i} is None:")
            lines.append(f"                k{i} = _l{i}(ctx)")
            lines.append("        elif v is None:")  # absent or null (as `look2`)
            lines.append(f"            k{i} = _a")
            lines.append("        elif v is True:")
            lines.append(f"            k{i} = _y{i}")
            lines.append("        elif v is False:")
            lines.append(f"            k{i} = _n{i}")
            lines.append("        else:")
            lines.append(f"            k{i} = _l{i}(ctx)")
        lines.append("    else:")
        lines.extend(f"        k{i} = _l{i}(ctx)" for i in members)
    ordered = ", ".join(f"k{i}" for i in range(len(paths)))
    lines.append(f"    return ({ordered}{',' if len(paths) == 1 else ''})")
    source = "\n".join(lines) + "\n"
    filename = f"<compliance rule index {hashlib.sha256(source.encode()).hexdigest()[:12]}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(compile(source, filename, "exec"), namespace)
    return namespace["index_key"]  # type: ignore[return-value]
