"""Keypoints exports: per-joint labelled and visible rates by size bucket, per dataset
(splits with different joint lists or visibility conventions get their own figure)."""

from __future__ import annotations

from dataclasses import replace
from functools import partial

from analysis.definitions import VisibilityConvention
from dashboard.caches import keypoint_schema
from dashboard.exports.items import ExportItem, FigureItem, Note, TableItem
from dashboard.exports.state import ViewState, kept_per_state
from dashboard.figures.keypoints import joint_rate_groups, joint_rates_figure
from dashboard.summaries import group_masks


@kept_per_state
def exports(state: ViewState) -> list[ExportItem]:
    if state.keypoints is None:
        raise ValueError("the keypoints view needs a keypoint loader in its ViewState")
    load = state.keypoints
    persons = state.filtered.persons
    masks = group_masks(persons["dataset"], state.datasets)
    items: list[ExportItem] = []
    for name in state.datasets:
        mine = persons.loc[masks[name], ["split", "instance_row", "bucket"]]  # what the rates use, not every column
        if not len(mine):
            items.append(Note(f"{state.label(name)}: no persons under the current filters."))
            continue
        groups = joint_rate_groups(
            state.label(name),
            mine,
            partial(load, name),
            partial(_joint_names, state, name),
            partial(_visibility, state, name),
        )
        one = replace(state, datasets=(name,))  # the caption names this figure's dataset
        for g in groups:
            show_visible = g.rule is not VisibilityConvention.NOT_VISIBILITY
            if not show_visible:
                items.append(Note(f"{g.label}: {g.rule.description}."))
            fig = joint_rates_figure(
                g.table,
                dataset=g.label,
                show_visible=show_visible,
                caption=one.caption(f"{len(g.joints)} joints", "labelled: v > 0", g.rule.description),
            )
            table = g.table if show_visible else g.table.drop(columns="visible")
            items.append(FigureItem(f"joint rates {g.label}", fig))
            items.append(
                TableItem(
                    f"joint rates {g.label}",
                    table,
                    one.caption("labelled: v > 0", g.rule.description),
                    shares=("labelled", "visible") if show_visible else ("labelled",),
                )
            )
    return items


def _joint_names(state: ViewState, dataset: str, split: str, n_joints: int) -> list[str]:
    return keypoint_schema(state.manifest(dataset, split).keypoint_schema, n_joints)[0]


def _visibility(state: ViewState, dataset: str, split: str) -> VisibilityConvention:
    manifest = state.manifest(dataset, split)
    return VisibilityConvention.for_split(manifest.keypoint_schema.name, manifest.definitions.visibility)
