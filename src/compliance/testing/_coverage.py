"""Rule coverage: what the cases reached, per rule, from decisions and the plan alone.

Per rule: applied at least once and not applied at least once; ``on_unknown`` reached at
least once when the rule declares it; per effective-window edge (pack and rule windows
intersected, as the plan evaluates them) a case before the edge and a case at or after it.
The evidence is the decision's per-rule explanation (``explain=True``), so nothing here
instruments CEL. Condition coverage (both outcomes of each clause and of each ``&&``/``||``
operand) reads the per-operand trace the same explanation carries (``compliance.cel.trace``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from compliance.cel.ast import Call, Comprehension, Expr, children
from compliance.cel.unparse import unparse
from compliance.cel.values import to_timestamp
from compliance.decision import Decision
from compliance.engine import Engine
from compliance.pack import Instant, Pack, Rule, Window
from compliance.planner import Plan, PlannedRule
from compliance.source import Span
from compliance.testing._model import Case, Exempt

ItemKind = Literal["applied", "not-applied", "on-unknown", "before", "at-or-after",
                   "condition-true", "condition-false"]
CONDITION_KINDS: tuple[ItemKind, ...] = ("condition-true", "condition-false")

APPLIED = frozenset({"applied", "unknown-applied"})
NOT_APPLIED = frozenset({"not-effective", "condition-false", "exception-held",
                         "unknown-skipped"})


@dataclass
class Item:
    """One thing a suite should reach; ``hits`` counts the cases that reached it."""

    pack: str
    rule: str
    kind: ItemKind
    span: Span
    edge: datetime | None = None
    hits: int = 0
    exempt: str | None = None  # the suite's reason when declared unreachable
    clause: Literal["when", "unless"] | None = None  # condition items: the clause
    operand: str | None = None  # condition items: the operand's CEL text (None: the clause)
    offsets: tuple[int, int] | None = None  # condition items: where in the clause's text

    @property
    def gap(self) -> str:
        """What is missing, in words, when nothing reached this item."""
        if self.kind == "applied":
            return "never applied"
        if self.kind == "not-applied":
            return "never not applied (every case applied it)"
        if self.kind == "on-unknown":
            return "`on_unknown` never reached (no case left the condition unknown)"
        if self.kind in CONDITION_KINDS:
            outcome = "true" if self.kind == "condition-true" else "false"
            if self.operand is None:
                return f"`{self.clause}` never {outcome}"
            return f"operand `{self.operand}` of `{self.clause}` never {outcome}"
        assert self.edge is not None
        stamp = self.edge.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        if self.kind == "before":
            return f"no case before {stamp}"
        return f"no case at or after {stamp}"


@dataclass
class PackCoverage:
    """The items of one pack."""

    pack: str
    file: str
    items: list[Item] = field(default_factory=list)

    def count(self, *kinds: ItemKind) -> tuple[int, int]:
        """(covered, total) over the items of ``kinds`` (all kinds when none given);
        exempt items count in neither."""
        chosen = [i for i in self.items if (not kinds or i.kind in kinds) and not i.exempt]
        return sum(1 for i in chosen if i.hits), len(chosen)


class RuleCoverage:
    """Observer collecting rule coverage for every pack set the run evaluated."""

    def __init__(self, exempt: Iterable[Exempt] = ()) -> None:
        self._plans: dict[int, tuple[Plan, dict[tuple[str, str], list[Item]]]] = {}
        self._exempt = {(e.rule, e.item): e.reason for e in exempt}

    def observe(self, case: Case, context: Mapping[str, Any], decision: Decision,
                engine: Engine) -> None:
        """Count what this decision reached."""
        del case
        plan = engine.plan
        if id(plan) not in self._plans:
            items_of = _items(plan)
            for rule_items in items_of.values():
                for item in rule_items:
                    item.exempt = self._exempt.get((f"{item.pack}/{item.rule}", item.kind))
            self._plans[id(plan)] = (plan, items_of)
        _, items = self._plans[id(plan)]
        statuses: dict[tuple[str, str], set[str]] = {}
        missing: dict[tuple[str, str], bool] = {}
        for x in decision.explanation or ():
            statuses.setdefault((x.pack, x.rule), set()).add(x.status)
            if x.status == "error" and x.missing:
                missing[(x.pack, x.rule)] = True
        at = _time_of(context)
        outcomes = _condition_outcomes(decision)
        for key, rule_items in items.items():
            seen = statuses.get(key, set())
            reached = outcomes.get(key, set())
            for item in rule_items:
                if item.kind in CONDITION_KINDS:
                    hit = (item.clause, item.offsets, item.kind) in reached
                else:
                    hit = _reached(item, seen, missing.get(key, False), at)
                if hit:
                    item.hits += 1

    def packs(self) -> list[PackCoverage]:
        """Coverage per pack, packs in plan order, each pack once."""
        out: dict[str, PackCoverage] = {}
        for plan, items in self._plans.values():
            for planned in plan.rules:
                key = (planned.pack.id, planned.rule.id)
                cov = out.setdefault(planned.pack.id,
                                     PackCoverage(planned.pack.id, planned.pack.source.path))
                cov.items.extend(items[key])
        return list(out.values())

    def exempted(self) -> list[Item]:
        """Items the suites declared unreachable, with their reasons."""
        return [i for p in self.packs() for i in p.items if i.exempt]

    def totals(self) -> tuple[int, int]:
        """(covered, total) items over every pack."""
        counts = [p.count() for p in self.packs()]
        return sum(c for c, _ in counts), sum(t for _, t in counts)

    def percent(self) -> float:
        """Covered items as a percentage (100 when there is nothing to cover)."""
        covered, total = self.totals()
        return 100.0 if total == 0 else 100.0 * covered / total

    def gaps(self) -> list[Item]:
        """Every item no case reached, in file order."""
        found = [i for p in self.packs() for i in p.items if not i.hits and not i.exempt]
        return sorted(found, key=lambda i: (i.span.file, i.span.start.line, i.span.start.col,
                                            i.kind))


def _condition_outcomes(decision: Decision) -> dict[tuple[str, str], set[Any]]:
    """Per rule: (clause, offsets, kind) of every clause and operand outcome in the trace.

    Only the rule's own operands count (a variable's operands are covered where it is
    defined through the rules that read it, not once per rule).
    """
    out: dict[tuple[str, str], set[Any]] = {}
    for x in decision.explanation or ():
        nodes = x.trace._nodes if x.trace is not None else None
        if not nodes:
            continue
        seen = out.setdefault((x.pack, x.rule), set())
        for clause, root in zip(("when", "unless"), nodes, strict=True):
            if root is None:
                continue
            for node in root.walk():
                if node.state != "value" or type(node.value) is not bool:
                    continue
                if node is root or (node.boolean_operand and node.variable is None):
                    kind = "condition-true" if node.value else "condition-false"
                    where = None if node is root else (node.start, node.end)
                    seen.add((clause, where, kind))
    return out


def condition_items(planned: PlannedRule) -> list[Item]:
    """Both outcomes of each clause and of each ``&&``/``||`` operand of the rule's own text."""
    pack, rule = planned.pack, planned.rule
    items: list[Item] = []
    for clause, expr, source in (("when", planned.when_expr, rule.when),
                                 ("unless", planned.unless_expr, rule.unless)):
        if expr is None or source is None:
            continue
        name: Literal["when", "unless"] = "when" if clause == "when" else "unless"
        for kind in CONDITION_KINDS:
            items.append(Item(pack.id, rule.id, kind, source.span, clause=name))
        for node in operands(expr):
            span = source.span_of(node.start, node.end)
            text = unparse(node)
            for kind in CONDITION_KINDS:
                items.append(Item(pack.id, rule.id, kind, span, clause=name, operand=text,
                                  offsets=(node.start, node.end)))
    return items


