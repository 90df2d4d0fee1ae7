"""Why detections fail: the coco-analyze keypoint error taxonomy and its oracle, per slice.

For every slice of an evaluation (the slices of ``evaluate``), following
coco-analyze (matteorr/coco-analyze, ``pycocotools/cocoanalyze.py``) step for
step, vectorised:

1. **Localisation match.**  Detections are matched to persons by the slice's
   greedy COCO matching at OKS :data:`LOCALIZATION_OKS` (0.1).  A matched
   detection whose person has labelled joints is *analysed*.
2. **Joint classes.**  For each labelled joint of the matched person, the
   keypoint similarity ks = exp(-d^2 / (2 * area * (2 sigma)^2)) of the predicted
   joint is taken against the person's own joint, the person's left/right
   mirrored joint, and the joints (and mirrored joints) of every other person of
   the image (each on its own scale).  With m the highest of these ks:
   **good** m > 0.85 on its own joint; **jitter** 0.5 <= m < 0.85 on its own
   joint; **inversion** m >= 0.5 on the mirrored joint of the same person;
   **swap** m >= 0.5 on a joint of another person; **miss** m < 0.5.
3. **Oracle corrections**, cumulative in the order miss -> swap -> inversion ->
   jitter: the joints of the class are moved onto the matched person's joint,
   offset along x by sqrt(-2 ln(k) * area * sigma^2) (coco-analyze's placement;
   k = 0.5 for a miss, 0.85 for jitter, m for an inversion or a swap).  Then
   **score**: every detection's score becomes its highest OKS (corrected
   keypoints) with a person the slice keeps, decayed by soft non-maximum
   suppression within its image (score * exp(-OKS^2 / 0.5) against each better
   detection, OKS between the two detections on their mean keypoint-box area).
   Then **background FP**: detections that match no person at a threshold are
   ignored at it.  Then **FN**: persons no detection matches at a threshold (or
   a lower one) are removed at it.  The AP after each step is the AP with that
   correction and all earlier ones.

Differences from coco-analyze (documented in docs/guides/diagnosis.md): every
slice (coco-analyze covers only areas >= 32^2); joint counts of a slice count
only detections matched to a person the slice keeps (coco-analyze's medium and
large counts include detections matched to persons outside the range, whose
corrections it also applies, as this module does); the soft-NMS of a slice uses
that slice's corrected keypoints (coco-analyze uses the last range's).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

from analysis.datasets.keypoint_mapping import canonical_joint_name
from analysis.definitions import person_area
from analysis.errors import PoseAtlasError
from analysis.evaluation.definitions import OKS_THRESHOLDS, EvaluationDefinitions
from analysis.evaluation.engine import Pairs, accumulate, greedy_match, match_input, oks_pairs, same_image_pairs
from analysis.evaluation.size_curve import SizeCurve, size_curve
from analysis.evaluation.slices import (
    _MATCHED_SLICES,
    CROWD_SLICES,
    SLICE_NAMES,
    _prepare,
    _Prepared,
    _slice_masks,
    base_ignore,
    crowd_level_of_images,
)
from analysis.evaluation.store import StoredEvaluation

#: The OKS at which detections are matched to persons for the joint classes.
LOCALIZATION_OKS = 0.1
#: ks edges: miss below the first, jitter between, good above the second.
JITTER_KS = (0.5, 0.85)
#: Joint classes, in table order.
JOINT_CLASSES = ("good", "jitter", "inversion", "swap", "miss")
#: Keypoint error types in the order the oracle corrects them.
KEYPOINT_ERRORS = ("miss", "swap", "inversion", "jitter")
#: AP steps: the original AP, then after each cumulative correction.
STEPS = ("base", *KEYPOINT_ERRORS, "score", "background_fp", "false_negatives")
#: soft-NMS decay: score * exp(-OKS^2 / SOFT_NMS_SIGMA) (the soft-NMS paper's 0.5, as coco-analyze).
SOFT_NMS_SIGMA = 0.5
DEFAULT_OKS = 0.75
#: Reliability bins: equal width over [0, 1] (scores above 1 fall in the last bin, below 0 in the first).
CALIBRATION_BINS = 10

DEFINITIONS_TEXT = (
    "joint classes over labelled joints of detections matched at OKS 0.1 to a person of the slice: "
    "good ks > 0.85 on its own joint, jitter 0.5 <= ks < 0.85 on its own joint, inversion ks >= 0.5 on the "
    "left/right-mirrored joint of the same person, swap ks >= 0.5 on a joint of another person, miss ks < 0.5 "
    "(ks = exp(-d^2 / (2 area (2 sigma)^2))); oracle, cumulative: miss -> swap -> inversion -> jitter (joints "
    "moved onto the person's joint, offset along x by sqrt(-2 ln(k) area sigma^2), k = 0.5 miss, 0.85 jitter, "
    "the best ks for inversion/swap) -> score (best OKS with a person of the slice, soft-NMS within the image) "
    "-> background FP (detections matching nobody at a threshold ignored) -> FN (persons matched by nobody "
    "at a threshold removed); AP after each step includes all earlier corrections"
)


def mirror_index(joint_names: list[str] | tuple[str, ...]) -> npt.NDArray[np.int64] | None:
    """(K,) index of each joint's left/right mirror (itself for middle joints); None
    when the names have no ``left_*``/``right_*`` pair (then there is no inversion class)."""
    names = [canonical_joint_name(n) for n in joint_names]
    where = {n: i for i, n in enumerate(names)}
    mirror = np.arange(len(names), dtype=np.int64)
    found = False
    for i, name in enumerate(names):
        for side, other in (("left_", "right_"), ("right_", "left_")):
            if name.startswith(side) and other + name[len(side) :] in where:
                mirror[i] = where[other + name[len(side) :]]
                found = True
    return mirror if found else None


@dataclass(frozen=True)
class SliceDiagnosis:
    """One slice's diagnosis (``None`` AP values where the slice has no ground truth)."""

    joints: dict[str, int]
    matched_detections: int
    background_fp: int
    false_negatives: int
    n_gt: int
    ap: dict[str, float | None]
    ap_at_oks: dict[str, float | None]
    #: joint name -> {"n", "ks_0.5", "ks_0.85", "mean_ks"}: over the labelled joints of persons of the
    #: slice matched at OKS 0.5, how many, the shares with ks >= 0.5 and >= 0.85, the mean ks (None: n = 0).
    per_joint: dict[str, dict[str, float | int | None]] = field(default_factory=dict)
    #: {"n", "ece", "mce", "bins": [{"lo", "hi", "n", "confidence", "accuracy"}]}: detection scores against
    #: "matched at OKS 0.5" over the detections the slice counts at 0.5 (ece/mce None without any).
    calibration: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {
            "joints": dict(self.joints),
            "matched_detections": self.matched_detections,
            "background_fp": self.background_fp,
            "false_negatives": self.false_negatives,
            "n_gt": self.n_gt,
            "ap": dict(self.ap),
            "ap_at_oks": dict(self.ap_at_oks),
            "per_joint": {name: dict(v) for name, v in self.per_joint.items()},
            "calibration": self.calibration,
        }


