"""Overview: one card per dataset and a comparison table."""

import streamlit as st

from dashboard import ui
from dashboard.cards import card_rows
from dashboard.exports import overview

ctx = ui.context()
st.title("Overview")
summary = overview.summary(ctx)

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
table = overview.comparison(ctx, summary)
ui.show(table, key="overview_table", preset=ctx.preset)
ui.export_all("overview", ctx, ctx.preset, [table])
