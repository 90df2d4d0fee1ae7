"""engine.oks_pairs against pycocotools' own ``COCOeval.computeOks``, image by image, run in
the same test: on the real coco-mini annotations (crowd regions and persons without labelled
joints included) and on a synthetic set, with noisy predictions and far false positives (pairs
whose OKS terms underflow to exactly 0, which oks_pairs skips the exponential of)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from analysis.evaluation.engine import oks_pairs, same_image_pairs
from benchmarks.synthetic_coco import write_synthetic_coco
from tests.analysis.evaluation.reference import COCO_SIGMAS, _quiet, noisy_predictions
from tests.conftest import require_fixtures


def _pycocotools_oks(doc: dict, preds: list[dict]) -> dict[int, np.ndarray]:
    """Image id -> computeOks's (detections by score, cut to 20) x (persons) OKS matrix."""
    with _quiet():
        gt = COCO()
        gt.dataset = json.loads(json.dumps(doc))
        gt.createIndex()
        ev = COCOeval(gt, gt.loadRes(json.loads(json.dumps(preds))), iouType="keypoints")
        ev.params.kpt_oks_sigmas = COCO_SIGMAS
        ev._prepare()
    return {img: np.asarray(ev.computeOks(img, 1)) for img in ev.params.imgIds}


def _ours(doc: dict, preds: list[dict], ref: dict[int, np.ndarray]) -> tuple[dict[int, np.ndarray], np.ndarray]:
    """Ours on the same detections (pycocotools' order and cut) and persons; also every pair's e minimum."""
    gts = [a for a in doc["annotations"] if a["category_id"] == 1]
    by_image: dict[int, list[dict]] = {}
    for p in preds:
        by_image.setdefault(p["image_id"], []).append(p)
    dets = []
    for img in ref:
        ranked = sorted(by_image.get(img, []), key=lambda p: -p["score"])  # stable, as its mergesort
        dets += ranked[:20]
    k = len(COCO_SIGMAS)
    det_kp = np.array([d["keypoints"] for d in dets], float).reshape(-1, k, 3)
    gt_kp = np.array([a["keypoints"] for a in gts], np.float32).reshape(-1, k, 3)
    gt_bbox = np.array([a["bbox"] for a in gts], float)
    gt_area = np.array([a["area"] for a in gts], float)
    det_image = np.array([d["image_id"] for d in dets])
    gt_image = np.array([a["image_id"] for a in gts])
    pairs = same_image_pairs(det_image, gt_image)
    oks = oks_pairs(det_kp, gt_kp, gt_bbox, gt_area, pairs, COCO_SIGMAS)
    ours = {}
    for img in ref:
        rows = np.flatnonzero(det_image[pairs.det] == img)
        n_det = int((det_image == img).sum())
        ours[img] = oks[rows].reshape(n_det, -1) if len(rows) else np.zeros((0, 0))
    return ours, oks


def _check(doc: dict, preds: list[dict]) -> None:
    ref = _pycocotools_oks(doc, preds)
    ours, oks = _ours(doc, preds, ref)
    compared = 0
    for img, matrix in ref.items():
        if len(matrix) == 0:  # pycocotools' [] for an image without detections or persons
            assert ours[img].size == 0
            continue
        assert ours[img].shape == matrix.shape, img
        np.testing.assert_allclose(ours[img], matrix, rtol=1e-12, atol=1e-300)
        compared += matrix.size
    assert compared == len(oks) > 500
    # not vacuous: pairs of exactly 0 (every term underflowed), partial ones, and near matches
    assert (oks == 0).sum() > 100 and ((oks > 0) & (oks < 0.01)).sum() > 10 and (oks > 0.9).sum() > 50


def test_oks_pairs_equal_pycocotools_compute_oks_on_coco_mini() -> None:
    doc = json.loads((require_fixtures() / "coco-mini/annotations/person_keypoints_val2017.json").read_text())
    unlabelled = [a for a in doc["annotations"] if a["num_keypoints"] == 0]
    assert any(a["iscrowd"] for a in unlabelled) and any(not a["iscrowd"] for a in unlabelled)
    preds = noisy_predictions(doc, seed=5, extra_fp=1.0)
    # detections near persons without labelled joints: their OKS is the distance to the grown box
    for a in unlabelled[:30]:
        x, y, w, h = a["bbox"]
        kp = np.stack([np.linspace(x - w, x + 3 * w, 17), np.full(17, y + h / 2), np.full(17, 0.5)], 1)
        preds.append({"image_id": a["image_id"], "category_id": 1, "keypoints": kp.ravel().tolist(), "score": 0.5})
    _check(doc, preds)


@pytest.mark.parametrize("seed", [0, 1])
def test_oks_pairs_equal_pycocotools_compute_oks_on_a_synthetic_set(tmp_path: Path, seed: int) -> None:
    path = tmp_path / "gt.json"
    write_synthetic_coco(path, n_images=60, n_persons=200, polygon_points=8, seed=seed)
    doc = json.loads(path.read_text())
    _check(doc, noisy_predictions(doc, seed=seed, extra_fp=1.0))
