"""Models: stored evaluations as the SmallPose Table 5, AP per slice and precision-recall curves."""

import streamlit as st

from analysis.errors import PoseAtlasError
from dashboard import data, evaluations, paths, ui
from dashboard.exports.items import ExportItem, FigureItem, TableItem
from dashboard.figures.models import (
    MEAN_THRESHOLD,
    OKS_THRESHOLDS,
    REPORTED_LABEL,
    SLICES,
    pr_figure,
    reported_table5_table,
    slice_ap_figure,
    slice_metrics_table,
    table5_table,
)

ctx = ui.context()
st.title("Models")
root = paths.cache_root()
split = ctx.filtered.filters.split
keys = [k for k in ctx.caches.keys if k.dataset in ctx.datasets and (split is None or k.split == split)]
found = evaluations.find_models(root, keys)
if not found:
    st.info("No stored evaluation for " + ", ".join(map(str, keys)) + ". Evaluate a results file "
            "(COCO keypoint results format) on a split:")
    st.code("\n".join(evaluations.evaluate_command(k, root) for k in keys), language="bash")
    st.stop()

by_label = {m.label: m for m in found}
chosen = st.multiselect("Evaluated models", list(by_label), default=list(by_label)[:6], key="models_sel")
entries = [by_label[label] for label in chosen]
for entry in entries:
    if entry.stale:
        st.warning(f"{entry.label}: the annotations changed since this evaluation; its numbers are "
                   "out of date. Re-run it:")
        st.code(evaluations.evaluate_command(entry.key, root, entry.model, entry.record.predictions.path),
                language="bash")
if not entries:
    st.info("Choose at least one evaluated model.")
    st.stop()

size = ctx.filtered.filters.size
models, used = [], {}
for entry in entries:
    try:
        model = data.model_result(entry, size)
    except PoseAtlasError as exc:
        st.error(f"{entry.label}: {exc}")
        continue
    models.append(model)
    used.setdefault(model.result.definitions.description, []).append(entry.label)
    stored = entry.definitions
    if evaluations.resliced(stored, size):
        st.caption(f"{entry.label}: evaluated with {stored.size.description}; re-sliced from its "
                   f"stored OKS pairs with the sidebar's {size.description}.".replace("*", "\\*"))
if not models:
    st.stop()
definitions_note = " | ".join(f"{', '.join(labels)}: {desc}" for desc, labels in used.items())
st.info("**Evaluation definitions**\n\n"
        + "\n".join(f"- {', '.join(labels)}: {desc}".replace("*", "\\*") for desc, labels in used.items())
        + "\n\nSigmas and the OKS area are fixed by the stored evaluation (re-run `python -m analysis "
        "evaluate` to change them); the size definition follows the sidebar.")

items: list[ExportItem] = []  # what this page shows, in order: the "export all" zip renders these


def show(item: ExportItem, key: str) -> None:
    items.append(item)
    ui.show(item, key=key, preset=ctx.preset)


st.subheader("Table 5 layout (AP in %)")
show(TableItem("models table5", table5_table(models),
               f"AP (%) per slice, OKS 0.50:0.05:0.95, and ground-truth persons per slice (n_gt); "
               f"{definitions_note}", digits=1), "models_t5")
st.markdown(f"**{REPORTED_LABEL[0].upper()}{REPORTED_LABEL[1:]}** (SimpleBaseline ResNet-50 tested on the "
            "SmallPose test set; not computed here)")
show(TableItem("smallpose reported table5", reported_table5_table(),
               "AP (%) reported in the SmallPose paper, Table 5 (SimpleBaseline ResNet-50 on SmallPose test)",
               digits=1), "models_rep")
show(FigureItem("ap per slice", slice_ap_figure(models, caption=definitions_note)), "models_bar")

c1, c2 = st.columns(2)
slice_name = c1.selectbox("Precision-recall slice", SLICES, key="models_pr_slice")
thresholds = [f"{t:.2f}" for t in OKS_THRESHOLDS]
threshold = c2.selectbox("OKS threshold", [*thresholds, MEAN_THRESHOLD], key="models_pr_oks",
                         format_func=lambda v: "mean over 0.50:0.95" if v == MEAN_THRESHOLD else v)
fig = pr_figure(models, slice_name, threshold if threshold == MEAN_THRESHOLD else float(threshold),
                caption=f"{definitions_note}; 101 recall points, interpolated precision (COCO)")
show(FigureItem(f"precision recall {slice_name}", fig), "models_pr")

with st.expander("Stored evaluations (what was evaluated, what was left out)"):
    show(TableItem("models stored evaluations", evaluations.stored_table(entries),
                   "Detections evaluated per results file: the 20 best-scored of each image "
                   "(COCO's maxDets); records of other categories are counted, not evaluated"), "models_stored")

st.subheader("Every metric per slice")
show(TableItem("models slice metrics", slice_metrics_table(models),
               f"AP, AP50, AP75, AR (%) and ground-truth persons per slice; {definitions_note}", digits=1),
     "models_slices")
ui.export_all("models", ctx, ctx.preset, items)
