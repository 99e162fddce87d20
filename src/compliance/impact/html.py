"""The impact report as one self-contained HTML file with bar charts in inline SVG.

No script, no font, no image and no style sheet is fetched: the charts are SVG drawn here,
the styles are inline, and a Content-Security-Policy of ``default-src 'none'`` makes a
browser refuse any request the page might otherwise make. Every name from traffic or packs
is HTML-escaped.
"""

from __future__ import annotations

from html import escape
from typing import Any

from compliance.impact.report import headline, percent

BAR_COLOUR = "#c2410c"
BASE_COLOUR = "#d6d3d1"
_WIDTH = 720
_ROW = 26
_LABEL = 220
MAX_BARS = 12


def _chart(chart_id: str, title: str, rows: list[tuple[str, int, int]]) -> str:
    """Horizontal bars: ``rows`` of (label, value, whole); the bar is value/whole of the
    widest whole, over a grey bar for the whole when it is given."""
    if not rows:
        return f'<p class="empty" id="{chart_id}">{escape(title)}: no changes</p>'
    widest = max(max(whole, value) for _, value, whole in rows) or 1
    span = _WIDTH - _LABEL - 120
    height = _ROW * len(rows) + 10
    parts = [f'<svg id="{chart_id}" class="chart" xmlns="http://www.w3.org/2000/svg" '
             f'width="{_WIDTH}" height="{height}" role="img" aria-label="{escape(title)}">']
    for i, (label, value, whole) in enumerate(rows):
        y = 5 + i * _ROW
        shown = label if len(label) <= 32 else label[:31] + "…"
        parts.append(f'<text x="{_LABEL - 8}" y="{y + 16}" text-anchor="end">'
                     f'{escape(shown)}</text>')
        if whole:
            parts.append(f'<rect class="base" x="{_LABEL}" y="{y + 3}" '
                         f'width="{max(whole / widest * span, 1):.1f}" height="16" '
                         f'fill="{BASE_COLOUR}"/>')
        parts.append(f'<rect class="bar" x="{_LABEL}" y="{y + 3}" '
                     f'width="{max(value / widest * span, 2):.1f}" height="16" '
                     f'fill="{BAR_COLOUR}"/>')
        note = f"{value:,}" + (f" / {whole:,}" if whole else "")
        parts.append(f'<text x="{_LABEL + span + 8}" y="{y + 16}">{escape(note)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def render_html(report: dict[str, Any]) -> str:
    """The whole report page."""
    transitions = [(name, row["count"], 0)
                   for name, row in list(report["by_transition"].items())[:MAX_BARS]]
    models = [(name, row["changed"], row["total"])
              for name, row in report["by_model"].items() if row["changed"]][:MAX_BARS]
    title = f"Impact of {report['old']} -> {report['new']}"
    rows = "".join(
        f"<tr><td>{escape(name)}</td><td>{row['count']:,}</td>"
        f"<td>{percent(row['fraction'])}</td><td>"
        + "<br>".join(f"{escape(d)} ({n:,})" for d, n in list(row["details"].items())[:5])
        + "</td></tr>" for name, row in report["by_transition"].items())
    errors = "".join(f"<li>{escape(str(e['file']))}:{e['line']}: {escape(e['code'])}: "
                     f"{escape(e['message'])}</li>" for e in report["error_samples"][:20])
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>{escape(title)}</title>
<style>
body {{ font: 15px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 760px;
  color: #1c1917; }}
h1 {{ font-size: 1.3em; }} h2 {{ font-size: 1.05em; margin-top: 1.8em; }}
.chart text {{ font: 12px system-ui, sans-serif; fill: #1c1917; }}
table {{ border-collapse: collapse; width: 100%; }}
td, th {{ border-bottom: 1px solid #e7e5e4; padding: 4px 6px; text-align: left;
  vertical-align: top; }}
.headline {{ font-weight: 600; }}
</style></head>
<body>
<h1>{escape(title)}</h1>
<p class="headline">{escape(headline(report))}</p>
<p>{report['errors']:,} contexts could not be read or evaluated; {report['skipped']:,} log records
carried no context.</p>
<h2>Changes by transition</h2>
{_chart("chart-transitions", "changes by transition", transitions)}
<h2>Changed contexts by requested model (of all its traffic)</h2>
{_chart("chart-models", "changed contexts by model", models)}
<h2>Transitions</h2>
<table><tr><th>transition</th><th>contexts</th><th>share</th><th>what changed</th></tr>
{rows}</table>
{"<h2>Errors (first 20)</h2><ul>" + errors + "</ul>" if errors else ""}
</body></html>
"""


__all__ = ["BAR_COLOUR", "render_html"]
