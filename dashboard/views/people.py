"""People per image (the paper's Figure 7); click a bar to browse those images."""

import streamlit as st

from dashboard import ui
from dashboard.browsing import BROWSE_HANDOFF, BrowseHandoff, browse_request
from dashboard.exports import people
from dashboard.exports.state import BarLayout

ctx = ui.context()
st.title("People per image")
c1, c2 = st.columns([2, 1])
layout = c1.radio(
    "Datasets",
    [b.value for b in BarLayout],
    horizontal=True,
    key="ppi_mode",
    format_func=lambda v: "side by side" if v == BarLayout.SIDE.value else "overlay",
)
log_y = c2.checkbox("log y axis", key="ppi_log")
state = ctx.with_options(people_layout=BarLayout(layout), people_log_y=log_y)
items = people.exports(state)
figure, table = items
event = ui.show(figure, key="ppi_fig", preset=ctx.preset)
request = browse_request(event, ctx.series)
if request is not None and st.session_state.get("_ppi_last") != request:
    st.session_state["_ppi_last"] = request
    st.session_state[BROWSE_HANDOFF] = BrowseHandoff.of_persons(request)
    st.switch_page("views/browse.py")
st.caption("Select a bar (click or box) to open that dataset's images in Browse.")
with st.expander("Table"):
    ui.show(table, key="ppi_table", preset=ctx.preset)
ui.export_all("people", state, ctx.preset, items)
