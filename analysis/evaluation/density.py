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
        pairs: same-image (detection, ground truth) pairs, persons in annotation order.
        oks: (P,) their OKS.
        gt_candidate: (G,) persons that can be one's own (non-crowd, labelled joints).
        n_det: D.
    """
    candidate = gt_candidate[pairs.gt] & (oks > 0)
    order = np.lexsort((pairs.gt, -oks, ~candidate, pairs.det))
    det_sorted = pairs.det[order]
    heads = order[np.r_[True, det_sorted[1:] != det_sorted[:-1]]] if len(order) else order
    heads = heads[candidate[heads]]
    own = np.full(n_det, -1, dtype=np.int64)
    own[pairs.det[heads]] = pairs.gt[heads]
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
    others = pairs.gt != own[pairs.det]
    det, gt = pairs.det[others], pairs.gt[others]
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
