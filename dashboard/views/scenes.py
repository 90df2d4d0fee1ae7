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
    with_series,
)

ctx = ui.context()
f = ctx.filtered
st.title("Scenes")
scenes = ctx.caches.scenes
if scenes is not None:
    scenes = with_series(scenes, f.images)
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
series = [k for k in ctx.series if ctx.dataset_of(k) in have]
manifests = [m for k, m in ctx.caches.manifests.items() if k.split("/")[0] in datasets]
bases = {(m.get("scenes") or {}).get("entropy_base") for m in manifests}
base = next(iter(bases)) if len(bases) == 1 else None
if len(bases) > 1:
    st.warning(f"scenes were computed with different log bases ({bases}); shown as stored")
synthetic = [d for d in datasets if any((m.get("scenes") or {}).get("synthetic")
                                         for k, m in ctx.caches.manifests.items() if k.split("/")[0] == d)]
if synthetic:
    st.warning(f"Synthetic scene results for {', '.join(ctx.label(d) for d in synthetic)}: seeded random "
               "predictions (no network), written so every view has something to show. Not real scene "
               "statistics.", icon=":material/science:")
labels = next((lab for lab in map(labels_from_manifest, manifests) if lab), None)
unit = entropy_unit(base)
aggs = aggregates_by_dataset(scenes, series, labels=labels, entropy_base=base)
models = sorted({str((m.get("scenes") or {}).get("model")) for m in manifests if m.get("scenes")})
note = (f"per-image entropy H = -sum p log p of the Places365 softmax ({unit}); "
        "variance is the population variance (ddof=0); "
        f"model {', '.join(models)} (Resize(256, 256), CenterCrop(224))")

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
