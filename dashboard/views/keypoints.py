"""Keypoints: per-joint labelled and visible rates by size bucket, for any skeleton."""

import streamlit as st

from analysis.aggregate import group_masks
from dashboard import data, ui
from dashboard.figures.keypoints import (
    VisibilityRule,
    joint_rate_groups,
    joint_rates_figure,
    visibility_rule,
)
from dashboard.loading import keypoint_schema

ctx = ui.context()
f = ctx.filtered
st.title("Keypoints")
persons = f.persons
masks = group_masks(persons["dataset"], ctx.datasets)
for name in ctx.datasets:
    mine = persons[masks[name]]
    if not len(mine):
        st.info(f"{ctx.label(name)}: no persons under the current filters.")
        continue
    groups = joint_rate_groups(
        ctx.label(name), mine, lambda split, n=name: data.keypoints(n, split),
        lambda split, k, n=name: keypoint_schema(ctx.caches.manifest(n, split).keypoint_schema, k)[0],
        lambda split, n=name: visibility_rule(ctx.caches.manifest(n, split).keypoint_schema.name,
                                              ctx.caches.manifest(n, split).definitions.visibility),
    )
    for g in groups:
        show_visible = g.rule is not VisibilityRule.NOT_VISIBILITY
        if not show_visible:
            st.info(f"{g.label}: {g.rule.description}.")
        fig = joint_rates_figure(g.table, dataset=g.label, show_visible=show_visible, caption=ctx.caption(
            f"{len(g.joints)} joints", "labelled: v > 0", g.rule.description))
        ui.show_figure(fig, f"joint rates {g.label}", key=f"kp_{g.label}", preset=ctx.preset)
        table = g.table if show_visible else g.table.drop(columns="visible")
        with st.expander(f"{g.label}: table"):
            ui.show_table(table, f"joint rates {g.label}", key=f"kp_t_{g.label}",
                          caption=ctx.caption(g.rule.description),
                          formats={"labelled": "%.3f", "visible": "%.3f"})
ui.export_all("keypoints", ctx.preset)
