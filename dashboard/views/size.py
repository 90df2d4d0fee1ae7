"""Size: S/M/L counts and shares (Figure 8a), body-area distribution (8b), relative size."""

import streamlit as st

from dashboard import ui
from dashboard.figures.size import area_distribution, bucket_table, relative_size, size_buckets

ctx = ui.context()
f = ctx.filtered
norm = ctx.controls.normalise
st.title("Size")
size_def = f.filters.size
fig_a = size_buckets(f.persons, ctx.series, normalise=norm, styles=ctx.styles,
                     caption=ctx.caption())
ui.show_figure(fig_a, "size buckets", key="size_buckets", preset=ctx.preset)
table = bucket_table(f.persons, ctx.series, normalise="count").T
shares = bucket_table(f.persons, ctx.series, normalise="share").T.add_prefix("share ")
full = ctx.labelled(table.join(shares).rename_axis("dataset").reset_index())
ui.show_table(full, "size buckets", key="size_table", caption=ctx.caption(),
              formats={c: "%.3f" for c in full.columns if c.startswith("share")})

axis = st.radio("Area axis", ["log", "sqrt"], horizontal=True, key="size_axis",
                format_func=lambda a: "log area" if a == "log" else "sqrt(area)")
fig_b = area_distribution(f.persons, ctx.series, edges=size_def.edges, axis=axis,
                          normalise=norm, styles=ctx.styles,
                          caption=ctx.caption("dotted lines: bucket edges"))
ui.show_figure(fig_b, "body area distribution", key="size_area", preset=ctx.preset)
fig_c = relative_size(f.persons, ctx.series, normalise=norm, styles=ctx.styles,
                      caption=ctx.caption("relative size = sqrt(person area / image area), clipped at 1"))
ui.show_figure(fig_c, "relative size", key="size_rel", preset=ctx.preset)
ui.export_all("size", ctx.preset)
