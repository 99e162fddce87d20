"""Shared fixtures (small pack sets on disk from inline YAML) and the Hypothesis profiles.

The profile is chosen once per session, for every Hypothesis test of the suite: ``ci`` when
the environment says ``CI=true`` (derandomized, no example database, so a failure reproduces on
every run of the same commit), ``dev`` otherwise (random, so local runs keep exploring; pin a
run with ``--hypothesis-seed=N``); ``HYPOTHESIS_PROFILE`` overrides both. ``thorough`` is for
long local hunts. Example counts stay per test (``@settings(max_examples=...)``).
"""

from __future__ import annotations

import os
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", derandomize=True, database=None, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile(
    "thorough", deadline=None, max_examples=5000, suppress_health_check=list(HealthCheck)
)
PROFILE = os.environ.get(
    "HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI", "").lower() == "true" else "dev"
)
settings.load_profile(PROFILE)

REPO = Path(__file__).resolve().parent.parent

MANIFEST = """\
packset: test
default_effect: {default}
context:
  principal:
    id: string
    kind: {{type: string, enum: [customer, employee, service, government]}}
    nationalities: list<string>
    authorizations: list<string>
  org:
    id: string
    zdr: bool
  request:
    time: timestamp
    model: string
    use_case: string
    risk_scores: map<string, double>
"""


@pytest.fixture
def packset(tmp_path: Path) -> Callable[..., Path]:
    """Write ``packs`` (file name -> YAML text) plus a small manifest; return the directory."""

    def make(packs: dict[str, str], default: str = "allow") -> Path:
        root = tmp_path / "packs"
        root.mkdir(exist_ok=True)
        (root / "packset.yaml").write_text(MANIFEST.format(default=default), encoding="utf-8")
        for name, text in packs.items():
            (root / name).write_text(textwrap.dedent(text), encoding="utf-8")
        return root

    return make


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A reachable Redis: the machine's on 6379, else one started for this session.

    Defined once, here, for tests/signals and the shipped signals pack's policy tests.
    """
    sys.path.insert(0, str(REPO / "tests" / "signals"))
    from _sigtools import RedisServer, answers, require_redis

    try:
        import redis  # noqa: F401
    except ImportError:
        require_redis("redis-py is not installed (the `redis` extra)")
    shared = "redis://127.0.0.1:6379/0"
    if answers(shared):
        yield shared
        return
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server.url
    server.kill()
