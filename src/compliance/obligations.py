"""Merging obligations from every applicable rule, with provenance and conflicts.

Each obligation kind has one merge rule (see docs/rule-pack-format.md). The one clash the
merge rules cannot absorb is ``retention_min_days`` > ``retention_max_days``: it is
resolved by tier (an explicit ``overrides:`` lets a lower tier win) and reported as a
``Conflict``. With equal precedence the maximum wins: keeping less data is the
conservative default for privacy law.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from compliance.decision import Conflict, ObligationDetail, Obligations, RuleRef, build

if TYPE_CHECKING:
    from compliance.planner import Memo, PlannedRule

Merged = tuple[Obligations, tuple[ObligationDetail, ...], tuple[Conflict, ...]]
"""A merge result as memoized: the frozen ``Obligations`` and tuples nobody can append to."""

_LOG_LEVELS = {"none": 0, "metadata": 1, "full": 2}
_BUILTIN = {"retention_min_days", "retention_max_days", "training", "retention_purpose",
            "custodian", "logging_level"}


class _Entry(NamedTuple):
    """One obligation of one applied rule (a named tuple: a frozen dataclass costs about
    a microsecond to make, and a merge makes one per obligation)."""

    value: Any
    rule: PlannedRule
    merge: str
    group: str

    @property
    def ref(self) -> RuleRef:
        return self.rule.ref


NO_OBLIGATIONS = Obligations()
_NOTHING_MERGED: Merged = (NO_OBLIGATIONS, (), ())


def merge_obligations(rules: Sequence[PlannedRule],
                      memo: Memo[tuple[int, ...], Merged] | None = None) -> Merged:
    """Merge the obligations of ``rules`` (in decision order) by kind.

    The merge depends only on which rules applied, in which order, so with ``memo`` (the
    plan's, keyed by rule positions) it runs once per distinct set. The result is shared
    and frozen: the details and conflicts come as tuples, for the caller to copy.
    """
    if not any(rule.obligations for rule in rules):
        return _NOTHING_MERGED
    if memo is None:
        return _merge(rules)
    key = tuple([rule.order for rule in rules])
    hit = memo.get(key)
    if hit is None:
        hit = memo.put(key, _merge(rules))
    return hit


def _merge(rules: Sequence[PlannedRule]) -> Merged:
    """The merge itself (``merge_obligations`` without the memo)."""
    by_kind: dict[str, list[_Entry]] = {}
    seen: set[int] = set()
    for rule in rules:
        if id(rule) in seen:  # a rule applying in both routing passes counts once
            continue
        seen.add(id(rule))
        for ob in rule.obligations:
            entry = _new_entry(_Entry, (ob.value, rule, ob.merge, ob.group))
            by_kind.setdefault(ob.kind, []).append(entry)
    conflicts: list[Conflict] = []
    _resolve_retention_clash(by_kind, conflicts)
    merged: dict[str, tuple[Any, list[_Entry], list[_Entry]]] = {}
    for kind in sorted(by_kind):
        entries = by_kind[kind]
        if entries:
            merged[kind] = _merge_kind(kind, entries, conflicts)
    details: list[ObligationDetail] = []
    values: dict[str, Any] = {}
    for k, (v, winners, losers) in merged.items():
        values[k] = v
        details.append(build(ObligationDetail, {
            "kind": k, "value": v, "merge": by_kind[k][0].merge, "must_understand": True,
            "set_by": [e.rule.ref for e in winners], "overrode": [e.rule.ref for e in losers],
        }, None, _DETAIL_FIELDS))
    obligations = build(Obligations, {
        "retention_min_days": values.get("retention_min_days"),
        "retention_max_days": values.get("retention_max_days"),
        "training": values.get("training"),
        "retention_purpose": values.get("retention_purpose"),
        "custodian": values.get("custodian"),
        "logging_level": values.get("logging_level"),
        "custom": {k: v for k, v in values.items() if k not in _BUILTIN},
    }, None, _OBLIGATION_FIELDS)
    return obligations, tuple(details), tuple(conflicts)


# A merge runs once per new set of rules with obligations, on the tail of first sights:
# entries are made as plain tuples (a named tuple's generated ``__new__`` costs twice as
# much), and every model built sets all of its fields, so one set of names is shared.
_new_entry: Final = tuple.__new__
_DETAIL_FIELDS: Final = set(ObligationDetail.model_fields)
_OBLIGATION_FIELDS: Final = set(Obligations.model_fields)


def _merge_kind(kind: str, entries: list[_Entry],
                conflicts: list[Conflict]) -> tuple[Any, list[_Entry], list[_Entry]]:
    """(merged value, entries that set it, entries it overrode) for one kind."""
    merge = entries[0].merge
    if kind == "logging_level":
        top = max(entries, key=lambda e: _LOG_LEVELS.get(str(e.value), -1)).value
        return _split(top, entries)
    if merge == "max":
        return _split(max(e.value for e in entries), entries)
    if merge == "min":
        return _split(min(e.value for e in entries), entries)
    if merge == "union":
        items: set[str] = set()
        for e in entries:
            items.update(e.value if isinstance(e.value, list | tuple) else [e.value])
        return sorted(items), entries, []
    if merge == "prohibit-wins":
        value = "prohibited" if any(e.value == "prohibited" for e in entries) else "allowed"
        return _split(value, entries)
    if merge == "any-true":
        return _split(any(bool(e.value) for e in entries), entries)
    if merge == "all-true":
        return _split(all(bool(e.value) for e in entries), entries)
    return _by_tier(kind, entries, conflicts)


def _split(value: Any, entries: list[_Entry]) -> tuple[Any, list[_Entry], list[_Entry]]:
    """(value, entries holding it, the others): one walk (most kinds have one entry)."""
    winners: list[_Entry] = []
    losers: list[_Entry] = []
    for e in entries:
        (winners if e.value == value else losers).append(e)
    return value, winners, losers


def _by_tier(kind: str, entries: list[_Entry],
             conflicts: list[Conflict]) -> tuple[Any, list[_Entry], list[_Entry]]:
    ordered = sorted(entries, key=lambda e: (-_rank(e), e.rule.pack.id, e.rule.rule.id))
    value, winners, losers = _split(ordered[0].value, entries)
    if losers:
        conflicts.append(Conflict.model_construct(
            obligation=kind, winner=ordered[0].ref, overridden=[e.ref for e in losers],
            why=_why(ordered[0], losers[0]),
        ))
    return value, winners, losers


def _rank(entry: _Entry) -> float:
    """Tier rank, lifted above every tier the rule explicitly overrides for its group."""
    rank: float = entry.rule.tier_rank
    for ov in entry.rule.overrides:
        if ov.group == entry.group:
            rank = max(rank, ov.tier_rank + 0.5)
    return rank


def _why(winner: _Entry, loser: _Entry) -> str:
    for ov in winner.rule.overrides:
        if ov.group == winner.group and ov.tier_rank >= loser.rule.tier_rank:
            return (f"rule `{winner.rule.rule.id}` (tier {winner.rule.pack.tier}) explicitly "
                    f"overrides tier {ov.tier} for {ov.group}: "
                    f"{winner.rule.rule.justification or 'no justification given'}")
    if winner.rule.tier_rank > loser.rule.tier_rank:
        return (f"tier {winner.rule.pack.tier} of pack `{winner.rule.pack.id}` takes precedence "
                f"over tier {loser.rule.pack.tier} of pack `{loser.rule.pack.id}`")
    return "equal precedence: resolved deterministically by the merge rule"


def _resolve_retention_clash(by_kind: dict[str, list[_Entry]], conflicts: list[Conflict]) -> None:
    """Drop the losing side when the retention floor exceeds the retention ceiling."""
    mins, maxes = by_kind.get("retention_min_days", []), by_kind.get("retention_max_days", [])
    if not mins or not maxes:
        return
    floor = max(mins, key=lambda e: (e.value, _rank(e)))
    ceiling = min(maxes, key=lambda e: (e.value, -_rank(e)))
    if floor.value <= ceiling.value:
        return
    if _rank(floor) > _rank(ceiling):
        losers = [e for e in maxes if e.value < floor.value]
        by_kind["retention_max_days"] = [e for e in maxes if e.value >= floor.value]
        winner = floor
    else:
        losers = [e for e in mins if e.value > ceiling.value]
        by_kind["retention_min_days"] = [e for e in mins if e.value <= ceiling.value]
        winner = ceiling
    conflicts.append(Conflict.model_construct(
        obligation="retention", winner=winner.ref, overridden=[e.ref for e in losers],
        why=(f"retention minimum {floor.value} days exceeds maximum {ceiling.value} days; "
             + _why(winner, losers[0])),
    ))
