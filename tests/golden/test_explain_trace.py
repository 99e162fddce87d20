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
