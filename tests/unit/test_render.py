"""Rendering: diagnostics as compiler-style text, JSON, GitHub annotations and SARIF."""

from __future__ import annotations

import json

from compliance.diagnostics import Diagnostic, Severity
from compliance.render import (
    render_github,
    render_json,
    render_sarif,
    render_summary,
    render_text,
)
from compliance.source import Span

SOURCE = "\n" * 13 + '    when: request.amount >= "10000"\n'
TYPE_ERROR = Diagnostic(
    "type-mismatch",
    "`>=` expects `int` on both sides, found `string`",
    Span.point("rules/payments.yaml", 13, 28, 7),
    help="drop the quotes to compare numbers: `request.amount >= 10000`",
)


class TestText:
    """The text form people read."""

    def test_reference_layout(self) -> None:
        """Header, gutter, quoted line, carets under the span and help, as in STYLE R2."""
        assert render_text([TYPE_ERROR], {"rules/payments.yaml": SOURCE}) == (
            "rules/payments.yaml:14:29: error[type-mismatch]: `>=` expects `int` on both sides,"
            " found `string`\n"
            "    |\n"
            ' 14 |     when: request.amount >= "10000"\n'
            "    |                             ^^^^^^^\n"
            "    = help: drop the quotes to compare numbers: `request.amount >= 10000`"
        )

    def test_gutter_follows_line_number_width(self) -> None:
        """A one-digit line number gets a narrower gutter."""
        d = Diagnostic("x", "m", Span.point("f", 0, 0, 1))
        assert render_text([d], {"f": "a\n"}) == "f:1:1: error[x]: m\n   |\n 1 | a\n   | ^"

    def test_tabs_and_wide_characters(self) -> None:
        """Carets stay under the span after a tab and double-width characters."""
        d = Diagnostic("x", "m", Span.point("f", 0, 4, 1))
        out = render_text([d], {"f": '\t"中"+y\n'}).split("\n")
        line, carets = out[2], out[3]
        assert "\t" not in line
        # `中` is one character but two terminal cells, so the caret sits one further right
        assert carets.index("^") == line.index("+") + 1

    def test_long_line_is_cut_around_the_span(self) -> None:
        """A very long line shows a window around the span, carets still aligned."""
        text = "x" * 500 + "TARGET" + "y" * 500
        d = Diagnostic("x", "m", Span.point("f", 0, 500, 6))
        out = render_text([d], {"f": text}).split("\n")
        assert len(out[2]) < 200
        assert "..." in out[2]
        start = out[3].index("^")
        assert out[2][start : start + 6] == "TARGET"
        assert out[3].count("^") == 6

    def test_without_span_or_source(self) -> None:
        """No span renders as `error[code]: message`; no source renders the header only."""
        assert (
            render_text([Diagnostic("missing-manifest", "m")], {}) == "error[missing-manifest]: m"
        )
        assert render_text([TYPE_ERROR], {}).count("\n") == 1  # header + help

    def test_notes_and_warnings(self) -> None:
        """Warnings say so in the header and notes follow help."""
        d = Diagnostic("w", "m", Span.point("f", 0, 0), Severity.WARNING, "h", ("n",))
        out = render_text([d], {"f": "a"})
        assert out.startswith("f:1:1: warning[w]: m")
        assert out.endswith("= help: h\n   = note: n")

    def test_summary(self) -> None:
        """The summary counts errors and warnings with plurals."""
        warning = Diagnostic("w", "m", severity=Severity.WARNING)
        assert render_summary([TYPE_ERROR, TYPE_ERROR, warning]) == "2 errors, 1 warning"
        assert render_summary([]) == "0 errors, 0 warnings"


class TestMachineFormats:
    """JSON, GitHub and SARIF for tools."""

    def test_json(self) -> None:
        """JSON carries 1-based positions and the help."""
        (item,) = json.loads(render_json([TYPE_ERROR]))
        assert item == {
            "code": "type-mismatch",
            "severity": "error",
            "message": TYPE_ERROR.message,
            "file": "rules/payments.yaml",
            "line": 14,
            "column": 29,
            "end_line": 14,
            "end_column": 36,
            "help": TYPE_ERROR.help,
            "notes": [],
        }

    def test_json_keeps_notes(self) -> None:
        """Notes reach JSON in order."""
        d = Diagnostic("x", "m", notes=("first", "second"))
        (item,) = json.loads(render_json([d]))
        assert item["notes"] == ["first", "second"]

    def test_github(self) -> None:
        """A workflow command with file, line, columns and the code as title."""
        assert render_github([TYPE_ERROR]).startswith(
            "::error file=rules/payments.yaml,line=14,col=29,endColumn=35,title=type-mismatch::"
        )

    def test_github_escapes(self) -> None:
        """Newlines and percent signs in messages are escaped."""
        d = Diagnostic("x", "100%\nsure")
        assert render_github([d]) == "::error title=x::100%25%0Asure"

    def test_sarif(self) -> None:
        """SARIF 2.1.0 with one result per diagnostic and a region."""
        log = json.loads(render_sarif([TYPE_ERROR], {}))
        assert log["version"] == "2.1.0"
        (result,) = log["runs"][0]["results"]
        assert result["ruleId"] == "type-mismatch"
        assert result["level"] == "error"
        region = result["locations"][0]["physicalLocation"]["region"]
        assert (region["startLine"], region["startColumn"], region["endColumn"]) == (14, 29, 36)

    def test_sarif_rules_version_and_related(self) -> None:
        """Rule metadata per code with a docs link, the tool version, notes as related places."""
        d = Diagnostic("forbid-silent", "m", notes=("pack `t` sets it (rules/t.yaml:3)", "plain"))
        log = json.loads(render_sarif([TYPE_ERROR, d], {}, version="9.9"))
        driver = log["runs"][0]["tool"]["driver"]
        assert driver["version"] == "9.9"
        assert [r["id"] for r in driver["rules"]] == ["forbid-silent", "type-mismatch"]
        assert driver["rules"][0]["helpUri"] == "docs/errors.md#forbid-silent"
        first, second = log["runs"][0]["results"]
        assert (first["ruleIndex"], second["ruleIndex"]) == (1, 0)
        assert "relatedLocations" not in first
        (related,) = second["relatedLocations"]
        assert related["physicalLocation"]["artifactLocation"]["uri"] == "rules/t.yaml"
        assert related["physicalLocation"]["region"] == {"startLine": 3}
        assert related["message"]["text"] == d.notes[0]
