"""Fixtures for the signal stores: a settable clock, the founding spec, and real Redis servers.

Redis tests use 127.0.0.1:6379 when it answers, else a ``redis-server`` started here on a
free port; if neither works they skip, unless ``COMPLIANCE_REQUIRE_REDIS=1`` (set by CI),
which turns the skip into a failure.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from compliance.signals import InProcessStore, Store

def require_redis(reason: str) -> None:
    """Skip with ``reason``, or fail when CI requires Redis."""
    if os.environ.get("COMPLIANCE_REQUIRE_REDIS") == "1":
        pytest.fail(f"COMPLIANCE_REQUIRE_REDIS=1 but {reason}")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(url: str) -> bool:
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
        while not _answers(self.url):
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


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A reachable Redis: the machine's on 6379, else one started for this session."""
    try:
        import redis  # noqa: F401
    except ImportError:
        require_redis("redis-py is not installed (the `redis` extra)")
    shared = "redis://127.0.0.1:6379/0"
    if _answers(shared):
        yield shared
        return
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server.url
    server.kill()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A ``redis-server`` only this test uses (to kill and restart it)."""
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.kill()


@pytest.fixture
def make_redis_store(redis_url: str) -> Iterator[Callable[..., Store]]:
    """Build ``RedisStore``s under a namespace unique to this test; delete its keys afterwards."""
    from compliance.signals import RedisStore

    made: list[RedisStore] = []

    def make(**kwargs: Any) -> RedisStore:
        kwargs.setdefault("namespace", f"test-{uuid.uuid4().hex}")
        store = RedisStore(url=redis_url, **kwargs)
        made.append(store)
        return store

    yield make
    for store in made:
        store.clear()


@pytest.fixture(params=["in-process", "redis"])
def make_store(
    request: pytest.FixtureRequest,
) -> Callable[..., Store]:
    """Each behaviour test runs against both stores."""
    if request.param == "in-process":
        return lambda **kwargs: InProcessStore(**kwargs)
    factory: Callable[..., Store] = request.getfixturevalue("make_redis_store")
    return factory
