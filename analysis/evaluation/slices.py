"""Slices of one evaluation: sizes, small persons by density, images by crowd level.

Every slice reuses the OKS pairs computed once per evaluation; only matching
(which persons a slice ignores changes which one a detection takes) and
accumulation repeat.  Crowd levels are image slices: their matching is the
"all" slice's, restricted to the level's images.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from analysis.cache.columns import Columns, as_columns, as_frame, column
from analysis.definitions import AreaSource, CrowdIndexSource, SizeBucket, person_area, size_bucket_codes
from analysis.errors import PoseAtlasError
from analysis.evaluation.definitions import GT_COLUMNS, OKS_THRESHOLDS, DetectionArea, EvaluationDefinitions
from analysis.evaluation.engine import accumulate, greedy_match, match_input
from analysis.evaluation.store import BootstrapSettings, StoredEvaluation

if TYPE_CHECKING:  # `evaluate` slices numpy columns (no pandas to import); frames are accepted too
    import pandas as pd

DENSITY_SLICES = ("small/sparse", "small/moderate", "small/dense")
CROWD_SLICES = ("crowd/easy", "crowd/medium", "crowd/hard")
#: Every slice, in the order tables list them.
SLICE_NAMES = ("all", *SizeBucket.names(), *DENSITY_SLICES, *CROWD_SLICES)
#: Slices that need their own matching (the crowd levels reuse "all").
_MATCHED_SLICES = ("all", *SizeBucket.names(), *DENSITY_SLICES)

#: Said wherever re-sliced results are shown.
FIXED_AT_EVALUATION = (
    "OKS sigmas and the OKS area are fixed when the predictions are evaluated; "
    "changing them needs `python -m analysis evaluate` again (size, density and crowd "
    "definitions re-slice the stored OKS pairs)"
)

#: Said wherever a stale evaluation is shown.
STALE = "stale: evaluated against other annotations than the current build; evaluate the predictions again"

#: The ground-truth columns slicing reads (the box corner only matters to matching).
_SLICE_COLUMNS = [c for c in GT_COLUMNS if c not in ("bbox_x", "bbox_y")]


@dataclass(frozen=True)
class SliceMetrics:
    """COCO keypoint metrics of one slice.

    Attributes:
        ap: mean precision over OKS 0.50:0.05:0.95 and 101 recall points, in
            [0, 1]; None when the slice has no ground-truth person.
        ap50, ap75: the same at OKS 0.50 and 0.75.
        ar: mean final recall over the thresholds.
        n_gt: ground-truth persons in the slice (not ignored).
        precision: (10, 101) interpolated precision per threshold and recall
            point (NaN when the slice has no ground truth), for PR curves.
        ci: with a bootstrap, the percentile interval [lo, hi] of "AP", "AP50",
            "AP75" and "AR" (None for a metric no replicate defines); else None.
    """

    ap: float | None
    ap50: float | None
    ap75: float | None
    ar: float | None
    n_gt: int
    precision: npt.NDArray[np.float64] = field(repr=False, compare=False)
    ci: dict[str, tuple[float, float] | None] | None = None

    def to_json(self) -> dict:
        doc: dict = {"AP": self.ap, "AP50": self.ap50, "AP75": self.ap75, "AR": self.ar, "n_gt": self.n_gt}
        if self.ci is not None:
            doc["ci"] = {k: None if v is None else list(v) for k, v in self.ci.items()}
        return doc


@dataclass(frozen=True)
class EvaluationResult:
    """Every slice of one model's evaluation.

    Attributes:
        model: the model label.
        definitions: the definitions these numbers used (sigmas and OKS area
            always those of the stored evaluation).
        slices: metrics by slice name, keys exactly :data:`SLICE_NAMES`.
        note: what could not follow the requested definitions, else "".
        bootstrap: the resampling settings when the slices carry intervals.
    """

    model: str
    definitions: EvaluationDefinitions
    slices: dict[str, SliceMetrics]
    note: str = ""
    bootstrap: BootstrapSettings | None = None

    def to_json(self) -> dict:
        """The ``--json`` document of ``python -m analysis evaluate``."""
        doc = {
            "model": self.model,
            "definitions": self.definitions.to_json(),
            "slices": {name: self.slices[name].to_json() for name in SLICE_NAMES},
        }
        if self.bootstrap is not None:
            doc["bootstrap"] = self.bootstrap.to_json()
        return doc


@dataclass(frozen=True)
class _Prepared:
    """Detections in the global accumulation order, persons and candidate pairs."""

    det_id: npt.NDArray[np.int64]  #: (D,) in global order: score desc, then image id, then rank
    det_image: npt.NDArray[np.int64]
    det_area: npt.NDArray[np.float64]  #: box around the predicted keypoints, w*h
    det_density: npt.NDArray[np.float64]
    det_rank: npt.NDArray[np.int64]
    gt: Columns  #: instances rows (annotation order), G rows, the columns slicing reads
    pair_det: npt.NDArray[np.int64]
    pair_gt: npt.NDArray[np.int64]
    pair_oks: npt.NDArray[np.float64]


def _prepare(stored: StoredEvaluation, instances: pd.DataFrame | Columns) -> _Prepared:
    det = as_columns(stored.detections, ["det_id", "image_id", "score", "area", "density"])
    order = np.lexsort((det["det_id"], det["image_id"], -det["score"]))
    det = det.take(order)
    det_id = det["det_id"].astype(np.int64)
    det_image = det["image_id"].astype(np.int64)
    # Rank within the image: score descending, ties in file order (det_id).
    by_image = np.lexsort((det_id, -det["score"], det_image))
    image_sorted = det_image[by_image]
    first = np.searchsorted(image_sorted, image_sorted, side="left")
    rank = np.empty(len(det_id), dtype=np.int64)
    rank[by_image] = np.arange(len(det_id)) - first

    gt = as_columns(instances, _SLICE_COLUMNS)
    ann_ids = gt["ann_id"].astype(np.int64)
    ann_order = np.argsort(ann_ids, kind="stable")
    oks = as_columns(stored.oks, ["det_id", "ann_id", "oks"])
    pair_ann = oks["ann_id"].astype(np.int64)
    where = np.searchsorted(ann_ids, pair_ann, sorter=ann_order)
    where = np.minimum(where, len(ann_ids) - 1) if len(ann_ids) else where
    if len(pair_ann) and (not len(ann_ids) or not np.array_equal(ann_ids[ann_order[where]], pair_ann)):
        raise PoseAtlasError(
            f"evaluation of {stored.record.model!r} refers to annotations not in the current cache "
            "(the annotations changed since; evaluate the predictions again)"
        )
    det_pos = np.empty(int(det_id.max()) + 1 if len(det_id) else 0, dtype=np.int64)
    det_pos[det_id] = np.arange(len(det_id))
    return _Prepared(
        det_id,
        det_image,
        det["area"].astype(np.float64),
        det["density"].astype(np.float64),
        rank,
        gt,
        det_pos[oks["det_id"].astype(np.int64)],
        ann_order[where] if len(pair_ann) else np.zeros(0, np.int64),
        oks["oks"].astype(np.float64),
    )


def base_ignore(gt: pd.DataFrame | Columns) -> npt.NDArray[np.bool_]:
    """(G,) persons COCO's keypoint evaluation ignores: crowd regions and persons whose
    stored ``num_keypoints`` is 0 (the labelled count where the file has no such field)."""
    stored = column(gt, "num_keypoints").astype(np.float64)
    labelled = column(gt, "n_labelled").astype(np.float64)
    count = np.where(np.isnan(stored), labelled, stored)
    return column(gt, "iscrowd").astype(bool) | (count == 0)


def _size_codes(gt: Columns, definitions: EvaluationDefinitions) -> npt.NDArray[np.int8]:
    return size_bucket_codes(person_size_area(gt, definitions), definitions.size.edges)


def person_size_area(gt: pd.DataFrame | Columns, definitions: EvaluationDefinitions) -> npt.NDArray[np.float64]:
    """(G,) each person's area under the size definition (NaN for a crowd region without one);
    raises when a person that is not a crowd region has none."""
    source = definitions.size.area_source
    area = person_area(
        column(gt, "bbox_w").astype(np.float64),
        column(gt, "bbox_h").astype(np.float64),
        column(gt, "segm_area").astype(np.float64),
        source,
    )
    missing = np.isnan(area) & ~column(gt, "iscrowd").astype(bool)
    if missing.any():
        raise PoseAtlasError(
            f"size area {source.value}: {int(missing.sum())} person(s) have no segmentation area "
            "(the file has no 'area' field); choose bbox or crowdpose"
        )
    return area


def detection_size_area(
    box_area: npt.ArrayLike, source: AreaSource, detection_area: DetectionArea = DetectionArea.KEYPOINT_BOX
) -> npt.NDArray[np.float64]:
    """A detection's area under a size area source.

    A prediction has no segmentation: its area is the box around its predicted
    keypoints, w*h, whatever the persons' area source (pycocotools' and xtcocotools'
    ``loadRes`` rule, :attr:`DetectionArea.KEYPOINT_BOX`); :attr:`DetectionArea.SCALED`
    instead scales it like the persons (0.53 times the box under ``crowdpose``).
    """
    box_area = np.asarray(box_area, dtype=np.float64)
    if detection_area is DetectionArea.KEYPOINT_BOX:
        return box_area
    return person_area(np.ones_like(box_area), box_area, box_area, source)


def crowd_level_codes(images: pd.DataFrame | Columns, definitions: EvaluationDefinitions) -> npt.NDArray[np.integer]:
    """(M,) crowd level code (0 easy, 1 medium, 2 hard) of each image row."""
    name = "crowd_index_stored" if definitions.crowd_index is CrowdIndexSource.STORED else "crowd_index"
    values = column(images, name).astype(np.float64)
    if np.isnan(values).any():
        raise PoseAtlasError(
            f"crowd index {definitions.crowd_index.value}: {int(np.isnan(values).sum())} image(s) have no "
            "stored crowdIndex; use --crowd-index computed"
        )
    return definitions.crowd_convention.levels().codes(values)


def crowd_level_of_images(images: pd.DataFrame | Columns, definitions: EvaluationDefinitions) -> pd.Series:
    """Crowd level code (0 easy, 1 medium, 2 hard) per image id."""
    import pandas as pd

    return pd.Series(crowd_level_codes(images, definitions), index=column(images, "image_id").astype(np.int64))


def crowd_levels_at(
    images: pd.DataFrame | Columns, definitions: EvaluationDefinitions, image_ids: npt.NDArray[np.int64]
) -> npt.NDArray[np.float64]:
    """The crowd level code of the image of each of ``image_ids`` (NaN for an id ``images`` lacks):
    :func:`crowd_level_of_images` looked up without pandas."""
    codes = crowd_level_codes(images, definitions).astype(np.float64)
    ids = column(images, "image_id").astype(np.int64)
    order = np.argsort(ids, kind="stable")
    where = np.minimum(np.searchsorted(ids, image_ids, sorter=order), max(len(ids) - 1, 0))
    if not len(ids):
        return np.full(len(image_ids), np.nan)
    found = ids[order[where]] == image_ids
    return np.where(found, codes[order[where]], np.nan)


def _slice_masks(
    prep: _Prepared, ignore: npt.NDArray[np.bool_], used: EvaluationDefinitions
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Per matched slice (:data:`_MATCHED_SLICES` order): (S, G) persons it ignores and
    (S, D) detections outside it (ignored there unless matched to a person it keeps)."""
    gt = prep.gt
    size = _size_codes(gt, used)
    density = used.density_edges.codes(gt["crowding"].astype(np.float64))
    gt_ignore = np.stack(
        [
            ignore,
            *(ignore | (size != b.code) for b in SizeBucket),
            *(ignore | (size != SizeBucket.SMALL.code) | (density != lvl) for lvl in range(3)),
        ]
    )
    det_area = detection_size_area(prep.det_area, used.size.area_source, used.detection_area)
    det_size = size_bucket_codes(det_area, used.size.edges)
    det_level = used.density_edges.codes(prep.det_density)
    det_outside = np.stack(
        [
            np.zeros(len(det_size), bool),
            *(det_size != b.code for b in SizeBucket),
            *((det_size != SizeBucket.SMALL.code) | (det_level != lvl) for lvl in range(3)),
        ]
    )
    return gt_ignore, det_outside


