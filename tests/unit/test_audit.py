"""Hash-chained decision logs: records chain, tampering is detected, replays compare."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from compliance import Engine
from compliance.audit import DecisionLog, replay, verify_log
from compliance.errors import LogIntegrityError

DENY_BIO = """
pack: bio
version: "1"
tier: policy
rules:
  - id: bio-high
    when: request.use_case == "bio"
    effect: deny
"""


def _context(use_case: str) -> dict[str, object]:
    return {"request": {"time": "2026-07-01T12:00:00Z", "model": "m", "use_case": use_case}}


@pytest.fixture
def logged(packset: Callable[..., Path], tmp_path: Path) -> tuple[Engine, Path]:
    engine = Engine.from_path(packset({"bio.yaml": DENY_BIO}))
    path = tmp_path / "decisions.jsonl"
    with DecisionLog(path) as log:
        for use_case in ["bio", "coding", "bio"]:
            ctx = _context(use_case)
            log.record(engine.evaluate(ctx), ctx)
    return engine, path


def _rewrite(path: Path, edit: Callable[[list[str]], list[str]]) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join(edit(lines)) + "\n", encoding="utf-8")


class TestDecisionLog:
    def test_chain_verifies(self, logged: tuple[Engine, Path]) -> None:
        """An untouched log verifies and counts its records."""
        assert verify_log(logged[1]) == 3

    def test_records_name_the_pack_set(self, logged: tuple[Engine, Path]) -> None:
        """Every record carries the pack set digest it was decided with."""
        engine, path = logged
        records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        assert {r["pack_set_digest"] for r in records} == {engine.pack_set_digest}
        assert [r["decision"]["effect"] for r in records] == ["deny", "allow", "deny"]

    def test_reopening_continues_the_chain(self, logged: tuple[Engine, Path]) -> None:
        """Appending after reopening keeps one valid chain."""
        engine, path = logged
        with DecisionLog(path) as log:
            log.record(engine.evaluate(_context("bio")), _context("bio"))
        assert verify_log(path) == 4

    def test_edit_is_detected(self, logged: tuple[Engine, Path]) -> None:
        """Changing a logged effect breaks the record's hash."""
        _rewrite(logged[1], lambda ls: [ls[0].replace('"deny"', '"allow"'), *ls[1:]])
        with pytest.raises(LogIntegrityError, match="edited"):
            verify_log(logged[1])

    def test_gap_is_detected(self, logged: tuple[Engine, Path]) -> None:
        """Removing a record breaks the sequence."""
        _rewrite(logged[1], lambda ls: [ls[0], ls[2]])
        with pytest.raises(LogIntegrityError, match="removed or reordered"):
            verify_log(logged[1])


class TestReplay:
    def test_same_packs_replay_the_same(self, logged: tuple[Engine, Path]) -> None:
        """Replaying against the same pack set reproduces every decision."""
        engine, path = logged
        assert [r.status for r in replay(path, engine)] == ["same"] * 3

    def test_other_pack_set_is_reported(self, logged: tuple[Engine, Path],
                                        packset: Callable[..., Path]) -> None:
        """A different pack set is reported per record instead of compared."""
        other = Engine.from_path(packset({"bio.yaml": DENY_BIO.replace('"bio"', '"chem"')}))
        assert {r.status for r in replay(logged[1], other)} == {"other-pack-set"}
