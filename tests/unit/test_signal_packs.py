"""Signals in packs: loading, checking, digests and the engine API around them (issue 12)."""

from __future__ import annotations

from pathlib import Path

import pytest

from compliance import Engine
from compliance.canonical import pack_set_digest
from compliance.engine import EngineHolder, check_paths
from compliance.signals import InProcessStore

MANIFEST = """\
packset: demo
context:
  org: {id: string}
  request: {time: timestamp, model: string}
events:
  org_id: string
  n: int
"""

SIGNAL = """\
  - name: {name}
    on: {on}
    key: {key}
    key_path: {key_path}
    count: 2
    within: 1m
    raise: {fact}
    for: 1h
"""


def write(tmp: Path, signals: str, when: str = "facts.flagged", manifest: str = MANIFEST) -> Path:
    (tmp / "packset.yaml").write_text(manifest)
    (tmp / "p.yaml").write_text(
        'pack: p\nversion: "1"\ntier: policy\nsignals:\n' + signals
        + f"rules:\n  - id: r\n    when: '{when}'\n    effect: deny\n    reason: flagged\n")
    return tmp


def signal(name: str = "s", on: str = 'event.kind == "flag"', key: str = "event.org_id",
           key_path: str = "org.id", fact: str = "flagged") -> str:
    return SIGNAL.format(name=name, on=on, key=key, key_path=key_path, fact=fact)


def codes(tmp: Path) -> list[str]:
    diagnostics, _ = check_paths([tmp])
    return [d.code for d in diagnostics.errors]


def test_a_clean_signal_pack_checks(tmp_path: Path) -> None:
    assert codes(write(tmp_path, signal())) == []


def test_two_signals_raising_one_fact_need_one_key_path(tmp_path: Path) -> None:
    manifest = MANIFEST.replace("org: {id: string}", "org: {id: string, name: string}")
    pack = signal() + signal(name="t", key_path="org.name")
    assert codes(write(tmp_path, pack, manifest=manifest)) == ["signal-key-mismatch"]


def test_the_predicate_must_be_a_bool(tmp_path: Path) -> None:
    assert codes(write(tmp_path, signal(on="event.n"))) == ["non-bool-condition"]


def test_a_context_may_not_declare_facts(tmp_path: Path) -> None:
    manifest = MANIFEST.replace("  org: {id: string}", "  org: {id: string}\n  facts: {x: bool}")
    assert "invalid-value" in codes(write(tmp_path, signal(), manifest=manifest))


def test_events_kind_and_time_keep_their_types(tmp_path: Path) -> None:
    manifest = MANIFEST + "  time: string\n"
    assert codes(write(tmp_path, signal(), manifest=manifest)) == ["invalid-type"]


def test_signals_and_events_are_part_of_the_digests(tmp_path: Path) -> None:
    first = Engine.from_path(write(tmp_path, signal())).pack_set_digest
    other = tmp_path / "other"
    other.mkdir()
    changed = Engine.from_path(write(other, signal().replace("count: 2", "count: 3")))
    assert changed.pack_set_digest != first
    third = tmp_path / "third"
    third.mkdir()
    events = Engine.from_path(write(third, signal(), manifest=MANIFEST.replace("n: int", "m: int")))
    assert events.pack_set_digest != first


def test_a_pack_set_without_signals_keeps_its_digest_and_never_asks_the_store() -> None:
    rules = Path(__file__).resolve().parents[2] / "rules"
    paths = [p for p in rules.glob("*.yaml") if p.name != "safeguard-signals.yaml"]
    diagnostics, checked = check_paths(paths)
    assert checked is not None, diagnostics.errors

    class Refusing(InProcessStore):
        def facts_for(self, keys, at):  # type: ignore[no-untyped-def]
            raise AssertionError("a pack set without signals must not read facts")

    engine = Engine(checked, store=Refusing())
    assert "facts" not in engine.schema.variables
    assert pack_set_digest(checked.pack_set) == engine.pack_set_digest
    decision = engine.evaluate({"request": {"time": "2026-06-15T12:00:00Z", "model": "x"}})
    assert decision.facts == []
    assert engine.observe({"kind": "flag", "time": "2026-06-15T12:00:00Z"}) == []


def test_reload_keeps_a_store_that_has_seen_events(tmp_path: Path) -> None:
    class Clock:
        from compliance.cel.values import parse_timestamp
        now = parse_timestamp("2026-06-15T12:00:00Z")

        def __call__(self):  # type: ignore[no-untyped-def]
            return self.now

    root = write(tmp_path, signal())
    holder = EngineHolder(Engine.from_path(root, clock=Clock()))
    for second in (0, 1):
        holder.engine.observe({"kind": "flag", "time": f"2026-06-15T12:00:0{second}Z",
                               "org_id": "o"})
    store = holder.engine.store
    fresh = holder.reload(root)
    assert fresh.store is store
    decision = fresh.evaluate({"org": {"id": "o"}, "request": {"time": "2026-06-15T12:00:02Z"}})
    assert decision.effect == "deny"
    assert [f.fact for f in decision.facts] == ["flagged"]


@pytest.mark.parametrize("when", ["facts.flagged == true", "!facts.flagged"])
def test_facts_are_bools_for_the_checker(tmp_path: Path, when: str) -> None:
    assert codes(write(tmp_path, signal(), when=when)) == []