@dataclass(frozen=True)
class SliceMatches:
    """What one slice accumulates: its detections' match flags and its persons' images.

    Attributes:
        matched: (T, N) whether each of the slice's candidate detections matched,
            detections in the global accumulation order.
        ignored: (T, N) whether the slice ignores the detection.
        det_image: (N,) image id of each detection.
        gt_image: (n_gt,) image id of each person the slice counts.
    """

    matched: npt.NDArray[np.bool_]
    ignored: npt.NDArray[np.bool_]
    det_image: npt.NDArray[np.int64]
    gt_image: npt.NDArray[np.int64]

    @property
    def n_gt(self) -> int:
        return len(self.gt_image)


@dataclass(frozen=True)
class _Matched:
    """One stored evaluation matched under the slicing definitions, before any image restriction."""

    used: EvaluationDefinitions
    note: str
    prep: _Prepared
    ignore: npt.NDArray[np.bool_]  #: (G,) COCO's ignored persons
    gt_ignore: npt.NDArray[np.bool_]  #: (S, G) per matched slice
    matched: npt.NDArray[np.bool_]  #: (S, T, D)
    det_ignored: npt.NDArray[np.bool_]  #: (S, T, D)
    det_level: npt.NDArray[np.float64]  #: (D,) crowd level code of each detection's image
    gt_level: npt.NDArray[np.float64]  #: (G,) crowd level code of each person's image


