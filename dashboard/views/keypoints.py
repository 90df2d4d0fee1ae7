"""Keypoints: per-joint labelled and visible rates by size bucket, for any skeleton."""

import streamlit as st

from dashboard import ui
from dashboard.exports import keypoints
from dashboard.exports.items import FigureItem, TableItem

ctx = ui.context()
st.title("Keypoints")
state = ctx.state()
items = keypoints.exports(state)
for n, item in enumerate(items):
    if isinstance(item, TableItem):
        with st.expander(f"{item.name.removeprefix('joint rates ')}: table"):
            ui.show(item, key=f"kp_t_{n}", preset=ctx.preset)
    else:
        ui.show(item, key=f"kp_{n}" if isinstance(item, FigureItem) else f"kp_note_{n}", preset=ctx.preset)
ui.export_all("keypoints", state, ctx.preset, items)
