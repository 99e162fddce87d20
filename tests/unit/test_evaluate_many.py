"""``Engine.evaluate_many``: a lazy batch with the same decisions as one call per context."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from compliance import Engine, EvaluationError

ROOT = Path(__file__).resolve().parents[2]
CONTEXTS = [json.loads(p.read_text(encoding="utf-8"))
            for p in sorted((ROOT / "examples" / "contexts").glob("*.json"))
            if p.name != "expected.json"]
_VOLATILE = {"decision_id", "evaluated_at"}


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine.from_path(ROOT / "rules")


def test_same_decisions_as_one_by_one(engine: Engine) -> None:
    """Every example context, batched, decides as ``evaluate`` does, in input order."""
    batch = [d.model_dump(exclude=_VOLATILE) for d in engine.evaluate_many(CONTEXTS)]
    single = [engine.evaluate(c).model_dump(exclude=_VOLATILE) for c in CONTEXTS]
    assert batch == single
    assert {d["effect"] for d in batch} == {"allow", "deny"}  # the examples exercise both


def test_explain_is_passed_through(engine: Engine) -> None:
    """``explain=True`` gives each decision its per-rule explanation."""
    decisions = list(engine.evaluate_many(CONTEXTS[:3], explain=True))
    assert all(d.explanation is not None for d in decisions)
    assert [d.explanation for d in decisions] == [
        engine.evaluate(c, explain=True).explanation for c in CONTEXTS[:3]]


def test_lazy_over_an_endless_stream(engine: Engine) -> None:
    """A generator: it decides only as many contexts as are taken from it."""
    seen: list[int] = []

    def stream() -> Iterator[dict[str, Any]]:
        for n in itertools.count():
            seen.append(n)
            yield CONTEXTS[n % len(CONTEXTS)]

    taken = list(itertools.islice(engine.evaluate_many(stream()), 5))
    assert len(taken) == 5
    assert len(seen) == 5
    assert len({d.decision_id for d in taken}) == 5  # each decision its own id


def test_bad_contexts_fail_closed_in_the_batch(engine: Engine) -> None:
    """A malformed context is a fail-closed decision; the batch goes on."""
    decisions = list(engine.evaluate_many([CONTEXTS[0], "not a context", CONTEXTS[1]]))  # type: ignore[list-item]
    assert [d.effect for d in decisions][1] == "deny"
    assert decisions[1].errors[0].code == "bad-context"
    assert decisions[2].model_dump(exclude=_VOLATILE) == engine.evaluate(
        CONTEXTS[1]).model_dump(exclude=_VOLATILE)


def test_strict_raises_at_the_first_failure(engine: Engine) -> None:
    """With ``strict`` the first erroring context raises and ends the batch."""
    batch = engine.evaluate_many([CONTEXTS[0], "not a context"], strict=True)  # type: ignore[list-item]
    assert next(batch).effect in ("allow", "deny")
    with pytest.raises(EvaluationError):
        next(batch)
