"""The benchmark script still runs end to end (timings are printed, never asserted)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

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


def test_quick_gateway_benchmark_runs_and_states_the_goal() -> None:
    """`benchmarks/gateway.py --quick` serves real HTTP end to end and prints every series."""
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "gateway.py"), "--quick"],
        capture_output=True, text=True, timeout=300, check=False, cwd=REPO,
    )
    assert result.returncode == 0, result.stderr
    for name in ("direct upstream", "bare hop, no policy", "via gateway, routed",
                 "requests/s", "in-process", "gateway as middleware",
                 "goal: added median <= 200 us over HTTP, proxy: ",
                 "goal: added median <= 200 us over HTTP, middleware in the model server: "):
        assert name in result.stdout, result.stdout


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is not installed")
def test_instruction_count_runs_under_callgrind() -> None:
    """`benchmarks/instructions.py` counts a positive number of instructions per decision."""
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "instructions.py"), "--rules", "10",
         "--contexts", "20"],
        capture_output=True, text=True, timeout=600, check=False,
    )
    assert result.returncode == 0, result.stderr
    found = re.search(r"([\d,]+) instructions per evaluate\(\)", result.stdout)
    assert found is not None, result.stdout
    assert int(found.group(1).replace(",", "")) > 1000


def test_first_sight_counting_loop_runs() -> None:
    """The loop `instructions.py --first-sight` counts (its child, without callgrind) warms
    on other contexts and decides new ones without error."""
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "instructions.py"), "--child",
         "--first-sight", "--rules", "10", "--contexts", "5"],
        capture_output=True, text=True, timeout=600, check=False,
    )
    assert result.returncode == 0, result.stderr
