"""Crash and multi-process tests: each writer runs in its own Python subprocess."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from compliance.audit import verify

REPO = Path(__file__).resolve().parents[2]

WRITER = """
import json, sys
from pathlib import Path
from compliance import Engine
from compliance.audit import DecisionLog
engine = Engine.from_path(sys.argv[2])
ctx = json.loads(Path(sys.argv[3]).read_text())
count = int(sys.argv[4])
with DecisionLog(sys.argv[1], engine=engine, redaction_key=b"k" * 32, checkpoint_every=25,
                 checkpoint_seconds=None, shared=sys.argv[5] == "shared") as log:
    for i in range(count):
        log.record(engine.evaluate(ctx), ctx)
        if i == 5:
            print("writing", flush=True)
"""


def _writer(log: Path, count: int, mode: str = "alone") -> subprocess.Popen[str]:
    context = REPO / "examples" / "contexts" / "iran-origin.json"
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(log), str(REPO / "rules"), str(context), str(count),
         mode],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def test_two_processes_one_chain(tmp_path: Path) -> None:
    """Two processes appending to one log at once leave one intact chain."""
    log = tmp_path / "d.jsonl"
    procs = [_writer(log, 150, "shared"), _writer(log, 150, "shared")]
    for proc in procs:
        proc.communicate(timeout=120)
        assert proc.returncode == 0
    report = verify([log])
    assert report.ok, report.to_json()
    assert report.decisions == 300


def test_a_second_process_is_refused_while_a_writer_holds_the_log(tmp_path: Path) -> None:
    """Without ``shared`` a log has one writer: another process is told so, and nothing breaks."""
    log = tmp_path / "d.jsonl"
    holder = _writer(log, 1_000_000)
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "writing"
    second = _writer(log, 3)
    _, err = second.communicate(timeout=120)
    assert second.returncode != 0
    assert "another writer holds this log" in err
    holder.send_signal(signal.SIGTERM)
    holder.wait(timeout=30)
    report = verify([log])
    assert report.decisions > 5
    # the holder was killed: at most a cut last write and records after its last checkpoint
    assert {b.kind for b in report.breaks} <= {"torn", "truncated"}, report.to_json()


def test_kill_9_then_resume(tmp_path: Path) -> None:
    """kill -9 mid-stream plus a torn last record: verifies up to it, resumes with a restart."""
    log = tmp_path / "d.jsonl"
    proc = _writer(log, 1_000_000)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "writing"
    time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    with log.open("ab") as handle:  # the write the kill cut in half
        handle.write(b'{"chain":"half a rec')
    report = verify([log])
    assert report.breaks[0].kind == "torn"
    assert report.decisions > 5
    complete = report.records
    resumed = _writer(log, 3)
    resumed.communicate(timeout=120)
    assert resumed.returncode == 0
    after = verify([log])
    assert after.ok, after.to_json()
    assert after.records >= complete + 3
    starts = [json.loads(line) for line in log.read_bytes().splitlines()
              if b'"kind":"start"' in line]
    assert starts[-1]["previous"] == "torn"
    assert (tmp_path / starts[-1]["torn_file"]).read_bytes() == b'{"chain":"half a rec'
