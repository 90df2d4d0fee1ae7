"""A detection's own density: the person crowding ratio N_b / N_a, mirrored for predictions.

No evaluation tool defines which unmatched detections count against a density
slice (sparse / moderate / dense small persons).  PoseAtlas gives every
detection a density built like the ground truth's, and an unmatched detection
counts against the level its density falls in (and, like pycocotools' size
rule, only against the size bucket its own area falls in):

- its *own person* is the non-crowd person of its image with labelled joints
  and the highest OKS to it (the first in annotation order on ties), when that
  OKS is above 0: the person the prediction most resembles;
- N_b = labelled joints (v > 0) of every other annotation of the image, crowd
  regions included, inside the box around the detection's predicted keypoints,
  edges included (the persons' rule, with the keypoint box as the person's box);
- N_a = the own person's labelled joints, else (no own person) the detection's
  joint count K, since a prediction places every joint.

So a false positive on or near a dense small person counts against the dense
level, as a miss of that person does, and one on empty background counts
against the sparse level.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from analysis.evaluation.engine import Pairs

_CHUNK = 1 << 16


def own_person(
    pairs: Pairs, oks: npt.NDArray[np.float64], gt_candidate: npt.NDArray[np.bool_], n_det: int
) -> npt.NDArray[np.int64]:
    """(D,) each detection's own person row, -1 when none.

    Args:
        pairs: same-image pairs grouped by detection, persons in annotation order
            (as :func:`~analysis.evaluation.engine.same_image_pairs` makes them).
        oks: (P,) their OKS.
        gt_candidate: (G,) persons that can be one's own (non-crowd, labelled joints).
        n_det: D.
    """
    own = np.full(n_det, -1, dtype=np.int64)
    if not len(pairs.det):
        return own
    candidate = gt_candidate[pairs.gt] & (oks > 0)
    new_det = np.r_[True, pairs.det[1:] != pairs.det[:-1]]
    starts = np.flatnonzero(new_det)
    segment = np.cumsum(new_det) - 1
    value = np.where(candidate, oks, -1.0)
    best = np.maximum.reduceat(value, starts)
    hit = candidate & (value == best[segment])
    first = np.minimum.reduceat(np.where(hit, np.arange(len(value)), len(value)), starts)
    found = best > 0
    own[pairs.det[starts[found]]] = pairs.gt[first[found]]
    return own


def detection_density(
    det_keypoints: npt.NDArray[np.float64],
    gt_keypoints: npt.NDArray[np.floating],
    gt_crowd: npt.NDArray[np.bool_],
    pairs: Pairs,
    oks: npt.NDArray[np.float64],
) -> npt.NDArray[np.float64]:
    """(D,) each detection's density N_b / N_a (module docstring).

    Args:
        det_keypoints: (D, K, 3) predicted x, y, score.
        gt_keypoints: (G, K, 3) ground-truth x, y, v.
        gt_crowd: (G,) crowd regions.
        pairs: every same-image (detection, ground truth) pair.
        oks: (P,) their OKS.
    """
    n_det, n_joints = det_keypoints.shape[:2]
    labelled = gt_keypoints[:, :, 2] > 0
    n_labelled = labelled.sum(axis=1)
    own = own_person(pairs, oks, ~gt_crowd & (n_labelled > 0), n_det)
    x0, x1 = det_keypoints[:, :, 0].min(axis=1), det_keypoints[:, :, 0].max(axis=1)
    y0, y1 = det_keypoints[:, :, 1].min(axis=1), det_keypoints[:, :, 1].max(axis=1)
    # Only persons whose labelled-joint extent meets the box can have a joint inside it.
    with np.errstate(invalid="ignore"):
        gx = np.where(labelled, gt_keypoints[:, :, 0], np.nan)
        gy = np.where(labelled, gt_keypoints[:, :, 1], np.nan)
    has = n_labelled > 0
    ext = np.full((len(n_labelled), 4), np.nan)
    if has.any():
        ext[has] = np.stack(
            [np.nanmin(gx[has], 1), np.nanmax(gx[has], 1), np.nanmin(gy[has], 1), np.nanmax(gy[has], 1)], 1
        )
    d_all, g_all = pairs.det, pairs.gt
    meets = (
        (pairs.gt != own[d_all]) & has[g_all]
        & (ext[g_all, 0] <= x1[d_all]) & (ext[g_all, 1] >= x0[d_all])
        & (ext[g_all, 2] <= y1[d_all]) & (ext[g_all, 3] >= y0[d_all])
    )  # fmt: skip
    det, gt = d_all[meets], g_all[meets]
    n_inside = np.zeros(n_det, dtype=np.float64)
    for lo in range(0, len(det), _CHUNK):
        d, g = det[lo : lo + _CHUNK], gt[lo : lo + _CHUNK]
        kx, ky = gt_keypoints[g, :, 0], gt_keypoints[g, :, 1]
        inside = (
            labelled[g]
            & (kx >= x0[d, None]) & (kx <= x1[d, None])
            & (ky >= y0[d, None]) & (ky <= y1[d, None])
        )  # fmt: skip
        n_inside += np.bincount(d, weights=inside.sum(axis=1), minlength=n_det)
    own_labelled = n_labelled[np.maximum(own, 0)] if len(n_labelled) else np.zeros(n_det, np.int64)
    n_a = np.where(own >= 0, own_labelled, n_joints).astype(np.float64)
    return n_inside / n_a
