"""The evaluation benchmark's parts run and agree with pycocotools on a small set (no timing)."""

from __future__ import annotations

import orjson

from analysis.build import build_split
from analysis.cache import CacheKey
from analysis.registry import DatasetSpec
from benchmarks.evaluate import bench_ours, bench_pycocotools, make_predictions
from benchmarks.synthetic_coco import write_synthetic_coco


def test_benchmark_parts_agree_with_pycocotools(tmp_path) -> None:
    gt_path = tmp_path / "gt.json"
    write_synthetic_coco(gt_path, n_images=120, n_persons=300, polygon_points=8, seed=1)
    gt = orjson.loads(gt_path.read_bytes())
    preds = make_predictions(gt, 200, seed=2)
    assert len(preds) == 200
    assert all(len(p["keypoints"]) == 51 for p in preds)
    assert {p["image_id"] for p in preds} <= {im["id"] for im in gt["images"]}
    preds_path = tmp_path / "preds.json"
    preds_path.write_bytes(orjson.dumps(preds))
    root, key = tmp_path / "cache", CacheKey("bench", "val")
    build_split(DatasetSpec(key.dataset, key.split, gt_path), root, progress=False)
    _, _, ap_reference = bench_pycocotools(gt, preds, repeat=1)
    ours = bench_ours(root, key, preds_path, repeat=1)
    assert abs(ours["ap"] - ap_reference) < 1e-9
    assert 0 < ap_reference < 1
