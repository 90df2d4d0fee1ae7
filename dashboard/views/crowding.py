"""Crowding: CrowdIndex distribution, easy/medium/hard (both conventions), density of
small persons (Figure 8c), computed vs stored CrowdIndex."""

import streamlit as st

from analysis.definitions import (
    CROWD_INDEX_DEFINITION,
    CROWD_INDEX_POPULATION_NOTE,
    CrowdConvention,
    CrowdIndexValue,
    density_levels,
)
from dashboard import ui
from dashboard.browsing import browse_request
from dashboard.figures.crowding import (
    CI_BIN,
    agreement_figure,
    agreement_table,
    crowd_index_hist,
    crowd_levels,
    crowd_levels_both_table,
    density_coverage,
    density_levels_figure,
    density_notes,
    density_table,
)

ctx = ui.context()
f = ctx.filtered
norm = ctx.filters.normalise
st.title("Crowding")
c1, c2 = st.columns(2)
value = CrowdIndexValue(c2.radio(
    "CrowdIndex value", [v.value for v in CrowdIndexValue], horizontal=True, key="crowd_value",
    format_func=lambda v: "computed" if v == "computed" else "stored in the file",
    help="Computed and stored CrowdIndex differ for a few CrowdPose images at the level edges."))
conv = c1.radio("Level edges drawn", [c.value for c in CrowdConvention], horizontal=True,
                key="crowd_conv", format_func=lambda v: CrowdConvention(v).levels().label)
levels = CrowdConvention(conv).levels()
fig = crowd_index_hist(f.images, ctx.series, normalise=norm, levels=levels, styles=ctx.styles, value=value,
                       caption=ctx.caption(value.description, CROWD_INDEX_DEFINITION, CROWD_INDEX_POPULATION_NOTE,
                                           levels.description))
event = ui.show_figure(fig, "crowdindex distribution", key="crowd_hist", preset=ctx.preset,
                       on_select=True)
request = browse_request(event, ctx.series, pad=CI_BIN / 2)
if request is not None:
    if st.session_state.get("_ci_last") != request:
        st.session_state["_ci_last"] = request
        st.session_state["browse_series"] = list(request.series)
        st.session_state["browse_ci"] = (max(0.0, request.span[0]), request.span[1])
        st.switch_page("views/browse.py")

conventions = "; ".join([*(c.levels().description for c in CrowdConvention), CROWD_INDEX_POPULATION_NOTE])
fig = crowd_levels(f.images, ctx.series, normalise=norm, styles=ctx.styles, value=value,
                   caption=ctx.caption(value.description, conventions))
ui.show_figure(fig, "crowd levels", key="crowd_levels", preset=ctx.preset)
ui.show_table(ctx.labelled(crowd_levels_both_table(f.images, ctx.series)), "crowd levels", key="crowd_levels_t",
              caption=ctx.caption("levels from the computed and the stored CrowdIndex (stored: only datasets "
                                  "whose file has one)", conventions), formats={"share": "%.3f"})

st.subheader("Density of small persons")
c1, c2 = st.columns(2)
low = c1.number_input("sparse|moderate edge", min_value=0.0, value=0.1, step=0.05, key="dens_low")
high = c2.number_input("moderate|dense edge", min_value=0.0, value=0.8, step=0.05, key="dens_high")
if not low < high:
    st.error(f"edges must satisfy sparse|moderate < moderate|dense (got {low:g}, {high:g})")
else:
    dens = density_levels(low, high)
    small = f.persons[f.persons["bucket"].to_numpy() == 0]
    note = ("SmallPose does not publish its definition; ours: a person's own N_b/N_a ratio "
            "(persons with no labelled joint are left out)")
    candidates = [k for k in ctx.series if k not in ctx.no_area_series]
    coverage = density_coverage(small, candidates)
    why = density_notes(coverage, str(f.filters.population), ctx.label)
    drawn = coverage.loc[coverage["with density"] > 0, "dataset"].tolist()
    if why:
        st.info("Not drawn: " + "; ".join(why) + ".")
    if not drawn:
        st.info("No small person with a density under the current filters (population, size bucket or edges).")
    else:
        fig = density_levels_figure(small, drawn, dens, normalise=norm, styles=ctx.styles,
                                    caption=ctx.caption(dens.description, note, *why))
        ui.show_figure(fig, "small person density", key="crowd_density", preset=ctx.preset)
        ui.show_table(ctx.labelled(density_table(small, drawn, dens)), "small person density",
                      key="crowd_density_t", caption=ctx.caption(dens.description, note, *why),
                      formats={"share": "%.3f"})

st.subheader("Computed vs stored CrowdIndex")
agree = agreement_table(f.images, ctx.series)
if agree.empty:
    st.info("None of the selected images stores a CrowdIndex (only CrowdPose files ship one).")
else:
    ui.show_table(ctx.labelled(agree), "crowdindex agreement", key="crowd_agree_t",
                  caption=ctx.caption(CROWD_INDEX_DEFINITION, CROWD_INDEX_POPULATION_NOTE,
                                      "agree: equal after rounding to 2 decimals"),
                  formats={"share agreeing": "%.4f", "max |diff|": "%.4f", "mean |diff|": "%.4f"})
    fig = agreement_figure(f.images, caption=ctx.caption(CROWD_INDEX_DEFINITION, CROWD_INDEX_POPULATION_NOTE))
    ui.show_figure(fig, "crowdindex computed vs stored", key="crowd_agree", preset=ctx.preset)
ui.export_all("crowding", ctx.preset)
