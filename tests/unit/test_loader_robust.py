"""The loader never raises: hostile bytes, tags, YAML 1.1 readings, huge numbers, odd files."""

from __future__ import annotations

import math
import os
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from yaml.nodes import MappingNode, ScalarNode

from compliance.engine import Engine, EngineHolder, check_paths
from compliance.errors import PackError
from compliance.loader import Limits, load_pack_file, load_pack_set, load_pack_text
from compliance.loader._nodes import kind_of, scalar_value
from compliance.loader._yaml import compose_text

PACK = """\
pack: demo
version: "1"
tier: policy
rules:
  - id: r
    when: request.model == "fable-5"
    effect: deny
"""


def _codes(text: str) -> list[str]:
    return [d.code for d in load_pack_text(text, "p.yaml")[1]]


def _scalar(text: str) -> ScalarNode:
    root = compose_text(f"v: {text}\n", "p.yaml").root
    assert isinstance(root, MappingNode)
    node = root.value[0][1]
    assert isinstance(node, ScalarNode)
    return node


class TestControlCharacters:
    """PyYAML's ReaderError becomes ``invalid-character`` at the character."""

    @pytest.mark.parametrize(
        ("text", "line", "col", "point"),
        [("pack\x00: 1\n", 0, 4, "U+0000"), ("pack: demo\nx: a\ufffe\n", 1, 4, "U+FFFE"),
         ("a: \x1b[31m\n", 0, 3, "U+001B"), ("a: \ud800\n", 0, 3, "U+D800")],
    )
    def test_reported_at_the_character(self, text: str, line: int, col: int, point: str) -> None:
        """Line, column and code point are named; nothing is raised."""
        pack, diags = load_pack_text(text, "p.yaml")
        assert pack is None
        assert [d.code for d in diags] == ["invalid-character"]
        assert diags[0].span is not None
        assert (diags[0].span.start.line, diags[0].span.start.col) == (line, col)
        assert point in diags[0].message

    def test_from_a_file(self, tmp_path: Path) -> None:
        """The same through the byte path used for files."""
        path = tmp_path / "p.yaml"
        path.write_bytes(PACK.replace("demo", "de\x00mo").encode())
        assert [d.code for d in load_pack_file(path)[1]] == ["invalid-character"]


class TestTags:
    """Every explicit tag is refused at the tag, whether or not PyYAML could convert it."""

    @pytest.mark.parametrize(
        "tag", ["!!int", "!!bool", "!!str", "!!binary", "!!float", "!!null", "!!timestamp",
                "!!python/object:os.system", "!!python/object/apply:os.system", "!custom", "!"],
    )
    def test_scalar_tags(self, tag: str) -> None:
        """``tier: <tag> law`` is a ``yaml-tag`` error at line 3, column 7."""
        pack, diags = load_pack_text(PACK.replace("tier: policy", f"tier: {tag} law"), "p.yaml")
        assert pack is None
        assert [d.code for d in diags] == ["yaml-tag"]
        assert diags[0].span is not None
        assert (diags[0].span.start.line, diags[0].span.start.col) == (2, 6)
        assert f"`{tag}`" in diags[0].message

    @pytest.mark.parametrize(
        "text", ["rules: !!seq []\n", "a: !!map {}\n", "!!str key: 1\n", "x: !custom [1]\n",
                 "%TAG !e! tag:example.com,2000:\n---\nx: !e!thing 1\n"],
    )
    def test_collection_and_key_tags(self, text: str) -> None:
        """Tags on lists, mappings, keys and through ``%TAG`` handles are refused too."""
        assert _codes(text) == ["yaml-tag"]


