"""Coverage-guided fuzzing of load + check with atheris; optional, run by hand.

atheris is not a test dependency (it needs a clang-built CPython extension). To run a
campaign, install it into the virtualenv and point it at the shipped packs as the seed
corpus (libFuzzer options follow)::

    .venv/bin/pip install atheris
    mkdir -p /tmp/corpus && cp rules/*.yaml /tmp/corpus/
    .venv/bin/python tests/fuzz/atheris_loader.py /tmp/corpus -runs=200000 -max_len=65536

Each input is one pack file checked next to the shipped ones (so the manifest's schema
applies and cross-pack checks run). Anything ``check_paths`` or ``Engine`` raises is a
crash and libFuzzer saves the input as ``crash-*``; replay one with
``python tests/fuzz/atheris_loader.py crash-<hash>``.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import atheris  # type: ignore[import-not-found]

with atheris.instrument_imports():
    from compliance.engine import Engine, check_paths

RULES = Path(__file__).resolve().parents[2] / "rules"
_WORK = Path(tempfile.mkdtemp(prefix="compliance-fuzz-"))
shutil.copy(RULES / "packset.yaml", _WORK / "packset.yaml")
_TARGET = _WORK / "fuzzed.yaml"


def test_one_input(data: bytes) -> None:
    """Load and check the shipped manifest plus one fuzzed pack; a raise is a finding."""
    _TARGET.write_bytes(data)
    diagnostics, checked = check_paths([_WORK])
    if checked is None:
        assert diagnostics.errors, "no checked pack set, yet no error explains why"
    else:
        Engine(checked)


if __name__ == "__main__":
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
