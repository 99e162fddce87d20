"""The public API is small, sorted and deliberate."""

from __future__ import annotations

import subprocess
import sys

import compliance


def test_all_is_sorted_and_complete() -> None:
    """`__all__` is sorted and every name in it exists."""
    assert list(compliance.__all__) == sorted(compliance.__all__)
    for name in compliance.__all__:
        assert hasattr(compliance, name), name


def test_import_does_not_load_cli_or_celpy_interpreter() -> None:
    """`import compliance` stays light: no CLI, no cel-python interpreter backend."""
    code = ("import sys, compliance; bad = [m for m in ('compliance.cli', 'compliance.interpreter',"
            " 'celpy.evaluation') if m in sys.modules]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
