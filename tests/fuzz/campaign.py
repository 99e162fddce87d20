"""A long random mutation campaign over load + check, run by hand; prints crash signatures.

    python tests/fuzz/campaign.py 20000 --seed 1

Each mutation picks a shipped file and edits it (``tests/properties/_packmut.py``); a
crash is any exception from ``check_mutant``. Signatures are grouped by exception type
and the innermost frame. Exit status 1 when anything crashed.
"""

from __future__ import annotations

import argparse
import collections
import random
import sys
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "properties"))

from _packmut import MANIFEST, PACKS, check_mutant, random_edits


def main() -> int:
    """Run the campaign and report counts per crash signature."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", type=int)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    crashes: collections.Counter[str] = collections.Counter()
    example: dict[str, str] = {}
    for _ in range(args.count):
        target = rng.choice((MANIFEST, *PACKS))
        edits = random_edits(rng)
        try:
            check_mutant(target, edits)
        except Exception as exc:
            frame = traceback.extract_tb(exc.__traceback__)[-1]
            sig = f"{type(exc).__name__} at {Path(frame.filename).name}:{frame.lineno}"
            crashes[sig] += 1
            example.setdefault(sig, f"{target}: {edits!r}"[:300])
    total = sum(crashes.values())
    print(f"{args.count} mutations, {total} crashes, {len(crashes)} signatures")
    for sig, n in crashes.most_common():
        print(f"{n:6d}  {sig}\n        e.g. {example[sig]}")
    return 1 if total else 0


if __name__ == "__main__":
    raise SystemExit(main())