class TestCoreSchema:
    """Plain scalars read as the YAML 1.2 core schema says (docs/rule-pack-format.md)."""

    @pytest.mark.parametrize(
        ("text", "kind", "value"),
        [("1:30", "string", "1:30"), ("0x10", "int", 16), ("017", "int", 17), ("0o17", "int", 15),
         ("+12", "int", 12), ("-0", "int", 0), ("0b101", "string", "0b101"),
         ("1_000", "string", "1_000"), ("yes", "string", "yes"), ("no", "string", "no"),
         ("on", "string", "on"), ("off", "string", "off"), ("y", "string", "y"),
         ("True", "bool", True), ("FALSE", "bool", False), ("tRUE", "string", "tRUE"),
         ("~", "null", None), ("null", "null", None), ("", "null", None),
         ("1.5", "float", 1.5), ("-.5", "float", -0.5), ("1e3", "float", 1000.0),
         ("1.", "float", 1.0), ("2026-06-12", "string", "2026-06-12"),
         ("2026-06-12T17:21:00Z", "string", "2026-06-12T17:21:00Z"), ("=", "string", "=")],
    )
    def test_plain_scalars(self, text: str, kind: str, value: object) -> None:
        """Kind and value of each plain scalar."""
        node = _scalar(text)
        assert kind_of(node) == kind
        assert scalar_value(node) == value
        assert type(scalar_value(node)) is type(value)

    @pytest.mark.parametrize(("text", "sign"), [(".inf", 1), ("-.Inf", -1), ("+.INF", 1)])
    def test_infinities(self, text: str, sign: int) -> None:
        """``.inf`` spellings are floats."""
        value = scalar_value(_scalar(text))
        assert isinstance(value, float)
        assert math.isinf(value)
        assert math.copysign(1, value) == sign

    def test_nan(self) -> None:
        """``.nan`` is a float NaN."""
        value = scalar_value(_scalar(".NaN"))
        assert isinstance(value, float)
        assert math.isnan(value)

    def test_sexagesimal_tier_is_not_90(self) -> None:
        """``tier: 1:30`` is an invalid tier name, not the rank 90 YAML 1.1 would read."""
        _pack, diags = load_pack_text(PACK.replace("tier: policy", "tier: 1:30"), "p.yaml")
        assert [d.code for d in diags] == ["invalid-value"]
        assert "`1:30`" in diags[0].message

    def test_yes_is_not_true(self) -> None:
        """``forbid_silent: yes`` is a string where a bool belongs, not ``true``."""
        assert "wrong-type" in _codes(PACK + "forbid_silent: yes\n")


class TestIntegers:
    """Integers must fit in 64 bits; longer literals are refused before conversion."""

    @pytest.mark.parametrize(
        "text", ["9" * 5000, "-" + "9" * 5000, "9223372036854775808", "-9223372036854775809",
                 "0x" + "f" * 5000, "0x10000000000000000", "0o" + "7" * 30],
    )
    def test_too_large(self, text: str) -> None:
        """``integer-too-large`` at the value, with the literal shortened in the message."""
        _pack, diags = load_pack_text(PACK + f"    priority: {text}\n", "p.yaml")
        assert [d.code for d in diags] == ["integer-too-large"]
        assert diags[0].span is not None
        assert diags[0].span.start.line == 7
        assert len(diags[0].message) < 100

    @pytest.mark.parametrize("text", ["9223372036854775807", "-9223372036854775808", "0" * 40])
    def test_bounds_accepted(self, text: str) -> None:
        """The int64 bounds themselves (and leading zeros) load."""
        pack, diags = load_pack_text(PACK + f"    priority: {text}\n", "p.yaml")
        assert not diags
        assert pack is not None
        assert pack.rules[0].priority == int(text)

    @pytest.mark.parametrize(
        "literal", ["9" * 5000, "-" + "9" * 5000, "9" * 5000 + "u", "0x" + "f" * 5000, "1" * 21],
    )
    def test_in_cel(self, packset: Callable[..., Path], literal: str) -> None:
        """A huge literal inside a condition is a CEL diagnostic, not a ValueError."""
        root = packset({"p.yaml": PACK.replace('"fable-5"', '"x" && 1 == ' + literal)})
        diags, checked = check_paths([root])
        assert checked is None
        assert [d.code for d in diags.errors] == ["cel-syntax"]
        assert len(diags.errors[0].message) < 200


INSTANTS = [
    "2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z", "2026-01-01T25:00:00Z",
    "2026-01-01T10:00:80Z", "2026-01-01T10:60:00Z", "2026-01-01T10:00:00+25:00",
    "2026-01-01T10:00:00-05:60", "0000-01-01T00:00:00Z", "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:00-01:00", "9999-12-31T23:59:00[Pacific/Honolulu]",
    "2026-00-10T00:00:00[Europe/Paris]",
]


class TestInstants:
    """Out-of-range instants are ``invalid-instant`` at the value; reloads raise PackError."""

    @pytest.mark.parametrize("raw", INSTANTS)
    def test_out_of_range(self, raw: str) -> None:
        """Reported at the value's line (the window's ``from``)."""
        text = PACK + f'    effective: {{from: "{raw}"}}\n'
        _pack, diags = load_pack_text(text, "p.yaml")
        assert [d.code for d in diags] == ["invalid-instant"]
        assert diags[0].span is not None
        assert diags[0].span.start.line == 7
        assert raw in diags[0].message

    def test_reload_raises_pack_error(self, packset: Callable[..., Path]) -> None:
        """``EngineHolder.reload`` keeps the old engine and raises PackError, never ValueError."""
        good = packset({"p.yaml": PACK})
        holder = EngineHolder(Engine.from_path(good))
        old = holder.engine
        (good / "p.yaml").write_text(PACK + '    effective: {from: "2026-13-01T00:00:00Z"}\n')
        with pytest.raises(PackError) as info:
            holder.reload(good)
        assert type(info.value) is PackError
        assert [d.code for d in info.value.diagnostics] == ["invalid-instant"]
        assert holder.engine is old


