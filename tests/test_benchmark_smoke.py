"""The benchmark script still runs end to end (timings are printed, never asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_quick_benchmark_runs_and_names_every_engine() -> None:
    """`benchmarks/run.py --quick` exits 0 and reports the compiled, interpreter and lambda rows."""
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "run.py"), "--quick"],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert result.returncode == 0, result.stderr
    for name in ("compiled engine", "interpreter engine", "hand-written lambdas",
                 "load+check+compile"):
        assert name in result.stdout, result.stdout
