"""Overview exports: the per-dataset comparison table."""

from __future__ import annotations

from analysis.aggregate import dataset_summary
from dashboard.exports.items import ExportItem, TableItem
from dashboard.exports.state import ViewState

SHARE_COLUMNS = ("share_small", "share_medium", "share_large")


def comparison(state: ViewState) -> TableItem:
    f = state.filtered
    summary = dataset_summary(f.images, f.persons, state.datasets, count_column="n_sel",
                              no_area=f.no_area)
    caption = state.caption("S/M/L shares over persons with a known area",
                            "mean scene entropy over images with scenes computed")
    return TableItem("overview comparison", summary, caption, shares=SHARE_COLUMNS, digits=3)


def exports(state: ViewState) -> list[ExportItem]:
    return [comparison(state)]
