"""People per image (the paper's Figure 7); click a bar to browse those images."""

import streamlit as st

from dashboard import ui
from dashboard.browsing import browse_request
from dashboard.figures.people import people_axis, people_per_image, people_per_image_table

ctx = ui.context()
f = ctx.filtered
st.title("People per image")
c1, c2 = st.columns([2, 1])
mode = c1.radio("Datasets", ["overlay", "side by side"], horizontal=True, key="ppi_mode")
log_y = c2.checkbox("log y axis", key="ppi_log")
what, x_title, denominator = people_axis(f.filters)
fig = people_per_image(
    f.images, ctx.series, normalise=ctx.filters.normalise,
    mode="overlay" if mode == "overlay" else "side", log_y=log_y, styles=ctx.styles,
    caption=ctx.caption(f"x = {what} per image, up to the largest crowd", denominator), x_title=x_title,
)
event = ui.show_figure(fig, "people per image", key="ppi_fig", preset=ctx.preset, on_select=True)
request = browse_request(event, ctx.series)
if request is not None:
    if st.session_state.get("_ppi_last") != request:
        st.session_state["_ppi_last"] = request
        st.session_state["browse_series"] = list(request.series)
        st.session_state["browse_persons"] = (int(request.span[0]), int(request.span[1]))
        st.switch_page("views/browse.py")
st.caption("Select a bar (click or box) to open that dataset's images in Browse.")
with st.expander("Table"):
    table = people_per_image_table(f.images, ctx.series, normalise=ctx.filters.normalise)
    ui.show_table(table.reset_index(), "people per image", key="ppi_table", caption=fig.layout.meta["caption"])
ui.export_all("people", ctx.preset)
