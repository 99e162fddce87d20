"""The engine: stages 1-3 once, then stage 4 on every request.

An ``Engine`` is immutable after construction, so one instance is safe to share across
threads. Reloading builds a new engine; ``EngineHolder`` swaps it in atomically so a
request never sees half of an old pack set and half of a new one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from compliance.cel.budget import DEFAULT_DECISION_BUDGET
from compliance.errors import PackError

if TYPE_CHECKING:
    from compliance.cel.types import ContextSchema, Limits
    from compliance.checker import CheckedPackSet
    from compliance.contexts import ContextProblem
    from compliance.decision import Decision
    from compliance.diagnostics import DiagnosticSet
    from compliance.facts import FactReader
    from compliance.planner import Plan, ProgramFactory
    from compliance.reload import ChangeSource, ReloadStatus, Watch
    from compliance.signals import Clock, Fact, SignalSpec, Store
    from compliance.signing import Verifier

# The stages (loader, checker, planner, evaluator, signals: YAML, re2, pydantic) are imported
# when the first engine is built, not here, so ``from compliance import Engine`` stays cheap.

Backend = Literal["compiled", "closures", "interpreter"]
"""``compiled`` (generated Python per rule) serves; ``closures`` (the closure compiler) and
``interpreter`` (cel-python) are test oracles. Decisions of both compiled backends record
``compiled``: they implement the same semantics and the differential tests hold them equal.

