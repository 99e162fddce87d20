"""docs/errors.md documents every diagnostic code the golden tests show, and is current."""

from __future__ import annotations

from errors_doc import DOC, build


def test_errors_doc_is_current() -> None:
    """The committed page equals what the golden cases generate."""
    assert DOC.read_text(encoding="utf-8") == build(), "run python tests/golden/errors_doc.py"


def test_errors_doc_covers_core_codes() -> None:
    """The codes users meet most have a section."""
    page = DOC.read_text(encoding="utf-8")
    for code in ["unknown-field", "duplicate-key", "type-mismatch", "undeclared-reference",
                 "forbid-silent", "cost-exceeded", "yaml-alias", "naive-time"]:
        assert f"## `{code}`" in page
