"""A seeded generator of realistic synthetic traffic in the canonical request context.

    python examples/traffic/generate.py --count 3000 --seed 11 > examples/traffic/sample.jsonl
    python examples/traffic/generate.py --count 1000000 --out /tmp/day.jsonl.gz

The same seed and count always give the same bytes (gzip too: its header time is 0). The
distributions are skewed the way production traffic is: a few organisations send most
requests (Zipf sizes), most requests go to a few models and are general or coding work, a
handful of countries dominate, and the risky categories are rare. Frontier-LLM-development
(``llm-dev``) traffic is a small fraction concentrated in a few "lab" organisations (about
0.6% of requests, mostly from 6 of 600 organisations), which makes a policy on it a narrow
change.
"""

from __future__ import annotations

import argparse
import gzip
import io
import itertools
import json
import random
import sys
from collections.abc import Iterator, Sequence
from typing import IO, Any

DAY = "2026-06-20"
ORGS = 600
LAB_ORGS = 6
PLANS = (("free", 40), ("pro", 30), ("team", 18), ("enterprise", 10), ("government", 2))
COUNTRIES = (("US", 45), ("GB", 8), ("IN", 8), ("DE", 6), ("FR", 5), ("JP", 4), ("BR", 4),
             ("CA", 4), ("KR", 3), ("NL", 3), ("CN", 2), ("AU", 3), ("ES", 2), ("MX", 2),
             ("NG", 1))
RARE_ORIGINS = ("IR", "CU", "SY", "KP", "RU")
MODELS = (("opus-4.8", 40), ("sonnet-4.6", 30), ("haiku-4.5", 15), ("fable-5", 10),
          ("mythos-5", 5))
USE_CASES = (("general", 5400), ("coding", 3000), ("writing", 900), ("analysis", 500),
             ("cyber", 120), ("bio", 40), ("chem", 20), ("distillation", 8),
             ("surveillance", 4), ("weapons", 2), ("llm-dev", 6))
SURFACES = (("api", 60), ("chat", 30), ("agent", 10))


_CUMULATIVE: dict[int, tuple[list[str], list[float]]] = {}


def _pick(rng: random.Random, table: Sequence[tuple[str, int]]) -> str:
    """A weighted choice (cumulative weights computed once per table: same draws, faster)."""
    found = _CUMULATIVE.get(id(table))
    if found is None:
        found = _CUMULATIVE[id(table)] = ([v for v, _ in table],
                                          list(itertools.accumulate(w for _, w in table)))
    return rng.choices(found[0], cum_weights=found[1])[0]


class Population:
    """Organisations and their principals, drawn once from the seed."""

    def __init__(self, rng: random.Random) -> None:
        self.orgs: list[dict[str, Any]] = []
        for n in range(ORGS):
            lab = n < LAB_ORGS * 7 and n % 7 == 3  # labs sit among the larger organisations
            plan = "enterprise" if lab else _pick(rng, PLANS)
            country = "US" if lab else _pick(rng, COUNTRIES)
            self.orgs.append({
                "id": f"org-{n:04d}", "plan": plan,
                "zdr": plan == "enterprise" and rng.random() < 0.3,
                "legal_hold": rng.random() < 0.01,
                "controlling_country": country, "lab": lab,
            })
        self.cum_weights = list(itertools.accumulate(1 / (rank + 1) ** 1.1
                                                     for rank in range(ORGS)))

    def principal(self, rng: random.Random, org: dict[str, Any]) -> dict[str, Any]:
        """One caller of ``org``: mostly from the organisation's country."""
        country = org["controlling_country"] if rng.random() < 0.7 else _pick(rng, COUNTRIES)
        person: dict[str, Any] = {
            "id": f"p-{org['id'][4:]}-{rng.randrange(500):03d}",
            "kind": "employee" if rng.random() < 0.02 else "customer",
            "nationality_verified": rng.random() < (0.95 if org["lab"] else 0.6),
            "permanent_residence": ["US"] if country != "US" and rng.random() < 0.05 else [],
            "country": country, "authorizations": [],
        }
        if rng.random() >= 0.04:  # nationality unknown for a few callers
            person["nationalities"] = [country] + (["US"] if rng.random() < 0.03 else [])
        return person


def contexts(seed: int, count: int) -> Iterator[dict[str, Any]]:
    """``count`` contexts from ``seed``, in time order over one day."""
    rng = random.Random(seed)
    people = Population(rng)
    for n in range(count):
        org = rng.choices(people.orgs, cum_weights=people.cum_weights)[0]
        principal = people.principal(rng, org)
        use_case = _pick(rng, USE_CASES)
        if org["lab"] and rng.random() < 0.08:
            use_case = "llm-dev"
        origin = principal["country"]
        if rng.random() < 0.002:
            origin = rng.choice(RARE_ORIGINS)
        request: dict[str, Any] = {
            "id": f"r-{seed}-{n:07d}",
            "time": f"{DAY}T{n * 86400 // max(count, 1) // 3600:02d}:"
                    f"{n * 86400 // max(count, 1) // 60 % 60:02d}:{rng.randrange(60):02d}Z",
            "origin_country": origin,
            "model": "fable-5" if use_case == "llm-dev" and rng.random() < 0.6
            else _pick(rng, MODELS),
            "use_case": use_case, "risk_scores": _scores(rng, use_case),
            "surface": _pick(rng, SURFACES),
        }
        if origin == "UA" or rng.random() < 0.0005:
            request["origin_region"] = "UA-43"
        public = {k: v for k, v in org.items() if k != "lab"}
        yield {"principal": principal, "org": public, "request": request}


def _scores(rng: random.Random, use_case: str) -> dict[str, float]:
    """Classifier scores: mostly low (skewed), high for a few risky requests."""
    if use_case not in ("cyber", "bio", "chem"):
        return {}
    if use_case == "bio" and rng.random() < 0.03:
        return {}  # the classifier did not score it: the refusal fails closed
    return {use_case: round(rng.random() ** 3, 3)}


def write(out: IO[str], seed: int, count: int) -> None:
    """Write the traffic as JSON Lines."""
    for context in contexts(seed, count):
        out.write(json.dumps(context, separators=(",", ":")) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``--count``, ``--seed``, ``--out`` (``.gz`` compresses)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--out", help="file to write (default: standard output)")
    args = parser.parse_args(argv)
    if args.out is None:
        write(sys.stdout, args.seed, args.count)
    elif args.out.endswith(".gz"):
        with gzip.GzipFile(args.out, "wb", compresslevel=5, mtime=0) as raw, \
                io.TextIOWrapper(raw, encoding="utf-8") as handle:
            write(handle, args.seed, args.count)
    else:
        with open(args.out, "w", encoding="utf-8") as handle:
            write(handle, args.seed, args.count)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
