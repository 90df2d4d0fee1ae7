"""One evaluation's stored tables: the kept detections, every same-image OKS pair, densities."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from analysis.cache import contract as cache
from analysis.cache.columns import Columns, arrow_of, column, list_values
from analysis.definitions import person_area
from analysis.evaluation import store
from analysis.evaluation.definitions import EvaluationDefinitions
from analysis.evaluation.density import detection_density
from analysis.evaluation.engine import oks_pairs, same_image_pairs
from analysis.evaluation.predictions import Predictions, kept_detections

if TYPE_CHECKING:  # `evaluate` passes numpy columns (no pandas to import); frames are accepted too
    import pandas as pd


@dataclass(frozen=True)
class Computed:
    """What an evaluation stores: detections.parquet and oks.parquet as tables, and the counts."""

    detections: pa.Table
    oks: pa.Table
    counts: store.DetectionCounts


def compute_evaluation(
    predictions: Predictions,
    person_categories: list[int],
    instances: pd.DataFrame | Columns,
    gt_keypoints: np.ndarray,
    definitions: EvaluationDefinitions,
) -> Computed:
    """The kept detections, every same-image OKS pair (once) and each detection's density.

    Args:
        predictions: a validated results file.
        person_categories: the category ids evaluated (others are counted, not kept).
        instances: the split's instances (annotation order), without keypoints.
        gt_keypoints: (G, K, 3) their keypoints.
        definitions: the sigmas and OKS area used.
    """
    detections, counts = _kept_detections(predictions, person_categories)
    gt = instances
    gt_bbox = np.stack([column(gt, c).astype(np.float64) for c in ("bbox_x", "bbox_y", "bbox_w", "bbox_h")], axis=1)
    segm = column(gt, "segm_area").astype(np.float64)
    gt_area = person_area(gt_bbox[:, 2], gt_bbox[:, 3], segm, definitions.oks_area)
    pairs = same_image_pairs(detections["image_id"], column(gt, "image_id").astype(np.int64))
    det_keypoints = detections["keypoints"]
    oks = oks_pairs(det_keypoints, gt_keypoints, gt_bbox, gt_area, pairs, definitions.sigma_array)
    density = detection_density(det_keypoints, gt_keypoints, column(gt, "iscrowd").astype(bool), pairs, oks)
    oks_table = pa.table({
        "det_id": arrow_of(detections["det_id"][pairs.det], pa.int64()),
        "ann_id": arrow_of(column(gt, "ann_id").astype(np.int64)[pairs.gt], pa.int64()),
        "oks": arrow_of(oks, pa.float64()),
    })  # fmt: skip
    return Computed(_detections_table(detections, density), oks_table, counts)


def gt_keypoints(cache_root: Path, key: cache.CacheKey, n_gt: int, n_joints: int) -> np.ndarray:
    """(G, K, 3) float32 ground-truth keypoints, straight from the parquet list column."""
    path = key.directory(cache_root) / cache.INSTANCES_FILE
    flat = list_values(pq.ParquetFile(path).read(columns=["keypoints"]).column("keypoints"))
    return flat.reshape(n_gt, n_joints, 3)


def _kept_detections(predictions: Predictions, person_categories: list[int]) -> tuple[dict, store.DetectionCounts]:
    """Person detections, the 20 best per image (score descending, file order on ties)."""
    n = len(predictions.score)
    det_id = np.arange(1, n + 1, dtype=np.int64)  # loadRes numbers results 1..N in file order
    cut = kept_detections(predictions.image_id, predictions.category_id, predictions.score, person_categories)
    kept = cut.rows
    keypoints = predictions.keypoints_of(kept)
    x, y = keypoints[:, :, 0], keypoints[:, :, 1]
    x0, x1, y0, y1 = x.min(axis=1), x.max(axis=1), y.min(axis=1), y.max(axis=1)
    counts = store.DetectionCounts(
        records=n,
        kept=len(kept),
        other_category=int(n - cut.person.sum()),
        over_max_per_image=cut.over_max_per_image,
    )
    detections = {
        "det_id": det_id[kept],
        "image_id": predictions.image_id[kept],
        "category_id": predictions.category_id[kept],
        "score": predictions.score[kept],
        "keypoints": keypoints,
        "box": np.stack([x0, y0, x1 - x0, y1 - y0], axis=1),
    }
    return detections, counts


def _detections_table(detections: dict, density: np.ndarray) -> pa.Table:
    keypoints = detections["keypoints"]
    n, k = keypoints.shape[:2]
    flat = arrow_of(keypoints.astype(np.float32).reshape(-1), pa.float32())
    offsets = arrow_of(np.arange(0, (n + 1) * 3 * k, 3 * k, dtype=np.int32), pa.int32())
    box = detections["box"]
    return pa.table(
        {
            "det_id": arrow_of(detections["det_id"], pa.int64()),
            "image_id": arrow_of(detections["image_id"], pa.int64()),
            "category_id": arrow_of(detections["category_id"], pa.int64()),
            "score": arrow_of(detections["score"], pa.float64()),
            "keypoints": pa.ListArray.from_arrays(offsets, flat),
            "box_x": arrow_of(box[:, 0], pa.float64()),
            "box_y": arrow_of(box[:, 1], pa.float64()),
            "box_w": arrow_of(box[:, 2], pa.float64()),
            "box_h": arrow_of(box[:, 3], pa.float64()),
            "area": arrow_of(box[:, 2] * box[:, 3], pa.float64()),
            "density": arrow_of(density, pa.float64()),
        }
    )
