"""Keypoints exports: per-joint labelled and visible rates by size bucket, per dataset
(splits with different joint lists get their own figure)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from analysis.aggregate import group_masks
from analysis.manifest import VisibilityConvention
from dashboard.exports.items import ExportItem, FigureItem, Note, TableItem
from dashboard.exports.state import ViewState
from dashboard.figures.keypoints import joint_rates, joint_rates_figure
from dashboard.loading import keypoint_schema


def exports(state: ViewState) -> list[ExportItem]:
    if state.keypoints is None:
        raise ValueError("the keypoints view needs a keypoint loader in its ViewState")
    persons = state.filtered.persons
    masks = group_masks(persons["dataset"], state.datasets)
    items: list[ExportItem] = []
    for name in state.datasets:
        p = persons[masks[name]]
        splits = sorted(str(s) for s in p["split"].unique())
        if not splits:
            items.append(Note(f"{name}: no persons under the current filters."))
            continue
        # splits of one dataset normally share a joint list; any that differ get their own figure
        groups: dict[tuple[str, ...], dict] = {}
        for split in splits:
            rows = p[(p["split"] == split).to_numpy()]
            kp = state.keypoints(name, split)
            manifest = state.manifest(name, split)
            joints, _ = keypoint_schema(manifest.keypoint_schema, kp.shape[1] // 3)
            g = groups.setdefault(tuple(joints), {"vis": [], "buckets": [], "splits": [],
                                                  "convention": manifest.definitions.visibility})
            g["vis"].append(kp[rows["row"].to_numpy(), 2::3])
            g["buckets"].append(rows["bucket"].to_numpy())
            g["splits"].append(split)
        for joints, g in groups.items():
            label = name if len(groups) == 1 else f"{name} ({', '.join(g['splits'])})"
            convention = g["convention"]
            table = joint_rates(np.concatenate(g["vis"]), np.concatenate(g["buckets"]), list(joints),
                                binary_visibility=convention is VisibilityConvention.BINARY)
            vis_def = convention.visible_rule
            one = replace(state, datasets=(label,))  # the caption names this figure's dataset
            fig = joint_rates_figure(table, dataset=label, caption=one.caption(
                f"{len(joints)} joints", "labelled: v > 0", vis_def))
            items.append(FigureItem(f"joint rates {label}", fig))
            items.append(TableItem(f"joint rates {label}", table, one.caption("labelled: v > 0", vis_def),
                                   shares=("labelled", "visible")))
    return items
