"""Browse's tiles: where each image's file is (or why it is not opened), what is drawn on
it, and the page's captions and notices.  Pure; no streamlit (PIL drawing only)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from analysis.definitions import SizeBucket
from dashboard.browsing import rows_of_image
from dashboard.draw import draw_matches, draw_persons, safe_image_path
from dashboard.paths import ImageRoots
from dashboard.predictions import detection_status, ground_truth_status
from dashboard.thumbnails import Thumbnail

#: The OKS at which a model's predictions are matched to the ground truth in Browse.
MATCH_OKS = 0.5
BOX_COLUMNS = ["bbox_x", "bbox_y", "bbox_w", "bbox_h"]
#: Streamlit colour names of the size buckets in the legend (their drawn colours are SizeBucket.color).
_LEGEND_COLORS = {SizeBucket.SMALL: "orange", SizeBucket.MEDIUM: "green", SizeBucket.LARGE: "blue"}


@dataclass(frozen=True)
class ImageFile:
    """Where a browsed image's file is, or why it is not opened.

    Attributes:
        path: the file to open, or None.
        problem: the tile's caption when ``path`` is None (after the image's label).
        no_root: ``dataset/split`` when the split was built without an image folder.
        refused_root: ``dataset/split (folder)`` when its folder is not an allowed root.
    """

    path: Path | None
    problem: str = ""
    no_root: str | None = None
    refused_root: str | None = None


def locate_image(dataset: str, split: str, file_name: str, root: Path | None, roots: ImageRoots) -> ImageFile:
    """The image's file under the split's image folder, if the folder is known and allowed
    and the name stays inside it."""
    if root is None:
        return ImageFile(None, "image file not available", no_root=f"{dataset}/{split}")
    if not roots.admits(root):
        return ImageFile(None, "image folder not allowed", refused_root=f"{dataset}/{split} ({root})")
    path = safe_image_path(file_name, root, roots)
    if path is None:
        return ImageFile(None, "file name leads outside the image folder: not opened")
    return ImageFile(path)


def draw_ground_truth(
    thumb: Thumbnail,
    persons: pd.DataFrame,
    crowd: pd.DataFrame,
    image_index: int,
    keypoints: np.ndarray,
    skeleton: list[tuple[int, int]],
) -> Image.Image:
    """The image's persons (boxes, skeletons coloured by size bucket) and crowd regions.

    Args:
        persons: filtered persons with ``image_index``, ``instance_row``, bbox and ``bucket``.
        crowd: crowd regions with ``image_index`` and bbox.
        keypoints: (N, 3K) keypoints of the image's split, rows as its instances file.
    """
    mine = rows_of_image(persons, image_index)
    rows = mine["instance_row"].to_numpy()
    boxes = mine[BOX_COLUMNS].to_numpy(dtype=float)
    regions = rows_of_image(crowd, image_index)[BOX_COLUMNS].to_numpy(dtype=float)
    return draw_persons(
        thumb.image,
        boxes,
        mine["bucket"].to_numpy(),
        keypoints[rows] if len(rows) else None,
        skeleton,
        regions,
        source_size=thumb.source_size,
    )


def draw_predictions(
    thumb: Thumbnail,
    image_id: int,
    keypoints: np.ndarray,
    skeleton: list[tuple[int, int]],
    boxes: pd.DataFrame,
    gt_matches: pd.DataFrame,
    det_matches: pd.DataFrame,
) -> Image.Image:
    """The image's ground truth beside a model's predictions, coloured by match status.

    Args:
        boxes: ``ann_id`` and bbox of every instance row of the split (rows as ``keypoints``).
        gt_matches, det_matches: the split's matches at ``MATCH_OKS`` (``data.matches``).
    """
    gt = gt_matches[gt_matches["image_id"].to_numpy() == image_id]
    rows = pd.Index(boxes["ann_id"]).get_indexer(gt["ann_id"])
    dets = det_matches[det_matches["image_id"].to_numpy() == image_id]
    det_kp = np.array(dets["keypoints"].tolist(), dtype=float).reshape(len(dets), -1)
    return draw_matches(
        thumb.image,
        boxes.iloc[rows][BOX_COLUMNS].to_numpy(dtype=float),
        keypoints[rows],
        ground_truth_status(gt),
        gt["oks"].to_numpy(dtype=float, na_value=np.nan),
        det_kp,
        detection_status(dets, gt_matches),
        dets["oks"].to_numpy(dtype=float, na_value=np.nan),
        skeleton,
        source_size=thumb.source_size,
    )


def legend_caption(model_label: str | None = None, definitions: str = "") -> str:
    """What the colours mean: size buckets, or match statuses when a model is drawn."""
    if model_label is None:
        legend = " ".join(f":{_LEGEND_COLORS[b]}[■] {b.value}" for b in SizeBucket)
        return f"Boxes and skeletons coloured by size bucket: {legend}; grey: unknown area; purple: crowd regions."
    return (
        f"{model_label}: ground truth (left) beside the predictions (right) at OKS {MATCH_OKS}: "
        ":blue[■ matched] (solid), :orange[■ missed] (dashed), :violet[■ false positive] (dotted), "
        ":gray[■ ignored] (dash-dot: crowd regions, persons without keypoints, detections matched "
        "to them); each label is the OKS of the match. Evaluation definitions: "
        f"{definitions}.".replace("*", "\\*")
    )


def refused_roots_warning(refused: Iterable[str]) -> str | None:
    """The warning for splits whose image folder is not an allowed root, or None."""
    names = sorted(set(refused))
    if not names:
        return None
    return (
        "Images not shown: the image folder recorded in these caches is not an allowed image root: "
        + ", ".join(names)
        + ". Register the folder in data/datasets.toml or start the "
        "dashboard with `python -m dashboard --image-root DIR` (never `/` or a system folder)."
    )


def missing_roots_info(missing: Iterable[str]) -> str | None:
    """How to record an image folder for splits built without one, or None."""
    names = sorted(set(missing))
    if not names:
        return None
    return (
        "No image folder recorded for " + ", ".join(names) + ". Rebuild with the "
        "images: `python -m analysis build --name NAME --split SPLIT --annotations FILE --images DIR` "
        '(or add `images = "..."` to the dataset in data/datasets.toml and run '
        "`python -m analysis build`)."
    )
