"""Policy tests: YAML suites of request contexts and expected decisions, with rule coverage.

``prepare`` loads suites and their pack sets (every problem a diagnostic at
``file:line:col``), ``run`` evaluates the cases and tells each ``Observer`` (such as
``RuleCoverage``) what every case reached; ``_report`` renders text, JSON, JUnit and LCOV.
The format is documented in docs/testing.md; its fixed keys are shared with outside suites.
"""

from __future__ import annotations

from compliance.testing._coverage import RuleCoverage
from compliance.testing._model import Case, Expected, Suite
from compliance.testing._run import (
    CaseResult,
    FieldDiff,
    Observer,
    Prepared,
    compare,
    prepare,
    run,
    run_case,
    select,
)

__all__ = [
    "Case",
    "CaseResult",
    "Expected",
    "FieldDiff",
    "Observer",
    "Prepared",
    "RuleCoverage",
    "Suite",
    "compare",
    "prepare",
    "run",
    "run_case",
    "select",
]
