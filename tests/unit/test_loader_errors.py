"""The exception tree and canonical JSON the loader's callers rely on."""

from __future__ import annotations

import math

import pytest

from compliance.canonical import canonical_json, digest
from compliance.diagnostics import Diagnostic
from compliance.errors import (
    ComplianceError,
    EvaluationError,
    LogIntegrityError,
    PackError,
)
from compliance.source import Span


class TestErrors:
    """Every exception has one root and the builtin bases callers expect."""

    def test_tree(self) -> None:
        """PackError is a ValueError; all are ComplianceErrors."""
        assert issubclass(PackError, ValueError)
        for cls in (PackError, EvaluationError, LogIntegrityError):
            assert issubclass(cls, ComplianceError)

    def test_pack_error_lists_one_liners(self) -> None:
        """``str(PackError)`` lists the first few diagnostics as file:line:col one-liners."""
        diags = [Diagnostic("c", f"m{i}", Span.point("p.yaml", i, 2)) for i in range(7)]
        text = str(PackError(diags))
        assert "p.yaml:1:3: error[c]: m0" in text
        assert "... and 2 more" in text

    def test_evaluation_error_location(self) -> None:
        """EvaluationError keeps the rule and its location and leads with `file:line:col`."""
        err = EvaluationError("division-by-zero", "division by zero", pack="p", rule="r",
                              location="p.yaml:4:11")
        assert (err.code, err.pack, err.rule, err.location) == (
            "division-by-zero", "p", "r", "p.yaml:4:11")
        assert str(err) == "p.yaml:4:11: p/r: division by zero [division-by-zero]"


class TestCanonicalJson:
    """Canonical JSON is stable across key order and refuses NaN."""

    def test_sorted_compact_utf8(self) -> None:
        """Keys are sorted, there is no whitespace, and text stays UTF-8."""
        assert canonical_json({"b": 1, "a": ["é", 1.5]}) == '{"a":["é",1.5],"b":1}'.encode()

    def test_key_order_does_not_matter(self) -> None:
        """Equal data in a different order has the same digest."""
        assert digest({"a": 1, "b": 2}) == digest({"b": 2, "a": 1})

    def test_nan_is_refused(self) -> None:
        """NaN has no canonical form."""
        with pytest.raises(ValueError, match="not JSON compliant"):
            canonical_json({"x": math.nan})
