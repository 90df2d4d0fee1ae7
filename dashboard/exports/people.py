"""People-per-image exports (the SmallPose paper's Figure 7): the histogram and its table."""

from __future__ import annotations

from analysis.definitions import Normalisation
from dashboard.exports.items import ExportItem, FigureItem, TableItem
from dashboard.exports.latex import with_hints
from dashboard.exports.state import ViewState
from dashboard.figures.people import people_axis, people_per_image, people_per_image_table


def figure(state: ViewState) -> FigureItem:
    what, x_title, denominator = people_axis(state.filters)
    fig = people_per_image(
        state.filtered.images,
        state.series,
        normalise=state.filters.normalise,
        mode=state.options.people_layout.value,
        log_y=state.options.people_log_y,
        styles=state.styles,
        caption=state.caption(f"x = {what} per image, up to the largest crowd", denominator),
        x_title=x_title,
    )
    return FigureItem("people per image", fig, selectable=True)


def table(state: ViewState, caption: str) -> TableItem:
    norm = Normalisation(state.filters.normalise)
    t = people_per_image_table(state.filtered.images, state.series, normalise=norm)
    if norm is Normalisation.COUNT:
        t = t.astype("int64")  # counts of images
    shares = tuple(state.series) if norm is Normalisation.SHARE else ()
    return TableItem(
        "people per image",
        with_hints(t.reset_index(), column_blocks=["persons per image"], stack_headers=True),
        caption,
        shares=shares,
        labels={k: state.label(k) for k in state.series},
    )


def exports(state: ViewState) -> list[ExportItem]:
    fig = figure(state)
    return [fig, table(state, fig.caption)]
