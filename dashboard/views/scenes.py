"""Scenes: per-image entropy, Table 4 beside the SmallPose paper, top categories, indoor share."""

import streamlit as st

from dashboard import paths, ui
from dashboard.exports import scenes
from dashboard.exports.state import ViewOptions

ctx = ui.context()
f = ctx.filtered
st.title("Scenes")
state = ctx.state()
inp = scenes.scene_inputs(state)
if inp.missing:
    missing = inp.missing
    splits = sorted({k.split for k in ctx.caches.keys if k.dataset in missing
                     and (f.filters.split is None or k.split == f.filters.split)})
    root = paths.cache_root()
    cmds = "\n".join(f"python -m analysis scenes --name {d} --split {s} --cache-dir {root}"
                     for d in missing for s in splits
                     if any(k.dataset == d and k.split == s for k in ctx.caches.keys))
    st.info(f"Scenes not computed for: {', '.join(missing)}. Compute them (needs the images and "
            "the Places365 model, `python -m analysis fetch places365`):")
    st.code(cmds or "python -m analysis scenes --name NAME --split SPLIT", language="bash")
if not inp.datasets:
    st.stop()
if inp.mixed_bases:
    st.warning("scenes were computed with different log bases; shown as stored")

notes = scenes.notes(inp)
entropy = scenes.entropy_items(state, inp)
ui.show(entropy[0], key="scene_hist", preset=ctx.preset)
st.subheader("Table 4: mean / variance of per-image entropy")
ui.show(entropy[1], key="scene_t4", preset=ctx.preset)
k = st.slider("Top categories", 3, 30, 10, key="scene_topk")
state = ctx.state(ViewOptions(scene_top_k=int(k)))
categories = scenes.category_items(state, inp)
ui.show_all(categories, key="scene_cat", preset=ctx.preset)
ui.export_all("scenes", state, ctx.preset, notes + entropy + categories)
