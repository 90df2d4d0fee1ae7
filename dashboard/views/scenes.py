"""Scenes: per-image entropy, Table 4 beside the SmallPose paper, top categories, indoor share."""

import streamlit as st

from analysis.scenes.aggregates import entropy_unit
from dashboard import paths, ui
from dashboard.figures.scenes import (
    aggregates_by_dataset,
    entropy_hist,
    indoor_figure,
    table4,
    top_categories_figure,
    with_series,
)
from dashboard.scene_runs import scene_runs

ctx = ui.context()
f = ctx.filtered
st.title("Scenes")
scenes = ctx.caches.scenes
if scenes is not None:
    scenes = with_series(scenes, f.images)
runs = scene_runs(scenes, ctx.datasets, ctx.caches.manifests, ctx.caches.keys, f.filters.split,
                  paths.cache_root())
if runs.missing:
    st.info(f"Scenes not computed for: {', '.join(runs.missing)}. Compute them (needs the images and "
            "the Places365 model, `python -m analysis fetch places365`):")
    st.code("\n".join(runs.commands) or "python -m analysis scenes --name NAME --split SPLIT", language="bash")
if not runs.have:
    st.stop()
if len(runs.bases) > 1:
    st.warning(f"scenes were computed with different log bases ({set(runs.bases)}); shown as stored")
if runs.synthetic:
    st.warning(f"Synthetic scene results for {', '.join(ctx.label(d) for d in runs.synthetic)}: seeded random "
               "predictions (no network), written so every view has something to show. Not real scene "
               "statistics.", icon=":material/science:")
series = [k for k in ctx.series if ctx.dataset_of(k) in runs.have]
base, labels, note = runs.base, runs.labels, runs.note
unit = entropy_unit(base)
aggs = aggregates_by_dataset(scenes, series, labels=labels, entropy_base=base)

fig = entropy_hist(scenes, series, normalise=ctx.filters.normalise, styles=ctx.styles,
                   caption=ctx.caption(note), unit=unit)
ui.show_figure(fig, "scene entropy", key="scene_hist", preset=ctx.preset)
st.subheader("Table 4: mean / variance of per-image entropy")
paper_names = {k: ctx.caches.identities[ctx.dataset_of(k)].paper_name for k in series
               if ctx.dataset_of(k) in ctx.caches.identities}
ui.show_table(ctx.labelled(table4(aggs, paper_names)), "scene entropy table", key="scene_t4",
              caption=ctx.caption(note, "paper: SmallPose paper Table 4 (natural log), for datasets whose "
                                  "registry entry names a paper_name (COCO, CrowdPose, SmallPose)"),
              formats={c: "%.3f" for c in ("entropy_mean", "entropy_variance", "top1_entropy",
                                            "top1_effective_number", "indoor_share",
                                            "paper mean", "paper variance")})
k = st.slider("Top categories", 3, 30, 10, key="scene_topk")
aggs_k = aggregates_by_dataset(scenes, series, labels=labels, entropy_base=base, top_k=k)
fig = top_categories_figure(aggs_k, styles=ctx.styles,
                            caption=ctx.caption("share of images whose top-1 class is the category"))
ui.show_figure(fig, "top scene categories", key="scene_top", preset=ctx.preset)
fig = indoor_figure(aggs, styles=ctx.styles, caption=ctx.caption("indoor: p_indoor >= 0.5 (IO_places365.txt)"))
ui.show_figure(fig, "indoor outdoor", key="scene_io", preset=ctx.preset)
ui.export_all("scenes", ctx.preset)
