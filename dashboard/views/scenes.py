"""Scenes: per-image entropy, Table 4 beside the SmallPose paper, top categories, indoor share."""

import streamlit as st

from dashboard import ui
from dashboard.exports import scenes

ctx = ui.context()
st.title("Scenes")
inp = scenes.scene_inputs(ctx)
runs = inp.runs
if runs.missing:
    st.info(
        f"Scenes not computed for: {', '.join(runs.missing)}. Compute them (needs the images and "
        "the Places365 model, `python -m analysis fetch places365`):"
    )
    st.code("\n".join(runs.commands) or "python -m analysis scenes --name NAME --split SPLIT", language="bash")
if not runs.have:
    st.stop()
if len(runs.bases) > 1:
    st.warning(f"scenes were computed with different log bases ({set(runs.bases)}); shown as stored")
if runs.synthetic:
    st.warning(
        f"Synthetic scene results for {', '.join(ctx.label(d) for d in runs.synthetic)}: seeded random "
        "predictions (no network), written so every view has something to show. Not real scene "
        "statistics.",
        icon=":material/science:",
    )

notes = scenes.notes(ctx, inp)
entropy = scenes.entropy_items(ctx, inp)
ui.show(entropy[0], key="scene_hist", preset=ctx.preset)
st.subheader("Table 4: mean / variance of per-image entropy")
ui.show(entropy[1], key="scene_t4", preset=ctx.preset)
st.subheader("Scene statistics")
ui.show(entropy[2], key="scene_stats", preset=ctx.preset)
k = st.slider("Top categories", 3, 30, 10, key="scene_topk")
state = ctx.with_options(scene_top_k=int(k))
categories = scenes.category_items(state, inp)
ui.show_all(categories, key="scene_cat", preset=ctx.preset)
ui.export_all("scenes", state, ctx.preset, notes + entropy + categories)
