"""A model's predictions against the ground truth, per person (pure; no streamlit).

Statuses at one OKS threshold (0.5 in the app), from the evaluation's greedy COCO
matching (``analysis.evaluation.matches_at``):

* a ground-truth person is *matched* when a detection was matched to it, *missed*
  when none was, and *ignored* when the protocol ignores it (``iscrowd`` or stored
  ``num_keypoints`` == 0): an ignored person is never a miss;
* a detection is *matched* when it was matched to a counted person, a *false
  positive* when it matched nothing, and *ignored* when it matched an ignored person
  (COCO counts it neither way) or ranks below the 20 best-scored detections of its
  image (the protocol never looks at those).
"""

from __future__ import annotations

import enum
from typing import TypedDict

import numpy as np
import numpy.typing as npt
import pandas as pd

from analysis.definitions import SizeBucket, SizeDefinition, person_area, size_bucket_codes
from analysis.evaluation.definitions import MAX_DETECTIONS


class MatchStatus(enum.StrEnum):
    """What a person or a detection is at the chosen OKS threshold."""

    MATCHED = "matched"
    MISSED = "missed"  #: ground truth only
    FALSE_POSITIVE = "false positive"  #: detections only
    IGNORED = "ignored"


#: Colour (Okabe & Ito, colour-blind safe) and line style (so it reads in greyscale).
class StatusStyle(TypedDict):
    color: str  #: a hex colour
    dash: tuple[int, ...]  #: dash pattern in pixels (on, off, ...); () solid


STATUS_STYLES: dict[MatchStatus, StatusStyle] = {
    MatchStatus.MATCHED: {"color": "#0072B2", "dash": ()},  # blue, solid
    MatchStatus.MISSED: {"color": "#D55E00", "dash": (7, 4)},  # vermillion, dashed
    MatchStatus.FALSE_POSITIVE: {"color": "#CC79A7", "dash": (2, 3)},  # reddish purple, dotted
    MatchStatus.IGNORED: {"color": "#777777", "dash": (7, 3, 2, 3)},  # grey, dash-dot
}


def _present(values: pd.Series) -> npt.NDArray[np.bool_]:
    """True where a match id is set (null / NaN / negative mean "no match")."""
    v = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    return np.isfinite(v) & (v >= 0)


def ground_truth_status(gt: pd.DataFrame) -> npt.NDArray[np.object_]:
    """(G,) ``MatchStatus`` per ground-truth row.

    Args:
        gt: rows with ``matched_det_id`` (null when unmatched) and ``ignored`` (bool).
    """
    ignored = gt["ignored"].to_numpy(dtype=bool)
    matched = _present(gt["matched_det_id"])
    out = np.full(len(gt), MatchStatus.MISSED, dtype=object)
    out[matched] = MatchStatus.MATCHED
    out[ignored] = MatchStatus.IGNORED
    return out


def detection_status(
    detections: pd.DataFrame,
    gt: pd.DataFrame,
    max_per_image: int = MAX_DETECTIONS,
) -> npt.NDArray[np.object_]:
    """(D,) ``MatchStatus`` per detection row.

    Args:
        detections: rows with ``image_id``, ``score`` and ``matched_ann_id`` (null when
            unmatched).
        gt: the ground truth the detections were matched to (``ann_id``, ``ignored``).
        max_per_image: the protocol evaluates only this many best-scored detections of
            an image (ties in row order); the others are *ignored*, never false positives.
    """
    matched = _present(detections["matched_ann_id"])
    ignored_ids = gt.loc[gt["ignored"].to_numpy(dtype=bool), "ann_id"].to_numpy()
    to_ignored = matched & np.isin(
        pd.to_numeric(detections["matched_ann_id"], errors="coerce").to_numpy(dtype=float, na_value=np.nan),
        ignored_ids.astype(float),
    )
    out = np.full(len(detections), MatchStatus.FALSE_POSITIVE, dtype=object)
    out[matched] = MatchStatus.MATCHED
    out[to_ignored] = MatchStatus.IGNORED
    rank = (
        detections.assign(_row=np.arange(len(detections)))
        .sort_values(["image_id", "score", "_row"], ascending=[True, False, True], kind="stable")
        .groupby("image_id", sort=False)
        .cumcount()
    )
    out[rank.sort_index().to_numpy() >= max_per_image] = MatchStatus.IGNORED
    return out


def images_missing_small(gt: pd.DataFrame, small_ann_ids: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """Image ids where the model misses at least one small person (sorted, unique).

    Args:
        gt: ground-truth rows of one split with ``image_id``, ``ann_id``,
            ``matched_det_id`` and ``ignored`` (from ``matches_at``).
        small_ann_ids: annotation ids of the split's small persons under the current
            size definition.
    """
    missed = ground_truth_status(gt) == MatchStatus.MISSED
    small = np.isin(gt["ann_id"].to_numpy(), np.asarray(small_ann_ids))
    return np.unique(gt["image_id"].to_numpy()[missed & small]).astype(np.int64)


def keypoint_boxes(keypoints: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """(D, 4) x, y, w, h of the box around each detection's keypoints.

    The box spans every predicted joint, whatever its score (pycocotools' ``loadRes``
    rule for keypoint results).

    Args:
        keypoints: (D, 3K) x, y, score.
    """
    kp = np.asarray(keypoints, dtype=np.float64)
    if kp.size == 0:
        return np.zeros((0, 4))
    kp = kp.reshape(len(kp), -1, 3)
    x0, x1 = kp[:, :, 0].min(axis=1), kp[:, :, 0].max(axis=1)
    y0, y1 = kp[:, :, 1].min(axis=1), kp[:, :, 1].max(axis=1)
    return np.column_stack([x0, y0, x1 - x0, y1 - y0])


def small_ann_ids(persons: pd.DataFrame, size: SizeDefinition) -> npt.NDArray[np.int64]:
    """Annotation ids of the small persons among ``persons`` under ``size``.

    Args:
        persons: rows with ``ann_id``, ``bbox_w``, ``bbox_h`` and ``segm_area`` (NaN when absent).
        size: area source and edges (a person without an area under it is not small).
    """
    area = person_area(
        persons["bbox_w"].to_numpy(),
        persons["bbox_h"].to_numpy(),
        persons["segm_area"].to_numpy(dtype=float, na_value=np.nan),
        size.area_source,
    )
    small = size_bucket_codes(area, size.edges) == SizeBucket.SMALL.code
    return persons["ann_id"].to_numpy()[small].astype(np.int64)
