"""Signals of a pack set, compiled for the store, and the facts one request reads.

Facts are data, not language: the loader declares ``facts`` as a context object with one
bool per fact the signals raise, and ``FactReader`` fills it for each request from the store,
at ``request.time`` (never the wall clock), in one ``facts_for`` round trip. A fact the store
says does not hold is ``false``, and so is a fact whose key the request lacks (no ``org.id``:
it is no organisation's request, so no organisation's fact holds for it). A fact that
cannot be judged (no ``request.time``, a key that does not conform, a store that could not
answer) is left out, so the rules reading it are unknown and follow their ``on_unknown``;
the store's failure is recorded as the decision's error, which fails it closed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from compliance.cel.compiler import CompileEnv, compile_expr, request_activation
from compliance.cel.conform import Nonconforming, describe, reader
from compliance.cel.parser import parse
from compliance.cel.types import ContextSchema
from compliance.cel.values import CelEvalError, CelUnknown, Timestamp
from compliance.decision import EvalError, FactRead, build
from compliance.diagnostics import RuntimeCode
from compliance.pack import PackSet, Signal
from compliance.signals import Fact, SignalError, SignalSpec, Store, StoreUnavailable
from compliance.signals.model import MAX_KEY_LENGTH

__all__ = ["FactReader", "compile_signals", "fact_read"]

FactsOutcome = tuple[dict[str, bool], list[FactRead], EvalError | None]
"""What a request reads: ``facts`` for the activation, the facts that held, and an error
(the store's, or a malformed key) or None."""


def _program(signal: Signal, which: str, events: ContextSchema
             ) -> Callable[[Mapping[str, Any]], Any]:
    """``on`` or ``key`` compiled over ``event``; unknowns and CEL errors become ``ValueError``.

    The store turns that ``ValueError`` into ``signal-predicate-error`` and records the event
    for no signal (an event missing what a predicate reads is refused, not guessed).
    """
    source = signal.on if which == "on" else signal.key
    program = compile_expr(parse(source.text), CompileEnv(schema=events))

    def run(data: Mapping[str, Any]) -> Any:
        try:
            return program(request_activation({"event": data}))
        except CelUnknown as unknown:
            names = ", ".join(f"`{p}`" for p in sorted(unknown.paths))
            raise ValueError(f"`{which}`: the event has no {names}") from None
        except CelEvalError as err:
            raise ValueError(f"`{which}`: {err.message}") from None

    return run


def compile_signals(pack_set: PackSet) -> tuple[SignalSpec, ...]:
    """The store's ``SignalSpec`` of every signal of a checked pack set."""
    events = pack_set.events
    assert events is not None  # the loader always sets the event schema
    return tuple(
        SignalSpec(
            name=s.name, predicate=_program(s, "on", events), key=_program(s, "key", events),
            threshold=s.count, window=s.within_ns, fact=s.fact, lifetime=s.lifetime_ns,
        )
        for s in pack_set.signals
    )


def fact_read(fact: Fact) -> FactRead:
    """A store ``Fact`` as the decision records it (frozen, so shared between decisions)."""
    return _fact_read(fact.name, fact.key, fact.since.nanos, fact.until.nanos)


@lru_cache(maxsize=4096)
def _fact_read(name: str, key: str, since: int, until: int) -> FactRead:
    """Cached by plain values: hashing them is cheap, hashing a ``Fact`` is not."""
    return build(FactRead, {"fact": name, "key": key, "since": Timestamp(since).to_datetime(),
                            "until": Timestamp(until).to_datetime()})


@dataclass(frozen=True, slots=True)
class _KeyPath:
    """How one fact's key is read from the request context (conformed like any attribute)."""

    facts: tuple[str, ...]
    path: tuple[str, ...]
    read: Callable[[object], Any]


class FactReader:
    """The evaluator's hook: the request's facts, read from ``store`` in one round trip."""

    __slots__ = ("_false", "_paths", "pristine", "store")

    def __init__(self, pack_set: PackSet, store: Store, *, pristine: bool = False) -> None:
        self.store = store
        # True while ``store`` is the engine's own and has been given no event: it holds no
        # fact at any instant, exactly, so past requests need no horizon (examples, what-ifs).
        self.pristine = pristine
        schema = pack_set.schema
        grouped: dict[str, list[str]] = {}
        for signal in pack_set.signals:
            if signal.fact not in grouped.setdefault(signal.key_path, []):
                grouped[signal.key_path].append(signal.fact)
        paths = []
        for dotted, facts in grouped.items():
            declared = schema.lookup(dotted)
            assert declared is not None  # the checker refused undeclared key paths
            paths.append(_KeyPath(tuple(facts), tuple(dotted.split(".")),
                                  reader(declared, dotted, schema.limits)))
        self._paths = tuple(paths)
        # Each request's ``facts`` starts as a copy of this: every fact read, none held.
        self._false = {fact: False for path in self._paths for fact in path.facts}

    def __call__(self, context: Mapping[str, Any], at: int | None) -> FactsOutcome:
        """``facts`` for the activation (what is established), what held, an error or None."""
        if at is None:  # no request time: no fact can be established (request.time is missing)
            return {}, [], None
        keys: dict[str, str] = {}
        bad: EvalError | None = None
        for path in self._paths:
            key = _key(context, path)
            if not isinstance(key, str):  # a bad value reads as absent, and fails closed
                bad = bad or _context_error(key)
            elif key:
                for fact in path.facts:
                    keys[fact] = key
        values = self._false.copy()  # every fact false; true below when the store says it holds
        if not keys or self.pristine:
            return values, [], bad
        try:
            held = self.store.facts_for(keys, Timestamp(at))
        except StoreUnavailable as err:
            return {}, [], _store_error("store-unavailable", err.message)
        except SignalError as err:
            code: RuntimeCode = (
                "outside-horizon" if err.code == "outside-horizon" else "bad-context")
            return {}, [], _store_error(code, err.message)
        if not held:
            return values, [], bad
        for name in held:
            values[name] = True
        return values, [fact_read(held[name]) for name in sorted(held)], bad


_ABSENT = ""  # the request has no key at the path (a valid key is never empty)


def _key(context: Mapping[str, Any], path: _KeyPath) -> str | Nonconforming:
    """The conformed key at ``path``, ``_ABSENT`` when absent, or why the value is bad."""
    value: Any = context
    for name in path.path:
        if type(value) is dict:  # JSON contexts: absent and null alike
            value = value.get(name)
        elif isinstance(value, Mapping):  # any other mapping: only what it must have
            if name not in value:
                return _ABSENT
            value = value[name]
        else:
            return _not_an_object(context, path)
        if value is None:
            return _ABSENT
    try:
        key = path.read(value)
    except Nonconforming as exc:
        return exc
    if isinstance(key, str) and len(key) <= MAX_KEY_LENGTH:
        return key  # a valid key, or "" (a constrained empty string: absent, as for every rule)
    if key is None:
        return _ABSENT
    return Nonconforming(".".join(path.path),
                         f"is too long to be a signal key (at most {MAX_KEY_LENGTH})")


def _not_an_object(context: Mapping[str, Any], path: _KeyPath) -> Nonconforming:
    """Why the walk along ``path`` stopped: the first value on it that is not an object."""
    value: Any = context
    depth = 0
    while depth < len(path.path) and isinstance(value, Mapping):
        value = value[path.path[depth]]
        depth += 1
    where = ".".join(path.path[:depth])
    return Nonconforming(where, f"must be an object, got {describe(value)}")


def _context_error(problem: Nonconforming) -> EvalError:
    """The decision error for a key that is not a value of its type (fails it closed)."""
    text = f"{problem}; the facts keyed by it are not read"
    return EvalError.model_construct(pack="", rule="", code="bad-context", message=text[:500],
                                     location=None)


def _store_error(code: RuntimeCode, message: str) -> EvalError:
    text = (f"the signal store could not say which facts hold ({message}); "
            "rules reading facts fail closed")
    return EvalError.model_construct(pack="", rule="", code=code, message=text[:500],
                                     location=None)
