"""`benchmarks/load.py --quick` still runs end to end (numbers are printed, never asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_quick_load_benchmark_runs_and_reports_every_row() -> None:
    """Import time, the three parse-cache rows and peak RSS are all printed."""
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "load.py"), "--quick"],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert result.returncode == 0, result.stderr
    for row in ("from compliance import Engine", "parse cache off", "disk cache empty",
                "disk cache warm", "peak RSS"):
        assert row in result.stdout, result.stdout
