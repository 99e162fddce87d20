"""Diagnostics as text for people, and as JSON, GitHub annotations and SARIF for tools.

Stages produce ``Diagnostic`` data with 0-based positions; this module alone turns them
into output and adds 1 to lines and columns (STYLE R1, R2 (d)). The text form follows
compilers and CI problem matchers::

    rules/payments.yaml:14:29: error[type-mismatch]: `>=` expects `int`, found `string`
        |
     14 |     when: request.amount >= "10000"
        |                             ^^^^^^^
        = help: drop the quotes to compare numbers: `request.amount >= 10000`

Tabs expand to ``TAB_WIDTH`` columns and East Asian wide characters count two, so the
carets stay under the span; lines longer than ``MAX_SNIPPET`` are cut around the span.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence

from compliance.diagnostics import MAX_DIAGNOSTICS, SUMMARIES, Diagnostic, Severity
from compliance.source import Span

__all__ = [
    "render_github",
    "render_json",
    "render_one",
    "render_sarif",
    "render_summary",
    "render_text",
]

TAB_WIDTH = 4
MAX_SNIPPET = 120
_CONTEXT = 40  # characters kept before the span when a long line is cut
_LINE_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")
_SARIF_LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.NOTE: "note"}
_GITHUB_LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.NOTE: "notice"}


def render_text(diagnostics: Iterable[Diagnostic], sources: Mapping[str, str]) -> str:
    """All diagnostics as text blocks separated by blank lines (capped at ``MAX_DIAGNOSTICS``)."""
    items = list(diagnostics)
    lines_of = {name: _LINE_BREAK.split(text) for name, text in sources.items()}
    blocks = [
        render_one(d, lines_of.get(d.span.file) if d.span else None)
        for d in items[:MAX_DIAGNOSTICS]
    ]
    if len(items) > MAX_DIAGNOSTICS:
        blocks.append(f"{len(items) - MAX_DIAGNOSTICS} more diagnostics were truncated")
    return "\n\n".join(blocks)


def render_one(d: Diagnostic, lines: Sequence[str] | None = None) -> str:
    """One diagnostic: header, the quoted line with carets when ``lines`` has it, help, notes.

    Text from the pack (the quoted line, names in messages) is shown with control and other
    invisible characters escaped, so a hostile file cannot send escape sequences to a terminal.
    """
    head = f"{d.severity.value}[{d.code}]: {_visible(d.message)}"
    if d.span is None:
        return "\n".join([head, *_trailer(d, 0)])
    line_no = d.span.start.line + 1
    header = f"{_visible(d.span.file)}:{line_no}:{d.span.start.col + 1}: {head}"
    width = len(str(line_no))
    snippet: list[str] = []
    if lines is not None and d.span.start.line < len(lines):
        shown, carets = _snippet(lines[d.span.start.line], d.span)
        pad = " " * (width + 2)
        snippet = [f"{pad}|", f" {line_no} | {shown}".rstrip(), f"{pad}| {carets}"]
    return "\n".join([header, *snippet, *_trailer(d, width)])


def _trailer(d: Diagnostic, width: int) -> list[str]:
    pad = " " * (width + 2) if width else ""
    out = [f"{pad}= help: {_visible(d.help)}"] if d.help else []
    return out + [f"{pad}= note: {_visible(note)}" for note in d.notes]


_INVISIBLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def _escape(ch: str) -> str:
    """A control or invisible character as its escape (``\\u001b``); others unchanged."""
    if ch == "\t" or unicodedata.category(ch) not in _INVISIBLE:
        return ch
    code = ord(ch)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def _visible(text: str) -> str:
    return "".join(map(_escape, text)) if not text.isprintable() else text


def _cells(text: str, start_col: int = 0) -> list[int]:
    """The display width of each character (tabs to the next stop, wide characters two)."""
    widths: list[int] = []
    col = start_col
    for ch in text:
        if ch == "\t":
            w = TAB_WIDTH - col % TAB_WIDTH
        elif (shown := _escape(ch)) is not ch:
            w = len(shown)
        elif unicodedata.combining(ch):
            w = 0
        else:
            w = 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
        widths.append(w)
        col += w
    return widths


def _display(text: str) -> str:
    """``text`` with tabs expanded the same way ``_cells`` counts them."""
    out: list[str] = []
    col = 0
    for ch, w in zip(text, _cells(text), strict=True):
        out.append(" " * w if ch == "\t" else _escape(ch))
        col += w
    return "".join(out)


def _snippet(line: str, span: Span) -> tuple[str, str]:
    """The line as shown and the caret line under ``span`` (clipped to this line)."""
    start = min(span.start.col, len(line))
    end = span.end.col if span.end.line == span.start.line else len(line)
    end = max(min(end, len(line)), start + 1)
    cut = 0
    if len(line) > MAX_SNIPPET:
        cut = max(0, start - _CONTEXT)
        line = line[cut : cut + MAX_SNIPPET]
        start, end = start - cut, min(end - cut, len(line) + 1)
    prefix = "..." if cut else ""
    cells = _cells(line)
    lead = sum(cells[:start])
    under = max(sum(cells[start:end]), 1)
    return prefix + _display(line), " " * (len(prefix) + lead) + "^" * under


def render_summary(diagnostics: Iterable[Diagnostic]) -> str:
    """``2 errors, 1 warning`` (notes are not counted)."""
    items = list(diagnostics)
    errors = sum(d.severity is Severity.ERROR for d in items)
    warnings = sum(d.severity is Severity.WARNING for d in items)
    return f"{_plural(errors, 'error')}, {_plural(warnings, 'warning')}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _as_dict(d: Diagnostic) -> dict[str, object]:
    """The JSON shape: 1-based positions, ``end_column`` one past the last character."""
    span = d.span
    return {
        "code": d.code,
        "severity": d.severity.value,
        "message": d.message,
        "file": span.file if span else None,
        "line": span.start.line + 1 if span else None,
        "column": span.start.col + 1 if span else None,
        "end_line": span.end.line + 1 if span else None,
        "end_column": span.end.col + 1 if span else None,
        "help": d.help,
        "notes": list(d.notes),
    }


def render_json(diagnostics: Iterable[Diagnostic]) -> str:
    """A JSON list of diagnostics.

    Each is ``{code, severity, message, file, line, column, end_line, end_column, help, notes}``.
    """
    return json.dumps([_as_dict(d) for d in diagnostics], indent=2, ensure_ascii=False)


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render_github(diagnostics: Iterable[Diagnostic]) -> str:
    """GitHub Actions workflow commands, one ``::error file=…,line=…::message`` per line."""
    out: list[str] = []
    for d in diagnostics:
        props: list[str] = []
        if d.span is not None:
            s = d.span
            props += [
                f"file={_escape_property(s.file)}",
                f"line={s.start.line + 1}",
                f"col={s.start.col + 1}",
            ]
            if s.end.line != s.start.line:
                props.append(f"endLine={s.end.line + 1}")
            props.append(f"endColumn={max(s.end.col, s.start.col + 1)}")
        props.append(f"title={_escape_property(d.code)}")
        message = d.message + (f" (help: {d.help})" if d.help else "")
        out.append(f"::{_GITHUB_LEVELS[d.severity]} {','.join(props)}::{_escape_data(message)}")
    return "\n".join(out)


ERRORS_DOC = "docs/errors.md"
"""Where each code is documented, one section per code; SARIF ``helpUri`` points into it."""
_NOTE_LOCATION = re.compile(r"(?P<file>[^\s()`]+\.ya?ml):(?P<line>\d+)")


def _sarif_location(file: str, region: dict[str, int]) -> dict[str, object]:
    return {"physicalLocation": {"artifactLocation": {"uri": file}, "region": region}}


def _related(d: Diagnostic) -> list[dict[str, object]]:
    """Notes that name another place (``rules/a.yaml:12``) as SARIF related locations."""
    related: list[dict[str, object]] = []
    for note in d.notes:
        for match in _NOTE_LOCATION.finditer(note):
            location = _sarif_location(match["file"], {"startLine": int(match["line"])})
            location["id"] = len(related)
            location["message"] = {"text": note}
            related.append(location)
    return related


def _sarif_result(d: Diagnostic) -> dict[str, object]:
    text = d.message + (f"\nhelp: {d.help}" if d.help else "")
    text += "".join(f"\nnote: {note}" for note in d.notes)
    result: dict[str, object] = {
        "ruleId": d.code,
        "level": _SARIF_LEVELS[d.severity],
        "message": {"text": text},
    }
    if d.span is not None:
        s = d.span
        region = {
            "startLine": s.start.line + 1,
            "startColumn": s.start.col + 1,
            "endLine": s.end.line + 1,
            "endColumn": max(s.end.col, s.start.col + 1) + 1,
        }
        result["locations"] = [_sarif_location(s.file, region)]
    related = _related(d)
    if related:
        result["relatedLocations"] = related
    return result


def _sarif_rule(code: str, severity: Severity) -> dict[str, object]:
    """Rule metadata for one code: a short description and the link to its documentation."""
    return {
        "id": code,
        "shortDescription": {"text": SUMMARIES.get(code, f"compliance diagnostic `{code}`")},
        "helpUri": f"{ERRORS_DOC}#{code}",
        "defaultConfiguration": {"level": _SARIF_LEVELS[severity]},
    }


def render_sarif(
    diagnostics: Iterable[Diagnostic],
    sources: Mapping[str, str] | None = None,
    *,
    version: str | None = None,
) -> str:
    """A SARIF 2.1.0 log with one run of the ``compliance`` tool (``version`` is its version)."""
    items = list(diagnostics)
    first: dict[str, Severity] = {}
    for d in items:
        first.setdefault(d.code, d.severity)
    driver: dict[str, object] = {"name": "compliance"}
    if version is not None:
        driver["version"] = version
    driver["rules"] = [_sarif_rule(code, first[code]) for code in sorted(first)]
    index = {code: i for i, code in enumerate(sorted(first))}
    results = []
    for d in items:
        result = _sarif_result(d)
        result["ruleIndex"] = index[d.code]
        results.append(result)
    log = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{"tool": {"driver": driver}, "results": results}],
    }
    return json.dumps(log, indent=2, ensure_ascii=False)
