"""Shared fixtures: build small pack sets on disk from inline YAML."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

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
