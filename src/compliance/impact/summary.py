"""The mergeable summary: a partial result per partition, merged exactly, in any order.

Counts add, organisation sets unite, and the kept examples and error samples are the K
earliest by position (file, partition start, line), so merging partials in any grouping
gives the same summary as reading everything in one process: the runners (one process,
local processes, a Dask cluster) differ only in who computes which partial.

Memory is bounded by the number of distinct organisations, models, plans, rules and
change descriptions, never by the number of lines.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

Position = tuple[int, int, int]
"""(file index, partition start byte, line within the partition): sorts in file order."""

MAX_ERROR_SAMPLES = 100
MAX_DETAILS = 20
MAX_KEY_CHARS = 200
REPORT_VERSION = 1


def _key(value: object) -> str:
    """A model, plan or organisation id as a bounded key (``(none)`` when absent)."""
    if isinstance(value, str) and value:
        return value if len(value) <= MAX_KEY_CHARS else value[:MAX_KEY_CHARS] + "…"
    return "(none)"


@dataclass
class Summary:
    """Partial (or, once merged, total) results of a diff."""

    sample: int = 5
    total: int = 0
    changed: int = 0
    skipped: int = 0
    read_errors: int = 0
    eval_errored: int = 0
    uncompared: int = 0  # evaluation raised on a side: counted as an error, not compared
    eval_errors: Counter[str] = field(default_factory=Counter)  # "old"/"new" -> contexts
    errors_by_code: Counter[str] = field(default_factory=Counter)
    error_samples: list[tuple[Position, dict[str, Any]]] = field(default_factory=list)
    lines: dict[tuple[int, int], int] = field(default_factory=dict)
    orgs: set[str] = field(default_factory=set)
    orgs_affected: set[str] = field(default_factory=set)
    transitions: Counter[str] = field(default_factory=Counter)
    details: dict[str, Counter[str]] = field(default_factory=dict)
    rules: dict[str, Counter[str]] = field(
        default_factory=lambda: {"old": Counter(), "new": Counter()})
    models: dict[str, Counter[str]] = field(default_factory=dict)  # model -> total/changed
    plans: dict[str, Counter[str]] = field(default_factory=dict)
    examples: dict[str, list[tuple[Position, dict[str, Any]]]] = field(default_factory=dict)

    @property
    def records(self) -> int:
        """Records read: compared, unreadable, skipped or failing to evaluate."""
        return self.total + self.read_errors + self.skipped + self.uncompared

    # --- recording (one partition) --------------------------------------------------------

    def add_error(self, pos: Position, code: str, message: str, **extra: Any) -> None:
        """Record one problem; only the earliest ``MAX_ERROR_SAMPLES`` keep their text."""
        self.errors_by_code[code] += 1
        if len(self.error_samples) < MAX_ERROR_SAMPLES:  # positions grow within a partition
            self.error_samples.append((pos, {"code": code, "message": message, **extra}))

    def add_context(self, org: object, model: object, plan: object,
                    change: str | None) -> None:
        """Count one compared context, changed (``change`` names the transition) or not."""
        self.total += 1
        org_key = _key(org) if isinstance(org, str) and org else None
        if org_key is not None:
            self.orgs.add(org_key)
        for table, name in ((self.models, _key(model)), (self.plans, _key(plan))):
            row = table.setdefault(name, Counter())
            row["total"] += 1
            if change is not None:
                row["changed"] += 1
        if change is None:
            return
        self.changed += 1
        self.transitions[change] += 1
        if org_key is not None:
            self.orgs_affected.add(org_key)

    def add_change_detail(self, change: str, descriptions: Iterable[str],
                          old_rules: Iterable[str], new_rules: Iterable[str]) -> None:
        """What differed and which rules matched on each side, for a changed context."""
        self.details.setdefault(change, Counter()).update(descriptions)
        self.rules["old"].update(old_rules)
        self.rules["new"].update(new_rules)

    def wants_example(self, change: str) -> bool:
        """Whether an example of ``change`` read now would be kept (positions only grow
        within one partition, so a full list never takes a later one)."""
        return len(self.examples.get(change, ())) < self.sample

    def add_example(self, change: str, pos: Position, example: dict[str, Any]) -> None:
        """Keep ``example`` if it is among the ``sample`` earliest of its transition."""
        kept = [*self.examples.get(change, []), (pos, example)]
        self.examples[change] = _earliest(kept, self.sample)

    # --- merging ----------------------------------------------------------------------------

    def merge(self, other: Summary) -> Summary:
        """Fold ``other`` into this summary (exact; commutative and associative)."""
        for name in ("total", "changed", "skipped", "read_errors", "eval_errored",
                     "uncompared"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.eval_errors.update(other.eval_errors)
        self.errors_by_code.update(other.errors_by_code)
        self.error_samples = _earliest([*self.error_samples, *other.error_samples],
                                       MAX_ERROR_SAMPLES)
        self.lines.update(other.lines)
        self.orgs |= other.orgs
        self.orgs_affected |= other.orgs_affected
        self.transitions.update(other.transitions)
        for change, counts in other.details.items():
            self.details.setdefault(change, Counter()).update(counts)
        for side in ("old", "new"):
            self.rules[side].update(other.rules[side])
        for mine, theirs in ((self.models, other.models), (self.plans, other.plans)):
            for name, row in theirs.items():
                mine.setdefault(name, Counter()).update(row)
        for change, kept in other.examples.items():
            self.examples[change] = _earliest([*self.examples.get(change, []), *kept],
                                              self.sample)
        return self

    # --- the report ---------------------------------------------------------------------------

    def report(self, files: Sequence[str], *, old: str, new: str) -> dict[str, Any]:
        """The impact report (the JSON of ``compliance diff --format json``).

        ``files`` are the traffic files as the user named them, by index; partition-local
        line numbers become file line numbers here.
        """
        offsets = self._line_offsets()

        def where(pos: Position) -> dict[str, Any]:
            index, start, line = pos
            return {"file": files[index], "line": offsets.get((index, start), 0) + line}

        transitions = sorted(self.transitions.items(), key=lambda kv: (-kv[1], kv[0]))
        return {
            "report_version": REPORT_VERSION,
            "old": old,
            "new": new,
            "files": list(files),
            "total": self.total,
            "changed": self.changed,
            "changed_fraction": _fraction(self.changed, self.total),
            "orgs_total": len(self.orgs),
            "orgs_affected": len(self.orgs_affected),
            "orgs_affected_fraction": _fraction(len(self.orgs_affected), len(self.orgs)),
            "errors": self.read_errors + self.eval_errored,
            "read_errors": self.read_errors,
            "evaluation_errors": {"old": self.eval_errors["old"], "new": self.eval_errors["new"]},
            "errors_by_code": dict(sorted(self.errors_by_code.items())),
            "error_samples": [{**where(pos), **entry} for pos, entry in self.error_samples],
            "skipped": self.skipped,
            "by_transition": {
                name: {"count": count, "fraction": _fraction(count, self.total),
                       "details": _top(self.details.get(name, Counter()), MAX_DETAILS)}
                for name, count in transitions
            },
            "by_rule": {side: _top(self.rules[side], None) for side in ("old", "new")},
            "by_model": _breakdown(self.models),
            "by_plan": _breakdown(self.plans),
            "examples": {
                name: [{**where(pos), **example} for pos, example in self.examples.get(name, [])]
                for name, _ in transitions
            },
        }

    def _line_offsets(self) -> dict[tuple[int, int], int]:
        """Lines before each partition in its file, from the partitions' line counts."""
        offsets: dict[tuple[int, int], int] = {}
        running: dict[int, int] = {}
        for index, start in sorted(self.lines):
            offsets[(index, start)] = running.get(index, 0)
            running[index] = running.get(index, 0) + self.lines[(index, start)]
        return offsets


def _earliest(items: list[tuple[Position, dict[str, Any]]], k: int
              ) -> list[tuple[Position, dict[str, Any]]]:
    return heapq.nsmallest(k, items, key=lambda item: item[0])


def _fraction(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def _top(counts: Counter[str], limit: int | None) -> dict[str, int]:
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return dict(ranked if limit is None else ranked[:limit])


def _breakdown(table: dict[str, Counter[str]]) -> dict[str, dict[str, Any]]:
    """Per model (or plan): contexts, changed, and the fraction changed; most traffic first."""
    rows = sorted(table.items(), key=lambda kv: (-kv[1]["total"], kv[0]))
    return {name: {"total": row["total"], "changed": row["changed"],
                   "fraction": _fraction(row["changed"], row["total"])} for name, row in rows}


__all__ = ["MAX_ERROR_SAMPLES", "REPORT_VERSION", "Position", "Summary"]
