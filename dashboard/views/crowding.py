"""Crowding: CrowdIndex distribution, easy/medium/hard (both conventions), density of
small persons (Figure 8c), computed vs stored CrowdIndex."""

import streamlit as st

from analysis.definitions import DENSITY_EDGES, CrowdConvention, CrowdIndexSource
from dashboard import ui
from dashboard.browsing import BROWSE_HANDOFF, BrowseHandoff, browse_request
from dashboard.exports import crowding
from dashboard.figures.crowding import CI_BIN

ctx = ui.context()
st.title("Crowding")
c1, c2 = st.columns(2)
value = CrowdIndexSource(
    c2.radio(
        "CrowdIndex value",
        [v.value for v in CrowdIndexSource],
        horizontal=True,
        key="crowd_value",
        format_func=lambda v: "computed" if v == "computed" else "stored in the file",
        help="Computed and stored CrowdIndex differ for a few CrowdPose images at the level edges.",
    )
)
conv = c1.radio(
    "Level edges drawn",
    [c.value for c in CrowdConvention],
    horizontal=True,
    key="crowd_conv",
    format_func=lambda v: CrowdConvention(v).levels().label,
)
state = ctx.with_options(crowd_convention=CrowdConvention(conv), crowd_value=value)
index = crowding.index_items(state)
event = ui.show(index[0], key="crowd_hist", preset=ctx.preset)
with st.expander("Table"):
    ui.show(index[1], key="crowd_hist_t", preset=ctx.preset)
request = browse_request(event, ctx.series, pad=CI_BIN / 2)
if request is not None and st.session_state.get("_ci_last") != request:
    st.session_state["_ci_last"] = request
    st.session_state[BROWSE_HANDOFF] = BrowseHandoff.of_crowd_index(request)
    st.switch_page("views/browse.py")

levels = crowding.levels_items(state)
ui.show_all(levels, key="crowd_levels", preset=ctx.preset)

st.subheader("Density of small persons")
c1, c2 = st.columns(2)
low = c1.number_input("sparse|moderate edge", min_value=0.0, value=DENSITY_EDGES[0], step=0.05, key="dens_low")
high = c2.number_input("moderate|dense edge", min_value=0.0, value=DENSITY_EDGES[1], step=0.05, key="dens_high")
state = state.with_options(density_low=float(low), density_high=float(high))
density = crowding.density_items(state)
ui.show_all(density, key="crowd_density", preset=ctx.preset)

st.subheader("Computed vs stored CrowdIndex")
agreement = crowding.agreement_items(state)
ui.show_all(agreement, key="crowd_agree", preset=ctx.preset)
ui.export_all("crowding", state, ctx.preset, index + levels + density + agreement)
