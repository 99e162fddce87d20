"""Differential: libyaml's fast path and the pure-Python YAML path agree on every text.

Whenever the fast path composes a text, the pure-Python path must compose the same nodes
(marks, tags, styles, values); whenever either fails, ``compose_text`` must give exactly
the pure-Python diagnostics. Texts are mutated shipped packs (``_packmut``) and short
strings over YAML's indicator characters, where the two parsers differ if anywhere.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from _packmut import KINDS, MANIFEST, PACKS, RULES, TOKENS, Edit, apply
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
from test_loader_yaml_fast import assert_same

from compliance.loader import _yaml

pytestmark = pytest.mark.skipif(_yaml.CParser is None, reason="PyYAML built without libyaml")

_PIECES = (*"ab0: -?[]{},'\"#|>&*!%@`\\\n\n  .~", "\r", "\x85", "\u2028", "\u00e9", "\U0001f600",
           "- ", ": ", "\n  ", "\n    ", "key: ", "---", "...", "\\n", "\\x4", "? ", "''")

edits = st.lists(
    st.builds(Edit, st.sampled_from(KINDS), st.floats(0, 1, exclude_max=True),
              st.sampled_from(TOKENS) | st.sampled_from(_PIECES)),
    min_size=1, max_size=5,
)


@settings(max_examples=300)
@given(st.sampled_from((MANIFEST, *PACKS)), edits, st.booleans())
def test_mutated_packs_compose_identically(target: str, edits: list[Edit], newline: bool) -> None:
    """A mutated shipped file: same nodes or same diagnostics on both paths."""
    text = apply((RULES / target).read_bytes(), edits).decode("utf-8", "replace")
    assert_same(text + "\n" if newline else text)


@settings(max_examples=500)
@given(st.lists(st.sampled_from(_PIECES), max_size=40))
def test_indicator_soup_composes_identically(pieces: list[str]) -> None:
    """Short texts over YAML's indicators: same nodes or same diagnostics on both paths."""
    assert_same("".join(pieces) + "\n")
