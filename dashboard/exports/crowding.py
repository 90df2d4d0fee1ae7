"""Crowding exports: CrowdIndex distribution, easy/medium/hard under both conventions,
density of small persons (Figure 8c), computed vs stored CrowdIndex."""

from __future__ import annotations

from analysis.definitions import (
    CROWD_INDEX_DEFINITION,
    CROWD_INDEX_POPULATION_NOTE,
    CrowdConvention,
    Normalisation,
    density_levels,
)
from dashboard.exports.items import ExportItem, FigureItem, Note, NoteLevel, TableItem
from dashboard.exports.latex import with_hints
from dashboard.exports.state import ViewState, kept_per_state
from dashboard.figures.crowding import (
    CI_BIN,
    agreement_figure,
    agreement_table,
    crowd_index_hist,
    crowd_index_table,
    crowd_levels,
    crowd_levels_both_table,
    density_coverage,
    density_levels_figure,
    density_notes,
    density_table,
    small_persons,
)

DENSITY_NOTE = (
    "SmallPose does not publish its definition; ours: a person's own N_b/N_a ratio "
    "(persons with no labelled joint are left out)"
)


def _labels(state: ViewState) -> dict[str, str]:
    return {k: state.label(k) for k in state.series}


@kept_per_state
def index_items(state: ViewState) -> list[ExportItem]:
    """The CrowdIndex histogram (computed or stored value) and its bins as a table."""
    levels = state.options.crowd_convention.levels()
    value = state.options.crowd_value
    norm = Normalisation(state.filters.normalise)
    images = state.filtered.images
    caption = state.caption(value.description, CROWD_INDEX_DEFINITION, CROWD_INDEX_POPULATION_NOTE, levels.description)
    fig = crowd_index_hist(
        images, state.series, normalise=norm, levels=levels, styles=state.styles, value=value, caption=caption
    )
    table = crowd_index_table(images, state.series, normalise=norm, value=value)
    if norm is Normalisation.COUNT:
        table = table.astype(dict.fromkeys(state.series, "int64"))
    bins = f"bins [left, right) of width {CI_BIN:g}"
    return [
        FigureItem("crowdindex distribution", fig, selectable=True),
        TableItem(
            "crowdindex distribution",
            with_hints(table, column_blocks=["left", "right"], stack_headers=True),
            state.caption(value.description, CROWD_INDEX_DEFINITION, bins),
            shares=tuple(state.series) if norm is Normalisation.SHARE else (),
            labels=_labels(state),
        ),
    ]


@kept_per_state
def levels_items(state: ViewState) -> list[ExportItem]:
    conventions = "; ".join([*(c.levels().description for c in CrowdConvention), CROWD_INDEX_POPULATION_NOTE])
    images = state.filtered.images
    value = state.options.crowd_value
    fig = crowd_levels(
        images,
        state.series,
        normalise=state.filters.normalise,
        styles=state.styles,
        value=value,
        caption=state.caption(value.description, conventions),
    )
    table = crowd_levels_both_table(images, state.series)
    caption = state.caption(
        "levels from the computed and the stored CrowdIndex (stored: only datasets whose file has one)", conventions
    )
    return [
        FigureItem("crowd levels", fig),
        TableItem(
            "crowd levels",
            with_hints(table, column_blocks=["dataset"], stack_headers=True),
            caption,
            shares=("share",),
            labels=_labels(state),
        ),
    ]


@kept_per_state
def density_items(state: ViewState) -> list[ExportItem]:
    """Figure 8c over the series whose small persons have a density; notes say why others have none."""
    low, high = state.options.density_low, state.options.density_high
    if not low < high:
        return [Note(f"edges must satisfy sparse|moderate < moderate|dense (got {low:g}, {high:g})", NoteLevel.ERROR)]
    dens = density_levels(low, high)
    small = small_persons(state.filtered.persons)
    candidates = [k for k in state.series if k not in state.no_area_series]
    coverage = density_coverage(small, candidates)
    why = density_notes(coverage, str(state.filters.population), state.label)
    drawn = coverage.loc[coverage["with density"] > 0, "dataset"].tolist()
    items: list[ExportItem] = [Note("Not drawn: " + "; ".join(why) + ".")] if why else []
    if not drawn:
        return [
            *items,
            Note("No small person with a density under the current filters (population, size bucket or edges)."),
        ]
    caption = state.caption(dens.description, DENSITY_NOTE, *why)
    fig = density_levels_figure(
        small, drawn, dens, normalise=state.filters.normalise, styles=state.styles, caption=caption
    )
    return [
        *items,
        FigureItem("small person density", fig),
        TableItem(
            "small person density", density_table(small, drawn, dens), caption, shares=("share",), labels=_labels(state)
        ),
    ]


@kept_per_state
def agreement_items(state: ViewState) -> list[ExportItem]:
    images = state.filtered.images
    agree = agreement_table(images, state.series)
    if agree.empty:
        return [Note("None of the selected images stores a CrowdIndex (only CrowdPose files ship one).")]
    caption = state.caption(
        CROWD_INDEX_DEFINITION, CROWD_INDEX_POPULATION_NOTE, "agree: equal after rounding to 2 decimals"
    )
    fig = agreement_figure(images, caption=state.caption(CROWD_INDEX_DEFINITION, CROWD_INDEX_POPULATION_NOTE))
    return [
        TableItem(
            "crowdindex agreement",
            with_hints(agree, column_blocks=["dataset"], stack_headers=True),
            caption,
            shares=("share agreeing",),
            digits=4,
            labels=_labels(state),
        ),
        FigureItem("crowdindex computed vs stored", fig),
    ]


def exports(state: ViewState) -> list[ExportItem]:
    return [*index_items(state), *levels_items(state), *density_items(state), *agreement_items(state)]
