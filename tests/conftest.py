"""Shared test helpers: where the real fixtures are, and how to require them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared"
FIXTURES = SHARED / "fixtures"


def require_fixtures() -> Path:
    """The real-fixture folder; skip when absent (a user's clone), fail under CI."""
    if FIXTURES.is_dir():
        return FIXTURES
    message = f"real fixtures not found at {FIXTURES} (../shared beside the checkout)"
    if os.environ.get("CI"):
        pytest.fail(message + "; CI must have them")
    pytest.skip(message)


@pytest.fixture
def fixtures_dir() -> Path:
    return require_fixtures()


def one_line_error(code: int, out: str, err: str, *needles: str) -> str:
    """The bad-input contract: exit status 2, one ``error: ...`` line on stderr holding every
    needle, no traceback; returns that line."""
    assert code == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]

