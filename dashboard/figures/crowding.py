"""Crowding: CrowdIndex distribution, easy/medium/hard shares, small-person density
(Figure 8c) and computed vs stored CrowdIndex."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from analysis.definitions import CrowdConvention, CrowdIndexSource, LevelEdges, Normalisation, SizeBucket
from dashboard.figures.common import (
    LEVEL_COLORS,
    edge_line,
    empty_figure,
    finish,
    group_masks,
    series_column,
    style_for,
    y_label,
)
from dashboard.frame_memo import kept

CI_BIN = 0.05


def crowd_index_table(
    images: pd.DataFrame,
    datasets: Sequence[str],
    *,
    bin_width: float = CI_BIN,
    normalise: Normalisation | str = Normalisation.COUNT,
    value: CrowdIndexSource = CrowdIndexSource.COMPUTED,
) -> pd.DataFrame:
    """Images per CrowdIndex bin [left, left + bin_width); one column per dataset.
    Images without that value (no stored CrowdIndex) are not counted."""
    edges, per_series = kept(
        images,
        ("crowdindex counts", bin_width, value, tuple(datasets)),
        lambda: _crowd_index_counts(images, datasets, bin_width, value),
    )
    data = {"left": edges[:-1], "right": edges[1:]}
    for name, counts in zip(datasets, per_series, strict=True):
        data[name] = Normalisation(normalise).apply(counts.astype(float))
    return pd.DataFrame(data)


def _crowd_index_counts(
    images: pd.DataFrame,
    datasets: Sequence[str],
    bin_width: float,
    value: CrowdIndexSource,
) -> tuple[np.ndarray, list[np.ndarray]]:
    """The bin edges and, per dataset, images per bin; kept per frame (the figure and the
    table of a rerun, and every rerun of a kept filter state, ask for the same counts)."""
    ci = images[value.column].to_numpy(dtype=float)
    finite = ci[np.isfinite(ci)]
    top = float(finite.max()) if len(finite) else 1.0
    n = int(np.floor(top / bin_width)) + 1
    edges = np.arange(n + 1) * bin_width
    masks = group_masks(series_column(images), datasets)
    counts = []
    for name in datasets:
        v = ci[masks[name] & np.isfinite(ci)]
        idx = np.clip(np.floor(v / bin_width + 1e-9).astype(np.int64), 0, n - 1)
        counts.append(np.bincount(idx, minlength=n))
    return edges, counts


def crowd_index_hist(
    images: pd.DataFrame,
    datasets: Sequence[str],
    *,
    normalise: Normalisation | str = Normalisation.COUNT,
    bin_width: float = CI_BIN,
    levels: LevelEdges | None = None,
    styles: dict[str, dict[str, str]] | None = None,
    caption: str = "",
    value: CrowdIndexSource = CrowdIndexSource.COMPUTED,
) -> go.Figure:
    if not len(images) or not datasets:
        return empty_figure("no images match the current filters")
    table = crowd_index_table(images, datasets, bin_width=bin_width, normalise=normalise, value=value)
    centres = (table["left"] + table["right"]).to_numpy() / 2
    fig = go.Figure()
    for i, name in enumerate(datasets):
        style = style_for(styles, name, i)
        fig.add_bar(
            x=centres,
            y=table[name].to_numpy(),
            name=style["label"],
            marker={"color": style["color"], "pattern": {"shape": style["pattern"]}},
            customdata=np.full(len(table), name),
        )
    fig.update_layout(barmode="group", bargap=0.1)  # side by side: overlaid bars do not read on paper
    if levels is not None:
        for edge in (levels.low, levels.high):
            edge_line(fig, edge, f"{edge:g}")
    return finish(
        fig,
        title="CrowdIndex per image",
        caption=caption,
        x_title="CrowdIndex" if value is CrowdIndexSource.COMPUTED else "stored CrowdIndex",
        y_title=y_label(normalise, "images"),
    )


def level_table(values: np.ndarray, groups: pd.Series, datasets: Sequence[str], levels: LevelEdges) -> pd.DataFrame:
    """Counts and shares of three levels per dataset (NaN values are not counted).

    Returns:
        Long frame: dataset, level, count, share.
    """
    codes = levels.codes(values)
    masks = group_masks(groups, datasets)
    rows = []
    for name in datasets:
        c = codes[masks[name] & (codes >= 0)]
        counts = np.bincount(c.astype(np.int64), minlength=3)[:3]
        total = counts.sum()
        for level, count in zip(levels.names, counts, strict=True):
            rows.append(
                {"dataset": name, "level": level, "count": int(count), "share": count / total if total else np.nan}
            )
    return pd.DataFrame(rows, columns=["dataset", "level", "count", "share"])


def crowd_levels_table(
    images: pd.DataFrame,
    datasets: Sequence[str],
    value: CrowdIndexSource = CrowdIndexSource.COMPUTED,
) -> pd.DataFrame:
    """easy/medium/hard per dataset under both CrowdPose conventions (long frame), from
    the computed or the stored CrowdIndex; a dataset without that value has no rows.
    Kept per frame (the figure and the table ask for it); each caller gets its own copy."""
    return kept(
        images, ("crowd levels", value, tuple(datasets)), lambda: _crowd_levels_table(images, datasets, value)
    ).copy()


def _crowd_levels_table(images: pd.DataFrame, datasets: Sequence[str], value: CrowdIndexSource) -> pd.DataFrame:
    ci = images[value.column].to_numpy(dtype=float)
    have = group_masks(series_column(images), datasets)
    datasets = [d for d in datasets if np.isfinite(ci[have[d]]).any()]
    parts = []
    for conv in CrowdConvention:
        t = level_table(ci, series_column(images), datasets, conv.levels())
        t.insert(1, "convention", conv.levels().label)
        parts.append(t)
    return pd.concat(parts, ignore_index=True)


def crowd_levels_both_table(images: pd.DataFrame, datasets: Sequence[str]) -> pd.DataFrame:
    """``crowd_levels_table`` from the computed and from the stored CrowdIndex, with a
    ``CrowdIndex`` column saying which (stored rows only where a file stores one)."""
    parts = []
    for value in CrowdIndexSource:
        t = crowd_levels_table(images, datasets, value)
        t.insert(1, "CrowdIndex", value.value)
        parts.append(t)
    return pd.concat(parts, ignore_index=True)


def crowd_levels(
    images: pd.DataFrame,
    datasets: Sequence[str],
    *,
    normalise: Normalisation | str = Normalisation.SHARE,
    styles: dict[str, dict[str, str]] | None = None,
    caption: str = "",
    value: CrowdIndexSource = CrowdIndexSource.COMPUTED,
) -> go.Figure:
    """easy / medium / hard bars per dataset, one panel per convention."""
    if not len(images) or not datasets:
        return empty_figure("no images match the current filters")
    table = crowd_levels_table(images, datasets, value)
    if table.empty:
        return empty_figure(f"no {value.value} CrowdIndex in the selected images")
    convs = list(CrowdConvention)
    # each panel's convention is its x-axis title: laid out with the axis, never over the legend
    fig = go.Figure().update_layout(_TWO_PANELS)  # after the template, as make_subplots
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
            )
            # set after the trace, as make_subplots' row / col did (the JSON's key order)
            fig.data[-1].update(xaxis=_axis_ref("x", col), yaxis=_axis_ref("y", col))
    fig.update_layout(barmode="group")
    fig = finish(fig, title="Crowd levels", caption=caption, x_title="", y_title=y_label(normalise, "images"))
    for col, conv in enumerate(convs, start=1):
        levels = conv.levels()
        origin = levels.label.replace("CrowdIndex levels ", "").strip("()")
        fig.layout[_axis_ref("xaxis", col)].title.text = f"{origin}: {levels.low:g} / {levels.high:g}"
    return fig


# The axes ``make_subplots(rows=1, cols=2, shared_yaxes=True, horizontal_spacing=0.06)`` lays
# out, given as the figure's layout: making the subplot grid took about 11 ms per figure
# (``go.Figure()``: under 1 ms), paid on every new filter state.  Panel 2's traces name
# their axes (``x2`` / ``y2``) instead of ``row=1, col=2``.
_TWO_PANELS = {
    "xaxis": {"anchor": "y", "domain": [0.0, 0.47]},
    "yaxis": {"anchor": "x", "domain": [0.0, 1.0]},
    "xaxis2": {"anchor": "y2", "domain": [0.53, 1.0]},
    "yaxis2": {"anchor": "x2", "domain": [0.0, 1.0], "matches": "y", "showticklabels": False},
}


def _axis_ref(prefix: str, col: int) -> str:
    """Panel ``col``'s axis: ``x`` / ``xaxis`` for panel 1, ``x2`` / ``xaxis2`` for panel 2."""
    return prefix if col == 1 else f"{prefix}{col}"


