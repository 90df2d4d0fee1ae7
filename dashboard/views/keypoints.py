"""Keypoints: per-joint labelled and visible rates by size bucket, for any skeleton."""

import streamlit as st

from dashboard import ui
from dashboard.exports import keypoints
from dashboard.exports.items import TableItem

ctx = ui.context()
st.title("Keypoints")
items = keypoints.exports(ctx)
for n, item in enumerate(items):
    if isinstance(item, TableItem):
        with st.expander(f"{item.name.removeprefix('joint rates ')}: table"):
            ui.show(item, key=f"kp_t_{n}", preset=ctx.preset)
    else:
        ui.show(item, key=f"kp_{n}", preset=ctx.preset)
ui.export_all("keypoints", ctx, ctx.preset, items)
