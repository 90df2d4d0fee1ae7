"""Scenes exports: per-image entropy, Table 4 beside the SmallPose paper's values, top
scene categories, indoor share (over the selected series whose datasets have scene results)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pandas as pd

from analysis.scenes.aggregates import entropy_unit
from dashboard.exports.items import ExportItem, FigureItem, Note, NoteLevel, TableItem
from dashboard.exports.state import ViewState
from dashboard.figures.scenes import (
    aggregates_by_dataset,
    entropy_hist,
    indoor_figure,
    scene_statistics_table,
    table4,
    top_categories_figure,
    with_series,
)
from dashboard.scene_runs import SceneRuns, scene_runs
from dashboard.series import splits_used


@dataclass(frozen=True)
class SceneInputs:
    """The scene rows of the filtered images and what their runs say."""

    scenes: pd.DataFrame | None  #: with each image's ``series``
    runs: SceneRuns
    series: tuple[str, ...]  #: series keys of the datasets with scene results


def scene_inputs(state: ViewState) -> SceneInputs:
    scenes = state.caches.scenes
    if scenes is not None:
        scenes = with_series(scenes, state.filtered.images)
    runs = scene_runs(
        scenes, state.datasets, state.caches.manifests, state.caches.keys, state.filters.split, state.root
    )
    return SceneInputs(scenes, runs, tuple(k for k in state.series if state.dataset_of(k) in runs.have))


def notes(state: ViewState, inp: SceneInputs) -> list[ExportItem]:
    runs = inp.runs
    items: list[ExportItem] = []
    if runs.missing:
        items.append(Note(f"Scenes not computed for: {', '.join(runs.missing)}."))
    if len(runs.bases) > 1:
        items.append(Note("scenes were computed with different log bases; shown as stored", NoteLevel.WARNING))
    if runs.synthetic:
        items.append(
            Note(
                f"Synthetic scene results for {', '.join(state.label(d) for d in runs.synthetic)}: "
                "seeded random predictions (no network), written so every view has something to show. "
                "Not real scene statistics.",
                NoteLevel.WARNING,
            )
        )
    return items


def _shown(state: ViewState, inp: SceneInputs) -> ViewState:
    """The state restricted to the datasets with scenes: captions name those only."""
    return replace(state, datasets=inp.runs.have)


def entropy_items(state: ViewState, inp: SceneInputs) -> list[ExportItem]:
    """The entropy histogram and Table 4 (empty when no selected dataset has scenes)."""
    if not inp.series:
        return []
    state, runs = _shown(state, inp), inp.runs
    aggs = aggregates_by_dataset(inp.scenes, inp.series, labels=runs.labels, entropy_base=runs.base)
    fig = entropy_hist(
        inp.scenes,
        inp.series,
        normalise=state.filters.normalise,
        styles=state.styles,
        caption=state.caption(runs.note),
        unit=entropy_unit(runs.base),
    )
    identities = state.caches.identities
    paper_names = {
        k: identities[state.dataset_of(k)].paper_name for k in inp.series if state.dataset_of(k) in identities
    }
    caption = _table4_caption(state, runs.note)
    labels = {k: state.label(k) for k in inp.series}
    stats_caption = state.caption(
        runs.note,
        "top1: entropy and effective number (exp of the entropy) of "
        "the top-1 category distribution; indoor: p_indoor >= 0.5",
    )
    return [
        FigureItem("scene entropy", fig),
        TableItem("scene entropy table", table4(aggs, paper_names), caption, labels=labels),
        TableItem(
            "scene statistics",
            scene_statistics_table(aggs),
            stats_caption,
            shares=("indoor_share",),
            digits=3,
            labels=labels,
        ),
    ]


def category_items(state: ViewState, inp: SceneInputs) -> list[ExportItem]:
    """Top scene categories (``options.scene_top_k``) and the indoor / outdoor share."""
    if not inp.series:
        return []
    state, runs = _shown(state, inp), inp.runs
    aggs = aggregates_by_dataset(
        inp.scenes, inp.series, labels=runs.labels, entropy_base=runs.base, top_k=state.options.scene_top_k
    )
    synthetic = (
        f"synthetic predictions (no network) for {', '.join(state.label(d) for d in runs.synthetic)}"
        if runs.synthetic
        else ""
    )
    top = top_categories_figure(
        aggs, styles=state.styles, caption=state.caption("share of images whose top-1 class is the category", synthetic)
    )
    indoor = indoor_figure(
        aggs, styles=state.styles, caption=state.caption("indoor: p_indoor >= 0.5 (IO_places365.txt)", synthetic)
    )
    return [FigureItem("top scene categories", top), FigureItem("indoor outdoor", indoor)]


def exports(state: ViewState) -> list[ExportItem]:
    inp = scene_inputs(state)
    return [*notes(state, inp), *entropy_items(state, inp), *category_items(state, inp)]


def _table4_caption(state: ViewState, runs_note: str) -> str:
    """Table 4's caption: its statistics, the datasets and splits it covers, the scenes run, the paper's values."""
    # an image-level table: the datasets and splits it covers, never the person filters
    covered = "; ".join(
        p
        for p in (
            f"datasets: {', '.join(state.label(d) for d in state.datasets)}",
            splits_used(state.filtered.images, state.datasets),
        )
        if p
    )
    caption = "; ".join(
        p
        for p in (
            "Mean and population variance (ddof=0) of per-image scene entropy H over the selected images "
            "with scene results",
            covered,
            runs_note,
            "paper: SmallPose paper Table 4 (natural log), for datasets whose registry entry names a "
            "paper_name (COCO, CrowdPose, SmallPose)",
        )
        if p
    )
    return caption
