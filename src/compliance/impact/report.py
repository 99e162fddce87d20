"""The impact report as text, JSON or Markdown (HTML is ``impact.html``).

Every format renders the same report dictionary (``Summary.report``); names that come from
traffic (models, plans) or packs are escaped for the format, so a crafted model name cannot
break a table or a pull-request comment.
"""

from __future__ import annotations

import json
from typing import Any

MAX_ROWS = 15


def percent(fraction: float) -> str:
    """A fraction as a percentage that keeps small numbers visible (0.03%, not 0.0%)."""
    value = fraction * 100
    if value == 0:
        return "0%"
    if value < 0.01:
        return "<0.01%"
    if value < 1:
        return f"{value:.2f}%"
    return f"{value:.1f}%"


def render_json(report: dict[str, Any]) -> str:
    """The report as one JSON object (the fixed keys of the impact report)."""
    return json.dumps(report, indent=2, ensure_ascii=False)


def headline(report: dict[str, Any]) -> str:
    """One sentence: how much traffic and how many organisations the change affects."""
    return (f"{report['changed']:,} of {report['total']:,} contexts change "
            f"({percent(report['changed_fraction'])}), in {report['orgs_affected']:,} of "
            f"{report['orgs_total']:,} organisations "
            f"({percent(report['orgs_affected_fraction'])})")


def render_text(report: dict[str, Any]) -> str:
    """A plain-text report for a terminal."""
    lines = [f"impact of {report['old']} -> {report['new']}", headline(report)]
    if report["errors"] or report["skipped"]:
        lines.append(f"errors: {report['errors']:,} (unreadable lines {report['read_errors']:,}, "
                     f"evaluation errors old {report['evaluation_errors']['old']:,} / new "
                     f"{report['evaluation_errors']['new']:,}); skipped log records without a "
                     f"context: {report['skipped']:,}")
        lines += [f"  {e['file']}:{e['line']}: {e['code']}: {e['message']}"
                  for e in report["error_samples"][:10]]
    if report["by_transition"]:
        lines.append("by transition:")
        for name, row in report["by_transition"].items():
            lines.append(f"  {name:<16} {row['count']:>10,}  {percent(row['fraction'])}")
            lines += [f"      {what}: {n:,}" for what, n in list(row["details"].items())[:5]]
    for side in ("old", "new"):
        rules = list(report["by_rule"][side].items())[:MAX_ROWS]
        if rules:
            lines.append(f"rules matched in changed contexts ({side}):")
            lines += [f"  {name}: {n:,}" for name, n in rules]
    for key, title in (("by_model", "by requested model"), ("by_plan", "by organisation plan")):
        rows = [(n, r) for n, r in report[key].items() if r["changed"]][:MAX_ROWS]
        if rows:
            lines.append(f"{title} (changed / total):")
            lines += [f"  {name}: {r['changed']:,} / {r['total']:,}  {percent(r['fraction'])}"
                      for name, r in rows]
    return "\n".join(lines)


def _md(text: object) -> str:
    """Text safe inside a Markdown table cell."""
    out = str(text).replace("&", "&amp;").replace("\\", "\\\\").replace("|", "\\|")
    out = out.replace("\n", " ")
    for ch in "`*_[]":
        out = out.replace(ch, "\\" + ch)
    return out.replace("<", "&lt;")  # no tag can open; a lone `>` is text


def _code(text: object) -> str:
    """Text as a Markdown code span (backslashes are literal there, backticks cannot be)."""
    return "`" + str(text).replace("`", "'").replace("\n", " ") + "`"


def render_markdown(report: dict[str, Any]) -> str:
    """A Markdown report for a pull-request comment."""
    lines = [f"### Impact of {_code(report['old'])} → {_code(report['new'])}", "",
             f"**{headline(report)}**", ""]
    if report["errors"]:
        lines += [f"⚠️ {report['errors']:,} contexts could not be read or evaluated "
                  f"({report['read_errors']:,} unreadable lines).", ""]
    if report["by_transition"]:
        lines += ["| transition | contexts | share of traffic | what changed |",
                  "| --- | ---: | ---: | --- |"]
        for name, row in report["by_transition"].items():
            what = "; ".join(f"{_md(d)} ({n:,})" for d, n in list(row["details"].items())[:3])
            lines.append(f"| {_md(name)} | {row['count']:,} | {percent(row['fraction'])} | "
                         f"{what} |")
        lines.append("")
    rows = [(n, r) for n, r in report["by_model"].items() if r["changed"]][:MAX_ROWS]
    if rows:
        lines += ["| requested model | changed | total | fraction |",
                  "| --- | ---: | ---: | ---: |"]
        lines += [f"| {_md(n)} | {r['changed']:,} | {r['total']:,} | {percent(r['fraction'])} |"
                  for n, r in rows]
        lines.append("")
    rules = [(side, name, n) for side in ("old", "new")
             for name, n in list(report["by_rule"][side].items())[:MAX_ROWS]]
    if rules:
        lines += ["<details><summary>Rules matched in changed contexts</summary>", "",
                  "| side | rule | contexts |", "| --- | --- | ---: |"]
        lines += [f"| {side} | {_md(name)} | {n:,} |" for side, name, n in rules]
        lines += ["", "</details>"]
    return "\n".join(lines).rstrip("\n")


__all__ = ["headline", "percent", "render_json", "render_markdown", "render_text"]
