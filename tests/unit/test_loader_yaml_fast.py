"""libyaml's fast path reads every file exactly as the pure-Python path does, or declines.

``compose_text`` composes libyaml's events when it can and falls back to the pure-Python
parser (the authority for every diagnostic) otherwise. These tests compare both paths node
for node on the shipped packs and on texts that take each fallback.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from yaml.nodes import MappingNode, Node, SequenceNode

from compliance.loader import _yaml
from compliance.loader._yaml import ParsedYaml, compose_text

REPO = Path(__file__).resolve().parents[2]
SHIPPED = sorted([*REPO.glob("rules/*.yaml"), *REPO.glob("examples/**/*.yaml"),
                  *REPO.glob("tests/golden/**/*.yaml")])

pytestmark = pytest.mark.skipif(_yaml.CParser is None, reason="PyYAML built without libyaml")


def shape(node: Node | None) -> list[tuple[object, ...]]:
    """Every node's class, tag, marks, style and scalar value, parents first."""
    out: list[tuple[object, ...]] = []
    stack = [node] if node is not None else []
    while stack:
        n = stack.pop()
        start, end = n.start_mark, n.end_mark
        scalar = n.value if isinstance(n.value, str) else None
        # flow_style: PyYAML leaves an indentless `- ` list None where libyaml says False;
        # nothing reads it, so only its truth is compared
        out.append((type(n).__name__, n.tag, start.line, start.column, end.line, end.column,
                    getattr(n, "style", None), scalar, bool(getattr(n, "flow_style", None))))
        if isinstance(n, MappingNode):
            stack.extend(x for kv in reversed(n.value) for x in reversed(kv))
        elif isinstance(n, SequenceNode):
            stack.extend(reversed(n.value))
    return out


@contextmanager
def pure_python() -> Iterator[None]:
    """Compose with the pure-Python parser only (as on a PyYAML without libyaml)."""
    saved = _yaml.CParser
    _yaml.CParser = None
    try:
        yield
    finally:
        _yaml.CParser = saved


def both(text: str) -> tuple[ParsedYaml, ParsedYaml]:
    fast = compose_text(text, "p.yaml")
    with pure_python():
        slow = compose_text(text, "p.yaml")
    return fast, slow


def assert_same(text: str) -> None:
    fast, slow = both(text)
    assert fast.diagnostics == slow.diagnostics
    assert shape(fast.root) == shape(slow.root)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(REPO)))
def test_shipped_files_compose_identically(path: Path) -> None:
    """Every shipped pack, manifest and golden input gives the same nodes and diagnostics."""
    assert_same(path.read_bytes().decode("utf-8", "replace"))


def test_shipped_packs_take_the_fast_path() -> None:
    """The fast path is really used for ordinary packs (else it would save nothing)."""
    for path in REPO.glob("rules/*.yaml"):
        composed, root = _yaml._fast_root(path.read_text(encoding="utf-8"), 64)
        assert composed, path
        assert root is not None


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("a: 1", "no line break at the end"),
        ("a:\t1\n", "a tab"),
        ("a: 1\n\ufeffb: 2\n", "a byte order mark"),
        ("a: [co?ntract]\n", "`?` in a flow plain scalar"),
        ("a: &x 1\nb: *x\n", "an alias"),
        ("a: !!int 1\n", "a tag"),
        ("a: 99999999999999999999\n", "a huge integer"),
        ("a: [1\n", "a syntax error"),
        ("a: 1\n---\nb: 2\n", "two documents"),
        ("a: \x07\n", "a control character"),
        ("[" * 80 + "\n", "nesting too deep"),
    ],
)
def test_fallbacks_decline_and_keep_the_pure_python_result(text: str, reason: str) -> None:
    """Text libyaml reads differently, and every error, goes to the pure-Python path."""
    composed, _ = _yaml._fast_root(text, 64)
    assert not composed, reason
    assert_same(text)


@pytest.mark.parametrize(
    "text",
    [
        "a: caf\u00e9 \U0001f600 x\nb: \"\u00e9\\u00e9\"\n",
        "a: |\n  line one\n  line two\nb: >-\n  folded\n  text\n",
        "a: 'it''s'\nb: \"q\\\"x\"\nc:\n  - 1\n  - {k: v, n: ~}\n",
        "a: 1\r\nb: 2\r\n",
        "a: x\u2028b: y\n",
        "\n\n# only a comment\n",
        "a:\n- 1\n- 2\n",
        "when: \"a\n\n  b\"\n",
        "a: 1:30\nb: 017\nc: yes\nd: .inf\ne: 0x1F\n",
    ],
)
def test_unicode_breaks_styles_and_core_schema_compose_identically(text: str) -> None:
    """Marks count characters on both paths; scalar styles and YAML 1.2 scalars agree."""
    assert_same(text)


@pytest.mark.parametrize(
    "text",
    ["a: |#x\n  b\n", "a: >-#\n  b\n",
     "a: {description: }\n", "a: {k: v, e:}\n"],
)
def test_found_by_the_differential_fuzzer_decline(text: str) -> None:
    """Block headers glued to `#` and empty flow values: libyaml differs, so Python reads."""
    composed, _ = _yaml._fast_root(text, 64)
    assert not composed
    assert_same(text)
