"""The CEL conformance corpus (cel-spec simple tests, converted to JSON Lines), case by case.

Any CEL error satisfies an expected error, but a Python exception (TypeError …) is a failure.
Every case cel-python 0.5.0 passes must pass here too: those may not be skipped.
"""

from __future__ import annotations

import pytest
from cel_corpus import CORE_FILES, EXTENSION_FILES, celpy_pass_list, load_cases, run_case
from skips import SKIP, SKIP_FILES

_CASES = load_cases()
_CELPY = celpy_pass_list()


def _marks(case_id: str, file: str) -> list[pytest.MarkDecorator]:
    if case_id in SKIP and case_id not in _CELPY:
        return [pytest.mark.skip(reason=SKIP[case_id])]
    if file in SKIP_FILES and case_id not in _CELPY:
        return [pytest.mark.skip(reason=SKIP_FILES[file])]
    covered = CORE_FILES | EXTENSION_FILES | set(SKIP_FILES)
    if file not in covered and case_id not in _CELPY:
        return [pytest.mark.skip(reason=f"`{file}` is not a file this suite covers")]
    return []


@pytest.mark.parametrize(
    "case", [pytest.param(c, id=c.id, marks=_marks(c.id, c.file)) for c in _CASES]
)
@pytest.mark.parametrize("backend", ["closures", "generated"])
def test_case(case: object, backend: str) -> None:
    """The compiled expression evaluates to the expected value, or raises a CEL error.

    On both compiled backends: the closure compiler and the generated Python.
    """
    outcome = run_case(case, backend)  # type: ignore[arg-type]
    assert outcome.status == "pass", outcome.detail


def test_skip_list_is_small() -> None:
    """Skipped core cases stay under 3% of the core cases."""
    core = [c for c in _CASES if c.file in CORE_FILES]
    skipped = [c for c in core if c.id in SKIP]
    assert len(skipped) < 0.03 * len(core)


def test_celpy_passes_are_never_skipped() -> None:
    """No case cel-python passes is on the skip list."""
    assert not (_CELPY & set(SKIP))
