"""Columnar dataset + crowding -> the images and instances tables of the cache contract.

The column types are ``analysis.cache.IMAGES_SCHEMA`` / ``INSTANCES_SCHEMA``; building
the tables against them makes any drift an error here, not a surprise for a reader.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from analysis.cache import IMAGES_SCHEMA, INSTANCES_SCHEMA
from analysis.crowding import Crowding
from analysis.loading import PoseDataset


def _nullable(values: np.ndarray, null_mask: np.ndarray, type_: pa.DataType) -> pa.Array:
    return pa.array(values, type=type_, mask=null_mask)


def images_table(dataset: str, split: str, data: PoseDataset, crowding: Crowding) -> pa.Table:
    """images.parquet rows, one per image (M rows)."""
    img, inst = data.images, data.instances
    n_images = len(img.image_id)
    n_persons = np.bincount(inst.image_index[~inst.iscrowd], minlength=n_images)
    n_crowd = np.bincount(inst.image_index[inst.iscrowd], minlength=n_images)
    stored = img.crowd_index_stored
    return pa.table({
        "dataset": pa.array(np.full(n_images, dataset, dtype=object), pa.string()),
        "split": pa.array(np.full(n_images, split, dtype=object), pa.string()),
        "image_id": pa.array(img.image_id, pa.int64()),
        "file_name": pa.array(img.file_name, pa.string()),
        "width": _nullable(img.width, np.isnan(img.width), pa.float64()),
        "height": _nullable(img.height, np.isnan(img.height), pa.float64()),
        "n_persons": pa.array(n_persons, pa.int32()),
        "n_crowd_regions": pa.array(n_crowd, pa.int32()),
        "crowd_index": pa.array(crowding.crowd_index, pa.float64()),
        "crowd_index_stored": _nullable(stored, np.isnan(stored), pa.float64()),
        "source": pa.array(img.source, pa.string()),
    }, schema=IMAGES_SCHEMA)


def instances_table(dataset: str, split: str, data: PoseDataset, crowding: Crowding) -> pa.Table:
    """instances.parquet rows, one per annotation (N rows), crowd regions included."""
    img, inst = data.images, data.instances
    n = len(inst.ann_id)
    visibility = inst.keypoints[..., 2]
    # Binary files (PoseTrack) mark a labelled joint 1; it is then also visible.
    visible = visibility > 0 if data.visibility == "binary" else visibility >= 1.5
    flat = inst.keypoints.astype(np.float32).reshape(-1)
    width = inst.keypoints.shape[1] * 3
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int64) if width else np.zeros(n + 1, np.int64)
    keypoints = pa.LargeListArray.from_arrays(pa.array(offsets), pa.array(flat, pa.float32()))
    return pa.table({
        "dataset": pa.array(np.full(n, dataset, dtype=object), pa.string()),
        "split": pa.array(np.full(n, split, dtype=object), pa.string()),
        "ann_id": pa.array(inst.ann_id, pa.int64()),
        "image_id": pa.array(img.image_id[inst.image_index], pa.int64()),
        "iscrowd": pa.array(inst.iscrowd, pa.bool_()),
        "bbox_x": pa.array(inst.bbox[:, 0], pa.float64()),
        "bbox_y": pa.array(inst.bbox[:, 1], pa.float64()),
        "bbox_w": pa.array(inst.bbox[:, 2], pa.float64()),
        "bbox_h": pa.array(inst.bbox[:, 3], pa.float64()),
        "bbox_area": pa.array(inst.bbox[:, 2] * inst.bbox[:, 3], pa.float64()),
        "segm_area": _nullable(inst.segm_area, np.isnan(inst.segm_area), pa.float64()),
        "num_keypoints": _nullable(inst.num_keypoints, inst.num_keypoints < 0, pa.int32()),
        "n_labelled": pa.array(crowding.n_labelled, pa.int32()),
        "n_visible": pa.array(visible.sum(axis=1), pa.int32()),
        "crowding": pa.array(crowding.ratio, pa.float64()),
        "keypoints": keypoints,
    }, schema=INSTANCES_SCHEMA)
