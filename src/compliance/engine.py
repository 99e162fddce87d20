"""The engine: stages 1-3 once, then stage 4 on every request.

An ``Engine`` is immutable after construction, so one instance is safe to share across
threads. Reloading builds a new engine; ``EngineHolder`` swaps it in atomically so a
request never sees half of an old pack set and half of a new one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from compliance.canonical import pack_set_digest
from compliance.cel.budget import DEFAULT_DECISION_BUDGET
from compliance.cel.types import ContextSchema, Limits
from compliance.checker import CheckedPackSet, check_pack_set
from compliance.contexts import ContextProblem, validate_context
from compliance.decision import Decision
from compliance.diagnostics import DiagnosticSet
from compliance.errors import PackError
from compliance.evaluator import evaluate
from compliance.loader import load_pack_set
from compliance.planner import Plan, ProgramFactory, compiled_program, plan
from compliance.reload import ChangeSource, ReloadStatus, Watch

if TYPE_CHECKING:
    from compliance.signing import Verifier

Backend = Literal["compiled", "interpreter"]
"""``compiled`` serves; ``interpreter`` (cel-python) is a test oracle only.

cel-python has no partial evaluation, so the oracle treats any absent attribute as making
the whole condition unknown, even under ``false && …``: on contexts with attributes
missing it fails closed where the compiled backend decides (22 of the 23 example contexts
differ). It agrees on fully populated contexts, which is what the differential tests
feed it. Every decision records its ``backend``, so an oracle decision is never mistaken
for a served one.
"""


def _factory(backend: Backend) -> ProgramFactory:
    if backend == "compiled":
        return compiled_program
    from compliance.cel.interpreter import interpreted_program  # noqa: PLC0415  (optional oracle)

    return interpreted_program


class Engine:
    """Evaluates request contexts against a checked pack set.

    >>> engine = Engine.from_path("rules")             # doctest: +SKIP
    >>> engine.evaluate({"request": {...}}).effect     # doctest: +SKIP
    'deny'

    .. versionadded:: 0.1.0
    """

    __slots__ = ("_checked", "_plan", "backend", "cost_limit")

    def __init__(self, checked: CheckedPackSet, *, backend: Backend = "compiled",
                 cost_limit: int = DEFAULT_DECISION_BUDGET,
                 limits: Limits | None = None) -> None:
        if limits is not None:  # bounds on context values: a reading concern, not a meaning
            schema = replace(checked.pack_set.schema, limits=limits)
            checked = replace(checked, pack_set=replace(checked.pack_set, schema=schema))
        pack_set = checked.pack_set
        digest = pack_set_digest(pack_set)
        self._checked = checked
        self._plan: Plan = plan(checked, digest, _factory(backend))
        self.backend = backend
        self.cost_limit = cost_limit
        # the run-time cost budget of each decision, in steps (compliance.cel.budget)

    @classmethod
    def from_path(cls, *paths: str | Path, schema: ContextSchema | None = None,
                  backend: Backend = "compiled",
                  cost_limit: int = DEFAULT_DECISION_BUDGET,
                  limits: Limits | None = None) -> Engine:
        """Load, check and compile pack files or directories; raise ``PackError`` on any error.

        ``cost_limit`` is each decision's run-time budget (``compliance.cel.budget``); ``limits``
        bounds context values (depth, sizes); the defaults are ``Limits()``.
        """
        diagnostics, checked = check_paths(paths, schema)
        if checked is None:
            raise PackError(diagnostics.errors or diagnostics.sorted())
        return cls(checked, backend=backend, cost_limit=cost_limit, limits=limits)

    @classmethod
    def from_bundle(cls, path: str | Path, *, public_key: str | Path | Verifier,
                    backend: Backend = "compiled",
                    cost_limit: int = DEFAULT_DECISION_BUDGET,
                    limits: Limits | None = None) -> Engine:
        """Load a signed bundle (docs/bundles.md) after verifying all of it.

        ``public_key`` is a PEM (SubjectPublicKeyInfo) file or a ``Verifier``. Raises
        ``BundleError`` for a bundle that is unsigned, signed by another key, or holds an
        extra, missing or changed file; ``PackError`` if its packs do not check; and
        ``KeyFileError`` for an unusable key file.
        """
        from compliance.bundle import check_bundle  # noqa: PLC0415  (tarfile only when used)
        from compliance.signing import Verifier  # noqa: PLC0415

        verifier = public_key if isinstance(public_key, Verifier) else Verifier.from_file(
            public_key)
        return cls(check_bundle(path, verifier), backend=backend, cost_limit=cost_limit,
                   limits=limits)

    @property
    def limits(self) -> Limits:
        """The bounds context values are read within."""
        return self.schema.limits

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
        return evaluate(self._plan, context, strict=strict, explain=explain,
                        cost_limit=self.cost_limit)

    def validate(self, context: object) -> list[ContextProblem]:
        """Every way ``context`` departs from the schema; empty when clean.

        Wrong-typed, out-of-limit and constraint-violating values (also where no rule reads
        them), and keys the schema does not declare, with a did-you-mean.
        """
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
                                     limits=current.limits)
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
                                       "limits": current.limits}
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
        if self._watch is None:
            return ReloadStatus(self._engine.pack_set_digest)
        return replace(self._watch.status(), digest=self._engine.pack_set_digest)


def check_paths(paths: Sequence[str | Path], schema: ContextSchema | None = None
                ) -> tuple[DiagnosticSet, CheckedPackSet | None]:
    """Stages 1 and 2 over ``paths``: every diagnostic, and the checked set when clean."""
    pack_set, diagnostics = load_pack_set(list(paths), schema=schema)
    if pack_set is None:
        return diagnostics, None
    report = check_pack_set(pack_set)
    diagnostics.extend(report.diagnostics)
    return diagnostics, report.checked if not diagnostics.errors else None