def operands(expr: Expr) -> list[Expr]:
    """The direct operands of every ``&&``/``||`` in ``expr`` (macro bodies excluded), in
    source order; nested chains (``a && b && c``) give each leaf and each inner chain."""
    out: list[Expr] = []
    stack = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, Comprehension):
            stack.append(node.range)
            continue
        if isinstance(node, Call) and node.function in ("_&&_", "_||_"):
            out.extend(node.args)
        stack.extend(reversed(children(node)))
    return sorted(out, key=lambda n: (n.start, n.end))


def _reached(item: Item, seen: set[str], unknown_error: bool, at: int | None) -> bool:
    if item.kind == "applied":
        return bool(seen & APPLIED)
    if item.kind == "not-applied":
        return bool(seen & NOT_APPLIED)
    if item.kind == "on-unknown":
        return bool(seen & {"unknown-applied", "unknown-skipped"}) or unknown_error
    if at is None or item.edge is None:
        return False
    edge = _nanos(item.edge)
    return at < edge if item.kind == "before" else at >= edge


def _items(plan: Plan) -> dict[tuple[str, str], list[Item]]:
    out: dict[tuple[str, str], list[Item]] = {}
    for planned in plan.rules:
        pack, rule = planned.pack, planned.rule
        items = [Item(pack.id, rule.id, "applied", rule.span),
                 Item(pack.id, rule.id, "not-applied", rule.span)]
        if rule.on_unknown is not None:
            items.append(Item(pack.id, rule.id, "on-unknown", rule.span))
        for edge in (planned.start, planned.until):
            if edge is None:
                continue
            instant = _instant(planned, edge)
            span = instant.span if instant is not None else rule.span
            moment = instant.at if instant is not None else _datetime(edge)
            items += [Item(pack.id, rule.id, "before", span, moment),
                      Item(pack.id, rule.id, "at-or-after", span, moment)]
        items += condition_items(planned)
        out[(pack.id, rule.id)] = items
    return out


def _instant(planned: PlannedRule, edge: int) -> Instant | None:
    """The written instant (rule's window first, then the pack's) the plan's edge came from."""
    for owner in (planned.rule, planned.pack):
        window = _window(owner)
        for instant in (window.start, window.until) if window is not None else ():
            if instant is not None and _nanos(instant.at) == edge:
                return instant
    return None


def _window(owner: Rule | Pack) -> Window | None:
    return owner.effective


def _nanos(moment: datetime) -> int:
    stamp = to_timestamp(moment)
    assert stamp is not None
    return stamp.nanos


def _datetime(nanos: int) -> datetime:
    return datetime.fromtimestamp(nanos // 1_000_000_000, tz=UTC)


def _time_of(context: Mapping[str, Any]) -> int | None:
    request = context.get("request")
    value = request.get("time") if isinstance(request, Mapping) else None
    try:
        stamp = to_timestamp(value)
    except (ValueError, OverflowError):
        return None
    return stamp.nanos if stamp is not None else None