@dataclass(frozen=True)
class Diagnosis:
    """Every slice's diagnosis of one model."""

    model: str
    definitions: EvaluationDefinitions
    oks: float  #: the single threshold of ``ap_at_oks``
    inversion: bool  #: False when the schema has no left/right joint pairs
    slices: dict[str, SliceDiagnosis]
    #: AP and missed persons per fine bin of sqrt(area) (``analysis.evaluation.size_curve``).
    by_size: SizeCurve | None = None

    def to_json(self) -> dict:
        """The ``--json`` document of ``python -m analysis diagnose``."""
        definitions = self.definitions.to_json()
        definitions["diagnosis"] = DEFINITIONS_TEXT
        definitions["diagnosis_oks"] = self.oks
        if not self.inversion:
            definitions["inversion"] = "the keypoint schema has no left_*/right_* joint pairs: no inversion class"
        doc = {
            "model": self.model,
            "definitions": definitions,
            "slices": {name: self.slices[name].to_json() for name in SLICE_NAMES},
        }
        if self.by_size is not None:
            doc["ap_by_size"] = self.by_size.to_json()
        return doc


@dataclass(frozen=True)
class DiagnosisInput:
    """Detections (in the global accumulation order), persons and their same-image pairs."""

    det_id: npt.NDArray[np.int64]
    det_image: npt.NDArray[np.int64]
    det_rank: npt.NDArray[np.int64]
    det_keypoints: npt.NDArray[np.float64]  #: (D, K, 3)
    det_score: npt.NDArray[np.float64]  #: (D,)
    gt_image: npt.NDArray[np.int64]
    gt_keypoints: npt.NDArray[np.float64]  #: (G, K, 3)
    gt_bbox: npt.NDArray[np.float64]  #: (G, 4)
    gt_area: npt.NDArray[np.float64]  #: (G,) OKS area
    gt_crowd: npt.NDArray[np.bool_]
    gt_has_joints: npt.NDArray[np.bool_]  #: num_keypoints > 0 (others cannot be analysed)
    pair_det: npt.NDArray[np.int64]
    pair_gt: npt.NDArray[np.int64]
    pair_oks: npt.NDArray[np.float64]
    sigmas: npt.NDArray[np.float64]
    mirror: npt.NDArray[np.int64] | None


@dataclass(frozen=True)
class _Step:
    """One AP step of one matched slice: matches at every threshold, detections in their order."""

    order: npt.NDArray[np.int64]  #: (D,) detection rows in accumulation order
    matched: npt.NDArray[np.bool_]  #: (T, D) by detection row
    ignored: npt.NDArray[np.bool_]  #: (T, D) by detection row
    gt_counted: npt.NDArray[np.bool_]  #: (T, G) persons that count at each threshold


@dataclass(frozen=True)
class _Raw:
    """A matched slice's per-detection and per-person outcome, before restriction to images."""

    classes: npt.NDArray[np.int64]  #: (D, 5) joints per class of each counted detection (0 elsewhere)
    counted: npt.NDArray[np.bool_]  #: (D,) analysed and matched to a person the slice keeps
    background: npt.NDArray[np.bool_]  #: (D,) in the slice, matched to nobody at OKS 0.1
    missed: npt.NDArray[np.bool_]  #: (G,) kept by the slice, matched by nobody at OKS 0.1
    kept: npt.NDArray[np.bool_]  #: (G,)
    steps: dict[str, _Step]
    joint_ks: npt.NDArray[np.float64]  #: (G, K) ks of kept persons' joints matched at OKS 0.5, NaN elsewhere


