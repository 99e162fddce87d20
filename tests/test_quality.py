"""The code-quality gates CI enforces: mypy strict, ruff, and the import architecture."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=REPO, capture_output=True, text=True, check=False)


def _tool(name: str) -> str:
    path = Path(sys.executable).parent / name
    found = str(path) if path.exists() else shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed; install the `test` extra")
    return found


def test_mypy_strict() -> None:
    """`src/` type-checks under mypy --strict."""
    result = _run(sys.executable, "-m", "mypy", "src/compliance")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff() -> None:
    """Sources, tests and benchmarks are ruff-clean."""
    result = _run(_tool("ruff"), "check", "src", "tests", "benchmarks")
    assert result.returncode == 0, result.stdout + result.stderr


def test_import_architecture() -> None:
    """Imports follow the pipeline, and celpy/lark/yaml stay in their adapter modules."""
    result = _run(_tool("lint-imports"))
    assert result.returncode == 0, result.stdout + result.stderr
