"""Models: stored evaluations as the SmallPose Table 5, AP per slice and precision-recall curves."""

import streamlit as st

from dashboard import data, evaluations, paths, ui
from dashboard.exports import models as models_exports
from dashboard.exports.items import ExportItem
from dashboard.figures.models import MEAN_THRESHOLD, OKS_THRESHOLDS, REPORTED_LABEL, SLICES

ctx = ui.context()
st.title("Models")
root = paths.cache_root()
found = models_exports.stored_models(ctx)
if not found:
    split = ctx.filtered.filters.split
    keys = [k for k in ctx.caches.keys if k.dataset in ctx.datasets and (split is None or k.split == split)]
    st.info(
        "No stored evaluation for " + ", ".join(map(str, keys)) + ". Evaluate a results file "
        "(COCO keypoint results format) on a split:"
    )
    st.code("\n".join(evaluations.evaluate_command(k, root) for k in keys), language="bash")
    st.stop()

by_label = {m.label: m for m in found}
# every stored evaluation by default, as the export command takes them (legends show up to 12)
picked = st.multiselect("Evaluated models", list(by_label), default=list(by_label), key="models_sel")
entries = [by_label[label] for label in picked]
st.caption(
    f"{len(picked)} of {len(by_label)} stored evaluations shown (python -m dashboard.export takes all {len(by_label)})"
)
for entry in entries:
    if entry.stale:
        st.warning(
            f"{entry.label}: the annotations changed since this evaluation; its numbers are out of date. Re-run it:"
        )
        st.code(
            evaluations.evaluate_command(entry.key, root, entry.model, entry.record.predictions.path), language="bash"
        )
if not entries:
    st.info("Choose at least one evaluated model.")
    st.stop()

sources = evaluations.split_sources(root, sorted({e.key for e in entries}, key=str))
ALL_SOURCES = "all sources"
part = st.selectbox(
    "Source part (evaluate --by source)",
    [ALL_SOURCES, *sources],
    key="models_source",
    disabled=not sources,
    help="a composed split's numbers over one source's images (the images' source column)",
)
source = None if part == ALL_SOURCES else part
chosen = models_exports.evaluated(ctx, entries, load=lambda entry, size: data.model_result(entry, size, source))
if source is not None:
    st.caption(
        f"Every number below is over the images of source **{source}** only: each model's detections "
        "and persons of those images, matched as in the whole split."
    )
for line in chosen.errors:
    st.error(line)
for line in chosen.resliced:
    st.caption(line.replace("*", "\\*"))
if not chosen.models:
    st.stop()
definition_lines = [f"- {', '.join(labels)}: {desc}" for desc, labels in chosen.definitions.items()]
st.info(
    "**Evaluation definitions**\n\n"
    + "\n".join(definition_lines).replace("*", "\\*")
    + "\n\nSigmas and the OKS area are fixed by the stored evaluation (re-run `python -m analysis "
    "evaluate` to change them); the size definition follows the sidebar."
)

items: list[ExportItem] = []  # what this page shows, in order: the "export all" zip renders these


def show(item: ExportItem, key: str) -> None:
    items.append(item)
    ui.show(item, key=key, preset=ctx.preset)


with_intervals = any(m.result.bootstrap is not None for m in chosen.models)
style = "bracket"
if with_intervals:
    style = st.radio(
        "Intervals in Table 5",
        ["bracket", "pm", "none"],
        horizontal=True,
        key="models_ci_style",
        format_func={"bracket": "67.1 [66.4, 67.8]", "pm": "67.1 ± 0.7", "none": "none"}.get,
    )
computed, reported = models_exports.table5_items(chosen, style)
st.subheader("Table 5 layout (AP in %)")
if not with_intervals:
    st.caption(
        "No intervals stored: run `python -m analysis evaluate ... --bootstrap 1000` to add "
        "image-bootstrap intervals to every slice."
    )
show(computed, "models_t5")
st.markdown(
    f"**{REPORTED_LABEL[0].upper()}{REPORTED_LABEL[1:]}** (SimpleBaseline ResNet-50 tested on the "
    "SmallPose test set; not computed here)"
)
show(reported, "models_rep")
show(models_exports.ap_item(chosen), "models_bar")

c1, c2 = st.columns(2)
slice_name = c1.selectbox("Precision-recall slice", SLICES, key="models_pr_slice")
thresholds = [f"{t:.2f}" for t in OKS_THRESHOLDS]
threshold = c2.selectbox(
    "OKS threshold",
    [*thresholds, MEAN_THRESHOLD],
    key="models_pr_oks",
    format_func=lambda v: "mean over 0.50:0.95" if v == MEAN_THRESHOLD else v,
)
show(
    models_exports.pr_item(chosen, slice_name, threshold if threshold == MEAN_THRESHOLD else float(threshold)),
    "models_pr",
)

paired = models_exports.comparable(chosen)
if len(paired) >= 2:
    st.subheader("Paired comparison")
    c1, c2 = st.columns(2)
    reference = c1.selectbox("Reference model", [e.label for e in paired], key="models_cmp_ref")
    b = c2.number_input("Bootstrap resamples (B)", min_value=50, max_value=5000, value=200, step=50, key="models_cmp_b")
    if st.checkbox("Compute the paired comparison (same image resamples for every model)", key="models_cmp_on"):
        from analysis.evaluation.store import BootstrapSettings

        ordered = [e for e in paired if e.label == reference] + [e for e in paired if e.label != reference]
        for item in models_exports.comparison_items(ctx, ordered, BootstrapSettings(int(b), 0, 0.95)):
            show(item, f"models_cmp_{getattr(item, 'name', 'note')}")

with st.expander("Stored evaluations (what was evaluated, what was left out)"):
    show(models_exports.stored_item(chosen), "models_stored")

st.subheader("Every metric per slice")
show(models_exports.metrics_item(chosen), "models_slices")
ui.export_all("models", ctx, ctx.preset, items)
