"""The signal benchmark still runs end to end (timings are printed, never asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_quick_signal_benchmark_runs() -> None:
    """`benchmarks/signals.py --quick` exits 0 and reports the in-process store and its goal."""
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "signals.py"), "--quick"],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "in-process   observe:" in result.stdout, result.stdout
    assert "facts_for: median" in result.stdout, result.stdout
    assert "redis" in result.stdout, result.stdout
