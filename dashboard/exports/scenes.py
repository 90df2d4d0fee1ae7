"""Scenes exports: per-image entropy, Table 4 beside the SmallPose paper's values, top
scene categories, indoor share (over the selected datasets that have scene results)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pandas as pd

from analysis.scenes.aggregates import entropy_unit, labels_from_manifest
from dashboard.exports.items import ExportItem, FigureItem, Note, NoteLevel, TableItem
from dashboard.exports.state import ViewState
from dashboard.figures.scenes import (
    aggregates_by_dataset,
    entropy_hist,
    indoor_figure,
    table4,
    top_categories_figure,
)

TABLE4_FLOATS = ("entropy_mean", "entropy_variance", "top1_entropy", "top1_effective_number",
                 "paper mean", "paper variance")


@dataclass(frozen=True)
class SceneInputs:
    """The scene rows of the filtered images and what their manifests say."""

    scenes: pd.DataFrame | None
    datasets: tuple[str, ...]  #: selected datasets with scene results
    missing: tuple[str, ...]  #: selected datasets without
    base: float | None  #: entropy log base (None: natural log)
    mixed_bases: bool
    labels: list[str] | None
    models: tuple[str, ...]

    @property
    def note(self) -> str:
        return (f"per-image entropy H = -sum p log p of the Places365 softmax ({entropy_unit(self.base)}); "
                "variance is the population variance (ddof=0); "
                f"model {', '.join(self.models)} (Resize(256, 256), CenterCrop(224))")


def scene_inputs(state: ViewState) -> SceneInputs:
    scenes = state.caches.scenes
    if scenes is not None:
        scenes = scenes[scenes["img"].isin(state.filtered.images.index).to_numpy()]
    have = set() if scenes is None else {str(d) for d in scenes["dataset"].unique()}
    datasets = tuple(d for d in state.datasets if d in have)
    missing = tuple(d for d in state.datasets if d not in have)
    keys = [k for k in state.caches.keys if k.dataset in datasets]
    manifests = [state.manifest(k.dataset, k.split) for k in keys]
    runs = [m.scenes for m in manifests if m.scenes is not None]
    bases = {r.entropy_base for r in runs}
    labels = next((lab for lab in map(labels_from_manifest, manifests) if lab), None)
    models = tuple(sorted({r.model for r in runs}))
    base = next(iter(bases)) if len(bases) == 1 else None
    return SceneInputs(scenes, datasets, missing, base, len(bases) > 1, labels, models)


def notes(inp: SceneInputs) -> list[ExportItem]:
    items: list[ExportItem] = []
    if inp.missing:
        items.append(Note(f"Scenes not computed for: {', '.join(inp.missing)}."))
    if inp.mixed_bases:
        items.append(Note("scenes were computed with different log bases; shown as stored", NoteLevel.WARNING))
    return items


def entropy_items(state: ViewState, inp: SceneInputs) -> list[ExportItem]:
    """The entropy histogram and Table 4 (empty when no selected dataset has scenes)."""
    if not inp.datasets:
        return []
    state = replace(state, datasets=inp.datasets)  # captions name the datasets shown
    aggs = aggregates_by_dataset(inp.scenes, inp.datasets, labels=inp.labels, entropy_base=inp.base)
    fig = entropy_hist(inp.scenes, inp.datasets, normalise=state.controls.normalise, styles=state.styles,
                       caption=state.caption(inp.note), unit=entropy_unit(inp.base))
    return [FigureItem("scene entropy", fig),
            TableItem("scene entropy table", table4(aggs),
                      state.caption(inp.note, "paper: SmallPose paper Table 4 (natural log)"),
                      shares=("indoor_share",), digits=3)]


def category_items(state: ViewState, inp: SceneInputs) -> list[ExportItem]:
    """Top scene categories (``options.scene_top_k``) and the indoor / outdoor share."""
    if not inp.datasets:
        return []
    state = replace(state, datasets=inp.datasets)
    aggs = aggregates_by_dataset(inp.scenes, inp.datasets, labels=inp.labels, entropy_base=inp.base,
                                 top_k=state.options.scene_top_k)
    top = top_categories_figure(aggs, styles=state.styles,
                                caption=state.caption("share of images whose top-1 class is the category"))
    indoor = indoor_figure(aggs, caption=state.caption("indoor: p_indoor >= 0.5 (IO_places365.txt)"))
    return [FigureItem("top scene categories", top), FigureItem("indoor outdoor", indoor)]


def exports(state: ViewState) -> list[ExportItem]:
    inp = scene_inputs(state)
    return [*notes(inp), *entropy_items(state, inp), *category_items(state, inp)]
