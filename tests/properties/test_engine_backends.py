"""Engine-level differential test: the shipped packs decide alike on both CEL backends."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compliance.cel.conform import Nonconforming, conform
from compliance.cel.types import CelType, Limits

RULES = Path(__file__).resolve().parents[2] / "rules"
EXAMPLES = int(os.environ.get("CEL_ENGINE_EXAMPLES", "60"))

# Strings the shipped packs test for, plus a few they do not.
WORDS = ["US", "FR", "CN", "CU", "IR", "KP", "SY", "RU", "UA", "UA-09", "UA-14", "UA-40",
         "UA-43", "UA-30", "fable-5", "mythos-5", "opus-4.8", "haiku-4", "general", "coding",
         "cyber", "bio", "chem", "distillation", "llm-dev", "surveillance", "weapons",
         "EAR-LICENSE-D123", "BIS-LICENSE-FABLE", "x"]
# Around the export-control directive's instant (2026-06-15T17:21-04:00), DST-aware packs.
TIMES = st.sampled_from([
    "2026-06-15T21:20:59Z", "2026-06-15T21:21:00Z", "2026-06-15T17:21:00-04:00",
    "2026-01-01T00:00:00Z", "2027-03-08T07:00:00Z", "2025-11-02T05:59:59Z",
])


def values(t: CelType) -> st.SearchStrategy[Any]:
    """Values of declared type ``t``, every field present."""
    kind = t.kind
    if kind == "object":
        return st.fixed_dictionaries({name: values(ft) for name, ft in t.fields})
    if kind == "list":
        return st.lists(values(t.elem), max_size=3)
    if kind == "map":
        # Every key present: a constant key the packs read is an attribute (absent means
        # unknown), and the interpreter's unknowns are coarser than the compiler's.
        return st.fixed_dictionaries({w: values(t.value) for w in WORDS})
    if kind == "string":
        # Only values the schema's constraints accept unchanged: a malformed value is an
        # error where the interpreter converts it, which is earlier than where the compiler
        # reads it (tests/properties/test_context_conformance.py covers malformed values).
        return st.sampled_from([w for w in (list(t.enum) or WORDS) if conforms(t, w)])
    simple: dict[str, st.SearchStrategy[Any]] = {
        "bool": st.booleans(), "int": st.integers(-5, 100), "uint": st.integers(0, 100),
        "double": st.floats(0.0, 1.0), "timestamp": TIMES, "duration": st.just("1s"),
    }
    return simple.get(kind, st.none())


def conforms(t: CelType, word: str) -> bool:
    """Whether ``word`` is a value of ``t`` as it is (no normalisation needed)."""
    try:
        return bool(conform(t, word, "x", Limits()) == word)
    except Nonconforming:
        return False


@pytest.fixture(scope="module")
def engines() -> tuple[Any, Any]:
    """The shipped pack set on the compiled and on the interpreter backend."""
    if not RULES.is_dir():
        pytest.skip("no shipped rules/ directory")
    from compliance import Engine

    return (Engine.from_path(RULES, backend="compiled"),
            Engine.from_path(RULES, backend="interpreter"))


def summary(decision: Any) -> tuple[object, ...]:
    """The fields both backends must agree on."""
    matched = sorted((m.pack, m.rule, m.effect) for m in decision.matched)
    return decision.effect, matched, sorted(decision.missing), decision.model


class TestEngineBackends:
    def test_shipped_packs_agree(self, engines: tuple[Any, Any]) -> None:
        """Generated canonical contexts with every attribute present get the same decision."""
        compiled, interpreted = engines
        schema = compiled.schema

        @settings(max_examples=EXAMPLES)
        @given(st.fixed_dictionaries({n: values(t) for n, t in schema.variables.items()}))
        def check(context: dict[str, Any]) -> None:
            assert summary(compiled.evaluate(context)) == summary(interpreted.evaluate(context))

        check()