def _match(
    stored: StoredEvaluation,
    images: pd.DataFrame | Columns,
    instances: pd.DataFrame | Columns,
    definitions: EvaluationDefinitions,
) -> _Matched:
    used = stored.definitions.with_slicing(definitions)
    notes = [] if definitions.same_matching(stored.definitions) else [FIXED_AT_EVALUATION]
    if stored.record.stale:
        notes.append(STALE)
    prep = _prepare(stored, instances)
    gt = prep.gt
    ignore = base_ignore(gt)
    crowd = gt["iscrowd"].astype(bool)
    gt_image = gt["image_id"].astype(np.int64)

    gt_ignore, det_outside = _slice_masks(prep, ignore, used)

    pairs = match_input(prep.pair_det, prep.pair_gt, prep.pair_oks, prep.det_rank, len(gt), OKS_THRESHOLDS[0])
    det_gt = greedy_match(pairs, gt_ignore, crowd)  # (S, T, D)
    matched = det_gt >= 0
    # Column G of the padded flags stands for "no match" (never read: masked by `matched`).
    padded = np.concatenate([gt_ignore, np.zeros((len(gt_ignore), 1), bool)], axis=1)
    matched_ignored = padded[np.arange(len(gt_ignore))[:, None, None], np.where(matched, det_gt, len(gt))]
    det_ignored = np.where(matched, matched_ignored, det_outside[:, None, :])
    return _Matched(
        used,
        "; ".join(notes),
        prep,
        ignore,
        gt_ignore,
        matched,
        det_ignored,
        crowd_levels_at(images, used, prep.det_image),
        crowd_levels_at(images, used, gt_image),
    )


