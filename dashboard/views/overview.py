"""Overview: one card per dataset and a comparison table."""

import numpy as np
import streamlit as st

from dashboard import ui
from dashboard.exports import overview

ctx = ui.context()
st.title("Overview")
state = ctx.state()
table = overview.comparison(state)
summary = table.table


def _fmt(value: float, spec: str) -> str:
    return "n/a" if value is None or (isinstance(value, float) and np.isnan(value)) else format(value, spec)


cols = st.columns(min(3, max(1, len(summary))))
for i, row in enumerate(summary.itertuples(index=False)):
    with cols[i % len(cols)].container(border=True):
        st.subheader(row.dataset)
        if ctx.caches.synthetic(row.dataset):
            st.badge("synthetic", color="orange", icon=":material/science:")
        a, b, c = st.columns(3)
        a.metric("images", f"{row.images:,}")
        b.metric("persons", f"{row.persons:,}")
        c.metric("per image", _fmt(row.persons_per_image, ".1f"))
        a, b, c = st.columns(3)
        a.metric("small", _fmt(row.share_small, ".0%"))
        b.metric("medium", _fmt(row.share_medium, ".0%"))
        c.metric("large", _fmt(row.share_large, ".0%"))
        a, b = st.columns(2)
        a.metric("mean CrowdIndex", _fmt(row.mean_crowd_index, ".2f"))
        b.metric("mean scene entropy", _fmt(row.mean_entropy, ".2f"),
                 help=None if not np.isnan(row.mean_entropy) else
                 "scenes not computed: see the Scenes view")

st.subheader("Comparison")
ui.show(table, key="overview_table", preset=ctx.preset)
ui.export_all("overview", state, ctx.preset, [table])
