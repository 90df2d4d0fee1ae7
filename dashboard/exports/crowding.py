"""Crowding exports: CrowdIndex distribution, easy/medium/hard under both conventions,
density of small persons (Figure 8c), computed vs stored CrowdIndex."""

from __future__ import annotations

from analysis.definitions import CROWD_INDEX_DEFINITION, CrowdConvention, density_levels
from dashboard.exports.items import ExportItem, FigureItem, Note, NoteLevel, TableItem
from dashboard.exports.state import ViewState
from dashboard.figures.crowding import (
    CI_BIN,
    agreement_figure,
    agreement_table,
    crowd_index_hist,
    crowd_index_table,
    crowd_levels,
    crowd_levels_table,
    density_levels_figure,
    density_table,
)

DENSITY_NOTE = ("SmallPose does not publish its definition; ours: a person's own N_b/N_a ratio "
                "(persons with no labelled joint are left out)")


def index_items(state: ViewState) -> list[ExportItem]:
    levels = state.options.crowd_convention.levels()
    fig = crowd_index_hist(state.filtered.images, state.datasets, normalise=state.controls.normalise,
                           levels=levels, styles=state.styles,
                           caption=state.caption(CROWD_INDEX_DEFINITION, levels.description))
    norm = state.controls.normalise
    table = crowd_index_table(state.filtered.images, state.datasets, normalise=norm)
    if norm != "share":
        table = table.astype(dict.fromkeys(state.datasets, "int64"))
    return [FigureItem("crowdindex distribution", fig, selectable=True),
            TableItem("crowdindex distribution", table, state.caption(
                CROWD_INDEX_DEFINITION, f"bins [left, right) of width {CI_BIN:g}"),
                shares=tuple(state.datasets) if norm == "share" else ())]


def levels_items(state: ViewState) -> list[ExportItem]:
    conventions = "; ".join(c.levels().description for c in CrowdConvention)
    caption = state.caption(conventions)
    images = state.filtered.images
    fig = crowd_levels(images, state.datasets, normalise=state.controls.normalise, styles=state.styles,
                       caption=caption)
    return [FigureItem("crowd levels", fig),
            TableItem("crowd levels", crowd_levels_table(images, state.datasets), caption, shares=("share",))]


def density_items(state: ViewState) -> list[ExportItem]:
    low, high = state.options.density_low, state.options.density_high
    if not low < high:
        return [Note(f"edges must satisfy sparse|moderate < moderate|dense (got {low:g}, {high:g})",
                     NoteLevel.ERROR)]
    dens = density_levels(low, high)
    persons = state.filtered.persons
    small = persons[persons["bucket"].to_numpy() == 0]
    if not len(small):
        return [Note("No small persons under the current filters (size bucket or edges).")]
    caption = state.caption(dens.description, DENSITY_NOTE)
    fig = density_levels_figure(small, state.datasets, dens, normalise=state.controls.normalise,
                                styles=state.styles, caption=caption)
    return [FigureItem("small person density", fig),
            TableItem("small person density", density_table(small, state.datasets, dens), caption,
                      shares=("share",))]


def agreement_items(state: ViewState) -> list[ExportItem]:
    images = state.filtered.images
    agree = agreement_table(images, state.datasets)
    if agree.empty:
        return [Note("None of the selected images stores a CrowdIndex (only CrowdPose files ship one).")]
    caption = state.caption(CROWD_INDEX_DEFINITION, "agree: equal after rounding to 2 decimals")
    fig = agreement_figure(images, caption=state.caption(CROWD_INDEX_DEFINITION))
    return [TableItem("crowdindex agreement", agree, caption, shares=("share agreeing",), digits=4),
            FigureItem("crowdindex computed vs stored", fig)]


def exports(state: ViewState) -> list[ExportItem]:
    return [*index_items(state), *levels_items(state), *density_items(state), *agreement_items(state)]