def _slice_matches_of(
    m: _Matched, det_in: npt.NDArray[np.bool_], gt_in: npt.NDArray[np.bool_]
) -> dict[str, SliceMatches]:
    """Every slice's matches over the images whose detections are ``det_in`` and persons ``gt_in``.

    Matching is per image, so a part of the images is evaluated by restricting the
    matched detections and the persons to it (what pycocotools gives on that part alone).
    """
    gt_image = m.prep.gt["image_id"].astype(np.int64)
    slices: dict[str, SliceMatches] = {}
    for s, name in enumerate(_MATCHED_SLICES):
        slices[name] = SliceMatches(
            m.matched[s][:, det_in],
            m.det_ignored[s][:, det_in],
            m.prep.det_image[det_in],
            gt_image[~m.gt_ignore[s] & gt_in],
        )
    for lvl, name in enumerate(CROWD_SLICES):
        in_det = det_in & (m.det_level == lvl)
        in_gt = gt_in & (m.gt_level == lvl)
        slices[name] = SliceMatches(
            m.matched[0][:, in_det], m.det_ignored[0][:, in_det], m.prep.det_image[in_det], gt_image[~m.ignore & in_gt]
        )
    return {n: slices[n] for n in SLICE_NAMES}


def slice_matches(
    stored: StoredEvaluation,
    images: pd.DataFrame | Columns,
    instances: pd.DataFrame | Columns,
    definitions: EvaluationDefinitions,
) -> tuple[EvaluationDefinitions, str, dict[str, SliceMatches]]:
    """Match every slice of a stored evaluation (see :func:`evaluate_stored`).

    Returns:
        (the definitions used, the note, matches by slice name in :data:`SLICE_NAMES` order).
    """
    m = _match(stored, images, instances, definitions)
    every_det = np.ones(len(m.prep.det_image), bool)
    every_gt = np.ones(len(m.prep.gt), bool)
    return m.used, m.note, _slice_matches_of(m, every_det, every_gt)


