"""Golden: ``compliance eval --explain`` text, operand by operand, for the French national."""

from __future__ import annotations

import json
from pathlib import Path

from compliance.cli import render_decision
from compliance.engine import Engine

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).parent / "explain"


def test_french_national_trace(update_goldens: bool) -> None:
    engine = Engine.from_path(ROOT / "rules")
    context = json.loads((ROOT / "examples" / "contexts" /
                          "fable5-french-national-after-directive.json").read_text("utf-8"))
    text = render_decision(engine.evaluate(context, explain=True))
    # The decision id and time differ per run; everything from the explanation on is fixed.
    got = text[text.index("explanation:"):text.index("pack set:")]
    expected = HERE / "french-national.txt"
    if update_goldens:
        expected.write_text(got, encoding="utf-8")
    assert got == expected.read_text(encoding="utf-8")
    assert '"US" in principal.nationalities -> false' in got
    assert "principal.nationalities -> [\"FR\"]" in got
    assert "vars.verified -> not evaluated" in got


def test_json_trace_shows_unknowns_with_their_paths() -> None:
    from compliance.cli import decision_json

    engine = Engine.from_path(ROOT / "rules")
    context = json.loads((ROOT / "examples" / "contexts" /
                          "fable5-unknown-nationality-after-directive.json").read_text("utf-8"))
    doc = json.loads(decision_json(engine.evaluate(context, explain=True)))
    rule = next(x for x in doc["explanation"] if x["rule"] == "foreign-national-suspension")
    when = rule["trace"]["when"]
    assert when["state"] == "unknown"
    assert "principal.nationalities" in when["missing"]
    restricted = when["operands"][0]
    assert restricted["text"] == "vars.restricted_model"
    assert restricted["value"] is True
    assert restricted["operands"][0]["variable"] == "restricted_model"
    # without explain, the decision carries no explanation (and so no trace) at all
    assert "explanation" not in json.loads(decision_json(engine.evaluate(context)))
