"""A view's export items kept per filter state (``exports.state.kept_per_state``) are exactly
what building them afresh gives: the same figures (their JSON), tables and notes, for
several filter states and view options, on the demo caches; another option or filter state
never gets a kept item of the first."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import pytest

from analysis.cache.contract import CacheKey
from analysis.definitions import CrowdConvention, SizeBucket
from dashboard.caches import load_caches, load_keypoints
from dashboard.exports import crowding, keypoints, scenes, size
from dashboard.exports.items import ExportItem, FigureItem, Note, TableItem
from dashboard.exports.state import AreaAxis, ViewOptions, ViewState, resolve
from dashboard.filters import Filtered, Filters

VIEWS = {"size": size.exports, "crowding": crowding.exports, "scenes": scenes.exports, "keypoints": keypoints.exports}


def _state(caches, root, filters: Filters) -> ViewState:
    filtered, styles, datasets, series = resolve(caches, filters)
    loader = lambda dataset, split: load_keypoints(root, CacheKey(dataset, split))  # noqa: E731
    return ViewState(caches, filtered, styles, datasets, series, ViewOptions(), loader, root)


def _fresh(state: ViewState) -> ViewState:
    """The same state over copies of its frames: nothing kept applies to it."""
    f = state.filtered
    copy = Filtered(f.images.copy(), f.persons.copy(), f.no_area, dict(f.unknown_area), f.filters)
    return replace(state, filtered=copy)


def _assert_same(got: list[ExportItem], expected: list[ExportItem]) -> None:
    assert [type(i) for i in got] == [type(i) for i in expected]
    for a, b in zip(got, expected, strict=True):
        if isinstance(a, FigureItem):
            assert isinstance(b, FigureItem) and a.name == b.name
            assert a.figure.to_json() == b.figure.to_json(), a.name
        elif isinstance(a, TableItem):
            assert isinstance(b, TableItem) and (a.name, a.caption, a.shares) == (b.name, b.caption, b.shares)
            pd.testing.assert_frame_equal(a.table, b.table, check_exact=True)
        else:
            assert isinstance(a, Note) and a == b


@pytest.mark.parametrize("view", list(VIEWS))
def test_kept_export_items_equal_fresh_ones(demo_cache, view):
    caches = load_caches(demo_cache)
    datasets = tuple(caches.datasets)
    build = VIEWS[view]
    other_options = ViewOptions(area_axis=AreaAxis.SQRT, crowd_convention=CrowdConvention.EVAL_CODE, scene_top_k=3)
    for filters in (Filters(datasets=datasets), Filters(datasets=datasets, bucket=SizeBucket.SMALL)):
        state = _state(caches, demo_cache, filters)
        first = build(state)
        again = build(state)
        assert all(a is b for a, b in zip(first, again, strict=True))  # kept: not built again
        _assert_same(again, build(_fresh(state)))
        changed = state.with_options(
            **{f: getattr(other_options, f) for f in ("area_axis", "crowd_convention", "scene_top_k")}
        )
        _assert_same(build(changed), build(_fresh(changed)))
    # another filter state's items are its own
    small = build(_state(caches, demo_cache, Filters(datasets=datasets, bucket=SizeBucket.SMALL)))
    everyone = build(_state(caches, demo_cache, Filters(datasets=datasets)))
    small_json = [i.figure.to_json() for i in small if isinstance(i, FigureItem)]
    everyone_json = [i.figure.to_json() for i in everyone if isinstance(i, FigureItem)]
    assert small_json and small_json != everyone_json


def test_table_downloads_made_on_click_equal_the_rendered_files(demo_cache):
    """The page's CSV / LaTeX buttons render their file when clicked (``ui.table_downloads``):
    the same names and bytes as ``render.table_files`` rendering both up front, for every
    table of these views, with shares as fractions and as percentages."""
    from dashboard import ui
    from dashboard.exports.render import RenderOptions, table_files

    caches = load_caches(demo_cache)
    state = _state(caches, demo_cache, Filters(datasets=tuple(caches.datasets)))
    tables = [i for build in VIEWS.values() for i in build(state) if isinstance(i, TableItem)]
    assert len(tables) >= 6
    for options in (RenderOptions(), RenderOptions(percent=True)):
        for item in tables:
            buttons = ui.table_downloads(item, options)
            files = table_files(item, options)
            assert [(label, name) for label, name, _ in buttons] == list(zip(["CSV", "LaTeX"], files, strict=True))
            assert [make() for _, _, make in buttons] == list(files.values())
