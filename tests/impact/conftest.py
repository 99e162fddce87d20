"""Fixtures for the impact tests (the pack sets and traffic of ``impact_helpers``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from impact_helpers import NEW, OLD, Traffic, build_traffic, write_packs


@pytest.fixture
def packsets(tmp_path: Path) -> tuple[Path, Path]:
    """The OLD and NEW pack-set directories."""
    return write_packs(tmp_path / "old", OLD), write_packs(tmp_path / "new", NEW)


@pytest.fixture
def traffic(tmp_path: Path) -> Callable[..., Traffic]:
    """Build a traffic file under ``tmp_path``."""

    def make(name: str = "traffic.jsonl", **kwargs: Any) -> Traffic:
        return build_traffic(tmp_path / name, **kwargs)

    return make
