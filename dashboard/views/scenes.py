"""Scenes: per-image entropy, Table 4 beside the SmallPose paper, top categories, indoor share."""

import streamlit as st

from analysis.scenes.aggregates import entropy_unit, labels_from_manifest
from dashboard import paths, ui
from dashboard.figures.scenes import (
    aggregates_by_dataset,
    entropy_hist,
    indoor_figure,
    table4,
    top_categories_figure,
)

ctx = ui.context()
f = ctx.filtered
st.title("Scenes")
scenes = ctx.caches.scenes
if scenes is not None:
    scenes = scenes[scenes["img"].isin(f.images.index).to_numpy()]
have = [] if scenes is None else sorted(str(d) for d in scenes["dataset"].unique())
missing = [d for d in ctx.datasets if d not in have]
if missing:
    splits = sorted({k.split for k in ctx.caches.keys if k.dataset in missing
                     and (f.filters.split is None or k.split == f.filters.split)})
    root = paths.cache_root()
    cmds = "\n".join(f"python -m analysis scenes --name {d} --split {s} --cache-dir {root}"
                     for d in missing for s in splits
                     if any(k.dataset == d and k.split == s for k in ctx.caches.keys))
    st.info(f"Scenes not computed for: {', '.join(missing)}. Compute them (needs the images and "
            "the Places365 model, `python -m analysis fetch places365`):")
    st.code(cmds or "python -m analysis scenes --name NAME --split SPLIT", language="bash")
if not have:
    st.stop()

datasets = [d for d in ctx.datasets if d in have]
manifests = [m for k, m in ctx.caches.manifests.items() if k.split("/")[0] in datasets]
bases = {m.scenes.entropy_base for m in manifests if m.scenes is not None}
base = next(iter(bases)) if len(bases) == 1 else None
if len(bases) > 1:
    st.warning(f"scenes were computed with different log bases ({bases}); shown as stored")
labels = next((lab for lab in map(labels_from_manifest, manifests) if lab), None)
unit = entropy_unit(base)
aggs = aggregates_by_dataset(scenes, datasets, labels=labels, entropy_base=base)
models = sorted({m.scenes.model for m in manifests if m.scenes is not None})
note = (f"per-image entropy H = -sum p log p of the Places365 softmax ({unit}); "
        "variance is the population variance (ddof=0); "
        f"model {', '.join(models)} (Resize(256, 256), CenterCrop(224))")

fig = entropy_hist(scenes, datasets, normalise=ctx.controls.normalise, styles=ctx.styles,
                   caption=ctx.caption(note), unit=unit)
ui.show_figure(fig, "scene entropy", key="scene_hist", preset=ctx.preset)
st.subheader("Table 4: mean / variance of per-image entropy")
ui.show_table(table4(aggs), "scene entropy table", key="scene_t4",
              caption=ctx.caption(note, "paper: SmallPose paper Table 4 (natural log)"),
              formats={c: "%.3f" for c in ("entropy_mean", "entropy_variance", "top1_entropy",
                                            "top1_effective_number", "indoor_share",
                                            "paper mean", "paper variance")})
k = st.slider("Top categories", 3, 30, 10, key="scene_topk")
aggs_k = aggregates_by_dataset(scenes, datasets, labels=labels, entropy_base=base, top_k=k)
fig = top_categories_figure(aggs_k, styles=ctx.styles,
                            caption=ctx.caption("share of images whose top-1 class is the category"))
ui.show_figure(fig, "top scene categories", key="scene_top", preset=ctx.preset)
fig = indoor_figure(aggs, caption=ctx.caption("indoor: p_indoor >= 0.5 (IO_places365.txt)"))
ui.show_figure(fig, "indoor outdoor", key="scene_io", preset=ctx.preset)
ui.export_all("scenes", ctx.preset)
