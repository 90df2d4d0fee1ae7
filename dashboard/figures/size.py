"""Person size: S/M/L counts and shares (Figure 8a), area distribution (8b), relative size."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from analysis.definitions import Normalisation, SizeBucket, SizeEdges
from dashboard.figures.common import (
    edge_line,
    empty_figure,
    finish,
    group_masks,
    series_column,
    style_for,
    y_label,
)
from dashboard.frame_memo import kept


def bucket_table(
    persons: pd.DataFrame,
    datasets: Sequence[str],
    *,
    normalise: Normalisation | str = Normalisation.COUNT,
    unavailable: Sequence[str] = (),
) -> pd.DataFrame:
    """Persons per size bucket: index small/medium/large, one column per dataset.

    Persons with an unknown area (``bucket == -1``) are not counted; shares are
    over persons with a known area.  Datasets in ``unavailable`` (no area under the
    chosen source, e.g. ``segm`` for CrowdPose) get NaN, never 0.
    """
    per_series = kept(persons, ("bucket counts", tuple(datasets)), lambda: _bucket_counts(persons, datasets))
    data = {}
    for name, counts in zip(datasets, per_series, strict=True):
        counts = Normalisation(normalise).apply(counts.astype(float))
        data[name] = np.full(len(SizeBucket), np.nan) if name in unavailable else counts
    return pd.DataFrame(data, index=pd.Index(SizeBucket.names(), name="size bucket"))


def _bucket_counts(persons: pd.DataFrame, datasets: Sequence[str]) -> list[np.ndarray]:
    """Per dataset: persons per bucket (small, medium, large), unknown areas left out.
    Kept per frame (``frame_memo.kept``): the view asks for counts and shares of the same rows."""
    masks = group_masks(series_column(persons), datasets)
    codes = persons["bucket"].to_numpy()
    return [
        np.bincount(codes[masks[name] & (codes >= 0)].astype(np.int64), minlength=len(SizeBucket))[
            [b.code for b in SizeBucket]
        ]
        for name in datasets
    ]


def size_buckets(
    persons: pd.DataFrame,
    datasets: Sequence[str],
    *,
    normalise: Normalisation | str = Normalisation.COUNT,
    styles: dict[str, dict[str, str]] | None = None,
    caption: str = "",
) -> go.Figure:
    if not len(persons) or not datasets:
        return empty_figure("no persons match the current filters")
    table = bucket_table(persons, datasets, normalise=normalise)
    fig = go.Figure()
    for i, name in enumerate(datasets):
        style = style_for(styles, name, i)
        fig.add_bar(
            x=list(SizeBucket.names()),
            y=table[name].to_numpy(),
            name=style["label"],
            marker={"color": style["color"], "pattern": {"shape": style["pattern"]}},
        )
    fig.update_layout(barmode="group")
    return finish(
        fig,
        title="Persons per size bucket",
        caption=caption,
        x_title="size bucket",
        y_title=y_label(normalise, "persons"),
    )


def _bins(values: np.ndarray, axis: str, n_bins: int) -> np.ndarray:
    """Bin edges in area units, uniform on a log or sqrt axis."""
    v = values[np.isfinite(values) & (values > 0)]
    if not len(v):
        return np.array([0.0, 1.0])
    lo, hi = float(v.min()), float(v.max())
    if axis == "log":
        lo_t, hi_t = np.log10(lo), np.log10(hi)
        if hi_t <= lo_t:
            hi_t = lo_t + 1
        return 10 ** np.linspace(lo_t, hi_t + 1e-9, n_bins + 1)
    lo_t, hi_t = np.sqrt(lo), np.sqrt(hi)
    if hi_t <= lo_t:
        hi_t = lo_t + 1
    return np.linspace(lo_t, hi_t + 1e-9, n_bins + 1) ** 2


def area_hist_table(
    persons: pd.DataFrame,
    datasets: Sequence[str],
    *,
    axis: str = "log",
    n_bins: int = 60,
    normalise: Normalisation | str = Normalisation.COUNT,
) -> pd.DataFrame:
    """Histogram of person area: rows are bins (``left``, ``right`` in px^2), one
    column per dataset.  Bins are uniform on the chosen axis (log10 or sqrt)."""

    def compute() -> tuple[np.ndarray, list[np.ndarray]]:
        area = persons["area"].to_numpy(dtype=float)
        edges = _bins(area, axis, n_bins)
        return edges, _histogram_counts(area, np.isfinite(area) & (area > 0), series_column(persons), datasets, edges)

    edges, counts = kept(persons, ("area histogram", axis, n_bins, tuple(datasets)), compute)
    return _histogram_table(edges, dict(zip(datasets, counts, strict=True)), normalise)


def area_distribution(
    persons: pd.DataFrame,
    datasets: Sequence[str],
    *,
    edges: SizeEdges,
    axis: str = "log",
    n_bins: int = 60,
    normalise: Normalisation | str = Normalisation.COUNT,
    styles: dict[str, dict[str, str]] | None = None,
    caption: str = "",
    table: pd.DataFrame | None = None,
    x_range: tuple[float, float] | None = None,
) -> go.Figure:
    """Step histogram of body area on a log (area) or sqrt (sqrt(area) px) axis,
    with the two bucket edges drawn as vertical lines (labelled 32², 96²).

    The axis always shows the small range (``_area_x_range``), so a population without
    small persons shows the empty range instead of starting at its smallest area.

    ``table``: ``area_hist_table``'s result for the same arguments, when the caller has it.
    ``x_range``: explicit axis range (in the axis' units: px² on the log axis, px on sqrt).
    """
    if not len(persons) or not datasets:
        return empty_figure("no persons match the current filters")
    if table is None:
        table = area_hist_table(persons, datasets, axis=axis, n_bins=n_bins, normalise=normalise)
    to_x = (lambda a: a) if axis == "log" else np.sqrt
    x = to_x(np.append(table["left"].to_numpy(), table["right"].to_numpy()[-1]))
    fig = go.Figure()
    for i, name in enumerate(datasets):
        style = style_for(styles, name, i)
        y = table[name].to_numpy()
        fig.add_scatter(
            x=x,
            y=np.append(y, y[-1] if len(y) else 0),
            name=style["label"],
            mode="lines",
            line={"shape": "hv", "color": style["color"], "dash": style["dash"], "width": 2},
        )
    for edge in (edges.small_medium, edges.medium_large):
        edge_line(fig, float(to_x(edge)), _area_label(edge), log_axis=axis == "log")
    x_title = "body area (px², log axis)" if axis == "log" else "sqrt(body area) (px)"
    lo, hi = x_range or _area_x_range(float(x[0]), float(x[-1]), edges, axis)
    if axis == "log":
        fig.update_xaxes(type="log", range=[float(np.log10(lo)), float(np.log10(hi))])
    else:
        fig.update_xaxes(range=[lo, hi])
    fig.update_layout(meta={"edges": [edges.small_medium, edges.medium_large]})
    return finish(
        fig, title="Body-area distribution", caption=caption, x_title=x_title, y_title=y_label(normalise, "persons")
    )


#: On the log axis the small range is shown from (small|medium edge) / SMALL_RANGE_FACTOR
#: (32² / 16 = 8²): the empty [0, 32²) range of Figure 8b is then visible.
SMALL_RANGE_FACTOR = 16.0


def _area_x_range(first: float, last: float, edges: SizeEdges, axis: str) -> tuple[float, float]:
    """The axis range: from the smaller of the data's first bin and well inside the small
    range, to the data's last bin or past the medium|large edge."""
    if axis == "log":
        return min(first, edges.small_medium / SMALL_RANGE_FACTOR), max(last, edges.medium_large * 2.0)
    return 0.0, max(last, float(np.sqrt(edges.medium_large)) * 1.2)


def _area_label(area: float) -> str:
    """An edge as written in the definitions: 32² when a whole square, else the area."""
    root = float(np.sqrt(area))
    return f"{root:g}²" if abs(root - round(root)) < 1e-9 else f"{area:g}"


def relative_size_table(
    persons: pd.DataFrame,
    datasets: Sequence[str],
    *,
    n_bins: int = 50,
    normalise: Normalisation | str = Normalisation.COUNT,
) -> pd.DataFrame:
    """Histogram of sqrt(area / image area) over [0, 1] (values above 1 go in the last bin)."""
    edges = np.linspace(0.0, 1.0, n_bins + 1)

    def compute() -> list[np.ndarray]:
        rel = np.sqrt(persons["area"].to_numpy(dtype=float) / persons["image_area"].to_numpy(dtype=float))
        rel = np.clip(rel, 0.0, 1.0)
        return _histogram_counts(rel, np.isfinite(rel), series_column(persons), datasets, edges)

    counts = kept(persons, ("relative size histogram", n_bins, tuple(datasets)), compute)
    return _histogram_table(edges, dict(zip(datasets, counts, strict=True)), normalise)


def _histogram_counts(
    values: np.ndarray,
    valid: np.ndarray,
    dataset: pd.Series,
    datasets: Sequence[str],
    edges: np.ndarray,
) -> list[np.ndarray]:
    """Per dataset, the counts of ``values`` in the bins ``edges`` (``np.histogram``).

    Args:
        values: (N,) per-person values; valid: (N,) which of them to count;
        dataset: (N,) each person's dataset; edges: (B + 1,) bin edges.
    """
    masks = group_masks(dataset, datasets)
    return [np.histogram(values[masks[name] & valid], bins=edges)[0] for name in datasets]


def _histogram_table(edges: np.ndarray, counts: dict[str, np.ndarray], normalise: str) -> pd.DataFrame:
    """Rows are bins (``left``, ``right``), one column of counts (or shares) per dataset."""
    data = {"left": edges[:-1], "right": edges[1:]}
    for name, per_bin in counts.items():
        data[name] = Normalisation(normalise).apply(per_bin.astype(float))
    return pd.DataFrame(data)


def relative_size(
    persons: pd.DataFrame,
    datasets: Sequence[str],
    *,
    n_bins: int = 50,
    normalise: Normalisation | str = Normalisation.COUNT,
    styles: dict[str, dict[str, str]] | None = None,
    caption: str = "",
) -> go.Figure:
    if not len(persons) or not datasets:
        return empty_figure("no persons match the current filters")
    table = relative_size_table(persons, datasets, n_bins=n_bins, normalise=normalise)
    x = np.append(table["left"].to_numpy(), 1.0)
    fig = go.Figure()
    for i, name in enumerate(datasets):
        style = style_for(styles, name, i)
        y = table[name].to_numpy()
        fig.add_scatter(
            x=x,
            y=np.append(y, y[-1]),
            name=style["label"],
            mode="lines",
            line={"shape": "hv", "color": style["color"], "dash": style["dash"], "width": 2},
        )
    return finish(
        fig,
        title="Relative size",
        caption=caption,
        x_title="sqrt(person area / image area)",
        y_title=y_label(normalise, "persons"),
    )
