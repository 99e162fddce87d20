"""Fuzzing load + check: a mutated shipped pack yields diagnostics or a clean set, never a raise.

Hypothesis picks a file (a pack or the manifest) and up to four edits from
``_packmut.TOKENS``; under ``CI=true`` the run is derandomized (see conftest.py) and
bounded to a few seconds. Longer campaigns: ``tests/fuzz/campaign.py`` (random) and
``tests/fuzz/atheris_loader.py`` (coverage-guided, needs atheris).
"""

from __future__ import annotations

import re

from _packmut import KINDS, MANIFEST, PACKS, TOKENS, Edit, check_mutant
from hypothesis import given, settings
from hypothesis import strategies as st

from compliance.loader import load_pack_text

_KEBAB = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")

edits = st.lists(
    st.builds(
        Edit,
        st.sampled_from(KINDS),
        st.floats(0, 1, exclude_max=True),
        st.sampled_from(TOKENS) | st.text(max_size=3),
    ),
    min_size=1,
    max_size=4,
)


@settings(max_examples=200)
@given(st.sampled_from((MANIFEST, *PACKS)), edits)
def test_mutated_pack_set_never_raises(target: str, edits: list[Edit]) -> None:
    """Every mutant is either clean or explained by diagnostics with kebab-case codes."""
    for diagnostic in check_mutant(target, edits):
        assert _KEBAB.fullmatch(diagnostic.code), diagnostic.code
        if diagnostic.span is not None:
            assert diagnostic.span.start.line >= 0
            assert diagnostic.span.start.col >= 0


@settings(max_examples=200)
@given(st.text(max_size=200))
def test_any_text_loads_or_is_explained(text: str) -> None:
    """Arbitrary text (lone surrogates included) never raises from ``load_pack_text``."""
    pack, diagnostics = load_pack_text(text)
    assert pack is not None or diagnostics
