"""Helpers shared by the signal-store tests: a settable clock, the founding spec, redis-server."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from compliance.cel.values import Timestamp, format_timestamp, parse_timestamp
from compliance.signals import Event, SignalSpec

T0 = parse_timestamp("2026-06-15T12:00:00Z")
MINUTE = 60 * 1_000_000_000
HOUR = 60 * MINUTE


def at(offset_ns: int) -> Timestamp:
    """``T0`` plus ``offset_ns``."""
    return Timestamp(T0.nanos + offset_ns)


@dataclass
class FakeClock:
    """A clock the test sets; stores read it only for housekeeping and the horizon."""

    now: Timestamp = field(default_factory=lambda: T0)

    def __call__(self) -> Timestamp:
        return self.now


def is_flag(event: Mapping[str, Any]) -> bool:
    """The founding case's event predicate."""
    return bool(event["kind"] == "safeguard_flag")


def org_of(event: Mapping[str, Any]) -> str:
    """The founding case's key extractor."""
    return str(event["org_id"])


def founding_spec(**changes: Any) -> SignalSpec:
    """3 `safeguard_flag` events for one org within 10 minutes -> `under_review` for 24 h."""
    fields: dict[str, Any] = {
        "name": "repeated_flags", "predicate": is_flag, "key": org_of, "threshold": 3,
        "window": timedelta(minutes=10), "fact": "under_review", "lifetime": timedelta(hours=24),
    }
    fields.update(changes)
    return SignalSpec(**fields)


def require_redis(reason: str) -> None:
    """Skip with ``reason``, or fail when CI requires Redis."""
    if os.environ.get("COMPLIANCE_REQUIRE_REDIS") == "1":
        pytest.fail(f"COMPLIANCE_REQUIRE_REDIS=1 but {reason}")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def answers(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=0.5).ping())
    except redis.RedisError:
        return False


class RedisServer:
    """A ``redis-server`` of our own on a free port (append-only file, fsync on every write)."""

    def __init__(self, workdir: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            require_redis("`redis-server` is not installed")
        self.binary = str(binary)
        self.workdir = workdir
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "yes", "--appendfsync", "always", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not answers(self.url):
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.kill()
                require_redis(f"could not start `redis-server` on port {self.port}")
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None


SECOND = 10**9
# Specs the store-equivalence properties share: two of them raise the same fact.
SPECS = [
    founding_spec(threshold=2, window=timedelta(seconds=60), lifetime=timedelta(seconds=90)),
    founding_spec(name="burst", threshold=3, window=timedelta(seconds=20),
                  lifetime=timedelta(seconds=30)),
    founding_spec(name="logins", threshold=2, window=timedelta(seconds=45), fact="suspicious",
                  predicate=lambda e: not is_flag(e), lifetime=timedelta(seconds=40)),
]
FACTS = ("under_review", "suspicious")
ORGS = ("a", "b", "c")


def stepped(clock: Any, stream: list[tuple[int, str, bool]]) -> Iterator[tuple[int, Event]]:
    """The generated stream as events: ``(5-second steps, org, is a flag)`` -> ``(t, event)``.

    Times move by the steps (never below 0); the clock follows the latest time seen.
    """
    t = 0
    for delta, org, is_a_flag in stream:
        t = max(0, t + 5 * delta * SECOND)
        clock.now = Timestamp(max(clock.now.nanos, at(t).nanos))
        yield t, Event.from_json({"kind": "safeguard_flag" if is_a_flag else "login",
                                  "time": format_timestamp(at(t)), "org_id": org})
