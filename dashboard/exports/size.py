"""Size exports: S/M/L counts (Figure 8a) and shares, the body-area distribution (8b),
relative size.  ``size-buckets.csv`` has integer columns dataset, small, medium, large.

Series without any area under the chosen source (``segm`` for CrowdPose) are not
available: left out of the figures, empty (n/a) in the tables, never drawn or counted
as zero.
"""

from __future__ import annotations

import pandas as pd

from analysis.definitions import Normalisation, SizeBucket
from dashboard.exports.items import ExportItem, FigureItem, TableItem
from dashboard.exports.latex import with_hints
from dashboard.exports.state import AreaAxis, ViewState, kept_per_state
from dashboard.figures.size import area_distribution, area_hist_table, bucket_table, relative_size, size_buckets


def _available(state: ViewState) -> tuple[list[str], str]:
    """The series with an area under the source, and the caption's n/a note."""
    na = state.no_area_series
    note = (
        (
            f"n/a: {', '.join(state.label(k) for k in na)} (no {state.filters.size.area_source.value} area in "
            "the annotations)"
        )
        if na
        else ""
    )
    return [k for k in state.series if k not in na], note


def _labels(state: ViewState) -> dict[str, str]:
    return {k: state.label(k) for k in state.series}


@kept_per_state
def buckets_figure(state: ViewState) -> FigureItem:
    series, na_note = _available(state)
    fig = size_buckets(
        state.filtered.persons,
        series,
        normalise=state.filters.normalise,
        styles=state.styles,
        caption=state.caption(na_note),
    )
    return FigureItem("size buckets", fig)


def bucket_counts(state: ViewState) -> pd.DataFrame:
    """One row per series: ``dataset`` (the series key) and ``small``, ``medium``,
    ``large`` person counts (Int64; empty where the series has no area under the source)."""
    counts = bucket_table(
        state.filtered.persons, state.series, normalise=Normalisation.COUNT, unavailable=state.no_area_series
    ).T
    counts = counts.astype("Int64").rename_axis("dataset").reset_index()
    counts.columns = ["dataset", *SizeBucket.names()]
    return counts


@kept_per_state
def buckets_tables(state: ViewState) -> list[TableItem]:
    _, na_note = _available(state)
    counts = bucket_counts(state)
    shares = (
        bucket_table(
            state.filtered.persons, state.series, normalise=Normalisation.SHARE, unavailable=state.no_area_series
        )
        .T.rename_axis("dataset")
        .reset_index()
    )
    shares.columns = ["dataset", *SizeBucket.names()]
    labels = _labels(state)
    return [
        TableItem(
            "size buckets",
            counts,
            state.caption("persons without a known area are not counted", na_note),
            labels=labels,
        ),
        TableItem(
            "size bucket shares",
            shares,
            state.caption("shares over persons with a known area", na_note),
            shares=SizeBucket.names(),
            labels=labels,
        ),
    ]


@kept_per_state
def area_items(state: ViewState) -> list[ExportItem]:
    """The body-area histogram (Figure 8b) and its bins as a table (``left``, ``right`` in
    px^2, then persons per series: integers, or shares under ``norm=share``)."""
    series, na_note = _available(state)
    edges = state.filters.size.edges
    axis, norm = state.options.area_axis.value, Normalisation(state.filters.normalise)
    caption = state.caption("dotted lines: bucket edges", na_note)
    table = area_hist_table(state.filtered.persons, series, axis=axis, normalise=norm)
    fig = area_distribution(
        state.filtered.persons,
        series,
        edges=edges,
        axis=axis,
        normalise=norm,
        styles=state.styles,
        caption=caption,
        table=table,
    )
    if norm is Normalisation.COUNT:
        table = table.astype(dict.fromkeys(series, "int64"))
    bins = f"bins uniform on a {axis} axis; [left, right) in px^2"
    return [
        FigureItem("body area distribution", fig),
        TableItem(
            "body area distribution",
            with_hints(table, column_blocks=["left", "right"], stack_headers=True),
            state.caption(bins, na_note),
            shares=tuple(series) if norm is Normalisation.SHARE else (),
            digits=1,
            labels=_labels(state),
        ),
    ]


@kept_per_state
def relative_figure(state: ViewState) -> FigureItem:
    series, na_note = _available(state)
    fig = relative_size(
        state.filtered.persons,
        series,
        normalise=state.filters.normalise,
        styles=state.styles,
        caption=state.caption("relative size = sqrt(person area / image area), clipped at 1", na_note),
    )
    return FigureItem("relative size", fig)


def exports(state: ViewState) -> list[ExportItem]:
    return [buckets_figure(state), *buckets_tables(state), *area_items(state), relative_figure(state)]


__all__ = ["AreaAxis", "area_items", "bucket_counts", "buckets_figure", "buckets_tables", "exports", "relative_figure"]
