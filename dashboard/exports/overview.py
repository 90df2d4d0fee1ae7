"""Overview exports: the per-series comparison table."""

from __future__ import annotations

import pandas as pd

from dashboard.exports.items import ExportItem, TableItem
from dashboard.exports.latex import with_hints
from dashboard.exports.state import ViewState
from dashboard.summaries import dataset_summary

SHARE_COLUMNS = ("share_small", "share_medium", "share_large")


def summary(state: ViewState) -> pd.DataFrame:
    """``dataset_summary`` per series (series keys in ``dataset``; n/a shares where no area)."""
    f = state.filtered
    return dataset_summary(f.images, f.persons, state.series, count_column="n_selected", no_area=state.no_area_series)


def comparison(state: ViewState, table: pd.DataFrame | None = None) -> TableItem:
    table = summary(state) if table is None else table
    caption = state.caption(
        "S/M/L shares over persons with a known area", "mean scene entropy over images with scenes computed"
    )
    return TableItem(
        "overview comparison",
        with_hints(table, column_blocks=["dataset"], stack_headers=True),
        caption,
        shares=SHARE_COLUMNS,
        digits=3,
        labels={k: state.label(k) for k in state.series},
    )


def exports(state: ViewState) -> list[ExportItem]:
    return [comparison(state)]
