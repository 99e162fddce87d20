"""Every tree the parser makes survives the on-disk cache unchanged (JSON out, checks in)."""

from __future__ import annotations

import tempfile

from _celgen import typed_exprs
from hypothesis import given, settings

from compliance.cel import parse_cache
from compliance.cel.ast import Expr
from compliance.cel.parser import _parse_text
from compliance.cel.unparse import unparse


@settings(max_examples=300)
@given(expr=typed_exprs())
def test_stored_trees_read_back_equal(expr: Expr) -> None:
    """Parse the text of a generated expression, store it, read it back: the same tree.

    Each example gets a directory of its own, so no other test's entries can interfere.
    """
    text = unparse(expr)
    tree = _parse_text(text)
    saved = parse_cache.cache_dir()
    with tempfile.TemporaryDirectory() as where:
        parse_cache.set_cache_dir(where)
        try:
            parse_cache.store(text, tree)
            assert parse_cache.load(text) == tree
        finally:
            parse_cache.set_cache_dir(saved)