cel-python has no partial evaluation, so the oracle treats any absent attribute as making
the whole condition unknown, even under ``false && …``: on contexts with attributes
missing it fails closed where the compiled backend decides (22 of the 23 example contexts
differ). It agrees on fully populated contexts, which is what the differential tests
feed it. Every decision records its ``backend``, so an oracle decision is never mistaken
for a served one.
"""


def _factory(backend: Backend) -> ProgramFactory:
    if backend == "compiled":
        from compliance.planner import compiled_program  # noqa: PLC0415  (stages on first use)

        return compiled_program
    if backend == "closures":
        from compliance.planner import closure_program  # noqa: PLC0415

        return closure_program
    from compliance.cel.interpreter import interpreted_program  # noqa: PLC0415  (optional oracle)

    return interpreted_program


class Engine:
    """Evaluates request contexts against a checked pack set.

    >>> engine = Engine.from_path("rules")             # doctest: +SKIP
    >>> engine.evaluate({"request": {...}}).effect     # doctest: +SKIP
    'deny'

    .. versionadded:: 0.1.0
    """

    __slots__ = ("_checked", "_evaluate", "_facts", "_plan", "_signals", "backend", "cost_limit",
                 "store")

    def __init__(self, checked: CheckedPackSet, *, backend: Backend = "compiled",
                 cost_limit: int = DEFAULT_DECISION_BUDGET,
                 limits: Limits | None = None, store: Store | None = None,
                 clock: Clock | None = None, keep_checked_trees: bool = True) -> None:
        """``store`` keeps signal counts and facts (default: a fresh ``InProcessStore`` on
        ``clock``, the system clock by default; the clock only bounds what it keeps).

        ``keep_checked_trees=False`` lets the planner empty the checker's type tables in
        ``checked`` once each rule is compiled (about 1 KB a rule; the expressions stay):
        for a caller that will not build another engine from the same ``checked``.
        ``from_path`` and ``from_bundle`` own their checked set and always release them.
        """
        from compliance.canonical import pack_set_digest  # noqa: PLC0415  (stages on first use)
        from compliance.evaluator import decide  # noqa: PLC0415
        from compliance.facts import FactReader, compile_signals  # noqa: PLC0415
        from compliance.planner import plan  # noqa: PLC0415
        from compliance.signals import InProcessStore, system_clock  # noqa: PLC0415

        if limits is not None:  # bounds on context values: a reading concern, not a meaning
            schema = replace(checked.pack_set.schema, limits=limits)
            checked = replace(checked, pack_set=replace(checked.pack_set, schema=schema))
        pack_set = checked.pack_set
        digest = pack_set_digest(pack_set)
        self._checked = checked
        self._plan: Plan = plan(checked, digest, _factory(backend),
                                release_trees=not keep_checked_trees)
        self._evaluate = decide  # bound here: no import statement on the hot path
        self.backend = backend
        self.cost_limit = cost_limit
        # the run-time cost budget of each decision, in steps (compliance.cel.budget)
        self.store: Store = store if store is not None else InProcessStore(
            clock=clock or system_clock)
        self._signals = compile_signals(pack_set)
        # No signals, no hook: a pack set without signals evaluates exactly as before.
        self._facts: FactReader | None = FactReader(
            pack_set, self.store, pristine=store is None) if self._signals else None

    @classmethod
    def from_path(cls, *paths: str | Path, schema: ContextSchema | None = None,
                  backend: Backend = "compiled",
                  cost_limit: int = DEFAULT_DECISION_BUDGET,
                  limits: Limits | None = None, store: Store | None = None,
                  clock: Clock | None = None) -> Engine:
        """Load, check and compile pack files or directories; raise ``PackError`` on any error.

        ``cost_limit`` is each decision's run-time budget (``compliance.cel.budget``); ``limits``
        bounds context values (depth, sizes); the defaults are ``Limits()``.
        """
        diagnostics, checked = check_paths(paths, schema)
        if checked is None:
            raise PackError(diagnostics.errors or diagnostics.sorted())
        return cls(checked, backend=backend, cost_limit=cost_limit, limits=limits, store=store,
                   clock=clock, keep_checked_trees=False)

    @classmethod
    def from_bundle(cls, path: str | Path, *, public_key: str | Path | Verifier,
                    backend: Backend = "compiled",
                    cost_limit: int = DEFAULT_DECISION_BUDGET,
                    limits: Limits | None = None, store: Store | None = None,
                    clock: Clock | None = None) -> Engine:
        """Load a signed bundle (docs/bundles.md) after verifying all of it.

        ``public_key`` is a PEM (SubjectPublicKeyInfo) file or a ``Verifier``. Raises
        ``BundleError`` for a bundle that is unsigned, signed by another key, or holds an
        extra, missing or changed file; ``PackError`` if its packs do not check; and
        ``BundleKeyError`` (code ``bundle-bad-key``, also a ``KeyFileError``) for an
        unusable key file.
        """
        from compliance.bundle import (  # noqa: PLC0415  (tarfile only when used)
            bundle_verifier,
            check_bundle,
        )

        return cls(check_bundle(path, bundle_verifier(public_key)), backend=backend,
                   cost_limit=cost_limit, limits=limits, store=store, clock=clock,
                   keep_checked_trees=False)

    @property
    def limits(self) -> Limits:
        """The bounds context values are read within."""
        return self.schema.limits

    @property
    def checked(self) -> CheckedPackSet:
        """The checked pack set this engine was built from."""
        return self._checked

    def with_store(self, store: Store) -> Engine:
        """This engine over another signal store: the same plan, nothing recompiled.

        For replays (``compliance.events``) and tests that need their own store.
        """
        from compliance.facts import FactReader  # noqa: PLC0415

        other = object.__new__(Engine)
        other._checked, other._plan, other._evaluate = self._checked, self._plan, self._evaluate
        other.backend, other.cost_limit, other.store = self.backend, self.cost_limit, store
        other._signals = self._signals
        other._facts = (FactReader(self._checked.pack_set, store, pristine=False)
                        if self._signals else None)
        return other

    @property
    def plan(self) -> Plan:
        """The compiled plan (rules in evaluation order, window edges)."""
        return self._plan

    @property
    def schema(self) -> ContextSchema:
        """The context schema the packs were checked against."""
        return self._checked.pack_set.schema

    @property
    def pack_set_digest(self) -> str:
        """sha256 over the meaning of every pack, the schema and the default effect."""
        return self._plan.pack_set_digest

    def evaluate(self, context: Mapping[str, Any], *, strict: bool = False,
                 explain: bool = False) -> Decision:
        """Decide one request; errors become a fail-closed decision unless ``strict``."""
        return self._evaluate(self._plan, context, strict, explain, self.cost_limit, self._facts)

    @property
    def pristine(self) -> bool:
        """True while the engine's own store has been given no event (it holds no fact)."""
        return self._facts is None or self._facts.pristine

    @property
    def signals(self) -> tuple[SignalSpec, ...]:
        """The pack set's signals, compiled for the store."""
        return self._signals

    def observe(self, event: object) -> list[Fact]:
        """Record one event (a JSON object with ``kind`` and RFC 3339 ``time``) for every
        signal it matches; return the facts it raised.

        Windows are counted at the event's own time, so a recorded stream replays to the
        same facts. A malformed event raises ``SignalError`` (``event-invalid``, naming the
        field) and records nothing; an unreachable shared store raises ``StoreUnavailable``.
        """
        from compliance.signals import Event  # noqa: PLC0415

        parsed = event if isinstance(event, Event) else Event.from_json(event)
        if self._facts is not None:
            self._facts.pristine = False  # from now on only the store knows
        return self.store.observe(self._signals, parsed)

    def evaluate_many(self, contexts: Iterable[Mapping[str, Any]], *, strict: bool = False,
                      explain: bool = False) -> Iterator[Decision]:
        """Decide each context in turn: a lazy generator, one decision per context, in order.

        For impact analysis, replay and batch jobs. It streams (a replay of millions of
        records runs in constant memory; wrap it in ``list()`` to keep them all) and each
        decision is exactly what ``evaluate`` returns for that context (its own id, time
        and digest). With ``strict`` the first failing context raises ``EvaluationError``
        and ends the batch.
        """
        evaluate, plan, cost_limit, facts = self._evaluate, self._plan, self.cost_limit, self._facts
        for context in contexts:
            yield evaluate(plan, context, strict, explain, cost_limit, facts)

    async def evaluate_async(self, context: Mapping[str, Any], *, strict: bool = False,
                             explain: bool = False) -> Decision:
        """``evaluate`` for hosts on an event loop: the same decision as the sync path.

        Evaluation is CPU-only unless rules read facts from a shared (remote) store, so it
        runs on the loop directly (a thread hop costs more than a typical decision); when
        the engine's facts live in a remote store (Redis) the call, and its one round trip,
        runs in a worker thread so the loop is never blocked on the network.
        """
        if self._reads_remote_store():
            import asyncio  # noqa: PLC0415 - a caller on an event loop has it imported already

            return await asyncio.to_thread(self.evaluate, context, strict=strict,
                                           explain=explain)
        return self.evaluate(context, strict=strict, explain=explain)

    def _reads_remote_store(self) -> bool:
        """True when evaluating may do network I/O: facts are read from a non-local store."""
        from compliance.signals import InProcessStore  # noqa: PLC0415

        return self._facts is not None and not isinstance(self.store, InProcessStore)

    def validate(self, context: object) -> list[ContextProblem]:
        """Every way ``context`` departs from the schema; empty when clean.

        Wrong-typed, out-of-limit and constraint-violating values (also where no rule reads
        them), and keys the schema does not declare, with a did-you-mean.
        """
        from compliance.contexts import validate_context  # noqa: PLC0415  (stages on first use)

        return validate_context(self.schema, context)


