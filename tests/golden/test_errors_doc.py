"""docs/errors.md documents exactly the closed code sets, and is current."""

from __future__ import annotations

import re

from errors_doc import BUNDLE_CODES, DOC, build, problems

from compliance.diagnostics import DIAGNOSTIC_CODES, INPUT_CODES, RUNTIME_CODES, SUMMARIES


def test_every_code_has_an_entry() -> None:
    """Each check-time code has a golden case or a file example, each run-time code an entry."""
    assert problems() == []


def test_errors_doc_is_current() -> None:
    """The committed page equals what the golden cases and run-time examples generate."""
    assert DOC.read_text(encoding="utf-8") == build(), "run python tests/golden/errors_doc.py"


def test_doc_sections_are_exactly_the_code_sets() -> None:
    """The page's headings list every code of each set and nothing else."""
    page = DOC.read_text(encoding="utf-8")
    check_part, rest = page.split("\n## Run-time codes\n")
    run_part, rest = rest.split("\n## Input codes\n")
    input_part, bundle_part = rest.split("\n## Bundle codes\n")
    heading = re.compile(r"^### `([a-z0-9-]+)`", re.MULTILINE)
    assert set(heading.findall(check_part)) == DIAGNOSTIC_CODES
    assert set(heading.findall(run_part)) == RUNTIME_CODES
    assert set(heading.findall(input_part)) == INPUT_CODES
    assert set(heading.findall(bundle_part)) == BUNDLE_CODES


def test_errors_doc_covers_core_codes() -> None:
    """The codes users meet most have a section."""
    page = DOC.read_text(encoding="utf-8")
    for code in ["unknown-field", "duplicate-key", "type-mismatch", "undeclared-reference",
                 "forbid-silent", "cost-exceeded", "yaml-alias", "naive-time", "no-effect",
                 "missing-message", "division-by-zero", "bad-context"]:
        assert f"## `{code}`" in page


def test_every_code_has_its_anchor() -> None:
    """SARIF `helpUri` (docs/errors.md#<code>) and the other anchors land on a section."""
    page = DOC.read_text(encoding="utf-8")
    anchors = set(re.findall(r'<a id="([a-z0-9-]+)"></a>', page))
    assert anchors >= DIAGNOSTIC_CODES
    assert {f"run-time-{c}" for c in RUNTIME_CODES} <= anchors
    assert {f"input-{c}" for c in INPUT_CODES} <= anchors
    assert anchors >= BUNDLE_CODES


def test_every_check_code_has_a_one_line_summary() -> None:
    """SARIF rule metadata needs a short description for every code `check` can report."""
    assert set(SUMMARIES) == DIAGNOSTIC_CODES
    for code, text in SUMMARIES.items():
        assert text, code
        assert "\n" not in text, code
        assert not text.endswith("."), code
