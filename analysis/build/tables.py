"""Columnar dataset + crowding -> the images and instances tables of the cache contract.

The column types are ``analysis.cache.contract.IMAGES_SCHEMA`` / ``INSTANCES_SCHEMA``; building
the tables against them makes any drift an error here, not a surprise for a reader.

The columns are assembled from their buffers (``pa.Array.from_buffers``), not with
``pa.array``: every ``pa.array`` call imports pandas (to check whether its input is a
Series), which cost a build 0.3 s and more on a busy machine, and a build needs no pandas.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from analysis.build.crowding import Crowding
from analysis.build.loading import PoseDataset
from analysis.cache.columns import arrow_of, validity_bitmap
from analysis.cache.contract import IMAGES_SCHEMA, INSTANCES_SCHEMA

_numeric = arrow_of  # a numeric or boolean column; ``null_mask`` marks nulls


def _nullable(values: np.ndarray, null_mask: np.ndarray, type_: pa.DataType) -> pa.Array:
    return _numeric(values, type_, null_mask)


def _strings(values: Sequence[str | None]) -> pa.Array:
    """A string column; None is null."""
    encoded = [b"" if v is None else v.encode() for v in values]
    lengths = np.fromiter(map(len, encoded), np.int64, len(encoded))
    offsets = np.zeros(len(encoded) + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    if offsets[-1] > np.iinfo(np.int32).max:
        raise ValueError(f"{offsets[-1]} bytes of text in one string column: more than Arrow's string type holds")
    nulls = np.fromiter((v is None for v in values), bool, len(encoded))
    buffers = [validity_bitmap(nulls), pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(b"".join(encoded))]
    return pa.Array.from_buffers(pa.string(), len(encoded), buffers)


def _repeated(text: str, n: int) -> pa.Array:
    """``text`` n times."""
    data = text.encode()
    offsets = np.arange(n + 1, dtype=np.int64) * len(data)
    if offsets[-1] > np.iinfo(np.int32).max:
        raise ValueError(f"{offsets[-1]} bytes of text in one string column: more than Arrow's string type holds")
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(data * n)])


def images_table(dataset: str, split: str, data: PoseDataset, crowding: Crowding) -> pa.Table:
    """images.parquet rows, one per image (M rows)."""
    img, inst = data.images, data.instances
    n_images = len(img.image_id)
    n_persons = np.bincount(inst.image_index[~inst.iscrowd], minlength=n_images)
    n_crowd = np.bincount(inst.image_index[inst.iscrowd], minlength=n_images)
    stored = img.crowd_index_stored
    return pa.table(
        {
            "dataset": _repeated(dataset, n_images),
            "split": _repeated(split, n_images),
            "image_id": _numeric(img.image_id, pa.int64()),
            "file_name": _strings(img.file_name),
            "width": _nullable(img.width, np.isnan(img.width), pa.float64()),
            "height": _nullable(img.height, np.isnan(img.height), pa.float64()),
            "n_persons": _numeric(n_persons, pa.int32()),
            "n_crowd_regions": _numeric(n_crowd, pa.int32()),
            "crowd_index": _numeric(crowding.crowd_index, pa.float64()),
            "crowd_index_stored": _nullable(stored, np.isnan(stored), pa.float64()),
            "source": _strings(img.source),
        },
        schema=IMAGES_SCHEMA,
    )


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
    keypoints = pa.LargeListArray.from_arrays(_numeric(offsets, pa.int64()), _numeric(flat, pa.float32()))
    return pa.table(
        {
            "dataset": _repeated(dataset, n),
            "split": _repeated(split, n),
            "ann_id": _numeric(inst.ann_id, pa.int64()),
            "image_id": _numeric(img.image_id[inst.image_index], pa.int64()),
            "iscrowd": _numeric(inst.iscrowd, pa.bool_()),
            "bbox_x": _numeric(inst.bbox[:, 0], pa.float64()),
            "bbox_y": _numeric(inst.bbox[:, 1], pa.float64()),
            "bbox_w": _numeric(inst.bbox[:, 2], pa.float64()),
            "bbox_h": _numeric(inst.bbox[:, 3], pa.float64()),
            "bbox_area": _numeric(inst.bbox[:, 2] * inst.bbox[:, 3], pa.float64()),
            "segm_area": _nullable(inst.segm_area, np.isnan(inst.segm_area), pa.float64()),
            "num_keypoints": _nullable(inst.num_keypoints, inst.num_keypoints < 0, pa.int32()),
            "n_labelled": _numeric(crowding.n_labelled, pa.int32()),
            "n_visible": _numeric(visible.sum(axis=1), pa.int32()),
            "crowding": _numeric(crowding.ratio, pa.float64()),
            "keypoints": keypoints,
        },
        schema=INSTANCES_SCHEMA,
    )
