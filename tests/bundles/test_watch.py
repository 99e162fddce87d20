"""Watched reload: a change is loaded and swapped in whole; a broken pack or a bad bundle
leaves the last-known-good engine serving, and the status and the log say why.

The watches poll every 20 ms; tests wait on a condition (with a timeout), never a fixed sleep.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from compliance.bundle import build_bundle
from compliance.engine import Engine, EngineHolder
from compliance.reload import ReloadStatus

from .conftest import Keys, members_of, write_tar

FAST = 0.02
TIMEOUT = 20.0


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.005)


def _edit(pack: Path) -> None:
    """A change of meaning (one more word in the first reason), so the digest changes."""
    text = pack.read_text(encoding="utf-8")
    assert 'reason: "' in text
    pack.write_text(text.replace('reason: "', 'reason: "Edited. ', 1), encoding="utf-8")


def _break(pack: Path) -> None:
    pack.write_text("id: [this pack does not parse\n", encoding="utf-8")


class TestDirectory:
    def test_change_is_loaded_and_a_broken_pack_keeps_the_old_engine(
            self, rules_dir: Path) -> None:
        holder = EngineHolder(Engine.from_path(rules_dir))
        first = holder.engine.pack_set_digest
        with holder.watch(rules_dir, interval=FAST) as watch:
            assert watch.status().last_outcome == "unchanged"  # the load tried on start
            _edit(rules_dir / "sanctions.yaml")
            wait_for(lambda: holder.status().reloads == 1, "the edit to load")
            second = holder.engine.pack_set_digest
            assert second != first
            assert holder.status().digest == second

            with capture_logs() as logs:
                _break(rules_dir / "export-control.yaml")
                wait_for(lambda: holder.status().failures == 1, "the broken pack to fail")
            status = holder.status()
            assert holder.engine.pack_set_digest == second  # last known good still serves
            assert status.digest == second
            assert status.last_outcome == "failed"
            assert status.last_error_code == "yaml-syntax"
            assert status.last_error is not None
            assert "export-control.yaml" in status.last_error
            assert any(e["event"] == "reload-failed" and e["code"] == "yaml-syntax"
                       for e in logs)

            shutil.copy(Path(__file__).parents[2] / "rules" / "export-control.yaml",
                        rules_dir / "export-control.yaml")
            # repaired: the same set as serving, so nothing is swapped and the error clears
            wait_for(lambda: holder.status().last_outcome == "unchanged", "the repaired set")
            assert holder.status().last_error is None
            assert holder.engine.pack_set_digest == second
        assert not holder.status().watching

    def test_serves_old_or_new_never_a_mix(self, rules_dir: Path) -> None:
        """Readers evaluating during reloads always get a decision of one whole set."""
        holder = EngineHolder(Engine.from_path(rules_dir))
        context = {"request": {"model": "fable-5", "time": "2026-07-01T00:00:00Z"},
                   "principal": {"nationalities": ["FR"]}}
        seen: set[str] = set()
        errors: list[str] = []
        stop = threading.Event()

        def read() -> None:
            while not stop.is_set():
                decision = holder.engine.evaluate(context)
                seen.add(decision.pack_set_digest)
                errors.extend(e.code for e in decision.errors)

        digests = {holder.engine.pack_set_digest}
        readers = [threading.Thread(target=read) for _ in range(2)]
        with holder.watch(rules_dir, interval=FAST):
            for thread in readers:
                thread.start()
            for n in range(1, 4):
                _edit(rules_dir / "sanctions.yaml")
                wait_for(lambda n=n: holder.status().reloads == n, f"reload {n}")  # type: ignore[misc]
                digests.add(holder.engine.pack_set_digest)
        stop.set()
        for thread in readers:
            thread.join()
        assert len(digests) == 4
        assert seen <= digests
        assert errors == []

    def test_stop_ends_the_thread(self, rules_dir: Path) -> None:
        holder = EngineHolder(Engine.from_path(rules_dir))
        watch = holder.watch(rules_dir, interval=FAST)
        name = f"compliance-watch:{rules_dir}"
        assert any(t.name == name for t in threading.enumerate())
        watch.stop()
        assert not any(t.name == name for t in threading.enumerate())
        assert not holder.status().watching
        holder.watch(rules_dir, interval=FAST).stop()  # a stopped watch can be replaced

    def test_one_watch_at_a_time(self, rules_dir: Path) -> None:
        holder = EngineHolder(Engine.from_path(rules_dir))
        with holder.watch(rules_dir, interval=FAST), pytest.raises(RuntimeError):
            holder.watch(rules_dir, interval=FAST)

    def test_a_raising_callback_does_not_end_the_watch(self, rules_dir: Path) -> None:
        holder = EngineHolder(Engine.from_path(rules_dir))
        calls: list[ReloadStatus] = []

        def callback(status: ReloadStatus) -> None:
            calls.append(status)
            if len(calls) == 2:
                raise RuntimeError("a buggy listener")

        with holder.watch(rules_dir, interval=FAST, on_reload=callback):
            _edit(rules_dir / "sanctions.yaml")
            wait_for(lambda: len(calls) == 2, "the first reload")
            _edit(rules_dir / "sanctions.yaml")
            wait_for(lambda: len(calls) == 3, "the reload after the callback raised")
        assert [c.last_outcome for c in calls] == ["unchanged", "loaded", "loaded"]

    def test_without_a_watch_status_names_the_digest(self, rules_dir: Path) -> None:
        holder = EngineHolder(Engine.from_path(rules_dir))
        assert holder.status() == ReloadStatus(holder.engine.pack_set_digest)

    def test_bad_interval(self, rules_dir: Path) -> None:
        holder = EngineHolder(Engine.from_path(rules_dir))
        with pytest.raises(ValueError, match="interval"):
            holder.watch(rules_dir, interval=0)


class TestBundle:
    def test_new_bundle_loads_and_bad_ones_are_refused(
            self, bundle: Path, rules_dir: Path, keys: Keys, tmp_path: Path) -> None:
        holder = EngineHolder(Engine.from_bundle(bundle, public_key=keys.public))
        first = holder.engine.pack_set_digest
        with holder.watch(bundle, public_key=keys.public, interval=FAST):
            _edit(rules_dir / "sanctions.yaml")
            build_bundle(rules_dir, bundle, signer=keys.signer)
            wait_for(lambda: holder.status().reloads == 1, "the new bundle to load")
            second = holder.engine.pack_set_digest
            assert second != first

            build_bundle(rules_dir, bundle)  # unsigned
            wait_for(lambda: holder.status().failures == 1, "the unsigned bundle")
            assert holder.status().last_error_code == "bundle-unsigned"

            members = members_of(bundle)
            members["packs/sanctions.yaml"] += b"# tampered\n"
            build_bundle(rules_dir, bundle, signer=keys.signer)
            tampered = tmp_path / "tampered.bundle"
            write_tar(tampered, {**members_of(bundle),
                                 "packs/sanctions.yaml": members["packs/sanctions.yaml"]})
            tampered.replace(bundle)
            wait_for(lambda: holder.status().failures == 2, "the tampered bundle")
            assert holder.status().last_error_code == "bundle-changed-file"
            assert holder.engine.pack_set_digest == second

    def test_a_bundle_needs_a_key(self, bundle: Path, keys: Keys) -> None:
        holder = EngineHolder(Engine.from_bundle(bundle, public_key=keys.public))
        with pytest.raises(ValueError, match="public_key"):
            holder.watch(bundle)


def test_watchfiles_events(rules_dir: Path) -> None:
    pytest.importorskip("watchfiles")
    holder = EngineHolder(Engine.from_path(rules_dir))
    with holder.watch(rules_dir, interval=0.05, use="watchfiles") as watch:
        assert watch.use == "watchfiles"
        _break(rules_dir / "sanctions.yaml")
        wait_for(lambda: holder.status().failures == 1, "the event to trigger a failed load")
        assert holder.status().last_error_code == "yaml-syntax"
