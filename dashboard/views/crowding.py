"""Crowding: CrowdIndex distribution, easy/medium/hard (both conventions), density of
small persons (Figure 8c), computed vs stored CrowdIndex."""

import streamlit as st

from analysis.definitions import CrowdConvention
from dashboard import ui
from dashboard.exports import crowding
from dashboard.exports.state import ViewOptions

ctx = ui.context()
st.title("Crowding")
conv = st.radio("Level edges drawn", [c.value for c in CrowdConvention], horizontal=True,
                key="crowd_conv", format_func=lambda v: CrowdConvention(v).levels().label)
state = ctx.state(ViewOptions(crowd_convention=CrowdConvention(conv)))
items = crowding.index_items(state)
event = ui.show(items[0], key="crowd_hist", preset=ctx.preset)
with st.expander("Table"):
    ui.show(items[1], key="crowd_hist_t", preset=ctx.preset)
xs = ui.selection_values(event)
if xs:
    span = (max(0.0, float(min(xs)) - 0.025), float(max(xs)) + 0.025)
    if st.session_state.get("_ci_last") != span:
        st.session_state["_ci_last"] = span
        st.session_state["browse_ci"] = span
        st.switch_page("views/browse.py")

levels = crowding.levels_items(state)
ui.show_all(levels, key="crowd_levels", preset=ctx.preset)

st.subheader("Density of small persons")
c1, c2 = st.columns(2)
low = c1.number_input("sparse|moderate edge", min_value=0.0, value=0.1, step=0.05, key="dens_low")
high = c2.number_input("moderate|dense edge", min_value=0.0, value=0.8, step=0.05, key="dens_high")
state = state.with_options(density_low=float(low), density_high=float(high))
density = crowding.density_items(state)
ui.show_all(density, key="crowd_density", preset=ctx.preset)

st.subheader("Computed vs stored CrowdIndex")
agreement = crowding.agreement_items(state)
ui.show_all(agreement, key="crowd_agree", preset=ctx.preset)
ui.export_all("crowding", state, ctx.preset, items + levels + density + agreement)
