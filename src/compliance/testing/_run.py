"""Running suites: load every suite and its pack set, evaluate each case, compare.

The runner tells observers about every evaluation (``Observer.observe``: the case, the
context evaluated, the decision with its per-rule explanation, the engine), so rule
coverage (``compliance.testing._coverage``) and later tools (condition coverage, a trace
with values) plug in without the runner knowing them.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from compliance.decision import Decision
from compliance.diagnostics import Diagnostic, DiagnosticCode, DiagnosticSet, Severity
from compliance.engine import Engine, check_paths
from compliance.events import replayed_engine, request_time
from compliance.pack import PackSet
from compliance.testing._load import OBLIGATION_FIELDS, check_against, discover, load_suite_file
from compliance.testing._model import Case, Expected, Suite


class Observer(Protocol):
    """Sees every case evaluated: coverage collectors, traces."""

    def observe(self, case: Case, context: Mapping[str, Any], decision: Decision,
                engine: Engine) -> None:
        """Called once per case, after evaluation and before comparison."""


@dataclass(frozen=True, slots=True)
class FieldDiff:
    """One expectation that did not hold: the field, what was expected, what came out."""

    name: str
    expected: Any
    actual: Any


@dataclass(frozen=True, slots=True)
class CaseResult:
    """The outcome of one case."""

    suite: Suite
    case: Case
    decision: Decision
    diffs: tuple[FieldDiff, ...]

    @property
    def passed(self) -> bool:
        """True when every named expectation held."""
        return not self.diffs


@dataclass
class Prepared:
    """Suites ready to run (each with its engine), or the diagnostics that stop the run."""

    suites: list[tuple[Suite, Engine]] = field(default_factory=list)
    diagnostics: DiagnosticSet = field(default_factory=DiagnosticSet)
    files: list[Path] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no suite or pack set has an error."""
        return not self.diagnostics.errors


def prepare(paths: Sequence[str | Path]) -> Prepared:
    """Discover and load every suite under ``paths`` with the pack set it names."""
    out = Prepared()
    files, problems = discover(paths)
    out.files = files
    out.diagnostics.extend(problems)
    engines: dict[Path, tuple[Engine | None, list[Diagnostic]]] = {}
    names: dict[str, Suite] = {}
    for path in files:
        suite, found = load_suite_file(path)
        out.diagnostics.extend(found)
        if suite is None:
            continue
        runnable = not any(d.severity is Severity.ERROR for d in found)
        if suite.name in names:
            first = names[suite.name].span
            out.diagnostics.add(Diagnostic(
                "duplicate-suite", f"duplicate suite name `{suite.name}`", suite.span,
                notes=(f"first used in {first.file}:{first.start.line + 1}",),
                help="suite names are unique within a run"))
            continue
        names[suite.name] = suite
        if not suite.packs.exists():
            continue  # reported at `packs:` by the loader
        key = suite.packs.resolve()
        if key not in engines:
            engines[key] = _engine(suite.packs)
        engine, pack_problems = engines[key]
        out.diagnostics.extend(pack_problems)
        if engine is None:
            continue
        found = _check(suite, engine)
        out.diagnostics.extend(found)
        if runnable and not any(d.severity is Severity.ERROR for d in found):
            out.suites.append((suite, engine))
    return out


def _engine(packs: Path) -> tuple[Engine | None, list[Diagnostic]]:
    diagnostics, checked = check_paths([packs])
    if checked is None:
        return None, diagnostics.errors or diagnostics.sorted()
    return Engine(checked), []


def _check(suite: Suite, engine: Engine) -> list[Diagnostic]:
    pack_set = PackSet(engine.plan.packs, engine.schema)
    found = check_against(suite, pack_set)
    for case in suite.cases:
        # The one context check (compliance.contexts): an undeclared attribute (a typo that
        # would silently read as absent) is a warning there and an error in a suite.
        for problem in engine.validate(case.context):
            code: DiagnosticCode = (
                "unknown-field" if problem.severity == "warning" else "wrong-type")
            found.append(Diagnostic(code, f"case `{case.name}`: context: {problem}", case.span))
    return found


