"""Panels export: ground truth beside a stored model's predictions for the images the URL names
(``images=ID,ID``; ``model=LABEL``, default the first stored evaluation of the selection), each
cropped around its persons that pass the URL's filters (e.g. ``bucket=small``).  No streamlit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from analysis.cache.key import CacheKey
from analysis.cache.manifest import images_root
from analysis.errors import PoseAtlasError
from dashboard import evaluations, paths
from dashboard.caches import keypoint_schema
from dashboard.draw import safe_image_path
from dashboard.evaluations import StoredModel
from dashboard.exports.items import ExportItem, FigureItem, Note
from dashboard.exports.models import stored_models
from dashboard.exports.state import ViewState
from dashboard.figures.panels import CROP_PAD, PanelInput, draw_panel, panels_figure
from dashboard.predictions import detection_status, ground_truth_status
from dashboard.thumbnails import ThumbnailError, open_thumbnail

MATCH_OKS = 0.5
#: Decoded at most this large along the longer side (crops keep their detail; bombs are refused).
MAX_SIDE = 4096

CAPTION = (
    "Left: ground truth; right: the predictions of {model} ({key}), matched at OKS 0.5: blue solid matched, "
    "vermillion dashed missed, reddish-purple dotted false positive, grey dash-dot ignored (crowd regions, persons "
    "without keypoints, detections matched to them, detections past the 20 best of an image); each label is the "
    "OKS of the match; each image cropped around its persons that pass the filters ({filters}), with a margin of "
    f"{CROP_PAD:.0%} of their box"
)


def exports(state: ViewState) -> list[ExportItem]:
    """One figure of every image the URL names, in its order.  What was asked and cannot be drawn
    (an unknown image id or model, an image file that may not or cannot be read) is bad input."""
    ids = state.options.panel_images
    if not ids:
        return [Note("panels: name the images in the URL: images=ID,ID (and model=LABEL; "
                     "see docs/guides/diagnosis.md)")]  # fmt: skip
    entry = _panel_model(state)
    images = _of_split(state.caches.images, entry.key)
    missing = [i for i in ids if i not in set(images["image_id"].tolist())]
    if missing:
        raise PoseAtlasError(f"panels: image id {', '.join(map(str, missing))} not in {entry.key}")
    manifest = state.caches.manifest(entry.key.dataset, entry.key.split)
    root, roots = images_root(manifest), paths.image_roots()
    dets, gts = evaluations.model_matches(state.root, entry, MATCH_OKS)
    keypoints = state.keypoints(entry.key.dataset, entry.key.split) if state.keypoints else None
    all_persons = _of_split(state.caches.persons, entry.key)
    chosen_ids = set(
        state.filtered.persons["ann_id"][
            (state.filtered.persons["dataset"] == entry.key.dataset)
            & (state.filtered.persons["split"] == entry.key.split)
        ]
    )
    drawn = []
    for image_id in ids:
        row = images[images["image_id"] == image_id].iloc[0]
        image = _full_size_image(image_id, entry.key, str(row["file_name"]), root, roots)
        gt = gts[gts["image_id"].to_numpy() == image_id]
        gt = gt[gt["ann_id"].isin(all_persons["ann_id"]).to_numpy()]  # crowd regions are not drawn
        boxes = all_persons.set_index("ann_id").reindex(gt["ann_id"])
        box = boxes[["bbox_x", "bbox_y", "bbox_w", "bbox_h"]].to_numpy(dtype=float)
        rows = boxes["instance_row"].to_numpy()
        det = dets[dets["image_id"].to_numpy() == image_id]
        det_kp = np.array(det["keypoints"].tolist(), dtype=float).reshape(len(det), -1)
        gt_kp = keypoints[rows.astype(np.int64)] if keypoints is not None and not pd.isna(rows).any() else None
        _, skeleton = keypoint_schema(manifest.keypoint_schema, det_kp.shape[1] // 3 if len(det) else 17)
        drawn.append(draw_panel(PanelInput(
            f"{entry.key} image {image_id}", image, np.nan_to_num(box), gt_kp, ground_truth_status(gt),
            gt["oks"].to_numpy(dtype=float, na_value=np.nan), det_kp, detection_status(det, gts),
            det["oks"].to_numpy(dtype=float, na_value=np.nan), gt["ann_id"].isin(chosen_ids).to_numpy(),
        ), skeleton))  # fmt: skip
    caption = CAPTION.format(model=entry.model, key=entry.key, filters=state.filtered.filters.description)
    return [FigureItem("panels", panels_figure(drawn, caption=caption))]


def _panel_model(state: ViewState) -> StoredModel:
    """The stored evaluation the URL's ``model=`` names (default: the selection's first undamaged one)."""
    entries = [e for e in stored_models(state) if not e.record.damaged]
    wanted = state.options.panel_model
    entry = next((e for e in entries if not wanted or e.model == wanted), None)
    if entry is None:
        have = ", ".join(e.model for e in entries) or "none"
        raise PoseAtlasError(
            f"panels: no stored evaluation {wanted or ''} for the selected datasets "
            f"(stored: {have}; python -m analysis evaluate)"
        )
    return entry


def _of_split(frame: pd.DataFrame, key: CacheKey) -> pd.DataFrame:
    """The rows of one split."""
    return frame[(frame["dataset"] == key.dataset).to_numpy() & (frame["split"] == key.split).to_numpy()]


def _full_size_image(
    image_id: int, key: CacheKey, file_name: str, root: Path | None, roots: paths.ImageRoots
) -> Image.Image:
    """The image file, decoded (at most ``MAX_SIDE``) and shown at its full size (the persons' coordinates)."""
    path = safe_image_path(file_name, root, roots)
    if path is None:
        raise PoseAtlasError(
            f"panels: image {image_id} of {key}: its file is not under an allowed image "
            "root (--image-root DIR or POSEATLAS_IMAGE_ROOTS)"
        )
    try:
        picture = open_thumbnail(path, max_side=MAX_SIDE)
    except ThumbnailError as exc:
        raise PoseAtlasError(f"panels: image {image_id} of {key} ({path}): {exc}") from None
    return picture.image.resize(picture.source_size) if picture.image.size != picture.source_size else picture.image