def evaluate_stored(
    stored: StoredEvaluation,
    images: pd.DataFrame | Columns,
    instances: pd.DataFrame | Columns,
    definitions: EvaluationDefinitions,
    bootstrap: BootstrapSettings | None = None,
) -> EvaluationResult:
    """Every slice of a stored evaluation under ``definitions``' slicing choices.

    Args:
        stored: the stored detections and OKS pairs.
        images: the split's images.parquet (image_id, crowd_index, crowd_index_stored).
        instances: the split's instances.parquet (without keypoints is enough).
        definitions: size, density and crowd choices to slice with; its sigmas
            and OKS area cannot differ from the stored ones (the result says so
            in ``note`` when they were asked to).
        bootstrap: when given, every slice also gets percentile intervals from
            image resamples (:mod:`analysis.evaluation.bootstrap`).
    """
    used, note, matches = slice_matches(stored, images, instances, definitions)
    slices = {name: slice_metrics(m) for name, m in matches.items()}
    if bootstrap is not None:
        from analysis.evaluation.bootstrap import slice_intervals

        intervals = slice_intervals(matches, column(images, "image_id").astype(np.int64), bootstrap)
        slices = {name: replace(m, ci=intervals[name]) for name, m in slices.items()}
    return EvaluationResult(stored.record.model, used, slices, note, bootstrap)


def slice_metrics(matches: SliceMatches) -> SliceMetrics:
    """The point metrics of one slice's matches."""
    return _metrics(matches.matched, matches.ignored, matches.n_gt)


def evaluate_stored_by(
    stored: StoredEvaluation,
    images: pd.DataFrame | Columns,
    instances: pd.DataFrame | Columns,
    definitions: EvaluationDefinitions,
    part_of_image: pd.Series,
) -> dict[str, EvaluationResult]:
    """Every slice of a stored evaluation, per part of the images (e.g. per ``source``).

    Args:
        part_of_image: the part (a string) of each image id (index); images it does not
            name belong to no part.

    Returns:
        ``{part: EvaluationResult}`` in sorted part order; each equals the evaluation
        of that part's images alone (same matching, detections and persons of the part).
    """
    m = _match(stored, images, instances, definitions)
    det_part = part_of_image.reindex(m.prep.det_image).to_numpy()
    gt_part = part_of_image.reindex(m.prep.gt["image_id"].astype(np.int64)).to_numpy()
    parts = sorted({str(p) for p in part_of_image.dropna().unique()})
    results = {}
    for part in parts:
        matches = _slice_matches_of(m, det_part == part, gt_part == part)
        slices = {name: slice_metrics(x) for name, x in matches.items()}
        results[part] = EvaluationResult(stored.record.model, m.used, slices, m.note)
    return results


