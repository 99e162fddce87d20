"""Mutations of the shipped rule packs, shared by the Hypothesis fuzz test and tests/fuzz/.

A mutation is a list of edits (flip a bit, insert a token, delete or duplicate a line,
replace a value) applied to the bytes of one shipped pack or of the manifest. The tokens
are the inputs that crashed the loader before: control characters, explicit tags, huge
integers, out-of-range instants, deep nesting, stray quotes and indentation.
"""

from __future__ import annotations

import random
import tempfile
from dataclasses import dataclass
from pathlib import Path

from compliance.diagnostics import Diagnostic
from compliance.engine import Engine, check_paths

RULES = Path(__file__).resolve().parents[2] / "rules"
MANIFEST = "packset.yaml"
PACKS = tuple(sorted(p.name for p in RULES.glob("*.yaml") if p.name != MANIFEST))
KINDS = ("flip", "insert", "delete-line", "duplicate-line", "replace-value")
TOKENS = (
    "\x00", "\x07", "\x1b", "\x7f", "\x85", "\ufffe", "\ufeff", "\u2028", "\t", "\r",
    "!!int ", "!!bool ", "!!str ", "!!binary ", "!!python/object:os.system ", "!custom ",
    "! ", "!!timestamp ", "!!map ", "!!seq ", "&a ", "*a", "<<: *a\n",
    "9" * 5000, "-" + "9" * 4400, "0x" + "f" * 5000, "1" + "0" * 20, "9223372036854775808",
    "1:30", "0x10", "017", "0o17", "0b101", "yes", "no", "on", "off", "~", ".inf", ".nan",
    "1e400", "1_000",
    "2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z", "2026-01-01T25:00Z", "2026-01-01T10:00:80Z",
    "2026-01-01T10:00+25:00", "0000-01-01T00:00Z", "0001-01-01T00:00+01:00",
    "9999-12-31T23:59-01:00", "2026-03-08T02:30:00[America/New_York]", "[Mars/Olympus]",
    "[" * 80, "]" * 80, "{a: " * 80, "- " * 80, "(" * 200, "!" * 300, "1 + " * 400,
    "'", '"', ": ", "? ", "- ", "#", "|", ">", "%YAML 1.1\n", "---\n", "...\n", "\n  ", "\n ",
    " in [", " == ", "&&", "||", "timestamp(", "duration(", "\\u0000", "\\U0010ffff",
    "\\x", "size(", ".exists(x, ", "${", "{{", "}}", "null", "true", "", " " * 40,
)


@dataclass(frozen=True, slots=True)
class Edit:
    """One edit: ``where`` is a fraction of the text (0..1) so it fits any length."""

    kind: str
    where: float
    token: str


def apply(data: bytes, edits: list[Edit]) -> bytes:
    """The bytes after applying ``edits`` in order (each edit stays in bounds)."""
    buf = bytearray(data)
    for edit in edits:
        pos = int(edit.where * len(buf))
        if edit.kind == "flip" and buf:
            buf[min(pos, len(buf) - 1)] ^= 1 << (len(edit.token) % 8)
        elif edit.kind == "insert":
            buf[pos:pos] = edit.token.encode("utf-8", "surrogatepass")
        elif edit.kind in ("delete-line", "duplicate-line", "replace-value"):
            lines = bytes(buf).split(b"\n")
            i = min(int(edit.where * len(lines)), len(lines) - 1)
            if edit.kind == "delete-line":
                del lines[i]
            elif edit.kind == "duplicate-line":
                lines.insert(i, lines[i])
            else:
                key, sep, _ = lines[i].partition(b": ")
                lines[i] = key + (sep or b": ") + edit.token.encode("utf-8", "surrogatepass")
            buf = bytearray(b"\n".join(lines))
    return bytes(buf)


def random_edits(rng: random.Random) -> list[Edit]:
    """One to four random edits (for campaigns outside Hypothesis)."""
    return [
        Edit(rng.choice(KINDS), rng.random(), rng.choice(TOKENS))
        for _ in range(rng.randint(1, 4))
    ]


def check_mutant(target: str, edits: list[Edit]) -> list[Diagnostic]:
    """Copy the shipped packs with ``target`` mutated; load, check and compile them.

    Returns the diagnostics. Anything raised is a bug: the caller lets it propagate.
    A clean result must really be clean (no errors), and then the engine must build.
    """
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for name in (MANIFEST, *PACKS):
            data = (RULES / name).read_bytes()
            (root / name).write_bytes(apply(data, edits) if name == target else data)
        diagnostics, checked = check_paths([root])
        if checked is None:
            assert diagnostics.errors, "no checked pack set, yet no error explains why"
        else:
            assert not diagnostics.errors
            Engine(checked)
        return diagnostics.sorted()
