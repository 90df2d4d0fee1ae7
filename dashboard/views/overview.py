"""Overview: one card per dataset and a comparison table."""

import streamlit as st

from analysis.aggregate import dataset_summary
from dashboard import ui
from dashboard.cards import card_rows

ctx = ui.context()
f = ctx.filtered
st.title("Overview")
summary = dataset_summary(f.images, f.persons, ctx.series, count_column="n_sel",
                          no_area=ctx.no_area_series)


cols = st.columns(min(3, max(1, len(summary))))
for i, row in enumerate(summary.itertuples(index=False)):
    with cols[i % len(cols)].container(border=True):
        st.subheader(ctx.label(row.dataset))
        if ctx.caches.synthetic(ctx.dataset_of(row.dataset)):
            st.badge("synthetic", color="orange", icon=":material/science:")
        for metrics in card_rows(row):
            for col, m in zip(st.columns(len(metrics)), metrics, strict=True):
                col.metric(m.label, m.value, help=m.help)

st.subheader("Comparison")
ui.show_table(
    ctx.labelled(summary), "overview comparison", key="overview_table",
    caption=ctx.caption("S/M/L shares over persons with a known area",
                        "mean scene entropy over images with scenes computed"),
    formats={"persons_per_image": "%.2f", "share_small": "%.3f", "share_medium": "%.3f",
             "share_large": "%.3f", "mean_crowd_index": "%.3f", "mean_entropy": "%.3f"},
)
ui.export_all("overview", ctx.preset)
