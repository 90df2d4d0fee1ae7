"""Every exported figure, at both paper widths, rendered in Chromium and measured: no
title or caption inside the image, nothing clipped, and legend, axis titles, tick
labels, annotations and colorbars never overlap (``layout_probe.problems``)."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from analysis.cache.contract import CacheKey
from dashboard.caches import load_caches, load_keypoints
from dashboard.exports import catalog
from dashboard.exports import paper as export
from dashboard.exports.items import FigureItem
from dashboard.exports.state import AreaAxis, ViewOptions, state_from_params
from tests.dashboard.dashboard_helpers import chromium_or_skip
from tests.dashboard.exports.layout_probe import PLOTLY_JS, measure, problems

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("browser")]

#: (query, options): the default view, the bucket filter with shares, and the other axes.
VARIANTS = [
    ({}, ViewOptions()),
    ({"bucket": "small", "norm": "share"}, ViewOptions(people_log_y=True, area_axis=AreaAxis.SQRT)),
]


@pytest.fixture(scope="module")
def page():
    chromium = chromium_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True)
        pg = browser.new_page()
        pg.set_content("<html><body style='margin:0'></body></html>")
        pg.add_script_tag(path=str(PLOTLY_JS))
        yield pg
        browser.close()


@pytest.fixture(scope="module")
def exported_figures(demo_cache: Path) -> list[tuple[str, FigureItem]]:
    caches = load_caches(demo_cache)
    keypoints = functools.cache(lambda d, s: load_keypoints(demo_cache, CacheKey(d, s)))
    out = []
    for params, options in VARIANTS:
        state = state_from_params(caches, params, options, keypoints, root=demo_cache)
        for view in catalog.VIEWS:
            out += [(f"{view}/{i.stem} {params}", i) for i in catalog.exports(view, state) if isinstance(i, FigureItem)]
    return out


@pytest.mark.parametrize("preset", list(export.PRESETS))
def test_every_exported_figure_is_clean(page, exported_figures, preset):
    views = {name.split("/")[0] for name, _ in exported_figures}
    # every view with figures is covered (panels need images=: tests/dashboard/test_panels.py)
    assert views == set(catalog.VIEWS) - {"overview", "panels"}
    failures = []
    for name, item in exported_figures:
        paper = export.paper_figure(item.figure, preset)
        layout = measure(page, paper)
        p = export.PRESETS[preset]
        # the preset's width; its height, or taller for a legend of many rows
        assert layout.width == p.width_px and layout.height >= p.height_px
        # (plotly lists stacked bars' entries in reverse)
        assert sorted(layout.legend_entries) == sorted(legend_names(paper)), f"{name}: legend entries missing"
        assert not [b for b in layout.of("title") if b.text.strip()], f"{name}: title drawn"
        assert item.caption and not [b for b in layout.of("annotation") if item.caption[:30] in b.text], (
            f"{name}: caption drawn inside the image"
        )
        assert layout.of("axis title") or name.startswith("keypoints"), f"{name}: no axis title measured"
        failures += [f"{name} [{preset}]: {problem}" for problem in problems(layout)]
    assert not failures, "\n".join(failures)


def test_probe_catches_the_old_caption_over_the_axis_title(page, exported_figures):
    """The check can fail: the earlier theme's caption line (an annotation 28 px under
    the plot) lands on the x-axis title, and a legend moved into the plot is caught."""
    item = next(i for n, i in exported_figures if n.startswith("size/size-buckets"))
    paper = export.paper_figure(item.figure, "single")
    paper.add_annotation(
        text=item.caption[:60],
        xref="paper",
        yref="paper",
        x=0,
        y=0,
        xanchor="left",
        yanchor="top",
        yshift=-28,
        showarrow=False,
    )
    found = problems(measure(page, paper))
    assert any("annotation" in f and "axis title" in f for f in found), found
    paper = export.paper_figure(item.figure, "single")
    paper.update_layout(legend={"y": 0.5, "yanchor": "middle"})
    assert "legend overlaps a plot area" in problems(measure(page, paper))


def legend_names(fig) -> list[str]:
    """The legend entries a figure should show: its named traces (one entry per name)."""
    if fig.layout.showlegend is False:
        return []
    return list(dict.fromkeys(t.name for t in fig.data if t.showlegend is not False and t.name))


#: Up to twelve series, short and long names (models as papers name them, display names
#: with a split): the 7th and later entries of a single-column legend used to scroll away.
LONG_NAMES = [
    "crowdpose-val",
    "SimpleBaseline ResNet-50 (SmallPose)",
    "coco-val2017",
    "HRNet-W32 (ours)",
    "smallpose-test",
    "ochuman",
    "CrowdPose (ours)/val",
    "posetrack18-val",
    "aic-train",
    "humanart",
    "ViTPose-B, 256x192",
    "model 12",
]


@pytest.mark.parametrize("n", [7, 8, 12])
@pytest.mark.parametrize("preset", list(export.PRESETS))
def test_many_series_legend_shows_every_entry(page, preset, n):
    """Up to twelve long names: every entry drawn (counted in the rendered legend), wrapped
    into rows that push the plot down, nothing overlapping; the figure grows taller rather
    than the plot shrinking away."""
    import numpy as np
    import pandas as pd

    from analysis.definitions import SizeEdges
    from dashboard.figures.people import people_per_image
    from dashboard.figures.size import area_distribution

    names = LONG_NAMES[:n]
    rng = np.random.default_rng(0)
    images = pd.DataFrame({"dataset": np.repeat(names, 50), "n_selected": rng.integers(0, 20, 50 * len(names))})
    persons = pd.DataFrame({"dataset": np.repeat(names, 50), "area": rng.uniform(10, 1e6, 50 * len(names))})
    for fig in (
        people_per_image(images, names, caption="c"),
        area_distribution(persons, names, edges=SizeEdges(), caption="c"),
    ):
        layout = measure(page, export.paper_figure(fig, preset))
        assert len(layout.of("legend")) == 1
        assert layout.legend_entries == names
        assert not problems(layout)
        ((_, top, _, bottom),) = layout.plots
        assert bottom - top >= 0.5 * export.PRESETS[preset].height_px  # the plot keeps its room


def test_probe_counts_a_scrolled_legend(page):
    """The count can fail: plotly's own legend height limit hides entries past it."""
    import pandas as pd

    from dashboard.figures.people import people_per_image

    images = pd.DataFrame({"dataset": LONG_NAMES * 3, "n_selected": [1, 2, 3] * len(LONG_NAMES)})
    paper = export.paper_figure(people_per_image(images, LONG_NAMES, caption="c"), "single")
    paper.update_layout(height=export.PRESETS["single"].height_px, legend_maxheight=0.5)
    layout = measure(page, paper)
    assert len(layout.legend_entries) < len(LONG_NAMES)
    assert any("hidden (the legend scrolls)" in p for p in problems(layout))


