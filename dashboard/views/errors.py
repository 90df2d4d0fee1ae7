"""Errors: why detections fail (joint classes, the AP each error type costs), per model and slice."""

import streamlit as st

from analysis.evaluation.slices import SLICE_NAMES
from dashboard import ui
from dashboard.exports import errors

ctx = ui.context()
st.title("Errors")
entries = errors.stored_models(ctx)
if not entries:
    st.info(
        "No stored evaluation for the selected datasets: run `python -m analysis evaluate` (docs/guides/diagnosis.md)."
    )
    st.stop()
by_label = {e.label: e for e in entries}
picked = st.multiselect("Evaluated models", list(by_label), default=list(by_label)[:3], key="errors_sel")
with st.spinner("Diagnosing ..."):
    models, problems = errors.diagnosed(ctx, [by_label[label] for label in picked])
for line in problems:
    st.error(line)
if not models:
    st.info("Choose at least one evaluated model.")
    st.stop()
slice_name = st.selectbox(
    "Slice of the ΔAP waterfall", SLICE_NAMES, index=SLICE_NAMES.index("small"), key="errors_slice"
)
at_oks = st.toggle(f"At OKS {models[0].diagnosis.oks:.2f} (else 0.50:0.95)", key="errors_at_oks")
items = [
    errors.composition_item(models),
    errors.waterfall_item(models, slice_name, at_oks),
    errors.delta_ap_item(models, at_oks),
    errors.composition_table_item(models),
    *errors.per_joint_items(models),
    *errors.ap_by_threshold_items(ctx, [by_label[label] for label in picked]),
    *errors.size_items(models),
    *errors.calibration_items(models, slice_name),
]
for n, item in enumerate(items):
    ui.show(item, key=f"errors_{n}", preset=ctx.preset)
ui.export_all("errors", ctx, ctx.preset, items)