def select(prepared: Prepared, pattern: str | None) -> list[tuple[Suite, Engine, Case]]:
    """The cases to run: all, or those whose ``suite :: name`` matches ``pattern``.

    A pattern with ``*``, ``?`` or ``[`` is a glob; otherwise a substring. Both ignore case.
    """
    out = []
    for suite, engine in prepared.suites:
        for case in suite.cases:
            if pattern is None or _matches(case.id, pattern):
                out.append((suite, engine, case))
    return out


def _matches(text: str, pattern: str) -> bool:
    text, pattern = text.lower(), pattern.lower()
    if any(c in pattern for c in "*?["):
        return fnmatch.fnmatchcase(text, pattern)
    return pattern in text


def run_case(suite: Suite, engine: Engine, case: Case,
             observers: Iterable[Observer] = ()) -> CaseResult:
    """Evaluate one case (with the per-rule explanation) and compare what it names.

    A case with ``events`` is evaluated by the same plan over a fresh store that has
    observed them (``compliance.events``), so cases never share signal state.
    """
    if case.events:
        engine = replayed_engine(engine, case.events, at=request_time(case.context))
    decision = engine.evaluate(case.context, explain=True)
    for observer in observers:
        observer.observe(case, case.context, decision, engine)
    diffs = tuple(d for e in case.expect if (d := compare(e, decision)) is not None)
    return CaseResult(suite, case, decision, diffs)


def run(prepared: Prepared, pattern: str | None = None,
        observers: Iterable[Observer] = ()) -> list[CaseResult]:
    """Every selected case, in suite and case order."""
    watching = list(observers)
    return [run_case(s, e, c, watching) for s, e, c in select(prepared, pattern)]


def compare(expected: Expected, decision: Decision) -> FieldDiff | None:
    """The difference for one expectation field, or None when it holds."""
    name, want = expected.name, expected.value
    if name == "effect":
        got: Any = decision.effect
        return None if got == want else FieldDiff(name, want, got)
    if name == "model":
        return None if decision.model == want else FieldDiff(name, want, decision.model)
    if name == "matched":
        got = sorted({f"{m.pack}/{m.rule}" for m in decision.matched})
        return None if set(want) == set(got) else FieldDiff(name, sorted(set(want)), got)
    if name == "missing":
        got = sorted(set(decision.missing))
        return None if set(want) == set(got) else FieldDiff(name, sorted(set(want)), got)
    if name == "interventions":
        actual = [i.model_dump(mode="json", exclude_none=True) for i in decision.interventions]
        absent = [w for w in want if not any(_has(a, w) for a in actual)]
        shown = [{k: a.get(k) for k in ("kind", "target", "disclosure", "pack", "rule")
                  if a.get(k) is not None} for a in actual]
        return None if not absent else FieldDiff(name, absent, shown)
    obligations = decision.obligations.model_dump(mode="json")
    custom = obligations.get("custom") or {}
    got = {k: obligations.get(k) if k in OBLIGATION_FIELDS else custom.get(k) for k in want}
    wrong = {k for k in want if not _same(want[k], got[k])}
    if not wrong:
        return None
    return FieldDiff(name, {k: want[k] for k in want if k in wrong},
                     {k: got[k] for k in want if k in wrong})


def _has(actual: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    return all(_same(v, actual.get(k)) for k, v in wanted.items())


def _same(want: Any, got: Any) -> bool:
    """Equal, with lists compared as sets where order carries no meaning (purposes)."""
    if isinstance(want, list) and isinstance(got, list):
        return sorted(map(repr, want)) == sorted(map(repr, got))
    if isinstance(want, bool) or isinstance(got, bool):
        return want is got
    return bool(want == got)