class TestFiles:
    """Size is checked before reading; FIFOs, devices and directories are refused unread."""

    def test_sparse_file_refused_by_size(self, tmp_path: Path) -> None:
        """A 4 GiB sparse file is refused from its size alone."""
        path = tmp_path / "big.yaml"
        with path.open("wb") as f:
            f.truncate(4 << 30)
        diags = load_pack_file(path)[1]
        assert [d.code for d in diags] == ["file-too-large"]
        assert str(4 << 30) in diags[0].message

    def test_limit_is_exact(self, tmp_path: Path) -> None:
        """At the limit loads; one byte over is refused."""
        path = tmp_path / "p.yaml"
        path.write_bytes(PACK.encode())
        assert not load_pack_file(path, Limits(max_file_bytes=len(PACK)))[1]
        over = load_pack_file(path, Limits(max_file_bytes=len(PACK) - 1))[1]
        assert [d.code for d in over] == ["file-too-large"]

    @pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
    @pytest.mark.parametrize("name", ["p.yaml", "packset.yaml"])
    def test_fifo_refused_without_blocking(self, tmp_path: Path, name: str) -> None:
        """A FIFO with no writer is refused at once (opened non-blocking, never read)."""
        fifo = tmp_path / name
        os.mkfifo(fifo)
        _, diags = load_pack_set([fifo])
        assert "not-a-file" in [d.code for d in diags]
        assert any("FIFO" in d.message for d in diags)

    @pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")
    def test_dev_zero_refused(self) -> None:
        """``/dev/zero`` is a device: refused, never read."""
        diags = load_pack_file("/dev/zero")[1]
        assert [d.code for d in diags] == ["not-a-file"]
        assert "device" in diags[0].message

    def test_directory_as_pack_file(self, tmp_path: Path) -> None:
        """A directory passed where a pack file belongs is ``not-a-file``."""
        assert [d.code for d in load_pack_file(tmp_path)[1]] == ["not-a-file"]

    @pytest.mark.parametrize("raw", ["a" * 5000, "a\x00b"])
    def test_unusable_path(self, raw: str) -> None:
        """A name too long for the OS, or holding NUL, is a diagnostic, not an OSError."""
        _, diags = load_pack_set([raw])
        assert {"io-error", "file-not-found"} & {d.code for d in diags}

    def test_missing_file(self, tmp_path: Path) -> None:
        """A missing file is still ``file-not-found``."""
        assert [d.code for d in load_pack_file(tmp_path / "nope.yaml")[1]] == ["file-not-found"]


class TestFriendlySyntax:
    """PyYAML's token names never reach users; quotes are blamed where they open."""

    def test_quote_open_at_end_of_file(self) -> None:
        """A quote never closed before the end is reported at the opening quote."""
        _pack, diags = load_pack_text('pack: demo\nversion: "1\n', "p.yaml")
        assert diags[0].message.startswith("unclosed quote")
        assert diags[0].span is not None
        assert (diags[0].span.start.line, diags[0].span.start.col) == (1, 9)

    def test_single_quote_runs_on(self) -> None:
        """A single-quoted string that swallows lines is blamed on its first line."""
        text = textwrap.dedent("""\
            pack: demo
            version: '1
            tier: policy
            rules:
              - id: 'r'
                effect: deny
            """)
        diags = load_pack_text(text, "p.yaml")[1]
        assert diags[0].message.startswith("unclosed quote")
        assert diags[0].span is not None
        assert diags[0].span.start.line == 1

    @pytest.mark.parametrize(
        "text", ["a:\n  - b\n - c\n", "a:\n  b: 1\n c: 2\n", "a: [1, 2\nb: 3\n", "a: {b: 1\n",
                 "rules:\n  - id: a\n    when: x\n  effect: deny\n"],
    )
    def test_no_pyyaml_token_names(self, text: str) -> None:
        """No ``<block end>``-style token names and no raw quotes in messages."""
        diags = load_pack_text(text, "p.yaml")[1]
        assert [d.code for d in diags] == ["yaml-syntax"]
        for d in diags:
            for text_ in (d.message, *d.notes):
                assert "<" not in text_
                assert "while parsing" not in text_
