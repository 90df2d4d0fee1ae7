"""Browse: the images behind the current filters, boxes and skeletons coloured by size bucket."""

from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st
from PIL import Image
from streamlit.delta_generator import DeltaGenerator

from analysis.cache.key import CacheKey
from analysis.cache.manifest import Manifest, images_root
from dashboard import browse_errors, data, evaluations, paths, ui
from dashboard.browse_files import empty_selection_message, with_image_files
from dashboard.browsing import browse_images, clamp, image_label, rows_of_image
from dashboard.caches import keypoint_schema
from dashboard.draw import draw_matches, draw_persons, safe_image_path
from dashboard.predictions import (
    detection_status,
    ground_truth_status,
    images_missing_small,
    small_ann_ids,
)
from dashboard.thumbnails import Thumbnail, ThumbnailError, open_thumbnail

PER_PAGE = 12
MATCH_OKS = 0.5
ctx = ui.context()
f = ctx.filtered
st.title("Browse")
images = f.images
what = "persons" if f.filters.bucket is None else f"{f.filters.bucket.value} persons"

n_max = int(images["n_selected"].max())
ci = images["crowd_index"].to_numpy(dtype=float)
ci_max = float(np.nanmax(ci)) if np.isfinite(ci).any() else 0.0
ci_max = max(ci_max, 0.01)
ent = images["entropy"].to_numpy(dtype=float)
has_entropy = bool(np.isfinite(ent).any())


def _range(
    container: DeltaGenerator, label: str, lo: float, hi: float, key: str, step: float | None = None
) -> tuple[float, float]:
    """A range slider whose stored value is clamped to the current bounds."""
    st.session_state[key] = clamp(st.session_state.get(key, (lo, hi)), lo, hi)
    # streamlit's overloads type the value from `value=` (unset: one number); with the pair held
    # in session_state under `key`, the slider returns that pair
    return container.slider(label, lo, hi, key=key, step=step)  # type: ignore[return-value]


# a bar clicked in another view sets the series and a range once
if "browse_series" in st.session_state:
    st.session_state["br_series"] = [k for k in st.session_state.pop("browse_series") if k in ctx.series]
st.session_state["br_series"] = [k for k in st.session_state.get("br_series", []) if k in ctx.series]
chosen = st.multiselect("Show", ctx.series, key="br_series", placeholder="every selected dataset",
                        format_func=ctx.label, help="A clicked histogram bar opens its own dataset only.")
if "browse_persons" in st.session_state:
    st.session_state["br_persons"] = st.session_state.pop("browse_persons")
if "browse_ci" in st.session_state:
    lo, hi = st.session_state.pop("browse_ci")
    st.session_state["br_ci"] = (round(lo, 2), round(hi, 2))
ci_top = round(ci_max + 0.01, 2)
c1, c2, c3 = st.columns(3)
persons_range = _range(c1, f"{what} per image", 0, max(n_max, 1), "br_persons")
ci_range = _range(c2, "CrowdIndex", 0.0, ci_top, "br_ci", step=0.01)
ent_range = None
if has_entropy:
    e_max = round(float(np.nanmax(ent)) + 0.01, 2)
    e_range = _range(c3, "scene entropy", 0.0, e_max, "br_ent", step=0.01)
    ent_range = None if tuple(e_range) == (0.0, e_max) else e_range
else:
    c3.caption("scene entropy: not computed (see the Scenes view)")
shown = browse_images(images, series=chosen or None, persons=persons_range, crowd_index=ci_range,
                      entropy=ent_range)

# A model's predictions: only the images of the split it was evaluated on.
root_dir = paths.cache_root()
split = f.filters.split
stored_models = evaluations.find_models(root_dir, [
    k for k in ctx.caches.keys if k.dataset in ctx.datasets and (split is None or k.split == split)])
for damaged in (m for m in stored_models if m.record.damaged):  # named, never drawn
    st.caption(f"{damaged.label}: not offered, its stored evaluation is damaged ({damaged.record.damaged}); "
               "evaluate it again")
