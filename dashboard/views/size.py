"""Size: S/M/L counts and shares (Figure 8a), body-area distribution (8b), relative size."""

import streamlit as st

from dashboard import ui
from dashboard.exports import size
from dashboard.exports.items import ExportItem
from dashboard.exports.state import AreaAxis

ctx = ui.context()
st.title("Size")
items: list[ExportItem] = [size.buckets_figure(ctx), *size.buckets_tables(ctx)]
ui.show_all(items, key="size_buckets", preset=ctx.preset)
axis = st.radio(
    "Area axis",
    [a.value for a in AreaAxis],
    horizontal=True,
    key="size_axis",
    format_func=lambda a: "log area" if a == AreaAxis.LOG.value else "sqrt(area)",
)
state = ctx.with_options(area_axis=AreaAxis(axis))
area_figure, area_table = size.area_items(state)
ui.show(area_figure, key="size_area", preset=ctx.preset)
with st.expander("Table"):
    ui.show(area_table, key="size_area_t", preset=ctx.preset)
relative = size.relative_figure(state)
ui.show(relative, key="size_rel", preset=ctx.preset)
ui.export_all("size", state, ctx.preset, [*items, area_figure, area_table, relative])
