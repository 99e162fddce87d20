"""Build the "before" pack set of the README's diff: the silent llm-dev degradation.

    python examples/traffic/silent_before.py /tmp/before
    compliance diff /tmp/before rules/ --traffic examples/traffic/sample.jsonl

The shipped ``rules/`` hand frontier-LLM-development requests to opus-4.8 and say so
(``interventions/llm-dev-handoff``), and ``transparency`` forbids silent interventions.
The fair "before" is the policy that was replaced: ``rules/`` without the transparency
pack (which would reject it) and without the visible hand-off, plus
``examples/packs/silent-llm-dev-degradation.yaml``.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HANDOFF = "\n  - id: llm-dev-handoff\n"


def build(target: Path) -> Path:
    """Write the before pack set into ``target`` (created; must not exist yet)."""
    target.mkdir(parents=True)
    for path in sorted((REPO / "rules").glob("*.yaml")):
        if path.name == "transparency.yaml":
            continue
        text = path.read_text(encoding="utf-8")
        if path.name == "interventions.yaml":
            start = text.index(HANDOFF)  # the hand-off is a rule of its own: cut it out
            following = text.find("\n  - id: ", start + len(HANDOFF))
            text = text[:start + 1] + (text[following + 1:] if following >= 0 else "")
        (target / path.name).write_text(text, encoding="utf-8")
    shutil.copy(REPO / "examples" / "packs" / "silent-llm-dev-degradation.yaml", target)
    return target


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: silent_before.py OUTDIR")
    print(build(Path(sys.argv[1])))
