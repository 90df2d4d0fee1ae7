"""Two figures laid out directly instead of through Plotly's helpers, each the same JSON as
before: ``figures.common.edge_line`` adds its dotted line as a shape, not through
``add_vline`` (which searches the figure's traces and axes for every line), on the size
view's area histogram and the crowding view's CrowdIndex histogram; the crowd levels
figure gets the two panels' axes ``make_subplots`` laid out as its layout.  Checked against
``add_vline`` and ``make_subplots`` on generated frames and on the demo caches' exports,
edges on a log and a sqrt axis."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from analysis.cache.contract import CacheKey
from analysis.definitions import CrowdConvention, CrowdIndexSource, Normalisation, SizeBucket, SizeEdges
from dashboard.caches import load_caches, load_keypoints
from dashboard.exports import crowding, size
from dashboard.exports.items import FigureItem
from dashboard.exports.state import AreaAxis, ViewOptions, ViewState, resolve
from dashboard.figures import common
from dashboard.figures import crowding as crowding_figures
from dashboard.figures import size as size_figures
from dashboard.filters import Filtered, Filters


def _add_vline_edge(fig: go.Figure, x: float, label: str, *, log_axis: bool = False) -> None:
    """The line as Plotly's ``add_vline`` draws it (what ``edge_line`` did before), and the
    same label annotation."""
    fig.add_vline(x=x, line={"dash": "dot", "color": "#555555", "width": 1})
    fig.add_annotation(
        x=float(np.log10(x)) if log_axis else x,
        y=1.0,
        xref="x",
        yref="paper",
        text=label,
        showarrow=False,
        xanchor="left",
        yanchor="top",
        xshift=2,
        font={"color": "#333333"},
        bgcolor="rgba(255,255,255,0.8)",
    )


@pytest.fixture
def with_add_vline(monkeypatch: pytest.MonkeyPatch):
    """Make the figure builders draw their edges with ``add_vline`` while the fixture is used."""

    def use() -> None:
        monkeypatch.setattr(size_figures, "edge_line", _add_vline_edge)
        monkeypatch.setattr(crowding_figures, "edge_line", _add_vline_edge)

    return use


def _generated(seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    names = ["a", "b", "c"]
    n_img, n_per = 400, 1_500
    images = pd.DataFrame(
        {
            "dataset": pd.Categorical(rng.choice(names, n_img), categories=names),
            "crowd_index": np.where(rng.random(n_img) < 0.1, np.nan, rng.gamma(2.0, 0.3, n_img)),
            "crowd_index_stored": np.where(rng.random(n_img) < 0.5, np.nan, rng.random(n_img)),
        }
    )
    persons = pd.DataFrame(
        {
            "dataset": pd.Categorical(rng.choice(names, n_per), categories=names),
            "area": rng.lognormal(7.0, 1.5, n_per),
        }
    )
    return images, persons


@pytest.mark.parametrize("seed", [0, 1])
def test_edge_lines_equal_add_vline_on_generated_frames(seed, with_add_vline):
    images, persons = _generated(seed)
    datasets = ["a", "b", "c"]
    edges = SizeEdges(21.0**2, 90.0**2)

    def build() -> list[str]:
        figures = [
            crowding_figures.crowd_index_hist(images, datasets, levels=conv.levels(), value=value)
            for conv in CrowdConvention
            for value in CrowdIndexSource
        ]
        figures += [size_figures.area_distribution(persons, datasets, edges=edges, axis=a) for a in ("log", "sqrt")]
        return [f.to_json() for f in figures]

    ours = build()
    shapes = [s for f in ours for s in json.loads(f)["layout"].get("shapes", [])]
    assert len(shapes) == 12  # two lines per figure: the test draws edges
    with_add_vline()
    assert build() == ours


def test_edge_lines_equal_add_vline_on_the_demo_exports(demo_cache, with_add_vline):
    caches = load_caches(demo_cache)
    datasets = tuple(caches.datasets)
    states = []
    for f in (Filters(datasets=datasets), Filters(datasets=datasets, bucket=SizeBucket.SMALL)):
        filtered, styles, present, series = resolve(caches, f)
        loader = lambda dataset, split: load_keypoints(demo_cache, CacheKey(dataset, split))  # noqa: E731
        state = ViewState(caches, filtered, styles, present, series, ViewOptions(), loader, demo_cache)
        states += [state, state.with_options(area_axis=AreaAxis.SQRT, crowd_convention=CrowdConvention.EVAL_CODE)]

    def build() -> list[str]:
        out = []
        for state in states:
            # copies of the frames: nothing kept for an earlier build applies
            f = state.filtered
            fresh = replace(
                state, filtered=Filtered(f.images.copy(), f.persons.copy(), f.no_area, dict(f.unknown_area), f.filters)
            )
            items = [*size.exports(fresh), *crowding.index_items(fresh)]
            out += [i.figure.to_json() for i in items if isinstance(i, FigureItem)]
        return out

    compared = 0
    for state in states:  # the crowd levels panels, as make_subplots laid them out
        for value in CrowdIndexSource:
            images, series = state.filtered.images, list(state.series)
            if crowding_figures.crowd_levels_table(images, series, value).empty:
                continue  # no panels: the empty figure
            compared += 1
            ours_levels = crowding_figures.crowd_levels(
                images, series, normalise="share", styles=state.styles, value=value, caption="c"
            )
            expected = _crowd_levels_by_make_subplots(
                images, series, normalise="share", value=value, styles=state.styles
            )
            assert ours_levels.to_json() == expected.to_json()
    assert compared >= 4
    ours = build()
    assert sum('"yref":"y domain"' in j for j in ours) >= 8  # the edge lines are drawn
    with_add_vline()
    assert build() == ours
    assert common.edge_line is not _add_vline_edge


def _crowd_levels_by_make_subplots(
    images: pd.DataFrame,
    datasets: Sequence[str],
    *,
    normalise: str,
    value: CrowdIndexSource,
    styles: dict[str, dict[str, str]] | None = None,
) -> go.Figure:
    """The former ``crowd_levels``: panels from ``make_subplots``, traces placed by row and col."""
    from plotly.subplots import make_subplots

    from dashboard.figures.common import finish, style_for, y_label

    table = crowding_figures.crowd_levels_table(images, datasets, value)
    convs = list(CrowdConvention)
    fig = make_subplots(rows=1, cols=2, shared_yaxes=True, horizontal_spacing=0.06)
    column = Normalisation(normalise).column
    for col, conv in enumerate(convs, start=1):
        part = table[table["convention"] == conv.levels().label]
        for i, name in enumerate(datasets):
            style = style_for(styles, name, i)
            rows = part[part["dataset"] == name]
            fig.add_bar(
                x=rows["level"],
                y=rows[column],
                name=style["label"],
                legendgroup=name,
                showlegend=col == 1,
                marker={"color": style["color"], "pattern": {"shape": style["pattern"]}},
                row=1,
                col=col,
            )
    fig.update_layout(barmode="group")
    fig = finish(fig, title="Crowd levels", caption="c", x_title="", y_title=y_label(normalise, "images"))
    for col, conv in enumerate(convs, start=1):
        levels = conv.levels()
        origin = levels.label.replace("CrowdIndex levels ", "").strip("()")
        fig.update_xaxes(title_text=f"{origin}: {levels.low:g} / {levels.high:g}", row=1, col=col)
    return fig


@pytest.mark.parametrize("seed", [0, 1])
def test_crowd_levels_panels_equal_make_subplots(seed):
    """The crowd levels figure's two panels, laid out without ``make_subplots``, are its JSON."""
    images, _ = _generated(seed)
    for datasets in (["a", "b", "c"], ["b"]):
        for normalise in ("share", "count"):
            for value in CrowdIndexSource:
                ours = crowding_figures.crowd_levels(images, datasets, normalise=normalise, value=value, caption="c")
                expected = _crowd_levels_by_make_subplots(images, datasets, normalise=normalise, value=value)
                assert ours.to_json() == expected.to_json()
                assert [t.xaxis for t in ours.data] == ["x"] * len(datasets) + ["x2"] * len(datasets)
