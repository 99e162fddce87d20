"""Every context in examples/contexts evaluates to the decision its expected.json states."""

from __future__ import annotations

import json

import pytest
from policy_helpers import EXAMPLES

CONTEXTS = EXAMPLES / "contexts"
EXPECTED: dict[str, dict] = json.loads((CONTEXTS / "expected.json").read_text())
FILES = sorted(p.name for p in CONTEXTS.glob("*.json") if p.name != "expected.json")


def test_every_example_has_an_expectation_and_a_readme_line():
    assert FILES, "no example contexts"
    assert sorted(EXPECTED) == FILES
    readme = (CONTEXTS / "README.md").read_text()
    for name in FILES:
        assert f"`{name}`" in readme, f"{name} is not listed in examples/contexts/README.md"
    assert len(FILES) >= 12


def test_examples_are_valid_canonical_contexts(engine):
    for name in FILES:
        ctx = json.loads((CONTEXTS / name).read_text())
        assert engine.validate(ctx) == [], name


@pytest.mark.parametrize("name", FILES)
def test_example_decision(engine, name):
    ctx = json.loads((CONTEXTS / name).read_text())
    exp = EXPECTED[name]
    d = engine.evaluate(ctx)
    assert d.errors == []
    assert d.effect == exp["effect"], d.reasons
    if "model" in exp:
        assert d.model == exp["model"]
    # missing_includes: must be reported; missing_allowed: may be reported; nothing else may
    for path in exp.get("missing_includes", []):
        assert path in d.missing
    if "missing_includes" not in exp:
        allowed = set(exp.get("missing_allowed", []))
        assert set(d.missing) <= allowed, d.missing
    for pack_rule in exp.get("matched", []):
        pack, rule = pack_rule.split("/")
        assert (pack, rule) in {(m.pack, m.rule) for m in d.matched}
    if "interventions" in exp:
        assert [i.kind for i in d.interventions] == exp["interventions"]
        assert all(i.disclosure == "visible" and i.message for i in d.interventions)
    for key in ("retention_min_days", "retention_max_days", "training"):
        if key in exp:
            assert getattr(d.obligations, key) == exp[key]
    if "conflicts" in exp:
        assert len(d.conflicts) == exp["conflicts"]
    if "passes" in exp:
        assert len(d.passes) == exp["passes"]


def test_examples_exercise_every_shipped_rule(engine):
    """Every rule in rules/ applies to at least one example context.

    Rules reading facts need events first; test_policy_signals.py exercises each of them.
    """
    hit: set[tuple[str, str]] = set()
    for name in FILES:
        d = engine.evaluate(json.loads((CONTEXTS / name).read_text()))
        hit |= {(m.pack, m.rule) for m in d.matched}
    shipped = {(r.pack.id, r.rule.id) for r in engine.plan.rules
               if r.rule.when is None or "facts." not in r.rule.when.text}
    assert shipped - hit == set()
