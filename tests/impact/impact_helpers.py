"""Helpers for the impact tests: small pack sets and traffic with a known impact.

OLD denies ``weapons``. NEW also denies ``cyber``, routes ``llm-dev`` requests for model
``big`` to ``small`` (visibly), and adds a 30-day retention obligation to enterprise
``coding`` requests. ``Traffic`` builds files from groups of contexts, each group named
with the transition it must produce (None: unchanged), so a test derives every expected
count from the groups, never from running the code under test.
"""

from __future__ import annotations

import json
import random
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MANIFEST = """\
packset: impact-test
default_effect: allow
context:
  principal:
    id: string
  org:
    id: string
    plan: {type: string, enum: [free, pro, team, enterprise, government]}
  request:
    id: string
    time: timestamp
    model: string
    use_case: string
"""

OLD = {"base.yaml": """\
    pack: base
    version: "1"
    tier: policy
    rules:
      - id: no-weapons
        when: request.use_case == "weapons"
        effect: deny
    """}

NEW = {"base.yaml": """\
    pack: base
    version: "2"
    tier: policy
    rules:
      - id: no-weapons
        when: request.use_case == "weapons"
        effect: deny
      - id: no-cyber
        when: request.use_case == "cyber"
        effect: deny
      - id: llm-dev-to-small
        when: request.use_case == "llm-dev" && request.model == "big"
        effect: intervene
        intervention:
          kind: route
          target: small
          disclosure: visible
          message: "handled by small"
      - id: enterprise-coding-retention
        when: org.plan == "enterprise" && request.use_case == "coding"
        obligations:
          retention: {min_days: 30}
    """}


def write_packs(root: Path, packs: dict[str, str]) -> Path:
    """A pack-set directory: the manifest plus ``packs`` (file name -> YAML)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "packset.yaml").write_text(MANIFEST, encoding="utf-8")
    for name, text in packs.items():
        (root / name).write_text(textwrap.dedent(text), encoding="utf-8")
    return root


def context(n: int, org: str, plan: str, model: str, use_case: str) -> dict[str, Any]:
    """One canonical context of the test schema."""
    return {"principal": {"id": f"p-{n}"}, "org": {"id": org, "plan": plan},
            "request": {"id": f"r-{n}", "time": "2026-06-20T12:00:00Z", "model": model,
                        "use_case": use_case}}


@dataclass
class Group:
    """``count`` contexts of one org/plan/model/use case and the transition they make."""

    count: int
    org: str
    plan: str
    model: str
    use_case: str
    change: str | None


GROUPS = [
    Group(10, "o0", "free", "small", "general", None),
    Group(10, "o1", "free", "small", "general", None),
    Group(6, "o1", "free", "small", "cyber", "allow->deny"),
    Group(3, "o2", "free", "big", "llm-dev", "allow->route"),
    Group(5, "o3", "free", "small", "weapons", None),
    Group(20, "o3", "free", "big", "general", None),
    Group(8, "o5", "enterprise", "small", "coding", "obligations"),
    Group(4, "o6", "enterprise", "small", "general", None),
]
BAD_LINES = ["{not json", "[1, 2]", '{"a": 1, "a": 2}']


@dataclass
class Traffic:
    """A shuffled file of the groups' contexts with the bad lines at known positions."""

    path: Path
    groups: list[Group]
    bad: dict[int, str] = field(default_factory=dict)  # line number -> the bad line


def build_traffic(path: Path, groups: list[Group] = GROUPS, seed: int = 1,
                  bad: list[str] = BAD_LINES, repeat: int = 1) -> Traffic:
    """Write the traffic file (``repeat`` copies of every group) and return its layout."""
    rows: list[str] = []
    n = 0
    for _ in range(repeat):
        for g in groups:
            for _ in range(g.count):
                rows.append(json.dumps(context(n, g.org, g.plan, g.model, g.use_case)))
                n += 1
    rng = random.Random(seed)
    rng.shuffle(rows)
    for i, line in enumerate(bad):
        rows.insert((i + 1) * len(rows) // (len(bad) + 1), line)
    rows.insert(len(rows) // 2 + 1, "")  # a blank line: counted as a line, not a context
    out = Traffic(path, groups, {i + 1: line for i, line in enumerate(rows) if line in bad})
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return out
