"""pytest plugin (entry point ``pytest11``): ``pytest rules/`` runs the YAML policy suites.

Only suite files are collected (``compliance.testing._load.is_suite``: ``*.test.yaml`` files,
and YAML files under a ``tests/`` folder whose parent holds ``packset.yaml``), so a
project's own YAML test data is never mistaken for a suite. Each case is one test item; a
failure shows the same report as ``compliance test``; a malformed suite is one failing item
with the diagnostics.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from compliance.testing._load import is_suite


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    """Collect policy suites; every other file is left to pytest and other plugins."""
    if is_suite(file_path):
        suite: pytest.Collector = SuiteFile.from_parent(parent, path=file_path)
        return suite
    return None


class SuiteFile(pytest.File):
    """One suite file: its cases, or one item reporting why it cannot run."""

    def collect(self) -> Iterator[pytest.Item]:
        from compliance.testing import prepare  # noqa: PLC0415

        prepared = prepare([self.path])
        if not prepared.ok:
            yield BrokenSuite.from_parent(self, name="<malformed suite>",
                                          diagnostics=prepared.diagnostics.sorted())
            return
        for suite, engine in prepared.suites:
            for case in suite.cases:
                yield CaseItem.from_parent(self, name=case.name, spec=(suite, engine, case))


class SuiteFailedError(Exception):
    """A case whose expectations did not hold (the text is the report)."""


class CaseItem(pytest.Item):
    """One case of a suite."""

    def __init__(self, *, spec: tuple[Any, Any, Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.spec = spec

    def runtest(self) -> None:
        from compliance.testing import run_case  # noqa: PLC0415
        from compliance.testing._report import failure_text  # noqa: PLC0415

        result = run_case(*self.spec)
        if not result.passed:
            raise SuiteFailedError(failure_text(result))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: Any = None) -> str:
        if isinstance(excinfo.value, SuiteFailedError):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo, style))

    def reportinfo(self) -> tuple[Path, int, str]:
        case = self.spec[2]
        return self.path, case.span.start.line, f"policy case: {case.id}"


class BrokenSuite(pytest.Item):
    """A suite that does not load: fails with the rendered diagnostics (file:line:col)."""

    def __init__(self, *, diagnostics: list[Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.diagnostics = diagnostics

    def runtest(self) -> None:
        from compliance.render import render_summary, render_text  # noqa: PLC0415

        sources = {}
        for d in self.diagnostics:
            if d.span is not None and Path(d.span.file).is_file():
                sources[d.span.file] = Path(d.span.file).read_text("utf-8", errors="replace")
        raise SuiteFailedError(render_text(self.diagnostics, sources) + "\n"
                           + render_summary(self.diagnostics))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: Any = None) -> str:
        return str(excinfo.value)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"policy suite: {self.path.name}"