def classify_joints(
    inp: DiagnosisInput, det_rows: npt.NDArray[np.int64], gt_rows: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.float64], Pairs]:
    """Joint classes of matched (detection, person) rows and where the oracle puts each joint.

    Args:
        inp: the evaluation.
        det_rows, gt_rows: (A,) analysed detections and their matched persons (a detection
            may appear more than once, matched to different persons in different slices).

    Returns:
        (classes, corrected, pairs): (A, K) index into :data:`JOINT_CLASSES` (-1 for joints
        the person has not labelled, or ks exactly 0.85 on its own joint, which coco-analyze
        leaves unclassified); (A, K, 2) the oracle position; every (row, person) pair of the
        same image, grouped by row.
    """
    pairs = same_image_pairs(inp.det_image[det_rows], inp.gt_image)
    prow, pgt = pairs.det, pairs.gt
    k = inp.sigmas.shape[0]
    variances = (inp.sigmas * 2) ** 2
    dxy = inp.det_keypoints[det_rows[prow], :, :2]
    scale = (inp.gt_area[pgt] + np.spacing(1))[:, None]

    def ks(gt_joints: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        d2 = (gt_joints[:, :, 0] - dxy[:, :, 0]) ** 2 + (gt_joints[:, :, 1] - dxy[:, :, 1]) ** 2
        return np.where(gt_joints[:, :, 2] > 0, np.exp(-d2 / variances / scale / 2), -1.0)

    gk = inp.gt_keypoints[pgt]
    own_all = ks(gk)
    inv_all = ks(gk[:, inp.mirror]) if inp.mirror is not None else np.full_like(own_all, -np.inf)
    is_match = pgt == gt_rows[prow]
    own = np.empty((len(det_rows), k))
    inv = np.empty((len(det_rows), k))
    own[prow[is_match]] = own_all[is_match]
    inv[prow[is_match]] = inv_all[is_match]
    starts = np.flatnonzero(np.r_[True, prow[1:] != prow[:-1]]) if len(prow) else np.zeros(0, np.int64)
    other = np.full((len(det_rows), k), -np.inf)
    other_inv = np.full((len(det_rows), k), -np.inf)
    if len(prow):
        other[prow[starts]] = np.maximum.reduceat(np.where(is_match[:, None], -np.inf, own_all), starts, axis=0)
        other_inv[prow[starts]] = np.maximum.reduceat(np.where(is_match[:, None], -np.inf, inv_all), starts, axis=0)

    best = np.maximum(np.maximum(own, inv), np.maximum(other, other_inv))
    best = np.where(best < 0, 0.0, best)
    # coco-analyze takes the first row of the highest ks: own joint, other persons, own mirror, others' mirrors.
    on_own = (own >= inv) & (own >= other) & (own >= other_inv)
    on_mirror = (inv > own) & (inv > other) & (inv >= other_inv)
    gt_v = inp.gt_keypoints[gt_rows, :, 2] > 0
    lo, hi = JITTER_KS
    classes = np.full(own.shape, -1, dtype=np.int8)
    classes[on_own & (best > hi)] = 0
    classes[on_own & (best >= lo) & (best < hi)] = 1
    classes[on_mirror & (best >= lo)] = 2
    classes[~on_own & ~on_mirror & (best >= lo)] = 3
    classes[best < lo] = 4
    classes[~gt_v] = -1

    # Where the oracle puts each joint (coco-analyze's placement: along x only).
    rounded = best + np.spacing(1) * (best == 0) - np.spacing(1) * (best == 1)
    target_ks = np.select([classes == 1, classes == 4], [hi, lo], rounded)
    area = inp.gt_area[gt_rows][:, None]
    offset = np.sqrt(-np.log(target_ks) * 2 * area * inp.sigmas**2)
    corrected = np.stack([inp.gt_keypoints[gt_rows, :, 0] + offset, inp.gt_keypoints[gt_rows, :, 1]], axis=-1)
    return classes, corrected, pairs


@dataclass(frozen=True)
class _Corrections:
    """Every analysed (detection, person) row of any slice, classified and corrected once.

    Attributes:
        det, gt: (V,) the rows.
        classes: (V, K) joint classes.
        keypoints: (V, K, 3) the detection after all four keypoint corrections.
        pairs: every (row, person) pair of the same image.
        pair_oks: OKS of each pair after each cumulative keypoint correction, by error type.
    """

    det: npt.NDArray[np.int64]
    gt: npt.NDArray[np.int64]
    classes: npt.NDArray[np.int8]
    keypoints: npt.NDArray[np.float64]
    pairs: Pairs
    pair_oks: dict[str, npt.NDArray[np.float64]]


def _corrections(inp: DiagnosisInput, det_rows: npt.NDArray[np.int64], gt_rows: npt.NDArray[np.int64]) -> _Corrections:
    classes, corrected, pairs = classify_joints(inp, det_rows, gt_rows)
    keypoints = inp.det_keypoints[det_rows].copy()
    pair_oks: dict[str, npt.NDArray[np.float64]] = {}
    previous = oks_pairs(keypoints, inp.gt_keypoints, inp.gt_bbox, inp.gt_area, pairs, inp.sigmas)
    for error in KEYPOINT_ERRORS:
        fix = classes == JOINT_CLASSES.index(error)
        rows, joints = np.nonzero(fix)
        keypoints[rows, joints, :2] = corrected[rows, joints]
        # Only rows with a joint of this class change their OKS.
        changed = fix.any(axis=1)[pairs.det]
        step = previous.copy()
        sub = Pairs(pairs.det[changed], pairs.gt[changed])
        step[changed] = oks_pairs(keypoints, inp.gt_keypoints, inp.gt_bbox, inp.gt_area, sub, inp.sigmas)
        pair_oks[error] = previous = step
    return _Corrections(det_rows, gt_rows, classes, keypoints, pairs, pair_oks)


def _ranks(
    det_id: npt.NDArray[np.int64], det_image: npt.NDArray[np.int64], score: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """(rank in image, accumulation order) under new scores: score descending, ties by
    image id then file order, as pycocotools sorts."""
    by_image = np.lexsort((det_id, -score, det_image))
    image_sorted = det_image[by_image]
    rank = np.empty(len(det_id), dtype=np.int64)
    rank[by_image] = np.arange(len(det_id)) - np.searchsorted(image_sorted, image_sorted, side="left")
    return rank, np.lexsort((rank, det_image, -score))


def _step(
    det_gt: npt.NDArray[np.int32],
    order: npt.NDArray[np.int64],
    gt_ignore: npt.NDArray[np.bool_],
    det_outside: npt.NDArray[np.bool_],
) -> _Step:
    matched = det_gt >= 0
    ignored = np.where(matched, gt_ignore[np.maximum(det_gt, 0)], det_outside[None, :])
    return _Step(order, matched, ignored, np.broadcast_to(~gt_ignore, (det_gt.shape[0], len(gt_ignore))))


def soft_nms_scores(
    det_id: npt.NDArray[np.int64],
    det_image: npt.NDArray[np.int64],
    keypoints: npt.NDArray[np.float64],
    score: npt.NDArray[np.float64],
    sigmas: npt.NDArray[np.float64],
) -> npt.NDArray[np.float64]:
    """coco-analyze's soft-NMS: per image, repeatedly take the best remaining detection
    and multiply each remaining one's score by exp(-OKS^2 / 0.5), the OKS between the two
    on the mean of their keypoint-box areas (all joints).  All images advance together.

    Only detections with a positive score in images with two or more of them can change:
    a score of 0 stays 0 and comes last, where it decays nothing but other zeros."""
    out = np.array(score, dtype=np.float64)
    positive = np.flatnonzero(out > 0)
    _, image_code, count = np.unique(det_image[positive], return_inverse=True, return_counts=True)
    rows = positive[count[image_code] >= 2]
    if len(rows):
        out[rows] = _soft_nms(det_id[rows], det_image[rows], keypoints[rows], out[rows], sigmas)
    return out


def _soft_nms(
    det_id: npt.NDArray[np.int64],
    det_image: npt.NDArray[np.int64],
    keypoints: npt.NDArray[np.float64],
    score: npt.NDArray[np.float64],
    sigmas: npt.NDArray[np.float64],
) -> npt.NDArray[np.float64]:
    n = len(det_id)
    by_image = np.lexsort((det_id, det_image))
    image_sorted = det_image[by_image]
    starts = np.searchsorted(image_sorted, image_sorted, side="left")
    slot = np.empty(n, dtype=np.int64)
    slot[by_image] = np.arange(n) - starts
    _, image_code = np.unique(det_image, return_inverse=True)
    n_images, width = int(image_code.max()) + 1, int(slot.max()) + 1

    xy = keypoints[:, :, :2]
    box_area = (xy[:, :, 0].max(1) - xy[:, :, 0].min(1)) * (xy[:, :, 1].max(1) - xy[:, :, 1].min(1))
    pairs = same_image_pairs(det_image, det_image)
    variances = (sigmas * 2) ** 2
    d2 = ((xy[pairs.det] - xy[pairs.gt]) ** 2).sum(-1)
    mean_area = 0.5 * (box_area[pairs.det] + box_area[pairs.gt])
    e = d2 / variances / (mean_area + np.spacing(1))[:, None] / 2
    pair_oks = np.exp(-e).sum(axis=1) / e.shape[1]
    between = np.zeros((n_images, width, width))
    between[image_code[pairs.det], slot[pairs.det], slot[pairs.gt]] = pair_oks

    current = np.full((n_images, width), -np.inf)
    current[image_code, slot] = score
    alive = np.zeros((n_images, width), dtype=bool)
    alive[image_code, slot] = True
    rows = np.arange(n_images)
    for _ in range(width):
        has = np.asarray(alive.any(axis=1))  # an array (numpy's stubs allow a scalar)
        if not has.any():
            break
        pick = np.argmax(np.where(alive, current, -np.inf), axis=1)
        alive[rows[has], pick[has]] = False
        decay = np.exp(-(between[rows, pick] ** 2) / SOFT_NMS_SIGMA)
        current = np.where(alive & has[:, None], current * decay, current)
    return current[image_code, slot]


def diagnose_slices(
    inp: DiagnosisInput, gt_ignore: npt.NDArray[np.bool_], det_outside: npt.NDArray[np.bool_]
) -> list[_Raw]:
    """Classes, corrections and the AP steps of S matched slices.

    Args:
        inp: the evaluation.
        gt_ignore: (S, G) persons each slice ignores.
        det_outside: (S, D) detections outside each slice (ignored there unless matched).

    A (detection, person) localisation match found by several slices is classified and
    corrected once; each slice then matches with its own corrections, all slices in one
    greedy matching per step (each slice a separate copy of the detections and persons).
    """
    n_slices, n_gt = gt_ignore.shape
    loc_pairs = match_input(inp.pair_det, inp.pair_gt, inp.pair_oks, inp.det_rank, n_gt, LOCALIZATION_OKS)
    loc = greedy_match(loc_pairs, gt_ignore, inp.gt_crowd, np.array([LOCALIZATION_OKS]))[:, 0, :].astype(np.int64)
    base = _match_slices(inp, inp.pair_oks, inp.det_rank, gt_ignore)
    analysed = (loc >= 0) & inp.gt_has_joints[np.maximum(loc, 0)]
    s_idx, d_idx = np.nonzero(analysed)
    codes, row_of = np.unique(d_idx * n_gt + loc[s_idx, d_idx], return_inverse=True)
    fixes = _corrections(inp, codes // n_gt, codes % n_gt)
    chosen = np.full(loc.shape, -1, dtype=np.int64)
    chosen[s_idx, d_idx] = row_of
    step_matches, pair_oks = _keypoint_step_matches(inp, fixes, chosen, gt_ignore)
    scored_matches, orders = _oracle_score_matches(inp, fixes, chosen, pair_oks, gt_ignore)
    return [
        _slice_outcome(
            inp,
            fixes,
            chosen[s],
            loc[s],
            gt_ignore[s],
            det_outside[s],
            {"base": base[s], **{name: m[s] for name, m in step_matches.items()}},
            (scored_matches[s], orders[s]),
        )
        for s in range(n_slices)
    ]


def _keypoint_step_matches(
    inp: DiagnosisInput, fixes: _Corrections, chosen: npt.NDArray[np.int64], gt_ignore: npt.NDArray[np.bool_]
) -> tuple[dict[str, npt.NDArray[np.int32]], npt.NDArray[np.float64]]:
    """Each keypoint step's (S, T, D) matches, each slice's OKS pairs with its own rows'
    corrections up to that step in place; and the (S, P) pair OKS after the last step."""
    n_slices, n_gt = gt_ignore.shape
    pair_keys = inp.pair_det * n_gt + inp.pair_gt
    key_order = np.argsort(pair_keys, kind="stable")
    wanted = fixes.det[fixes.pairs.det] * n_gt + fixes.pairs.gt
    pair_index = key_order[np.searchsorted(pair_keys, wanted, sorter=key_order)]
    mine = chosen[:, fixes.det[fixes.pairs.det]] == fixes.pairs.det[None, :]  # (S, Pv)
    mine_s, mine_p = np.nonzero(mine)
    ranks = np.broadcast_to(inp.det_rank, (n_slices, len(inp.det_id)))
    step_matches = {}
    pair_oks = np.broadcast_to(inp.pair_oks, (n_slices, len(inp.pair_oks)))
    for error in KEYPOINT_ERRORS:
        pair_oks = np.array(np.broadcast_to(inp.pair_oks, (n_slices, len(inp.pair_oks))))
        pair_oks[mine_s, pair_index[mine_p]] = fixes.pair_oks[error][mine_p]
        step_matches[error] = _match_slices(inp, pair_oks, ranks, gt_ignore)
    return step_matches, pair_oks


def _oracle_score_matches(
    inp: DiagnosisInput,
    fixes: _Corrections,
    chosen: npt.NDArray[np.int64],
    pair_oks: npt.NDArray[np.float64],
    gt_ignore: npt.NDArray[np.bool_],
) -> tuple[npt.NDArray[np.int32], list[npt.NDArray[np.int64]]]:
    """The (S, T, D) matches and each slice's detection order under the oracle score: best OKS
    with a person the slice keeps (0 without one), then soft-NMS (every slice at once: slice
    s's images are distinct keys)."""
    n_slices = gt_ignore.shape[0]
    n_det = len(inp.det_id)
    has = chosen >= 0
    best_oks = np.zeros((n_slices, n_det))
    keep_s, keep_p = np.nonzero(~gt_ignore[:, inp.pair_gt])
    np.maximum.at(best_oks, (keep_s, inp.pair_det[keep_p]), pair_oks[keep_s, keep_p])
    keypoints = np.repeat(inp.det_keypoints[None], n_slices, axis=0)
    keypoints[has] = fixes.keypoints[chosen[has]]
    image_span = int(inp.det_image.max()) + 1 if n_det else 1
    slice_image = (np.arange(n_slices)[:, None] * image_span + inp.det_image[None, :]).reshape(-1)
    det_id = np.tile(inp.det_id, n_slices)
    score = soft_nms_scores(det_id, slice_image, keypoints.reshape(n_slices * n_det, *keypoints.shape[2:]),
                            best_oks.reshape(-1), inp.sigmas).reshape(n_slices, n_det)  # fmt: skip
    orders = []
    score_ranks = np.empty((n_slices, n_det), dtype=np.int64)
    for s in range(n_slices):
        score_ranks[s], order = _ranks(inp.det_id, inp.det_image, score[s])
        orders.append(order)
    return _match_slices(inp, pair_oks, score_ranks, gt_ignore), orders


def _slice_outcome(
    inp: DiagnosisInput,
    fixes: _Corrections,
    chosen: npt.NDArray[np.int64],
    loc: npt.NDArray[np.int64],
    gt_ignore: npt.NDArray[np.bool_],
    det_outside: npt.NDArray[np.bool_],
    step_matches: dict[str, npt.NDArray[np.int32]],
    scored_match: tuple[npt.NDArray[np.int32], npt.NDArray[np.int64]],
) -> _Raw:
    """One slice's joint classes, background detections, misses and AP steps (its rows of the
    all-slice arrays: ``chosen`` correction rows, ``loc`` localisation matches, the (T, D)
    matches of each keypoint step and of the oracle score with its detection order)."""
    n_gt, n_det = len(gt_ignore), len(inp.det_id)
    kept = ~gt_ignore
    counted = (chosen >= 0) & kept[np.maximum(loc, 0)]
    class_counts = np.zeros((n_det, len(JOINT_CLASSES)), dtype=np.int64)
    rows = chosen[counted]
    for c in range(len(JOINT_CLASSES)):
        class_counts[counted, c] = (fixes.classes[rows] == c).sum(axis=1)
    background = (loc < 0) & ~det_outside
    hit = np.zeros(n_gt, dtype=bool)
    hit[loc[loc >= 0]] = True
    base_order = np.arange(n_det)
    steps = {name: _step(m, base_order, gt_ignore, det_outside) for name, m in step_matches.items()}
    det_gt, order = scored_match
    scored = _step(det_gt, order, gt_ignore, det_outside)
    steps["score"] = scored
    no_match = ~scored.matched
    steps["background_fp"] = _Step(order, scored.matched, scored.ignored | no_match, scored.gt_counted)
    gt_hit = np.zeros((len(OKS_THRESHOLDS), n_gt), dtype=bool)
    t_idx, d_idx = np.nonzero(det_gt >= 0)
    gt_hit[t_idx, det_gt[t_idx, d_idx]] = True
    # A person missed at a lower threshold stays removed at the higher ones (coco-analyze's rule).
    missed_so_far = np.logical_or.accumulate(kept[None, :] & ~gt_hit, axis=0)
    gt_left = kept[None, :] & ~missed_so_far
    steps["false_negatives"] = _Step(order, scored.matched, scored.ignored | no_match, gt_left)
    joint_ks = _joint_ks(inp, step_matches["base"][0], kept)
    return _Raw(class_counts, counted, background, kept & ~hit, kept, steps, joint_ks)


def _joint_ks(
    inp: DiagnosisInput, det_gt: npt.NDArray[np.int32], kept: npt.NDArray[np.bool_]
) -> npt.NDArray[np.float64]:
    """(G, K) ks of each labelled joint of the kept persons matched at one threshold, NaN elsewhere."""
    out = np.full(inp.gt_keypoints.shape[:2], np.nan)
    rows = np.flatnonzero(det_gt >= 0)
    gts = det_gt[rows].astype(np.int64)
    rows, gts = rows[kept[gts]], gts[kept[gts]]
    gk = inp.gt_keypoints[gts]
    d2 = ((inp.det_keypoints[rows, :, :2] - gk[:, :, :2]) ** 2).sum(axis=2)
    ks = np.exp(-d2 / (inp.sigmas * 2) ** 2 / (inp.gt_area[gts] + np.spacing(1))[:, None] / 2)
    out[gts] = np.where(gk[:, :, 2] > 0, ks, np.nan)
    return out


def _per_joint(joint_ks: npt.NDArray[np.float64], names: list[str]) -> dict[str, dict[str, float | int | None]]:
    labelled = ~np.isnan(joint_ks)
    n = labelled.sum(axis=0)
    filled = np.where(labelled, joint_ks, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        at50 = (filled >= JITTER_KS[0]).sum(axis=0) / n
        at85 = (filled >= JITTER_KS[1]).sum(axis=0) / n
        mean = filled.sum(axis=0) / n
    return {
        name: {"n": int(n[j]), "ks_0.5": None if not n[j] else float(at50[j]),
               "ks_0.85": None if not n[j] else float(at85[j]), "mean_ks": None if not n[j] else float(mean[j])}
        for j, name in enumerate(names)
    }  # fmt: skip


def _match_slices(
    inp: DiagnosisInput,
    pair_oks: npt.NDArray[np.float64],
    det_rank: npt.NDArray[np.int64],
    gt_ignore: npt.NDArray[np.bool_],
) -> npt.NDArray[np.int32]:
    """(S, T, D) matches at every OKS threshold of S slices, each with its own pair OKS
    ((P,) shared or (S, P)) and detection ranks ((D,) shared or (S, D)).

    With shared OKS and ranks, one matching serves every slice; otherwise each slice is a
    separate copy of the detections and persons in one matching (copies never interact:
    a detection's candidates are only its own copy's persons)."""
    n_slices, n_gt = gt_ignore.shape
    n_det = len(inp.det_id)
    if pair_oks.ndim == 1 and det_rank.ndim == 1:
        pairs = match_input(inp.pair_det, inp.pair_gt, pair_oks, det_rank, n_gt, OKS_THRESHOLDS[0])
        return greedy_match(pairs, gt_ignore, inp.gt_crowd, OKS_THRESHOLDS)
    pair_oks = np.broadcast_to(pair_oks, (n_slices, len(inp.pair_det)))
    det_rank = np.broadcast_to(det_rank, (n_slices, n_det))
    offsets = np.arange(n_slices)[:, None]
    pairs = match_input(
        (inp.pair_det[None, :] + offsets * n_det).reshape(-1),
        (inp.pair_gt[None, :] + offsets * n_gt).reshape(-1),
        pair_oks.reshape(-1),
        det_rank.reshape(-1),
        n_slices * n_gt,
        OKS_THRESHOLDS[0],
    )
    det_gt = greedy_match(pairs, gt_ignore.reshape(1, -1), np.tile(inp.gt_crowd, n_slices), OKS_THRESHOLDS)[0]
    det_gt = det_gt.reshape(len(OKS_THRESHOLDS), n_slices, n_det).transpose(1, 0, 2)
    return np.where(det_gt >= 0, det_gt - (offsets * n_gt)[:, :, None].astype(np.int32), -1).astype(np.int32)


def _ap_per_threshold(
    step: _Step, det_in: npt.NDArray[np.bool_] | None, gt_in: npt.NDArray[np.bool_] | None
) -> npt.NDArray[np.float64]:
    """(T,) AP at each threshold (NaN where nothing counts), restricted to some images."""
    order = step.order if det_in is None else step.order[det_in[step.order]]
    counted = step.gt_counted if gt_in is None else step.gt_counted & gt_in[None, :]
    out = np.full(step.matched.shape[0], np.nan)
    n_gt = counted.sum(axis=1)
    matched, ignored = step.matched[:, order], step.ignored[:, order]
    # Thresholds sharing a ground-truth count accumulate together (all of them but in the FN step).
    for count in np.unique(n_gt[n_gt > 0]):
        at = np.flatnonzero(n_gt == count)
        out[at] = accumulate(matched[at], ignored[at], int(count)).precision.mean(axis=1)
    return out


def calibration(score: npt.NDArray[np.float64], correct: npt.NDArray[np.bool_], n_bins: int = CALIBRATION_BINS) -> dict:
    """Expected and maximum calibration error of scores against outcomes, on equal-width bins of [0, 1].

    ECE = sum over bins of (n_b / N) |accuracy_b - confidence_b|; MCE = the largest such gap over
    non-empty bins; confidence_b is the bin's mean score, accuracy_b its share of correct detections."""
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    # Bin b holds b/n <= score < (b+1)/n: floor(score * n), so a score of 0.3 is in [0.3, 0.4).
    which = np.clip(np.floor(np.asarray(score, dtype=np.float64) * n_bins), 0, n_bins - 1).astype(np.int64)
    n = np.bincount(which, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        confidence = np.bincount(which, weights=score, minlength=n_bins) / n
        accuracy = np.bincount(which, weights=correct.astype(float), minlength=n_bins) / n
    gap = np.abs(accuracy - confidence)
    total = int(n.sum())
    bins = [{"lo": float(edges[b]), "hi": float(edges[b + 1]), "n": int(n[b]),
             "confidence": None if not n[b] else float(confidence[b]),
             "accuracy": None if not n[b] else float(accuracy[b])} for b in range(n_bins)]  # fmt: skip
    return {
        "n": total,
        "ece": float(np.sum(n[n > 0] * gap[n > 0]) / total) if total else None,
        "mce": float(gap[n > 0].max()) if total else None,
        "bins": bins,
    }


def _summarise(
    raw: _Raw,
    oks_index: int,
    names: list[str],
    score: npt.NDArray[np.float64],
    det_in: npt.NDArray[np.bool_] | None = None,
    gt_in: npt.NDArray[np.bool_] | None = None,
) -> SliceDiagnosis:
    counted = raw.counted if det_in is None else raw.counted & det_in
    kept = raw.kept if gt_in is None else raw.kept & gt_in
    n_gt = int(kept.sum())
    joints = {name: int(raw.classes[counted, c].sum()) for c, name in enumerate(JOINT_CLASSES)}
    background = raw.background if det_in is None else raw.background & det_in
    missed = raw.missed if gt_in is None else raw.missed & gt_in
    ap: dict[str, float | None] = {}
    ap_at: dict[str, float | None] = {}
    for name, step in raw.steps.items():
        per_t = _ap_per_threshold(step, det_in, gt_in) if n_gt else np.full(len(OKS_THRESHOLDS), np.nan)
        valid = per_t[~np.isnan(per_t)]
        ap[name] = float(valid.mean()) if len(valid) else None
        ap_at[name] = None if np.isnan(per_t[oks_index]) else float(per_t[oks_index])
    joint_ks = raw.joint_ks if gt_in is None else np.where(gt_in[:, None], raw.joint_ks, np.nan)
    base = raw.steps["base"]
    scored = ~base.ignored[0] if det_in is None else ~base.ignored[0] & det_in
    calibrated = calibration(score[scored], base.matched[0][scored])
    return SliceDiagnosis(joints, int(counted.sum()), int(background.sum()), int(missed.sum()), n_gt, ap, ap_at,
                          _per_joint(joint_ks, names), calibrated)  # fmt: skip


def diagnosis_input(
    stored: StoredEvaluation,
    instances: pd.DataFrame,
    gt_keypoints: npt.NDArray[np.floating],
    joint_names: list[str] | tuple[str, ...],
) -> tuple[_Prepared, DiagnosisInput]:
    """The prepared evaluation and the arrays the diagnosis needs."""
    if "keypoints" not in stored.detections.columns:
        raise PoseAtlasError(f"evaluation of {stored.record.model!r} has no stored keypoints; evaluate it again")
    prep = _prepare(stored, instances)
    definitions = stored.definitions
    n_joints = gt_keypoints.shape[1]
    by_det = stored.detections.set_index("det_id").loc[prep.det_id]
    by_id = by_det["keypoints"]
    flat = np.concatenate(by_id.to_numpy()) if len(by_id) else np.zeros(0)
    det_keypoints = flat.astype(np.float64).reshape(len(by_id), n_joints, 3)
    gt = instances.reset_index(drop=True)
    segm = gt["segm_area"].astype("Float64").to_numpy(dtype=np.float64, na_value=np.nan)
    gt_area = person_area(gt["bbox_w"], gt["bbox_h"], segm, definitions.oks_area)
    stored_count = gt["num_keypoints"].astype("Float64").to_numpy(dtype=np.float64, na_value=np.nan)
    count = np.where(np.isnan(stored_count), gt["n_labelled"].to_numpy(np.float64), stored_count)
    inp = DiagnosisInput(
        det_id=prep.det_id,
        det_image=prep.det_image,
        det_rank=prep.det_rank,
        det_keypoints=det_keypoints,
        det_score=by_det["score"].to_numpy(np.float64),
        gt_image=gt["image_id"].to_numpy(np.int64),
        gt_keypoints=np.asarray(gt_keypoints, dtype=np.float64),
        gt_bbox=gt[["bbox_x", "bbox_y", "bbox_w", "bbox_h"]].to_numpy(np.float64),
        gt_area=gt_area,
        gt_crowd=gt["iscrowd"].to_numpy(bool),
        gt_has_joints=count > 0,
        pair_det=prep.pair_det,
        pair_gt=prep.pair_gt,
        pair_oks=prep.pair_oks,
        sigmas=definitions.sigma_array,
        mirror=mirror_index(joint_names),
    )
    return prep, inp


def diagnose_stored(
    stored: StoredEvaluation,
    images: pd.DataFrame,
    instances: pd.DataFrame,
    gt_keypoints: npt.NDArray[np.floating],
    joint_names: list[str] | tuple[str, ...],
    definitions: EvaluationDefinitions,
    oks: float = DEFAULT_OKS,
) -> Diagnosis:
    """Every slice's diagnosis of a stored evaluation.

    Args:
        stored: the stored evaluation (its detections with keypoints).
        images: the split's images.parquet.
        instances: the split's instances (bbox_x/y/w/h, segm_area, num_keypoints,
            n_labelled, iscrowd, crowding), annotation order.
        gt_keypoints: (G, K, 3) their keypoints.
        joint_names: the keypoint schema's joint names (left/right pairs).
        definitions: the slicing choices (size, density, crowd levels).
        oks: the threshold of ``ap_at_oks``, one of 0.50, 0.55, ..., 0.95.
    """
    matches = np.flatnonzero(np.isclose(OKS_THRESHOLDS, oks))
    if not len(matches):
        raise PoseAtlasError(f"--oks {oks}: must be one of {', '.join(f'{t:.2f}' for t in OKS_THRESHOLDS)}")
    used = stored.definitions.with_slicing(definitions)
    prep, inp = diagnosis_input(stored, instances, gt_keypoints, joint_names)
    ignore = base_ignore(prep.gt)
    gt_ignore, det_outside = _slice_masks(prep, ignore, used)
    raws = dict(zip(_MATCHED_SLICES, diagnose_slices(inp, gt_ignore, det_outside), strict=True))
    oks_index = int(matches[0])
    names = [str(n) for n in joint_names] or [f"joint_{j}" for j in range(inp.gt_keypoints.shape[1])]
    slices = {name: _summarise(raws[name], oks_index, names, inp.det_score) for name in _MATCHED_SLICES}
    level_of = crowd_level_of_images(images, used)
    det_level = level_of.reindex(inp.det_image).to_numpy()
    gt_level = level_of.reindex(inp.gt_image).to_numpy()
    for lvl, name in enumerate(CROWD_SLICES):
        slices[name] = _summarise(raws["all"], oks_index, names, inp.det_score, det_level == lvl, gt_level == lvl)
    return Diagnosis(stored.record.model, used, float(OKS_THRESHOLDS[oks_index]), inp.mirror is not None,
                     {n: slices[n] for n in SLICE_NAMES}, size_curve(prep, used))  # fmt: skip
