"""The on-disk parse cache: content-addressed, atomic, validated on read, never trusted blindly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from compliance.cel import parse_cache, parser
from compliance.cel.parser import CelSyntaxError, parse

REPO = Path(__file__).resolve().parents[2]
TEXT = 'request.model in ["opus-4.8", "fable-5"] && !has(org.zdr) || size(principal.id) > 3u'


@pytest.fixture
def cache(tmp_path: Path) -> Iterator[Path]:
    """A fresh cache directory, with the in-process cache emptied before and after."""
    saved = parse_cache.cache_dir()
    parse_cache.set_cache_dir(tmp_path)
    parser._parse_cached.cache_clear()
    yield tmp_path
    parse_cache.set_cache_dir(saved)
    parser._parse_cached.cache_clear()


def _entries(directory: Path) -> list[Path]:
    return sorted(directory.rglob("*.json"))


def _forbid_lark(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(text: str) -> None:
        raise AssertionError(f"parsed {text!r} again instead of reading the cache")

    monkeypatch.setattr(parser, "_parse_text", refuse)


def test_a_parse_is_written_once_and_read_back_equal(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first parse writes one JSON entry; a later process-level miss reads it back."""
    tree = parse(TEXT)
    (entry,) = _entries(cache)
    assert json.loads(entry.read_text())["key"] == entry.stem
    assert not list(cache.rglob(".tmp-*")), "the temporary file was renamed into place"
    parser._parse_cached.cache_clear()
    _forbid_lark(monkeypatch)
    assert parse(TEXT) == tree


def test_the_key_is_the_text_and_the_version(cache: Path) -> None:
    """Two texts never share an entry, and a new CACHE_VERSION never reads an old one."""
    parse("a == 1")
    parse("a == 2")
    assert len(_entries(cache)) == 2
    assert parse_cache._key("a == 1") != parse_cache._key("a == 2")
    (entry,) = [p for p in _entries(cache) if p.stem == parse_cache._key("a == 1")]
    other = cache / "copy"
    other.mkdir()
    # an entry filed under another text's key is refused: the stored key must match
    target = parse_cache._path(other, parse_cache._key("a == 3"))
    target.parent.mkdir(parents=True)
    target.write_bytes(entry.read_bytes())
    parse_cache.set_cache_dir(other)
    assert parse_cache.load("a == 3") is None


def _rewrite(entry: Path, change: object) -> None:
    data = json.loads(entry.read_text())
    data["ast"] = change(data["ast"]) if callable(change) else change
    entry.write_text(json.dumps(data))


@pytest.mark.parametrize(
    ("name", "corrupt"),
    [
        ("garbage", lambda e: e.write_bytes(b"\x80\x00 not json")),
        ("truncated", lambda e: e.write_bytes(e.read_bytes()[:-7])),
        ("empty", lambda e: e.write_bytes(b"")),
        ("not an object", lambda e: e.write_text("[1, 2]")),
        ("oversized", lambda e: e.write_bytes(b" " * (300 * len(TEXT) + 8192))),
        ("unknown node", lambda e: _rewrite(e, ["exec", 0, 1, "os.system"])),
        ("span past the end", lambda e: _rewrite(e, ["id", 0, 10_000, "request"])),
        ("negative span", lambda e: _rewrite(e, ["id", -1, 3, "request"])),
        ("a name not in the text", lambda e: _rewrite(e, ["id", 0, 7, "evil"])),
        ("swapped operator", lambda e: _rewrite(e, lambda a: [a[0], a[1], a[2], "_&&_", *a[4:]])),
        ("bool as span", lambda e: _rewrite(e, ["id", False, True, "r"])),
        ("int64 overflow", lambda e: _rewrite(e, ["lit", 0, 1, "i", 1 << 70])),
        ("deep", lambda e: _rewrite(e, _deep(400))),
    ],
)
def test_a_bad_entry_is_a_miss_and_is_replaced(
    cache: Path, name: str, corrupt: object
) -> None:
    """Corrupt, truncated, forged or oversized entries are ignored: the text is parsed again."""
    tree = parse(TEXT)
    (entry,) = _entries(cache)
    corrupt(entry)  # type: ignore[operator]
    assert parse_cache.load(TEXT) is None, name
    parser._parse_cached.cache_clear()
    assert parse(TEXT) == tree
    assert parse_cache.load(TEXT) == tree, "the entry was rewritten"


def _deep(n: int) -> list[object]:
    node: list[object] = ["id", 0, 7, "request"]
    for _ in range(n):
        node = ["call", 0, len(TEXT), "!_", [node], None]
    return node


def test_syntax_errors_are_not_cached(cache: Path) -> None:
    """A text that does not parse leaves no entry and raises every time."""
    for _ in range(2):
        with pytest.raises(CelSyntaxError):
            parse("a &&")
    assert _entries(cache) == []


def test_an_unwritable_directory_costs_speed_not_correctness(tmp_path: Path) -> None:
    """Writing fails quietly (a file where the directory should be): parsing still works."""
    blocker = tmp_path / "blocked"
    blocker.write_text("a file, not a directory")
    saved = parse_cache.cache_dir()
    parse_cache.set_cache_dir(blocker)
    parser._parse_cached.cache_clear()
    try:
        assert parse("1 + 2") == parser._parse_text("1 + 2")
    finally:
        parse_cache.set_cache_dir(saved)
        parser._parse_cached.cache_clear()


def test_a_warm_cache_loads_the_shipped_packs_without_lark(tmp_path: Path) -> None:
    """With every tree cached, a new process never imports cel-python or lark to load."""
    code = ("import sys; from compliance import Engine; Engine.from_path(sys.argv[1]); "
            "print(sorted(m for m in ('celpy', 'lark') if m in sys.modules))")
    env = {**os.environ, "COMPLIANCE_CACHE_DIR": str(tmp_path)}
    run = [sys.executable, "-c", code, str(REPO / "rules")]
    cold = subprocess.run(run, env=env, capture_output=True, text=True, check=True)
    assert cold.stdout.strip() == "['lark']"  # cel-python's parser module alone, not celpy
    assert _entries(tmp_path)
    warm = subprocess.run(run, env=env, capture_output=True, text=True, check=True)
    assert warm.stdout.strip() == "[]"
