"""Browse by keypoint error: which persons a stored model gets wrong in which way, and where.

Each person of the evaluation (crowd regions and persons without keypoints excluded) that a
detection matches at the localisation OKS 0.1 gets its joints classified as in
``python -m analysis diagnose`` (good, jitter, inversion, swap, miss; the "all" slice's
matching).  Browse keeps the images holding a chosen person with a joint of the chosen class and
rings those joints on the predictions.  Pure: no streamlit.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
from PIL import Image, ImageDraw

from analysis.cache import contract as cache
from analysis.cache.contract import CacheKey
from analysis.cache.manifest import read_manifest
from analysis.evaluation.definitions import GT_COLUMNS
from analysis.evaluation.diagnose import JOINT_CLASSES, LOCALIZATION_OKS, classify_joints, diagnosis_input
from analysis.evaluation.engine import greedy_match, match_input
from analysis.evaluation.slices import base_ignore
from analysis.evaluation.store import StoredEvaluation
from dashboard.figures.errors import CLASS_COLORS

#: The classes Browse filters on (good is not an error).
ERROR_CLASSES = tuple(c for c in JOINT_CLASSES if c != "good")


def person_joint_classes(
    stored: StoredEvaluation, instances: pd.DataFrame, gt_keypoints: npt.NDArray[np.floating],
    joint_names: Sequence[str],
) -> pd.DataFrame:  # fmt: skip
    """One row per person matched at OKS 0.1: ``ann_id``, ``image_id``, ``det_id``, ``classes``
    ((K,) int8 index into ``JOINT_CLASSES``, -1 for joints the person has not labelled) and
    ``det_xy`` ((K, 2) the predicted joints)."""
    prep, inp = diagnosis_input(stored, instances, gt_keypoints, tuple(joint_names))
    ignore = base_ignore(prep.gt)
    pairs = match_input(inp.pair_det, inp.pair_gt, inp.pair_oks, inp.det_rank, len(ignore), LOCALIZATION_OKS)
    loc = greedy_match(pairs, ignore[None, :], inp.gt_crowd, np.array([LOCALIZATION_OKS]))[0, 0].astype(np.int64)
    person = np.maximum(loc, 0)
    det_rows = np.flatnonzero((loc >= 0) & ~ignore[person] & inp.gt_has_joints[person])
    gt_rows = loc[det_rows]
    classes, _, _ = classify_joints(inp, det_rows, gt_rows)
    return pd.DataFrame(
        {
            "ann_id": prep.gt["ann_id"].astype(np.int64)[gt_rows],
            "image_id": inp.gt_image[gt_rows],
            "det_id": inp.det_id[det_rows],
            "classes": list(classes),
            "det_xy": list(inp.det_keypoints[det_rows, :, :2]),
        }
    )


def read_person_joint_classes(root: Path, key: CacheKey, stored: StoredEvaluation,
                              keypoints: npt.NDArray[np.floating]) -> pd.DataFrame:  # fmt: skip
    """:func:`person_joint_classes` of a cached split (``keypoints``: its (N, 3K) instance keypoints)."""
    instances = cache.read_instances(root, key, columns=GT_COLUMNS)
    manifest = read_manifest(root, key)
    names = list(manifest.keypoint_schema.joint_names) if manifest is not None else []
    gt = np.asarray(keypoints, dtype=np.float64).reshape(len(instances), -1, 3)
    return person_joint_classes(stored, instances, gt, names)


def stored_person_joint_classes(root: Path, key: CacheKey, model: str,
                                keypoints: npt.NDArray[np.floating]) -> pd.DataFrame:  # fmt: skip
    """:func:`read_person_joint_classes` of a stored evaluation, read from the cache root."""
    from analysis.evaluation import store

    return read_person_joint_classes(root, key, store.read_evaluation(root, key, model), keypoints)


def with_error(classes: pd.DataFrame, error: str, ann_ids: npt.ArrayLike) -> pd.DataFrame:
    """The rows of the persons in ``ann_ids`` with at least one joint of class ``error``."""
    code = JOINT_CLASSES.index(error)
    has = np.array([bool((c == code).any()) for c in classes["classes"]], dtype=bool)
    return classes[has & classes["ann_id"].isin(np.asarray(ann_ids)).to_numpy()]


def mark_joints(drawn: Image.Image, rows: pd.DataFrame, error: str, source_size: tuple[int, int],
                max_side: int = 480, gap: int = 6) -> Image.Image:  # fmt: skip
    """Rings, in the class colour, around the predicted joints of class ``error`` of ``rows`` on the
    predictions half of a ``dashboard.draw.draw_matches`` drawing (same ``max_side`` and ``gap``)."""
    out = drawn.copy()
    draw = ImageDraw.Draw(out)
    scale = min(1.0, max_side / max(source_size))
    half = (out.width - gap) // 2
    code = JOINT_CLASSES.index(error)
    radius = max(5.0, 6.0 * scale)
    for classes, xy in zip(rows["classes"], rows["det_xy"], strict=True):
        for x, y in np.asarray(xy)[np.asarray(classes) == code] * scale:
            cx = half + gap + x
            draw.ellipse([cx - radius, y - radius, cx + radius, y + radius], outline=CLASS_COLORS[error], width=2)
    return out
