"""People-per-image exports (the SmallPose paper's Figure 7): the histogram and its table."""

from __future__ import annotations

from dashboard.exports.items import ExportItem, FigureItem, TableItem
from dashboard.exports.state import ViewState
from dashboard.figures.people import people_per_image, people_per_image_table


def persons_label(state: ViewState) -> str:
    bucket = state.filtered.filters.bucket
    return "persons" if bucket is None else f"{bucket.value} persons"


def figure(state: ViewState) -> FigureItem:
    f, o = state.filtered, state.options
    fig = people_per_image(
        f.images, state.datasets, normalise=state.controls.normalise, mode=o.people_layout.value,
        log_y=o.people_log_y, styles=state.styles,
        caption=state.caption(f"x = {persons_label(state)} per image, up to the largest crowd"),
    )
    return FigureItem("people per image", fig, selectable=True)


def table(state: ViewState, caption: str) -> TableItem:
    norm = state.controls.normalise
    t = people_per_image_table(state.filtered.images, state.datasets, normalise=norm)
    if norm != "share":
        t = t.astype("int64")  # counts of images
    shares = tuple(state.datasets) if norm == "share" else ()
    return TableItem("people per image", t.reset_index(), caption, shares=shares)


def exports(state: ViewState) -> list[ExportItem]:
    fig = figure(state)
    return [fig, table(state, fig.caption)]