def small_persons(persons: pd.DataFrame) -> pd.DataFrame:
    """The small persons' series and ``crowding`` (the density): what the density items read.

    Only those columns are copied (the person frame has about fifteen), and the result is
    kept while ``persons`` lives (``frame_memo.kept``): a rerun in a kept filter state, or
    an edge moved in the density widgets, selects no rows again.
    """

    def select() -> pd.DataFrame:
        columns = [c for c in ("dataset", "series", "crowding") if c in persons.columns]
        return persons.loc[persons["bucket"].to_numpy() == SizeBucket.SMALL.code, columns]

    return kept(persons, ("small persons",), select)


def density_table(persons: pd.DataFrame, datasets: Sequence[str], levels: LevelEdges) -> pd.DataFrame:
    """sparse / moderate / dense per dataset over the given persons (long frame).
    Kept per frame (the figure and the table of a rerun ask for it); each caller gets a copy."""
    return kept(
        persons,
        ("density levels", tuple(datasets), levels),
        lambda: level_table(persons["crowding"].to_numpy(dtype=float), series_column(persons), datasets, levels),
    ).copy()


def density_coverage(small: pd.DataFrame, datasets: Sequence[str]) -> pd.DataFrame:
    """Per dataset: its small persons, and how many of them have a density (N_a > 0).

    Returns:
        Frame: dataset, small persons, with density.
    """
    masks = group_masks(series_column(small), datasets)
    finite = np.isfinite(small["crowding"].to_numpy(dtype=float))
    return pd.DataFrame(
        [
            {"dataset": d, "small persons": int(masks[d].sum()), "with density": int((masks[d] & finite).sum())}
            for d in datasets
        ],
        columns=["dataset", "small persons", "with density"],
    )