def _metrics(matched: npt.NDArray[np.bool_], ignored: npt.NDArray[np.bool_], n_gt: int) -> SliceMetrics:
    acc = accumulate(matched, ignored, n_gt)
    if n_gt == 0:
        return SliceMetrics(None, None, None, None, 0, acc.precision)
    t50 = int(np.flatnonzero(OKS_THRESHOLDS == 0.5)[0])
    t75 = int(np.flatnonzero(OKS_THRESHOLDS == 0.75)[0])
    return SliceMetrics(
        float(np.mean(acc.precision)),
        float(np.mean(acc.precision[t50])),
        float(np.mean(acc.precision[t75])),
        float(np.mean(acc.recall)),
        n_gt,
        acc.precision,
    )


def matches_at(
    stored: StoredEvaluation, instances: pd.DataFrame | Columns, threshold: float = 0.5
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Who matched whom in the "all" slice at one OKS threshold (for drawing).

    Returns:
        (detections, persons): ``detections`` has the stored columns plus
        ``matched_ann_id`` (nullable Int64), ``oks`` (with the matched person, NaN
        when unmatched) and ``best_oks`` (highest OKS with any person of its
        image, NaN when the image has none); ``persons`` has ann_id, image_id,
        ``matched_det_id`` (nullable Int64), ``oks`` (NaN when missed) and
        ``ignored`` (crowd region or no keypoints: neither a miss nor a hit).
    """
    import pandas as pd

    prep = _prepare(stored, instances)
    gt = prep.gt
    ignore = base_ignore(gt)
    pairs = match_input(prep.pair_det, prep.pair_gt, prep.pair_oks, prep.det_rank, len(gt), threshold)
    det_gt = greedy_match(pairs, ignore[None, :], gt["iscrowd"].astype(bool), np.array([threshold]))[0, 0]

    pair_key = pd.Series(prep.pair_oks, index=pd.MultiIndex.from_arrays([prep.pair_det, prep.pair_gt]))
    has = det_gt >= 0
    det_oks = np.full(len(det_gt), np.nan)
    det_oks[has] = pair_key.reindex(pd.MultiIndex.from_arrays([np.flatnonzero(has), det_gt[has]])).to_numpy()
    best = np.full(len(det_gt), np.nan)
    if len(prep.pair_det):
        best_by_det = pd.Series(prep.pair_oks).groupby(prep.pair_det).max()
        best[best_by_det.index.to_numpy()] = best_by_det.to_numpy()

    by_id = as_frame(stored.detections).set_index("det_id").loc[prep.det_id].reset_index()
    detections = by_id.assign(
        matched_ann_id=pd.array(np.where(has, gt["ann_id"][np.maximum(det_gt, 0)], 0), dtype="Int64"),
        oks=det_oks,
        best_oks=best,
    )
    detections.loc[~has, "matched_ann_id"] = pd.NA
    # A crowd region may absorb several detections; report the first (best scored) per person.
    gt_det = np.full(len(gt), -1, dtype=np.int64)
    rows = np.flatnonzero(has)[::-1]  # later (lower) scores first, so the best one writes last
    gt_det[det_gt[rows]] = rows
    hit = gt_det >= 0
    person_oks = np.full(len(gt), np.nan)
    person_oks[hit] = det_oks[gt_det[hit]]
    persons = pd.DataFrame(
        {
            "ann_id": gt["ann_id"].astype(np.int64),
            "image_id": gt["image_id"].astype(np.int64),
            "matched_det_id": pd.array(np.where(hit, prep.det_id[np.maximum(gt_det, 0)], 0), dtype="Int64"),
            "oks": person_oks,
            "ignored": ignore,
        }
    )
    persons.loc[~hit, "matched_det_id"] = pd.NA
    return detections.reset_index(drop=True), persons
