"""Size: S/M/L counts and shares (Figure 8a), body-area distribution (8b), relative size."""

import streamlit as st

from dashboard import ui
from dashboard.figures.size import area_distribution, bucket_table, relative_size, size_buckets

ctx = ui.context()
f = ctx.filtered
norm = ctx.filters.normalise
st.title("Size")
size_def = f.filters.size
# series without any area under this source (segm for CrowdPose) are not available: left
# out of the figures and n/a in the table, never drawn or counted as zero
na = ctx.no_area_series
series = [k for k in ctx.series if k not in na]
na_note = (f"n/a: {', '.join(ctx.label(k) for k in na)} (no {size_def.area_source.value} area in the "
           "annotations)") if na else ""
fig_a = size_buckets(f.persons, series, normalise=norm, styles=ctx.styles,
                     caption=ctx.caption(na_note))
ui.show_figure(fig_a, "size buckets", key="size_buckets", preset=ctx.preset)
table = bucket_table(f.persons, ctx.series, normalise="count", unavailable=na).T
shares = bucket_table(f.persons, ctx.series, normalise="share", unavailable=na).T.add_prefix("share ")
full = ctx.labelled(table.join(shares).rename_axis("dataset").reset_index())
ui.show_table(full, "size buckets", key="size_table", caption=ctx.caption(na_note),
              formats={c: "%.3f" for c in full.columns if c.startswith("share")})

axis = st.radio("Area axis", ["log", "sqrt"], horizontal=True, key="size_axis",
                format_func=lambda a: "log area" if a == "log" else "sqrt(area)")
fig_b = area_distribution(f.persons, series, edges=size_def.edges, axis=axis,
                          normalise=norm, styles=ctx.styles,
                          caption=ctx.caption("dotted lines: bucket edges", na_note))
ui.show_figure(fig_b, "body area distribution", key="size_area", preset=ctx.preset)
fig_c = relative_size(f.persons, series, normalise=norm, styles=ctx.styles,
                      caption=ctx.caption("relative size = sqrt(person area / image area), clipped at 1", na_note))
ui.show_figure(fig_c, "relative size", key="size_rel", preset=ctx.preset)
ui.export_all("size", ctx.preset)
