"""What counts as a change between two decisions, and which transition it is.

A change is any difference in effect, served model, interventions (kind, target and
disclosure; messages are wording, not behaviour) or obligation values. Each decision is
put in one outcome class: ``deny``; ``route`` when an allowed request is served by another
model; the kind of its first other intervention (``steer``, ``modify``, ``degrade``) when
allowed with one; ``allow`` otherwise. A change between classes is named ``old->new``
(``allow->deny``, ``steer->route``); a change within a class is ``route->route`` (another
target), ``interventions`` (same class, other interventions or disclosure) or
``obligations`` (only obligation values differ, such as retention 0 -> 30 days).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from compliance.decision import Decision

Intervention = tuple[str, str | None, str]
"""(kind, target, disclosure)."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """The behaviour of a decision that a change is measured on."""

    effect: str
    model: str | None
    interventions: tuple[Intervention, ...]
    obligations: tuple[tuple[str, str], ...]  # (name, canonical JSON of the value), sorted

    @property
    def kind(self) -> str:
        """The outcome class (module docstring)."""
        if self.effect == "deny":
            return "deny"
        kinds = [k for k, _, _ in self.interventions]
        if "route" in kinds:
            return "route"
        others = [k for k in kinds if k != "refuse"]
        return others[0] if others else "allow"


def outcome(decision: Decision) -> Outcome:
    """Project a decision on the fields a change is defined by."""
    interventions = tuple(sorted(
        ((i.kind, i.target, i.disclosure) for i in decision.interventions), key=_sort_key))
    values = decision.obligations.model_dump()
    custom = values.pop("custom", {}) or {}
    values.update({f"custom.{k}": v for k, v in custom.items()})
    obligations = tuple(sorted((k, _text(v)) for k, v in values.items() if v is not None))
    return Outcome(decision.effect, decision.model, interventions, obligations)


def _sort_key(item: Intervention) -> tuple[str, str, str]:
    return item[0], item[1] or "", item[2]


def _text(value: Any) -> str:
    """Canonical JSON of an obligation value (what is compared, and shown in examples)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _shown(text: str | None) -> str:
    """An obligation value for a change description: bare strings unquoted, absent ``-``."""
    if text is None:
        return "-"
    value = json.loads(text)
    return value if isinstance(value, str) else text


def transition(old: Outcome, new: Outcome) -> str | None:
    """The transition from ``old`` to ``new``, or None when they do not differ."""
    if old == new:
        return None
    if old.kind != new.kind:
        return f"{old.kind}->{new.kind}"
    if old.model != new.model:
        return f"{old.kind}->{new.kind}"  # route->route: another target
    return "interventions" if old.interventions != new.interventions else "obligations"


def details(old: Outcome, new: Outcome) -> list[str]:
    """Short descriptions of what differs (``+route opus-4.8 (visible)``,
    ``logging_level: - -> metadata``), for the breakdown under each transition."""
    out: list[str] = []
    if old.model != new.model:
        out.append(f"model: {old.model or '-'} -> {new.model or '-'}")
    before, after = set(old.interventions), set(new.interventions)
    out += [f"-{_intervention(i)}" for i in sorted(before - after, key=_sort_key)]
    out += [f"+{_intervention(i)}" for i in sorted(after - before, key=_sort_key)]
    old_ob, new_ob = dict(old.obligations), dict(new.obligations)
    for name in sorted(old_ob.keys() | new_ob.keys()):
        if old_ob.get(name) != new_ob.get(name):
            out.append(f"{name}: {_shown(old_ob.get(name))} -> {_shown(new_ob.get(name))}")
    return out


def _intervention(item: Intervention) -> str:
    kind, target, disclosure = item
    return f"{kind}{' ' + target if target else ''} ({disclosure})"


def describe(o: Outcome) -> dict[str, Any]:
    """The outcome as JSON for an example."""
    return {"effect": o.effect, "model": o.model,
            "interventions": [{"kind": k, "target": t, "disclosure": d}
                              for k, t, d in o.interventions],
            "obligations": {name: json.loads(text) for name, text in o.obligations}}


__all__ = ["Outcome", "describe", "details", "outcome", "transition"]
