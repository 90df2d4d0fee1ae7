"""Size exports: S/M/L counts (Figure 8a) and shares, the body-area distribution (8b),
relative size.  ``size-buckets.csv`` has integer columns dataset, small, medium, large."""

from __future__ import annotations

import pandas as pd

from analysis.definitions import SizeBucket
from dashboard.exports.items import ExportItem, FigureItem, TableItem
from dashboard.exports.state import AreaAxis, ViewState
from dashboard.figures.size import (
    area_distribution,
    area_hist_table,
    bucket_table,
    relative_size,
    size_buckets,
)

BUCKETS = [b.value for b in SizeBucket]


def buckets_figure(state: ViewState) -> FigureItem:
    fig = size_buckets(state.filtered.persons, state.datasets, normalise=state.controls.normalise,
                       styles=state.styles, caption=state.caption())
    return FigureItem("size buckets", fig)


def bucket_counts(state: ViewState) -> pd.DataFrame:
    """One row per dataset: ``dataset`` and int64 ``small``, ``medium``, ``large`` counts."""
    counts = bucket_table(state.filtered.persons, state.datasets, normalise="count").T
    counts = counts.astype("int64").rename_axis("dataset").reset_index()
    counts.columns = ["dataset", *BUCKETS]
    return counts


def buckets_tables(state: ViewState) -> list[TableItem]:
    counts = bucket_counts(state)
    totals = counts[BUCKETS].sum(axis=1).to_numpy()
    shares = counts[["dataset"]].copy()
    for b in BUCKETS:
        shares[b] = counts[b].to_numpy() / totals.clip(min=1)
        shares.loc[totals == 0, b] = float("nan")
    caption = state.caption("persons without a known area are not counted")
    return [
        TableItem("size buckets", counts, caption),
        TableItem("size bucket shares", shares, state.caption("shares over persons with a known area"),
                  shares=tuple(BUCKETS)),
    ]


def area_items(state: ViewState) -> list[ExportItem]:
    """The body-area histogram (Figure 8b) and its bins as a table (``left``, ``right`` in
    px^2, then persons per dataset: integers, or shares under ``norm=share``)."""
    edges = state.filtered.filters.size.edges
    axis, norm = state.options.area_axis.value, state.controls.normalise
    caption = state.caption("dotted lines: bucket edges")
    table = area_hist_table(state.filtered.persons, state.datasets, axis=axis, normalise=norm)
    fig = area_distribution(state.filtered.persons, state.datasets, edges=edges, axis=axis, normalise=norm,
                            styles=state.styles, caption=caption, table=table)
    if norm != "share":
        table = table.astype(dict.fromkeys(state.datasets, "int64"))
    bins = f"bins uniform on a {axis} axis; [left, right) in px^2"
    return [FigureItem("body area distribution", fig),
            TableItem("body area distribution", table, state.caption(bins),
                      shares=tuple(state.datasets) if norm == "share" else (), digits=1)]


def relative_figure(state: ViewState) -> FigureItem:
    fig = relative_size(state.filtered.persons, state.datasets, normalise=state.controls.normalise,
                        styles=state.styles,
                        caption=state.caption("relative size = sqrt(person area / image area), clipped at 1"))
    return FigureItem("relative size", fig)


def exports(state: ViewState) -> list[ExportItem]:
    return [buckets_figure(state), *buckets_tables(state), *area_items(state), relative_figure(state)]


__all__ = ["AreaAxis", "area_items", "bucket_counts", "buckets_figure", "buckets_tables", "exports",
           "relative_figure"]
