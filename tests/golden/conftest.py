"""The ``--update-goldens`` option: rewrite expected files instead of comparing to them."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register ``--update-goldens``; review the rewritten files in the diff before committing."""
    parser.addoption(
        "--update-goldens",
        action="store_true",
        default=False,
        help="rewrite tests/golden/**/expected.txt from the current output",
    )


@pytest.fixture
def update_goldens(request: pytest.FixtureRequest) -> bool:
    """True when goldens should be rewritten."""
    return bool(request.config.getoption("--update-goldens"))
