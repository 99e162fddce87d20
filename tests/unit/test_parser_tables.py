"""The shipped LALR tables: used when they fit, the same parser as the grammar builds.

``compliance/cel/cel_lalr.tables`` saves every fresh process the ~150 ms lark spends
analysing cel-python's grammar. These tests hold it to three promises: with the pinned
lark and cel-python it is the parser actually used; it parses every text (and refuses
every bad one) exactly as a parser built from the grammar does; and a file that does not
fit (another version, corrupt bytes) is ignored, never trusted.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from compliance.cel import parser

CORPUS = Path(__file__).resolve().parents[1] / "conformance" / "data" / "cases.jsonl"
RULES = Path(__file__).resolve().parents[2] / "rules"

_BAD = ["a +", "1 ? 2", "[1, 2", "a.b(", "'unterminated", "{1: }", "a..b", "1 == = 2", "",
        "\x00", "b'\\xZZ'", "a in", "!", "a.?b", "x.all(", "(((", ")"]


def _texts() -> list[str]:
    texts = [json.loads(line)["expr"] for line in CORPUS.read_text("utf-8").splitlines()
             if line.strip()]
    for path in sorted(RULES.rglob("*.yaml")):
        texts += [line.split(":", 1)[1].strip().strip("'\"")
                  for line in path.read_text("utf-8").splitlines()
                  if line.strip().startswith(("when:", "unless:"))]
    return texts


def _built_from_grammar(module: Any) -> Any:
    """A parser built from the grammar, as cel-python makes it, without the tables."""
    held = module.CELParser.CEL_PARSER
    module.CELParser.CEL_PARSER = None
    try:
        module.CELParser()
        return module.CELParser.CEL_PARSER
    finally:
        module.CELParser.CEL_PARSER = held


def _flat(tree: Any) -> list[object]:
    """The tree in pre-order, names, tokens and positions (iterative: some trees are deep)."""
    out: list[object] = []
    stack = [tree]
    while stack:
        node = stack.pop()
        if hasattr(node, "children"):
            meta = node.meta
            out.append((node.data, len(node.children), getattr(meta, "start_pos", None),
                        getattr(meta, "end_pos", None)))
            stack.extend(reversed(node.children))
        else:
            out.append((getattr(node, "type", None), str(node), getattr(node, "start_pos", None)))
    return out


def _outcome(lark_parser: Any, text: str) -> object:
    try:
        return _flat(lark_parser.parse(text))
    except Exception as exc:  # the refusal itself is compared: kind, place, expected tokens
        return (type(exc).__name__, getattr(exc, "line", None), getattr(exc, "column", None),
                sorted(getattr(exc, "expected", None) or getattr(exc, "allowed", None) or ()))


@pytest.fixture(scope="module")
def module() -> Any:
    return parser._celparser_module()


def test_the_shipped_tables_fit_the_pinned_lark_and_cel_python(module: Any) -> None:
    """Read back, not rebuilt: otherwise every process pays the grammar analysis again."""
    assert parser._shipped_tables(module) is not None


def test_the_shipped_tables_parse_as_the_grammar_does(module: Any) -> None:
    """Every corpus expression and shipped condition, and bad texts, come out the same."""
    shipped = parser._shipped_tables(module)
    assert shipped is not None
    built = _built_from_grammar(module)
    texts = _texts() + _BAD
    assert len(texts) > 1000
    differ = [t for t in texts if _outcome(shipped, t) != _outcome(built, t)]
    assert differ == []
    parsed = sum(isinstance(_outcome(shipped, t), list) for t in texts)
    assert parsed > 900  # most of the corpus parses: the comparison covers real trees


def test_bool_literals_keep_cel_pythons_lexer_callback(module: Any) -> None:
    """The callback is passed again on load (a function is not saved with the tables)."""
    shipped = parser._shipped_tables(module)
    token = next(shipped.parse("true").scan_values(lambda v: True))
    assert token.type == "BOOL_LIT"


def test_tables_for_another_version_are_ignored(module: Any, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A fingerprint that differs (another lark, another grammar) means: build instead."""
    stale = tmp_path / "stale.tables"
    fingerprint, _, packed = parser._TABLES.read_bytes().partition(b"\n")
    stale.write_bytes(b"0" * len(fingerprint) + b"\n" + packed)
    monkeypatch.setattr(parser, "_TABLES", stale)
    assert parser._shipped_tables(module) is None


@pytest.mark.parametrize("content", [b"", b"no newline", b"x\n", b"\n\x00\x01", b"\xff" * 64])
def test_unreadable_tables_are_ignored(module: Any, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch, content: bytes) -> None:
    bad = tmp_path / "bad.tables"
    bad.write_bytes(content)
    monkeypatch.setattr(parser, "_TABLES", bad)
    assert parser._shipped_tables(module) is None


def test_a_missing_file_is_ignored(module: Any, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parser, "_TABLES", tmp_path / "absent.tables")
    assert parser._shipped_tables(module) is None


def test_written_tables_read_back(module: Any, tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """``write_tables`` makes what ``_shipped_tables`` reads: the way to refresh the file."""
    fresh = tmp_path / "fresh.tables"
    parser.write_tables(fresh)
    monkeypatch.setattr(parser, "_TABLES", fresh)
    loaded = parser._shipped_tables(module)
    assert loaded is not None
    assert _outcome(loaded, "a.b in [1, 2u] && !c") == _outcome(_built_from_grammar(module),
                                                                 "a.b in [1, 2u] && !c")