class EngineHolder:
    """A reference to the current engine that reloads swap atomically.

    Readers call ``holder.engine.evaluate(...)``: reading one attribute is atomic, so a
    request uses either the old engine or the new one, never a mix.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._lock = threading.Lock()
        self._watch: Watch[Engine] | None = None

    @property
    def engine(self) -> Engine:
        """The engine currently serving."""
        return self._engine

    def reload(self, *paths: str | Path, schema: ContextSchema | None = None) -> Engine:
        """Build a new engine from ``paths`` and swap it in.

        A pack set with errors raises ``PackError`` (its ``diagnostics`` say why) and the
        old engine keeps serving; the loader turns every bad input into a diagnostic, so
        no other exception means "bad packs".
        """
        with self._lock:
            current = self._engine
            fresh = Engine.from_path(*paths, schema=schema, backend=current.backend,
                                     limits=current.limits,
                                     store=None if current.pristine else current.store)
            self._engine = fresh
            return fresh

    def watch(self, source: str | Path, *, public_key: str | Path | Verifier | None = None,
              interval: float = 1.0, use: ChangeSource = "poll",
              on_reload: Callable[[ReloadStatus], None] | None = None) -> Watch[Engine]:
        """Reload from ``source`` (a pack-set directory, or a bundle with ``public_key``)
        whenever it changes; keep the last-known-good engine when a load fails.

        Polls every ``interval`` seconds (``use="watchfiles"``: OS events, the optional
        ``compliance[watch]`` extra; ``"auto"``: that when installed). One load is tried
        before this returns. Returns the running watch: ``stop()`` it or use ``with``.
        """
        from compliance.bundle import looks_like_bundle  # noqa: PLC0415
        from compliance.reload import Watch  # noqa: PLC0415  (structlog only when watching)

        if self._watch is not None and self._watch.status().watching:
            raise RuntimeError(f"already watching {self._watch.source}; stop() it first")
        path = Path(source)
        bundle = looks_like_bundle(path) or public_key is not None
        if bundle and public_key is None:
            raise ValueError(f"{source}: a bundle is loaded only with a public_key to verify it")

        def load() -> Engine:
            current = self._engine
            options: dict[str, Any] = {"backend": current.backend,
                                       "cost_limit": current.cost_limit,
                                       "limits": current.limits,
                                       "store": None if current.pristine else current.store}
            if bundle and public_key is not None:
                return Engine.from_bundle(path, public_key=public_key, **options)
            return Engine.from_path(path, **options)

        def swap(fresh: Engine) -> None:
            self._engine = fresh  # one attribute write: readers see old or new, never a mix

        self._watch = Watch(path, load=load, digest=lambda e: e.pack_set_digest, swap=swap,
                            serving=self._engine.pack_set_digest, lock=self._lock,
                            interval=interval, use=use, on_reload=on_reload)
        return self._watch.start()

    def status(self) -> ReloadStatus:
        """The digest serving and, while watching, how the latest reload went."""
        from compliance.reload import ReloadStatus  # noqa: PLC0415

        if self._watch is None:
            return ReloadStatus(self._engine.pack_set_digest)
        return replace(self._watch.status(), digest=self._engine.pack_set_digest)


def check_paths(paths: Sequence[str | Path], schema: ContextSchema | None = None
                ) -> tuple[DiagnosticSet, CheckedPackSet | None]:
    """Stages 1 and 2 over ``paths``: every diagnostic, and the checked set when clean."""
    from compliance.checker import check_pack_set  # noqa: PLC0415  (stages on first use)
    from compliance.loader import load_pack_set  # noqa: PLC0415

    pack_set, diagnostics = load_pack_set(list(paths), schema=schema)
    if pack_set is None:
        return diagnostics, None
    report = check_pack_set(pack_set)
    diagnostics.extend(report.diagnostics)
    return diagnostics, report.checked if not diagnostics.errors else None
