"""The fast builder equals an independent straightforward computation
(tests/reference/coco_reference.py: pycocotools + a per-image Python loop), column by column."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.build.run import build_split
from analysis.cache import contract as cache
from analysis.registry import DatasetSpec
from benchmarks.synthetic_coco import write_synthetic_coco
from tests.reference.coco_reference import reference_tables

IMAGE_COLS = ["file_name", "n_persons", "n_crowd_regions", "crowd_index", "crowd_index_stored"]
INSTANCE_COLS = [
    "image_id",
    "iscrowd",
    "bbox_x",
    "bbox_y",
    "bbox_w",
    "bbox_h",
    "bbox_area",
    "segm_area",
    "num_keypoints",
    "n_labelled",
    "n_visible",
    "crowding",
]


def assert_same(path, tmp_path):
    result = build_split(DatasetSpec("x", "val", path), tmp_path / "cache", progress=False)
    ours_img = cache.read_images(tmp_path / "cache", result.key).set_index("image_id").sort_index()
    ours_inst = cache.read_instances(tmp_path / "cache", result.key).set_index("ann_id").sort_index()
    ref_img, ref_inst = reference_tables(str(path))
    ref_img = ref_img.set_index("image_id").sort_index()
    ref_inst = ref_inst.set_index("ann_id").sort_index()
    assert list(ours_img.index) == list(ref_img.index)
    assert list(ours_inst.index) == list(ref_inst.index)
    for col in IMAGE_COLS:
        a, b = ours_img[col], ref_img[col]
        if a.dtype.kind == "f" or b.dtype.kind == "f":
            np.testing.assert_allclose(a.astype(float), b.astype(float), rtol=1e-12, equal_nan=True, err_msg=col)
        else:
            assert a.astype(object).tolist() == b.astype(object).tolist(), col
    for col in INSTANCE_COLS:
        a = pd.to_numeric(ours_inst[col].astype(object), errors="coerce").astype(float)
        b = pd.to_numeric(ref_inst[col].astype(object), errors="coerce").astype(float)
        np.testing.assert_allclose(a, b, rtol=1e-12, equal_nan=True, err_msg=col)
    ours_kp = np.stack(ours_inst["keypoints"].to_numpy())
    ref_kp = np.stack([np.asarray(k, dtype=np.float32) for k in ref_inst["keypoints"]])
    np.testing.assert_array_equal(ours_kp, ref_kp)


@pytest.mark.parametrize(
    "relative",
    [
        "coco-mini/annotations/person_keypoints_val2017.json",
        "coco-mini/annotations/person_keypoints_train2017.json",
        "xtcocoapi/example_crowdpose_val.json",
        "mmpose/ochuman/test_ochuman.json",
        "faster-coco-eval/gt_dataset.json",
    ],
)
def test_real_files_equal_reference(tmp_path, fixtures_dir, relative):
    assert_same(fixtures_dir / relative, tmp_path)


@pytest.mark.parametrize("seed", [0, 1])
def test_synthetic_crowds_equal_reference(tmp_path, seed):
    path = tmp_path / "synthetic.json"
    write_synthetic_coco(path, n_images=400, n_persons=2500, seed=seed)
    assert_same(path, tmp_path)
