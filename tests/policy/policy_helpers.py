"""Helpers for the policy tests of the shipped packs in ``rules/``.

``make_context`` builds a canonical request context (docs/context.md) from ``BASE`` and
dotted-path overrides, so that each test states only what matters to it::

    make_context({"principal.nationalities": ["FR"], "request.origin_region": ABSENT})
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "rules"
TEST_PACKS = Path(__file__).resolve().parent / "packs"
EXAMPLES = REPO / "examples"

ABSENT: Any = object()
"""Override value meaning: remove this attribute from the context (it is unknown)."""

AFTER_DIRECTIVE = "2026-06-15T10:30:00-04:00"
BEFORE_DIRECTIVE = "2026-06-10T10:30:00-04:00"
DIRECTIVE_UTC = "2026-06-12T21:21:00Z"  # 17:21 EDT

RESTRICTED = ("fable-5", "mythos-5")
OTHER_MODEL = "haiku-4.5"

# A verified US citizen customer of a non-ZDR org, coding on fable-5 after the directive,
# from the US. Every shipped pack lets this through: it is the neutral starting point.
BASE: dict[str, Any] = {
    "principal": {
        "id": "u-1",
        "kind": "customer",
        "nationalities": ["US"],
        "nationality_verified": True,
        "permanent_residence": [],
        "country": "US",
        "authorizations": [],
    },
    "org": {
        "id": "org-1",
        "plan": "team",
        "zdr": False,
        "legal_hold": False,
        "controlling_country": "US",
    },
    "request": {
        "id": "req-1",
        "time": AFTER_DIRECTIVE,
        "origin_country": "US",
        "origin_region": "US-CA",
        "model": "fable-5",
        "use_case": "coding",
        "risk_scores": {},
        "surface": "api",
    },
}


def make_context(overrides: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
    """``BASE`` with dotted-path overrides applied; ``ABSENT`` removes an attribute.

    Keyword arguments use ``__`` for the dot: ``make_context(request__model="opus-4.8")``.
    """
    ctx = copy.deepcopy(BASE)
    items = dict(overrides or {})
    items.update({k.replace("__", "."): v for k, v in kw.items()})
    for path, value in items.items():
        *parents, leaf = path.split(".")
        node = ctx
        for name in parents:
            node = node.setdefault(name, {})
        if value is ABSENT:
            node.pop(leaf, None)
        else:
            node[leaf] = copy.deepcopy(value)
    return ctx


def foreign(nationality: str = "FR", **kw: Any) -> dict[str, Any]:
    """A verified foreign national (not a US person) otherwise like ``BASE``."""
    base: dict[str, Any] = {
        "principal.nationalities": [nationality],
        "principal.country": nationality,
        "request.origin_country": nationality,
        "request.origin_region": ABSENT,
    }
    base.update({k.replace("__", "."): v for k, v in kw.items()})
    return make_context(base)


def matched(decision: Any) -> set[tuple[str, str]]:
    """The (pack, rule) pairs of every applicable rule."""
    return {(m.pack, m.rule) for m in decision.matched}


def intervention_kinds(decision: Any) -> list[str]:
    return [i.kind for i in decision.interventions]


EXPORT = ("us-export-control", "foreign-national-suspension")
SANCTIONS = ("sanctions", "comprehensive-sanctions")
SANCTIONS_DECLARED = ("sanctions", "comprehensive-sanctions-declared-country")
SYRIA = ("sanctions", "syria-sanctions")
SYRIA_DECLARED = ("sanctions", "syria-sanctions-declared-country")
REGIONS = ("sanctions", "occupied-regions")
ZDR = ("zdr-contract", "zdr-no-retention")
SAFETY = ("safety-retention", "frontier-safety-retention")
BIO_CHEM = ("interventions", "bio-chem-refusal")
DISTILL = ("interventions", "distillation-refusal")
CYBER = ("interventions", "cyber-handoff")
LLM_DEV = ("interventions", "llm-dev-handoff")
AUP = ("acceptable-use", "prohibited-use-cases")
AUDIT_LOG = ("transparency", "intervention-audit-logging")
