"""The COCO keypoint protocol as numpy kernels: OKS pairs, greedy matching, accumulation.

Each kernel reproduces pycocotools' ``COCOeval`` (iouType="keypoints") step for
step, vectorised:

- :func:`oks_pairs` computes the OKS of every (detection, ground truth) pair of
  the same image at once (``computeOks``), in bounded chunks;
- :func:`greedy_match` runs ``evaluateImg``'s greedy matching for many slices and
  thresholds at once: all images advance in lock-step, one detection rank per
  step (a detection's candidates are only its own image's persons, so the images
  never interact);
- :func:`accumulate` turns matches into the interpolated precision at 101
  recall points and the recall (``accumulate``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from analysis.evaluation.definitions import OKS_THRESHOLDS, RECALL_POINTS

#: Pairs per OKS chunk: bounds the (pairs, K) temporaries to a few tens of MB.
OKS_CHUNK = 1 << 16
#: exp(-x) of float64 rounds to exactly 0 for every x >= this (exp(-745.14) is the smallest subnormal).
EXP_ZERO_FROM = 746.0


@dataclass(frozen=True)
class Pairs:
    """(detection, ground truth) pairs of the same image.

    Attributes:
        det: (P,) detection row.
        gt: (P,) ground-truth row.
    """

    det: npt.NDArray[np.int64]
    gt: npt.NDArray[np.int64]


def same_image_pairs(det_image: npt.NDArray[np.int64], gt_image: npt.NDArray[np.int64]) -> Pairs:
    """Every (detection, ground truth) pair sharing an image, grouped by detection.

    Args:
        det_image: (D,) image key of each detection (any integers).
        gt_image: (G,) image key of each ground truth.

    Returns:
        Pairs ordered by detection row, then ground-truth row (so within one
        detection the persons keep their annotation order, which decides ties).
    """
    det_image = np.asarray(det_image, dtype=np.int64)
    gt_image = np.asarray(gt_image, dtype=np.int64)
    gt_order = np.argsort(gt_image, kind="stable")
    sorted_keys = gt_image[gt_order]
    first = np.searchsorted(sorted_keys, det_image, side="left")
    count = np.searchsorted(sorted_keys, det_image, side="right") - first
    det = np.repeat(np.arange(len(det_image), dtype=np.int64), count)
    offset = np.arange(len(det), dtype=np.int64) - np.repeat(np.cumsum(count) - count, count)
    gt = gt_order[np.repeat(first, count) + offset]
    return Pairs(det, gt)


def oks_pairs(
    det_keypoints: npt.NDArray[np.float64],
    gt_keypoints: npt.NDArray[np.floating],
    gt_bbox: npt.NDArray[np.float64],
    gt_area: npt.NDArray[np.float64],
    pairs: Pairs,
    sigmas: npt.NDArray[np.float64],
) -> npt.NDArray[np.float64]:
    """Object keypoint similarity of each pair, exactly as pycocotools' ``computeOks``.

    For a person with labelled joints (v > 0): mean over those joints of
    exp(-d^2 / (2 * area * (2 sigma)^2)).  For a person without any (crowd
    regions, unlabelled persons): every joint's distance is measured to the
    person's box doubled on each side, and the mean runs over all K joints.

    Args:
        det_keypoints: (D, K, 3) predicted x, y, score.
        gt_keypoints: (G, K, 3) ground-truth x, y, v.
        gt_bbox: (G, 4) x, y, w, h.
        gt_area: (G,) the OKS area of each person.
        pairs: the pairs to score.
        sigmas: (K,) per-joint sigmas.

    Returns:
        (P,) float64 OKS.
    """
    variances = (np.asarray(sigmas, dtype=np.float64) * 2) ** 2
    out = np.empty(len(pairs.det), dtype=np.float64)
    # Per-person (rows, K) float64 planes, made once: a pair gathers whole contiguous rows.
    det_x = np.ascontiguousarray(det_keypoints[:, :, 0], dtype=np.float64)
    det_y = np.ascontiguousarray(det_keypoints[:, :, 1], dtype=np.float64)
    gt_x = np.ascontiguousarray(gt_keypoints[:, :, 0], dtype=np.float64)
    gt_y = np.ascontiguousarray(gt_keypoints[:, :, 1], dtype=np.float64)
    gt_labelled = np.greater(gt_keypoints[:, :, 2], 0)
    gt_none = ~gt_labelled.any(axis=1)
    scale = gt_area + np.spacing(1)
    for lo in range(0, len(out), OKS_CHUNK):
        d = pairs.det[lo : lo + OKS_CHUNK]
        g = pairs.gt[lo : lo + OKS_CHUNK]
        xd = det_x[d]
        yd = det_y[d]
        dx = xd - gt_x[g]
        dy = yd - gt_y[g]
        # Persons without labelled joints (few): distance to the box grown by its size on each side.
        none = np.flatnonzero(gt_none[g])
        if len(none):
            bb = gt_bbox[g[none]]
            x0 = (bb[:, 0] - bb[:, 2])[:, None]
            x1 = (bb[:, 0] + bb[:, 2] * 2)[:, None]
            y0 = (bb[:, 1] - bb[:, 3])[:, None]
            y1 = (bb[:, 1] + bb[:, 3] * 2)[:, None]
            xn, yn = xd[none], yd[none]
            dx[none] = np.maximum(0.0, x0 - xn) + np.maximum(0.0, xn - x1)
            dy[none] = np.maximum(0.0, y0 - yn) + np.maximum(0.0, yn - y1)
        # e = (dx^2 + dy^2) / variances / (area + eps) / 2, in place, in pycocotools' order
        e = np.square(dx, out=dx)
        e += np.square(dy, out=dy)
        e /= variances
        e /= scale[g][:, None]
        e /= 2
        # exp(-e) is exactly 0 from e = 746 on (below the smallest subnormal); numpy's exp is
        # slow on that range, and most pairs (other persons of the image) are in it
        similarity = np.zeros_like(e)
        np.exp(np.negative(e, out=e), out=similarity, where=e > -EXP_ZERO_FROM)
        counted = gt_labelled[g]
        counted[none] = True
        out[lo : lo + len(d)] = np.where(counted, similarity, 0.0).sum(axis=1) / counted.sum(axis=1)
    return out


@dataclass(frozen=True)
class MatchInput:
    """Candidate pairs for matching, grouped for the lock-step greedy.

    Only pairs whose OKS reaches the lowest threshold can ever match, so the
    rest are left out.  Pairs are sorted by (detection rank in its image,
    detection, ground-truth row): each rank is one contiguous block, and within
    it each detection one contiguous segment with its persons in annotation order.

    Attributes:
        det: (P,) detection row, gt: (P,) ground-truth row, oks: (P,) OKS.
        block_starts: (n_ranks + 1,) offsets of each rank's block.
        n_det, n_gt: the row counts D and G.
    """

    det: npt.NDArray[np.int64]
    gt: npt.NDArray[np.int64]
    oks: npt.NDArray[np.float64]
    block_starts: npt.NDArray[np.int64]
    n_det: int
    n_gt: int


def match_input(
    pair_det: npt.NDArray[np.int64],
    pair_gt: npt.NDArray[np.int64],
    pair_oks: npt.NDArray[np.float64],
    det_rank: npt.NDArray[np.int64],
    n_gt: int,
    min_threshold: float,
) -> MatchInput:
    """Group the pairs that can match at ``min_threshold`` for :func:`greedy_match`.

    Args:
        pair_det, pair_gt, pair_oks: (P,) every pair and its OKS.
        det_rank: (D,) rank of each detection among its image's, by score (0 = best).
        n_gt: G, the number of ground-truth rows.
        min_threshold: the lowest OKS threshold that will be matched.
    """
    keep = pair_oks >= min(min_threshold, 1 - 1e-10)
    det, gt, oks = pair_det[keep], pair_gt[keep], pair_oks[keep]
    rank = det_rank[det]
    order = np.lexsort((gt, det, rank))
    det, gt, oks, rank = det[order], gt[order], oks[order], rank[order]
    n_ranks = int(det_rank.max()) + 1 if len(det_rank) else 0
    block_starts = np.searchsorted(rank, np.arange(n_ranks + 1), side="left").astype(np.int64)
    return MatchInput(det, gt, oks, block_starts, len(det_rank), n_gt)


def greedy_match(
    pairs: MatchInput,
    gt_ignore: npt.NDArray[np.bool_],
    gt_crowd: npt.NDArray[np.bool_],
    thresholds: npt.NDArray[np.float64] = OKS_THRESHOLDS,
) -> npt.NDArray[np.int32]:
    """pycocotools' greedy matching for S slices and T thresholds at once.

    Per image, detections in score order each take the unmatched person with the
    highest OKS >= threshold (ties: the later person in annotation order, as
    pycocotools' ``>=`` comparison does), preferring persons the slice does not
    ignore; a person the slice ignores is taken only when no other qualifies.
    Crowd regions stay available after a match, so one absorbs many detections.

    Args:
        pairs: candidate pairs from :func:`match_input`.
        gt_ignore: (S, G) whether slice s ignores person g.
        gt_crowd: (G,) crowd regions.
        thresholds: (T,) OKS thresholds.

    Returns:
        (S, T, D) int32 ground-truth row matched by each detection, -1 when none.
    """
    n_slices = gt_ignore.shape[0]
    thr = np.minimum(np.asarray(thresholds, dtype=np.float64), 1 - 1e-10)[None, :, None]
    matched = np.zeros((n_slices, len(thr[0]), pairs.n_gt), dtype=bool)
    # int32: G < 2**31 rows; halves the largest array of a big evaluation.
    det_gt = np.full((n_slices, len(thr[0]), pairs.n_det), -1, dtype=np.int32)
    for lo, hi in zip(pairs.block_starts[:-1], pairs.block_starts[1:], strict=True):
        if lo == hi:
            continue
        det, gt, oks = pairs.det[lo:hi], pairs.gt[lo:hi], pairs.oks[lo:hi]
        seg_starts = np.flatnonzero(np.r_[True, det[1:] != det[:-1]])
        seg_of_pair = np.cumsum(np.r_[False, det[1:] != det[:-1]])
        available = ~matched[:, :, gt] | gt_crowd[gt]  # (S, T, Pb)
        eligible = available & (oks >= thr)
        # One exact integer key ranks a pair: persons the slice keeps above ignored ones (bit
        # 62), then OKS (the bits of a non-negative float order as the float does); -1: not eligible.
        kept = (~gt_ignore[:, gt]).astype(np.int64)[:, None, :] << 62
        key = np.where(eligible, oks.view(np.int64) | kept, -1)
        chosen = _best_in_segment(key, seg_starts, seg_of_pair)  # (S, T, n_seg) pair offset, -1 none
        s_idx, t_idx, seg_idx = np.nonzero(chosen >= 0)
        pair_idx = chosen[s_idx, t_idx, seg_idx]
        det_gt[s_idx, t_idx, det[seg_starts[seg_idx]]] = gt[pair_idx]
        matched[s_idx, t_idx, gt[pair_idx]] = True
    return det_gt


def _best_in_segment(
    key: npt.NDArray[np.int64],
    seg_starts: npt.NDArray[np.int64],
    seg_of_pair: npt.NDArray[np.int64],
) -> npt.NDArray[np.int64]:
    """Per segment, the offset of the pair with the highest key >= 0 (the last on ties), else -1."""
    best = np.maximum.reduceat(key, seg_starts, axis=-1)
    hit = (key == best[..., seg_of_pair]) & (key >= 0)
    offset = np.where(hit, np.arange(key.shape[-1]), -1)
    return np.maximum.reduceat(offset, seg_starts, axis=-1)


@dataclass(frozen=True)
class Accumulated:
    """Precision and recall of one slice.

    Attributes:
        precision: (T, R) interpolated precision at the recall points; NaN
            everywhere when the slice has no ground truth.
        recall: (T,) final recall per threshold; NaN when no ground truth.
    """

    precision: npt.NDArray[np.float64]
    recall: npt.NDArray[np.float64]


def accumulate(
    matched: npt.NDArray[np.bool_],
    ignored: npt.NDArray[np.bool_],
    n_gt: int,
    recall_points: npt.NDArray[np.float64] = RECALL_POINTS,
) -> Accumulated:
    """pycocotools' ``accumulate`` for one slice.

    Args:
        matched: (T, N) whether each detection matched, detections in the global
            order (score descending; ties by image id, then rank in the image).
        ignored: (T, N) whether the slice ignores the detection.
        n_gt: ground-truth persons the slice does not ignore.
        recall_points: (R,) recall thresholds.
    """
    n_thr, n_det = matched.shape
    if n_gt == 0:
        return Accumulated(np.full((n_thr, len(recall_points)), np.nan), np.full(n_thr, np.nan))
    counted = ~ignored
    tp_sum = np.cumsum(matched & counted, axis=1, dtype=np.float64)
    fp_sum = np.cumsum(~matched & counted, axis=1, dtype=np.float64)
    recall_curve = tp_sum / n_gt
    precision_curve = tp_sum / (fp_sum + tp_sum + np.spacing(1))
    # Interpolate: precision at i is the best precision at any later point.
    precision_curve = np.maximum.accumulate(precision_curve[:, ::-1], axis=1)[:, ::-1]
    precision = np.zeros((n_thr, len(recall_points)))
    for t in range(n_thr):
        at = np.searchsorted(recall_curve[t], recall_points, side="left")
        reached = at < n_det
        precision[t, reached] = precision_curve[t, at[reached]]
    recall = recall_curve[:, -1] if n_det else np.zeros(n_thr)
    return Accumulated(precision, recall)


def accumulate_replicates(
    matched: npt.NDArray[np.bool_],
    ignored: npt.NDArray[np.bool_],
    det_weight: npt.NDArray[np.integer],
    n_gt: npt.NDArray[np.integer],
    recall_points: npt.NDArray[np.float64] = RECALL_POINTS,
) -> Accumulated:
    """:func:`accumulate` for B weighted replicates of one slice at once, exact to it.

    A detection of weight w counts as w copies of itself (an image drawn w times
    contributes its matches w times; matching is per image, so it does not change).
    Only the true positives' points are evaluated: the interpolated precision at a
    recall point is the best precision at or after the first point reaching it, and
    the best is always at a true positive (a false positive, an ignored detection
    or one of weight 0 never raises precision above the point before it).  At each
    true positive the cumulative counts are integer weight sums, so the precision
    tp / (tp + fp + eps) and recall tp / n_gt are pycocotools' own float64 values.

    Args:
        matched, ignored: (T, N) as for :func:`accumulate`.
        det_weight: (B, N) integer multiplicity of each detection in each replicate.
        n_gt: (B,) persons the slice counts in each replicate.

    Returns:
        precision (B, T, R) and recall (B, T); NaN for a replicate without ground truth.
    """
    n_rep = len(n_gt)
    n_thr = matched.shape[0]
    n_rec = len(recall_points)
    counted = ~ignored
    counted_always = counted.all(axis=0)
    true_pos = matched & counted
    # (N, B): a detection's weights are one contiguous row, so gathers copy rows and the
    # running sums and maxima along detections are vector operations across replicates.
    weight = np.ascontiguousarray(np.asarray(det_weight, dtype=np.int32).T)
    n_gt64 = np.asarray(n_gt, dtype=np.int64)
    need = _recall_counts(n_gt64, recall_points).T  # (R, B)
    # Counted weight up to each detection: those counted at every threshold, summed once ...
    always = np.flatnonzero(counted_always)
    always_cum = _cumsum_from_zero(weight[always])
    precision = np.zeros((n_thr, n_rec, n_rep))
    recall = np.zeros((n_thr, n_rep))
    for t in range(n_thr):
        cols = np.flatnonzero(true_pos[t])
        if not len(cols):
            continue
        tp_sum = np.cumsum(weight[cols], axis=0, dtype=np.int32)  # (P, B)
        all_sum = always_cum[np.searchsorted(always, cols, side="right")]
        # ... plus this threshold's own (counted at some thresholds only: matched to an ignored person at others).
        own = np.flatnonzero(counted[t] & ~counted_always)
        if len(own):
            all_sum += _cumsum_from_zero(weight[own])[np.searchsorted(own, cols, side="right")]
        point_precision = tp_sum / (all_sum + np.spacing(1))
        best_after = np.maximum.accumulate(point_precision[::-1], axis=0)[::-1]
        at = _first_reaching(tp_sum, need)  # (R, B) first true positive reaching each recall point
        picked = np.take_along_axis(best_after, np.minimum(at, len(cols) - 1), axis=0)
        precision[t] = np.where(at < len(cols), picked, 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            recall[t] = tp_sum[-1] / n_gt64
    precision = precision.transpose(2, 0, 1)
    recall = recall.T
    empty = n_gt64 == 0
    precision[empty] = np.nan
    recall[empty] = np.nan
    return Accumulated(precision, recall)


def _cumsum_from_zero(values: npt.NDArray[np.int32]) -> npt.NDArray[np.int32]:
    """(n + 1, B) column sums of the first 0..n rows."""
    out = np.zeros((values.shape[0] + 1, values.shape[1]), dtype=np.int32)
    np.cumsum(values, axis=0, out=out[1:])
    return out


def _recall_counts(n_gt: npt.NDArray[np.int64], recall_points: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
    """(B, R) the fewest true positives c with c / n_gt >= r (pycocotools' float64 test), per recall point."""
    n = np.maximum(n_gt, 1).astype(np.float64)[:, None, None]
    guess = np.floor(recall_points[None, :, None] * n) + np.arange(-1, 3)  # (B, R, 4): the answer is among these
    guess = np.maximum(guess, 0)
    reaches = guess / n >= recall_points[None, :, None]
    return np.take_along_axis(guess, reaches.argmax(axis=2)[..., None], axis=2)[..., 0].astype(np.int64)


def _first_reaching(tp_sum: npt.NDArray[np.int32], need: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Per column b, searchsorted(tp_sum[:, b], need[:, b], "left"), all in one call (columns offset apart)."""
    n_points, n_rep = tp_sum.shape
    span = int(max(tp_sum[-1].max(), need.max())) + 1
    offset = np.arange(n_rep, dtype=np.int64) * span
    keys = (tp_sum.T + offset[:, None]).ravel()
    found = np.searchsorted(keys, (need.T + offset[:, None]).ravel(), side="left")
    return (found.reshape(n_rep, -1) - np.arange(n_rep, dtype=np.int64)[:, None] * n_points).T
