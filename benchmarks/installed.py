"""Fresh processes that start as an installed package does: with its bytecode compiled.

``pip install`` compiles a package's modules to bytecode when it installs them; an editable
checkout compiles each module on first import and caches the result in ``__pycache__``,
unless ``PYTHONDONTWRITEBYTECODE`` is set (as on some CI machines), in which case every
fresh process compiles all of them again: about 170 ms of a cold load of this project,
spent by no deployed server. ``environment`` gives child processes a private bytecode
cache instead (``PYTHONPYCACHEPREFIX`` under a temporary directory, so nothing is written
to the checkout). With a prefix set, Python looks for every module's bytecode there, the
standard library's included, so a caller runs each kind of child once, untimed, to fill
it (``warm``); the timed runs then read bytecode and nothing else is cached.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def environment(work: Path, base: dict[str, str] | None = None) -> dict[str, str]:
    """``base`` (default: this process's environment) with bytecode cached under ``work``."""
    env = dict(os.environ if base is None else base)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    return env


def warm(env: dict[str, str], code: str, *args: str) -> None:
    """Run ``python -c code args`` once, untimed, so the modules it imports are compiled."""
    subprocess.run([sys.executable, "-c", code, *args], check=True, capture_output=True,
                   env=env)