def density_notes(coverage: pd.DataFrame, population: str, label: Callable[[str], str] = str) -> list[str]:
    """Why a dataset has no density bars: no small persons in the population, or small
    persons without a labelled joint (COCO labels no keypoints below 32^2 segmentation area)."""
    notes = []
    for row in coverage.itertuples(index=False):
        name = label(row.dataset)
        if row[1] == 0:
            notes.append(f"{name}: no small persons under persons={population}")
        elif row[2] == 0:
            notes.append(
                f"{name}: none of its {row[1]:,} small persons has a labelled joint, so none has a "
                "density (COCO labels no keypoints on persons below 32^2 segmentation area)"
            )
    return notes


def density_levels_figure(
    persons: pd.DataFrame,
    datasets: Sequence[str],
    levels: LevelEdges,
    *,
    normalise: Normalisation | str = Normalisation.SHARE,
    styles: dict[str, dict[str, str]] | None = None,
    caption: str = "",
    title: str = "Density of small persons",
) -> go.Figure:
    if not len(persons) or not datasets:
        return empty_figure("no small persons match the current filters")
    table = density_table(persons, datasets, levels)
    value = Normalisation(normalise).column
    fig = go.Figure()
    for i, name in enumerate(datasets):
        style = style_for(styles, name, i)
        rows = table[table["dataset"] == name]
        fig.add_bar(
            x=rows["level"],
            y=rows[value],
            name=style["label"],
            marker={"color": style["color"], "pattern": {"shape": style["pattern"]}},
        )
    fig.update_layout(barmode="group")
    return finish(fig, title=title, caption=caption, x_title="density level", y_title=y_label(normalise, "persons"))


def agreement_table(images: pd.DataFrame, datasets: Sequence[str]) -> pd.DataFrame:
    """Computed vs stored CrowdIndex where the file stores one.

    Agreement means equal after rounding the computed value to 2 decimals (the
    precision CrowdPose ships).
    """
    rows = []
    masks = group_masks(series_column(images), datasets)
    comp = images["crowd_index"].to_numpy(dtype=float)
    stored = images["crowd_index_stored"].to_numpy(dtype=float)
    for name in datasets:
        m = masks[name] & np.isfinite(stored) & np.isfinite(comp)
        if not m.any():
            continue
        diff = np.abs(comp[m] - stored[m])
        agree = np.abs(np.round(comp[m], 2) - np.round(stored[m], 2)) < 1e-9
        rows.append(
            {
                "dataset": name,
                "images with stored": int(m.sum()),
                "agree (2 decimals)": int(agree.sum()),
                "share agreeing": agree.mean(),
                "max |diff|": diff.max(),
                "mean |diff|": diff.mean(),
            }
        )
    return pd.DataFrame(
        rows,
        columns=["dataset", "images with stored", "agree (2 decimals)", "share agreeing", "max |diff|", "mean |diff|"],
    )


def agreement_figure(images: pd.DataFrame, *, bin_width: float = CI_BIN, caption: str = "") -> go.Figure:
    """Binned stored (y) vs computed (x) CrowdIndex: a 2D histogram, never one point per image."""
    comp = images["crowd_index"].to_numpy(dtype=float)
    stored = images["crowd_index_stored"].to_numpy(dtype=float)
    m = np.isfinite(comp) & np.isfinite(stored)
    if not m.any():
        return empty_figure("no stored CrowdIndex in the selected images")
    top = float(max(comp[m].max(), stored[m].max()))
    n = int(np.floor(top / bin_width)) + 1
    edges = np.arange(n + 1) * bin_width
    counts, _, _ = np.histogram2d(stored[m], comp[m], bins=[edges, edges])
    centres = (edges[:-1] + edges[1:]) / 2
    z = np.where(counts > 0, counts, np.nan)
    fig = go.Figure(go.Heatmap(x=centres, y=centres, z=z, colorscale="Cividis", colorbar={"title": "images"}))
    fig.add_scatter(
        x=[0, edges[-1]], y=[0, edges[-1]], mode="lines", name="y = x", line={"dash": "dot", "color": "#555555"}
    )
    return finish(
        fig,
        title="Computed vs stored CrowdIndex",
        caption=caption,
        x_title="computed CrowdIndex",
        y_title="stored CrowdIndex",
    )


__all__ = [
    "LEVEL_COLORS",
    "agreement_figure",
    "agreement_table",
    "crowd_index_hist",
    "crowd_index_table",
    "crowd_levels",
    "crowd_levels_both_table",
    "crowd_levels_table",
    "density_coverage",
    "density_levels_figure",
    "density_notes",
    "density_table",
    "level_table",
]