by_label = {m.label: m for m in stored_models if not m.record.damaged}
m1, m2 = st.columns([2, 1])
choice = m1.selectbox("Model predictions", ["none", *by_label], key="br_model",
                      help="Draw a stored evaluation's predictions beside the ground truth "
                           "(python -m analysis evaluate).")
entry = by_label.get(choice)
gt_matches = det_matches = None
joint_error = "any"


@st.cache_resource(max_entries=2)
def _joint_classes(root: Path, key: CacheKey, model: str) -> pd.DataFrame:
    return browse_errors.stored_person_joint_classes(root, key, model, data.keypoints(key.dataset, key.split))


n_small = None  # small ground-truth persons, counted when "missed small persons" is asked
if entry is not None:
    det_matches, gt_matches = data.matches(entry, MATCH_OKS)
    shown = shown[(shown["key"] == str(entry.key)).to_numpy()]
    if m2.checkbox("missed small persons", key="br_missed_small",
                   help=f"Images where the model misses a small person ({f.filters.size.description}) "
                        f"at OKS {MATCH_OKS}."):
        key_persons = ctx.caches.persons[(ctx.caches.persons["dataset"] == entry.key.dataset).to_numpy()
                                         & (ctx.caches.persons["split"] == entry.key.split).to_numpy()]
        small_ids = small_ann_ids(key_persons, f.filters.size)
        n_small = len(small_ids)
        missed = images_missing_small(gt_matches, small_ids)
        shown = shown[shown["image_id"].isin(missed).to_numpy()]
    joint_error = m2.selectbox("joint error", ["any", *browse_errors.ERROR_CLASSES], key="br_joint_error",
                               help=f"Images with a {what[:-1]} whose joints have this error "
                                    "(docs/guides/diagnosis.md); ringed on the predictions.")
    if joint_error != "any":
        errs = browse_errors.with_error(_joint_classes(root_dir, entry.key, entry.model), joint_error,
                                        f.persons["ann_id"][(f.persons["dataset"] == entry.key.dataset).to_numpy()
                                                            & (f.persons["split"] == entry.key.split).to_numpy()])
        shown = shown[shown["image_id"].isin(errs["image_id"]).to_numpy()]
if st.checkbox("only images with files", key="br_with_files",
               help="Leave out images whose file is not found or may not be opened."):
    _roots = paths.image_roots()
    shown, without_files = with_image_files(shown, lambda d, sp, name: safe_image_path(
        name, images_root(ctx.caches.manifest(d, sp)), _roots))
    if without_files:
        st.caption(f"{without_files:,} image(s) without a file left out.")
st.write(f"**{len(shown):,}** images match ({ctx.caption()}).")
if entry is None:
    legend = " ".join(f":{c}[■] {b}" for b, c in
                      (("small", "orange"), ("medium", "green"), ("large", "blue")))
    st.caption(f"Boxes and skeletons coloured by size bucket: {legend}; grey: unknown area; "
               "purple: crowd regions.")
else:
    st.caption(f"{entry.label}: ground truth (left) beside the predictions (right) at OKS {MATCH_OKS}: "
               ":blue[■ matched] (solid), :orange[■ missed] (dashed), :violet[■ false positive] (dotted), "
               ":gray[■ ignored] (dash-dot: crowd regions, persons without keypoints, detections matched "
               "to them); each label is the OKS of the match. Evaluation definitions: "
               f"{entry.definitions.description}.".replace("*", "\\*"))
if not len(shown):
    st.warning(empty_selection_message(entry is not None and n_small is not None, n_small,
                                       f.filters.size.description))
    st.stop()



