"""``compliance check --report disclosure|overrides``: what reviewers must see, listed.

The disclosure report lists every intervention of the pack set, visible or silent, with
its message and justification (what the user is told, and why when they are not); the
overrides report lists every explicit override of a higher tier with its justification.
Both read a checked pack set only, so nothing unchecked is ever presented as policy.
"""

from __future__ import annotations

import json
from typing import Any

from compliance.checker import CheckedPackSet
from compliance.pack import Template
from compliance.source import Span

REPORTS = ("disclosure", "overrides")


def _where(span: Span) -> str:
    return f"{span.file}:{span.start.line + 1}:{span.start.col + 1}"


def _text(template: Template | None) -> str | None:
    if template is None:
        return None
    return "".join(p if isinstance(p, str) else "{" + p.text + "}" for p in template.parts)


def disclosure(checked: CheckedPackSet) -> list[dict[str, Any]]:
    """Every intervention: pack, rule, kind, target, disclosure, messages, justification."""
    out: list[dict[str, Any]] = []
    for pack in checked.pack_set.packs:
        for rule in pack.rules:
            iv = rule.intervention
            if iv is None:
                continue
            out.append({
                "pack": pack.id, "rule": rule.id, "kind": iv.kind, "target": iv.target,
                "disclosure": iv.disclosure, "message": _text(iv.message),
                "fail_closed_message": iv.fail_closed_message,
                "instruction": iv.instruction, "justification": iv.justification,
                "location": _where(iv.span),
            })
    return out


def overrides(checked: CheckedPackSet) -> list[dict[str, Any]]:
    """Every ``overrides:`` entry: who beats which tier for what, and the justification."""
    tiers = {p.id: p.tier for p in checked.pack_set.packs}
    return [{"pack": o.pack, "rule": o.rule, "pack_tier": tiers.get(o.pack),
             "obligation": o.group, "overrides_tier": o.tier,
             "justification": o.justification, "location": _where(o.span)}
            for o in checked.overrides]


def render(kind: str, checked: CheckedPackSet, fmt: str) -> str:
    """One report as JSON (a list of objects) or text (one block per entry)."""
    rows = disclosure(checked) if kind == "disclosure" else overrides(checked)
    if fmt == "json":
        return json.dumps({"report": kind, "entries": rows}, indent=2, ensure_ascii=False)
    if not rows:
        return f"{kind} report: none"
    lines = [f"{kind} report: {len(rows)} " + ("interventions" if kind == "disclosure"
                                                else "overrides")]
    for r in rows:
        if kind == "disclosure":
            target = f" -> {r['target']}" if r["target"] else ""
            lines.append(f"{r['location']}: {r['pack']}/{r['rule']}: {r['kind']}{target} "
                         f"({r['disclosure']})")
            for key in ("message", "fail_closed_message", "instruction", "justification"):
                if r[key]:
                    lines.append(f"  {key.replace('_', ' ')}: {r[key]}")
        else:
            lines.append(f"{r['location']}: {r['pack']}/{r['rule']} (tier {r['pack_tier']}) "
                         f"overrides tier {r['overrides_tier']} for {r['obligation']}")
            lines.append(f"  justification: {r['justification']}")
    return "\n".join(lines)


def run_report(args: Any, diagnostics: Any, checked: CheckedPackSet | None) -> int:
    """``check --report``: the report of a clean set; errors (and usage) as ``check`` does."""
    from compliance.cli import (  # noqa: PLC0415  (cli imports this module lazily)
        EXIT_ERRORS,
        EXIT_OK,
        EXIT_USAGE,
        _print_diagnostics,
    )
    from compliance.cli.streams import write_err, write_out  # noqa: PLC0415

    if args.format not in ("text", "json"):
        write_err(f"error: check --report prints text or json, not {args.format}")
        return EXIT_USAGE
    if checked is None:
        _print_diagnostics(diagnostics.errors or diagnostics.sorted(), "text", err=True)
        return EXIT_ERRORS
    write_out(render(args.report, checked, args.format))
    return EXIT_ERRORS if args.strict and diagnostics.warnings else EXIT_OK
