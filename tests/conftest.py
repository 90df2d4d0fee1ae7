"""Shared test helpers: where the real fixtures are, and how to require them."""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
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


@pytest.fixture
def young_heap() -> Iterator[None]:
    """``gc.collect()`` inside the test walks only the objects made during the test.

    Tests that free an object and collect (to check a memo dropped with its owner) would
    otherwise walk the worker's whole heap (torch, plotly, pandas, earlier tests' objects)
    on every collect: seconds each on a busy machine.  Everything alive before the test is
    frozen (``gc.freeze``): a frozen object is never freed by the collector but still keeps
    what it refers to alive, exactly as an object in an older generation does, so the
    objects a test makes are collected as before."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


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


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Make ``--dist loadgroup`` honour ``xdist_group`` marks under pytest 9.

    pytest-xdist 3.8 groups tests by an ``@group`` suffix it writes into ``item._nodeid``,
    which pytest 9 no longer reads (the node id now comes from ``item._id``): every group
    was silently spread over the workers (two browser tests at once, a module's shared
    build made once per worker).  This writes the same suffix where pytest 9 reads it;
    it does nothing when xdist already managed to (an older pytest) or without loadgroup.
    """
    if not getattr(config.option, "loadgroup", False):
        return
    from _pytest.nodeid import coerce_node_id  # pytest 9's node ids (no public API to rename one)

    for item in items:
        marks = item.iter_markers("xdist_group")
        groups = {str(m.args[0] if m.args else m.kwargs.get("name", "default")) for m in marks}
        if groups and "@" not in item.nodeid and hasattr(item, "_id"):
            item._id = coerce_node_id(f"{item.nodeid}@{'_'.join(sorted(groups))}")
