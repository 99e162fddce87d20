"""Build the "before" pack set of the README's diff: the silent llm-dev degradation.

    python examples/traffic/silent_before.py /tmp/before
    compliance diff /tmp/before rules/ --traffic examples/traffic/sample.jsonl

The shipped ``rules/`` hand frontier-LLM-development requests to opus-4.8 and say so
(``interventions/llm-dev-handoff``), and ``transparency`` forbids silent interventions.
The fair "before" is the policy that was replaced: ``rules/`` without the transparency
pack (which would reject it) and without the visible hand-off, plus
``examples/packs/silent-llm-dev-degradation.yaml``.

``--keep-audit-logging`` keeps the transparency pack's metadata-logging obligation (only its
``forbid_silent`` line is dropped), so that the diff isolates the change of intervention.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HANDOFF = "\n  - id: llm-dev-handoff\n"


def build(target: Path, *, keep_audit_logging: bool = False) -> Path:
    """Write the before pack set into ``target`` (created; must not exist yet)."""
    target.mkdir(parents=True)
    for path in sorted((REPO / "rules").glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        if path.name == "transparency.yaml":
            if not keep_audit_logging:
                continue
            assert "\nforbid_silent: true\n" in text
            text = text.replace("\nforbid_silent: true\n", "\n")
        if path.name == "interventions.yaml":
            start = text.index(HANDOFF)  # the hand-off is a rule of its own: cut it out
            following = text.find("\n  - id: ", start + len(HANDOFF))
            text = text[:start + 1] + (text[following + 1:] if following >= 0 else "")
        (target / path.name).write_text(text, encoding="utf-8")
    shutil.copy(REPO / "examples" / "packs" / "silent-llm-dev-degradation.yaml", target)
    return target


def main(argv: list[str] | None = None) -> int:
    """Command line: ``silent_before.py [--keep-audit-logging] OUTDIR``."""
    parser = argparse.ArgumentParser(
        description="Write the README diff's 'before' pack set (the silent llm-dev "
                    "degradation) into OUTDIR, which must not exist yet.")
    parser.add_argument("outdir", metavar="OUTDIR", type=Path)
    parser.add_argument("--keep-audit-logging", action="store_true",
                        help="keep the transparency pack, without its forbid_silent line")
    args = parser.parse_args(argv)
    if args.outdir.exists():
        parser.error(f"{args.outdir} already exists; name a new directory")
    print(build(args.outdir, keep_audit_logging=args.keep_audit_logging))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