def test_many_category_rows_get_a_row_each(page, exported_figures):
    """The error composition of ten slices for four evaluations: small multiples, one panel per
    evaluation on the slices' shared axis; every slice tick label gets its own row (drawn once),
    the panels' titles do not run into each other."""
    from analysis.evaluation.slices import SLICE_NAMES

    items = [i for n, i in exported_figures if n.startswith("errors/error-composition")]
    diagnosed = items[0].figure  # the demo's figure: a panel per evaluation
    labels = list(dict.fromkeys(diagnosed.data[0].y))
    assert labels == list(SLICE_NAMES)
    panels = {t.xaxis for t in diagnosed.data}
    assert len(panels) >= 2  # several evaluations in the demo
    for preset in export.PRESETS:
        layout = measure(page, export.paper_figure(diagnosed, preset))
        ticks = [b for b in layout.of("tick label") if b.text in {str(label) for label in labels}]
        assert len(ticks) == len(labels)
        clashes = [(a.text, b.text) for i, a in enumerate(ticks) for b in ticks[i + 1 :] if a.overlaps(b)]
        assert not clashes, clashes[:3]
        assert not problems(layout)


@pytest.fixture(scope="module")
def comparison_item(demo_cache: Path) -> FigureItem:
    """ΔAP per slice of demo-small's two evaluations (the dashboard's comparison panel)."""
    from types import SimpleNamespace

    from analysis.evaluation.store import BootstrapSettings
    from dashboard import evaluations
    from dashboard.exports import models as models_exports

    entries = evaluations.find_models(demo_cache, [CacheKey("demo-small", "val")])
    assert len(entries) == 2
    (item, _) = models_exports.comparison_items(
        SimpleNamespace(root=demo_cache), entries, BootstrapSettings(50, 0, 0.95)
    )
    assert isinstance(item, FigureItem)
    return item


@pytest.mark.parametrize("stem", ["ap-per-slice", "models-comparison"])
@pytest.mark.parametrize("preset", list(export.PRESETS))
def test_ap_per_slice_labels_are_horizontal_apart_and_inside(page, exported_figures, comparison_item, preset, stem):
    """AP per slice for the demo's four evaluations, and ΔAP per slice of its two evaluations
    stored with intervals: the ten slice labels (AP ... AP^H) are all drawn, horizontal,
    inside the figure and clear of each other and of the value axis' labels; at single width
    the bars run across and the slices go down the y axis."""
    from analysis.evaluation.table5 import TABLE5_COLUMNS

    figures = [*exported_figures, (f"models/{comparison_item.stem} ", comparison_item)]
    item = next(i for n, i in figures if n.startswith(f"models/{stem} "))
    paper = export.paper_figure(item.figure, preset)
    layout = measure(page, paper)
    font = export.PRESETS[preset].font_px
    ticks = layout.of("tick label")
    slices = [b for b in ticks if b.text.startswith("AP")]
    assert [b.text.replace("\u200b", "").rstrip("†") for b in slices] == [
        c.replace("^", "").replace("_", "").replace("(", "").replace(")", "") for c in TABLE5_COLUMNS
    ]
    for b in ticks:
        assert b.x0 >= 0 and b.x1 <= layout.width and b.y0 >= 0 and b.y1 <= layout.height, b
    clashes = [(a.text, b.text) for i, a in enumerate(ticks) for b in ticks[i + 1 :] if a.overlaps(b, tol=0)]
    assert not clashes, clashes
    assert all(b.y1 - b.y0 < 2 * font for b in slices)  # one horizontal line each, never rotated
    ((x0, _, _, y1),) = layout.plots
    if preset == "single":  # down the y axis, left of the plot
        assert all(b.x1 <= x0 for b in slices) and sorted(slices, key=lambda b: b.y0) == slices
    else:  # along the x axis, under the plot
        assert all(b.y0 >= y1 for b in slices) and sorted(slices, key=lambda b: b.x0) == slices
    assert not problems(layout)
