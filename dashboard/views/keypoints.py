"""Keypoints: per-joint labelled and visible rates by size bucket, for any skeleton."""

import numpy as np
import streamlit as st

from analysis.aggregate import group_masks
from analysis.manifest import VisibilityConvention
from dashboard import data, ui
from dashboard.figures.keypoints import joint_rates, joint_rates_figure
from dashboard.loading import keypoint_schema

ctx = ui.context()
f = ctx.filtered
st.title("Keypoints")
persons = f.persons
masks = group_masks(persons["dataset"], ctx.datasets)
for name in ctx.datasets:
    p = persons[masks[name]]
    splits = sorted(str(s) for s in p["split"].unique())
    if not splits:
        st.info(f"{name}: no persons under the current filters.")
        continue
    # splits of one dataset normally share a joint list; any that differ get their own figure
    groups: dict[tuple[str, ...], dict] = {}
    for split in splits:
        rows = p[(p["split"] == split).to_numpy()]
        kp = data.keypoints(name, split)
        manifest = ctx.caches.manifest(name, split)
        joints, _ = keypoint_schema(manifest.keypoint_schema, kp.shape[1] // 3)
        g = groups.setdefault(tuple(joints), {"vis": [], "buckets": [], "splits": [],
                                              "manifest": manifest})
        g["vis"].append(kp[rows["row"].to_numpy(), 2::3])
        g["buckets"].append(rows["bucket"].to_numpy())
        g["splits"].append(split)
    for joints, g in groups.items():
        label = name if len(groups) == 1 else f"{name} ({', '.join(g['splits'])})"
        convention = g["manifest"].definitions.visibility
        table = joint_rates(np.concatenate(g["vis"]), np.concatenate(g["buckets"]), list(joints),
                            binary_visibility=convention is VisibilityConvention.BINARY)
        vis_def = convention.visible_rule
        fig = joint_rates_figure(table, dataset=label, caption=ctx.caption(
            f"{len(joints)} joints", "labelled: v > 0", vis_def))
        ui.show_figure(fig, f"joint rates {label}", key=f"kp_{label}", preset=ctx.preset)
        with st.expander(f"{label}: table"):
            ui.show_table(table, f"joint rates {label}", key=f"kp_t_{label}",
                          caption=ctx.caption(vis_def),
                          formats={"labelled": "%.3f", "visible": "%.3f"})
ui.export_all("keypoints", ctx.preset)
