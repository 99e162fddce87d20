"""CEL source maps: every character of a condition maps back to the same character on disk."""

from __future__ import annotations

import textwrap

import pytest

from compliance.loader import load_pack_text
from compliance.pack import CelSource, Pack

HEADER = 'pack: demo\nversion: "1"\ntier: policy\nrules:\n  - id: r\n    effect: deny\n'


def _load(rule_lines: str) -> tuple[Pack, list[str], list[str]]:
    text = HEADER + textwrap.indent(textwrap.dedent(rule_lines), "    ")
    pack, diags = load_pack_text(text, "p.yaml")
    assert pack is not None, diags
    return pack, text.split("\n"), [d.code for d in diags]


def _assert_exact(cel: CelSource, lines: list[str]) -> None:
    for offset, ch in enumerate(cel.text):
        if ch in " \n":
            continue
        pos = cel.source_map.position(offset)
        assert lines[pos.line][pos.col] == ch, (offset, ch, pos)


CASES = {
    "plain": 'when: request.model == "fable-5"\n',
    "single-quoted": "when: 'request.model == ''fable-5'' && true'\n",
    "double-quoted": "when: \"request.model == 'fable-5'\"\n",
    "literal": 'when: |\n  request.model == "fable-5"\n    && principal.kind == "customer"\n',
    "literal-keep": 'when: |+\n  request.model == "x"\n\n',
    "folded": 'when: >\n  request.model == "fable-5" &&\n  principal.kind == "customer"\n',
    "folded-blank-line": 'when: >-\n  request.model == "a"\n\n  || true\n',
    "plain-multiline": 'when: request.model == "fable-5"\n  && principal.kind == "customer"\n',
    "single-multiline": "when: 'request.model == ''x''\n  && true'\n",
}


class TestExactMaps:
    """Conditions in every YAML scalar style map character for character."""

    @pytest.mark.parametrize("rule", CASES.values(), ids=list(CASES))
    def test_every_character_maps_back(self, rule: str) -> None:
        """Each non-blank character of the CEL text sits at its mapped file position."""
        pack, lines, _ = _load(rule)
        when = pack.rules[0].when
        assert when is not None
        _assert_exact(when, lines)

    @pytest.mark.parametrize(
        ("rule", "warned"),
        [(CASES["folded"], True), (CASES["plain-multiline"], True), (CASES["literal"], False)],
        ids=["folded", "plain-multiline", "literal"],
    )
    def test_folded_scalars_get_a_hint(self, rule: str, warned: bool) -> None:
        """Folded and multi-line plain conditions earn a `folded-condition` warning; `|` not."""
        _, _, codes = _load(rule)
        assert ("folded-condition" in codes) is warned

    def test_span_of_a_sub_expression(self) -> None:
        """``span_of`` underlines exactly the sub-expression's text."""
        pack, lines, _ = _load("when: 'request.model == ''fable-5'''\n")
        when = pack.rules[0].when
        assert when is not None
        start = when.text.index("'fable-5'")
        span = when.span_of(start, start + len("'fable-5'"))
        assert lines[span.start.line][span.start.col : span.end.col] == "''fable-5'"

    def test_escape_in_double_quotes_is_rejected(self) -> None:
        """A backslash escape in a double-quoted condition is `escape-in-condition`."""
        pack, _, codes = _load('when: "request.id == \\"x\\""\n')
        assert codes == ["escape-in-condition"]
        assert pack.rules[0].when is None


class TestTemplates:
    """``reason``/``message`` split into literal text and mapped CEL parts."""

    def test_parts_and_literal_braces(self) -> None:
        """``{{``/``}}`` are literal braces and each ``{cel}`` part maps exactly."""
        pack, lines, codes = _load('reason: "model {request.model} is {{held}} by {vars.x}"\n')
        reason = pack.rules[0].reason
        assert reason is not None
        assert codes == []
        literals = [p for p in reason.parts if isinstance(p, str)]
        cels = [p for p in reason.parts if isinstance(p, CelSource)]
        assert literals == ["model ", " is {held} by "]
        assert [c.text for c in cels] == ["request.model", "vars.x"]
        for cel in cels:
            _assert_exact(cel, lines)

    def test_braces_inside_cel_strings(self) -> None:
        """A ``}`` inside a CEL string literal does not end the interpolation."""
        pack, _, _ = _load("reason: 'x {request.model + \"}\"} y'\n")
        reason = pack.rules[0].reason
        assert reason is not None
        assert [p.text for p in reason.parts if isinstance(p, CelSource)] == ['request.model + "}"']

    @pytest.mark.parametrize("reason", ['"{request.model"', '"a } b"', '"{  }"'])
    def test_unbalanced_or_empty(self, reason: str) -> None:
        """Unbalanced braces and empty interpolations are `invalid-template`."""
        _, _, codes = _load(f"reason: {reason}\n")
        assert codes == ["invalid-template"]
