"""AP as a function of person size on fine bins, and the size distribution of missed persons.

The 32^2 edge of COCO's "small" hides how AP falls as persons shrink.  Here every bin of
sqrt(area) (by default 8 px steps up to 128 px, then wider) is one COCO keypoint evaluation with
``areaRng`` set to the bin, exactly as pycocotools does for its small/medium/large: persons
outside the bin are ignored, a detection outside it (by the area of the box around its
predicted keypoints) is ignored unless it matches a person of the bin.  A bin holds
lo <= sqrt(area) < hi (an area equal to an edge falls in the upper bin, as the size buckets).

Missed persons are counted on the "all" matching (no size restriction): a person is missed
when no detection matches it at the localisation OKS 0.1 (the diagnosis' false negatives) or,
COCO's meaning, at OKS 0.5.  Their distribution over the same bins set against every person's
shows which sizes the misses come from.
"""

from __future__ import annotations

from typing import Any

import msgspec
import numpy as np

from analysis.evaluation.definitions import OKS_THRESHOLDS, EvaluationDefinitions
from analysis.evaluation.engine import greedy_match, match_input
from analysis.evaluation.slices import _metrics, _Prepared, base_ignore, detection_size_area, person_size_area

#: Bin edges on sqrt(area) in pixels: 8 px steps to 128, then wider; the last bin is open.
FINE_SIZE_EDGES: tuple[float, ...] = (*range(0, 129, 8), 160, 192, 256, 384, 512)
#: The localisation OKS of the diagnosis' false negatives (``diagnose.LOCALIZATION_OKS``).
_MISS_OKS = (0.1, 0.5)

SIZE_CURVE_TEXT = (
    "persons binned by sqrt(area) (lo <= sqrt(area) < hi); per bin a COCO keypoint evaluation with areaRng set to "
    "the bin (persons outside ignored; detections outside, by the box around their keypoints, ignored unless "
    "matched); missed persons: persons of the evaluation (crowd regions and persons without keypoints excluded) "
    "that no detection matches at OKS 0.1 (the diagnosis' false negatives) or at OKS 0.5, on the matching "
    "without size restriction"
)


class SizeBin(msgspec.Struct, frozen=True):
    """One bin of sqrt(area): ``hi`` is None for the open last bin; AP values None without persons."""

    lo: float
    hi: float | None
    n_gt: int
    ap: float | None = msgspec.field(name="AP")  # the --json documents' metric keys
    ap50: float | None = msgspec.field(name="AP50")
    ap75: float | None = msgspec.field(name="AP75")
    missed: int  #: persons of the bin no detection matches at OKS 0.1 (all-slice matching)
    missed_50: int  #: persons of the bin no detection matches at OKS 0.5 (all-slice matching)

    @property
    def label(self) -> str:
        return f"{self.lo:g}-{self.hi:g}" if self.hi is not None else f">={self.lo:g}"


class SizeCurve(msgspec.Struct, frozen=True, kw_only=True):
    """AP and missed persons per bin of sqrt(area) under one area source (diagnose's ``ap_by_size``)."""

    area_source: str = msgspec.field(name="area")
    definition: str = SIZE_CURVE_TEXT  #: stated in the document beside the numbers
    bins: tuple[SizeBin, ...]

    def to_json(self) -> dict[str, Any]:
        """Plain JSON values, for the diagnosis' document (built as a dict)."""
        result: dict[str, Any] = msgspec.to_builtins(self)
        return result


def size_curve(prep: _Prepared, used: EvaluationDefinitions, edges: tuple[float, ...] = FINE_SIZE_EDGES) -> SizeCurve:
    """AP per bin of sqrt(area) and the missed persons per bin (see the module doc).

    Args:
        prep: the prepared evaluation (``slices._prepare``).
        used: the definitions in use (its size area source measures persons and detections).
        edges: increasing bin edges on sqrt(area) in pixels, the first one 0 or more; the last bin is open.
    """
    side = np.asarray(edges, dtype=np.float64)
    if len(side) < 1 or (np.diff(side) <= 0).any() or side[0] < 0:
        raise ValueError(f"size bin edges must increase from 0 or more: {edges}")
    area_edges = side**2
    gt = prep.gt
    ignore = base_ignore(gt)
    crowd = gt["iscrowd"].astype(bool)
    source = used.size.area_source
    # An area equal to an edge falls in the upper bin; below the first edge (or NaN): in no bin.
    gt_area = person_size_area(gt, used)
    gt_bin = np.where(np.isnan(gt_area), -1, np.searchsorted(area_edges, gt_area, side="right") - 1)
    det_bin = np.searchsorted(area_edges, detection_size_area(prep.det_area, source), side="right") - 1
    codes = np.arange(len(side))[:, None]
    gt_ignore = ignore[None, :] | (gt_bin[None, :] != codes)
    det_outside = det_bin[None, :] != codes

    n_gt = len(gt)
    pairs = match_input(prep.pair_det, prep.pair_gt, prep.pair_oks, prep.det_rank, n_gt, OKS_THRESHOLDS[0])
    det_gt = greedy_match(pairs, gt_ignore, crowd)  # (B, T, D)
    matched = det_gt >= 0
    padded = np.concatenate([gt_ignore, np.zeros((len(gt_ignore), 1), bool)], axis=1)
    matched_ignored = padded[codes[:, :, None], np.where(matched, det_gt, n_gt)]
    det_ignored = np.where(matched, matched_ignored, det_outside[:, None, :])

    # Missed persons on the matching without size restriction, at OKS 0.1 and 0.5.
    loose = match_input(prep.pair_det, prep.pair_gt, prep.pair_oks, prep.det_rank, n_gt, _MISS_OKS[0])
    all_gt = greedy_match(loose, ignore[None, :], crowd, np.array(_MISS_OKS))[0]  # (2, D)
    missed = []
    for t in range(len(_MISS_OKS)):
        hit = np.zeros(n_gt, dtype=bool)
        hit[all_gt[t][all_gt[t] >= 0]] = True
        missed.append(~ignore & ~hit)

    bins = []
    for b in range(len(side)):
        in_bin = ~gt_ignore[b]
        metrics = _metrics(matched[b], det_ignored[b], int(in_bin.sum()))
        hi = float(side[b + 1]) if b + 1 < len(side) else None
        bins.append(SizeBin(float(side[b]), hi, metrics.n_gt, metrics.ap, metrics.ap50, metrics.ap75,
                            int((missed[0] & in_bin).sum()), int((missed[1] & in_bin).sum())))  # fmt: skip
    return SizeCurve(area_source=source.value, bins=tuple(bins))