def _draw_predictions(thumb: Thumbnail, image_id: int, kp: np.ndarray, manifest: Manifest) -> Image.Image:
    """The image's ground truth beside the model's predictions, coloured by match status."""
    assert entry is not None and gt_matches is not None and det_matches is not None  # called with a model only
    boxes = data.instance_boxes(entry.key.dataset, entry.key.split)
    gt = gt_matches[gt_matches["image_id"].to_numpy() == image_id]
    rows = pd.Index(boxes["ann_id"]).get_indexer(gt["ann_id"])
    dets = det_matches[det_matches["image_id"].to_numpy() == image_id]
    det_kp = np.array(dets["keypoints"].tolist(), dtype=float).reshape(len(dets), -1)
    _, skeleton = keypoint_schema(manifest.keypoint_schema, kp.shape[1] // 3)
    drawn = draw_matches(
        thumb.image, boxes.iloc[rows][["bbox_x", "bbox_y", "bbox_w", "bbox_h"]].to_numpy(dtype=float), kp[rows],
        ground_truth_status(gt), gt["oks"].to_numpy(dtype=float, na_value=np.nan),
        det_kp, detection_status(dets, gt_matches), dets["oks"].to_numpy(dtype=float, na_value=np.nan), skeleton,
        source_size=thumb.source_size,
    )
    if joint_error == "any":
        return drawn
    return browse_errors.mark_joints(drawn, errs[errs["image_id"] == image_id], joint_error,
                                     thumb.source_size or thumb.image.size)


pages = (len(shown) - 1) // PER_PAGE + 1
st.session_state["br_page"] = min(max(1, int(st.session_state.get("br_page", 1))), pages)
page = st.number_input(f"page (of {pages})", 1, pages, key="br_page") if pages > 1 else 1
chunk = shown.iloc[(page - 1) * PER_PAGE: page * PER_PAGE]
persons = f.persons
crowd = ctx.caches.crowd_regions
image_roots = paths.image_roots()
n_cols = 3 if entry is None else 2  # ground truth beside predictions: wider images
cols = st.columns(n_cols)
missing_roots: set[str] = set()
refused_roots: set[str] = set()
for i, (idx, img) in enumerate(chunk.iterrows()):
    col = cols[i % n_cols]
    dataset, split = str(img["dataset"]), str(img["split"])
    manifest = ctx.caches.manifest(dataset, split)
    root = images_root(manifest)
    label = image_label(img, what)
    if root is None:
        missing_roots.add(f"{dataset}/{split}")
        col.caption(f"{label}: image file not available")
        continue
    if not image_roots.admits(root):
        refused_roots.add(f"{dataset}/{split} ({root})")
        col.caption(f"{label}: image folder not allowed")
        continue
    path = safe_image_path(str(img["file_name"]), root, image_roots)
    if path is None:
        col.caption(f"{label}: file name leads outside the image folder: not opened")
        continue
    try:  # one bad image (missing, corrupt, a decompression bomb) never stops the page
        kp = data.keypoints(dataset, split)
        if entry is not None:
            # reduced like every thumbnail, to the match drawing's panel size
            drawn = _draw_predictions(open_thumbnail(path, max_side=480), int(img["image_id"]), kp, manifest)
        else:
            thumb = open_thumbnail(path)
            mine = rows_of_image(persons, idx)
            rows = mine["instance_row"].to_numpy()
            _, skeleton = keypoint_schema(manifest.keypoint_schema, kp.shape[1] // 3)
            boxes = mine[["bbox_x", "bbox_y", "bbox_w", "bbox_h"]].to_numpy(dtype=float)
            cr = rows_of_image(crowd, idx)[["bbox_x", "bbox_y", "bbox_w", "bbox_h"]].to_numpy(dtype=float)
            drawn = draw_persons(thumb.image, boxes, mine["bucket"].to_numpy(), kp[rows] if len(rows) else None,
                                 skeleton, cr, source_size=thumb.source_size)
    except ThumbnailError as exc:
        col.caption(f"{label}: {exc}")
        continue
    col.image(drawn, caption=label)
if refused_roots:
    st.warning(
        "Images not shown: the image folder recorded in these caches is not an allowed image root: "
        + ", ".join(sorted(refused_roots)) + ". Register the folder in data/datasets.toml or start the "
        "dashboard with `python -m dashboard --image-root DIR` (never `/` or a system folder)."
    )
for line in image_roots.refused:
    st.warning(f"Image root refused: {line}")
if missing_roots:
    st.info(
        "No image folder recorded for " + ", ".join(sorted(missing_roots)) + ". Rebuild with the "
        "images: `python -m analysis build --name NAME --split SPLIT --annotations FILE --images DIR` "
        "(or add `images = \"...\"` to the dataset in data/datasets.toml and run "
        "`python -m analysis build`)."
    )
