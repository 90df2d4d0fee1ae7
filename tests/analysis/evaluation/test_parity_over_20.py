"""Images with more than 20 detections (score ties at the cut included): every one of the
ten slices equals pycocotools and xtcocotools, both run in the same test, to 1e-9.

The tools keep each image's 20 best-scored detections (a stable sort: file order on
ties) before matching, and a size slice then ignores an unmatched detection whose
keypoint box is outside the range; PoseAtlas cuts once at evaluation.  The references
use the size area PoseAtlas used (its default ``bbox`` w*h, or ``segm``) with the OKS
area ``segm``; comparing the default's medium / large with plain pycocotools (which
sizes persons by ``area``) differs on any input, cut or not.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from analysis.cache.contract import read_images, read_instances
from analysis.cache.manifest import read_manifest
from analysis.definitions import AreaSource, CrowdIndexSource, SizeDefinition
from analysis.evaluation.compute import gt_keypoints
from analysis.evaluation.definitions import MAX_DETECTIONS
from analysis.evaluation.diagnose import diagnose_stored
from analysis.evaluation.run import EvaluationRequest, evaluate_files
from analysis.evaluation.slices import SLICE_NAMES
from analysis.evaluation.store import DETECTIONS_FILE, evaluations_dir, read_evaluation
from benchmarks.synthetic_coco import write_synthetic_coco
from tests.analysis.evaluation.reference import (
    COCO_SIGMAS,
    assert_metrics_equal,
    build,
    noisy_predictions,
    require_xtcocotools,
    ten_slices,
)

SCORE_GRID = np.round(np.arange(0.1, 1.0, 0.1), 1)  # few distinct scores: ties at the cut


def _crowded_predictions(doc: dict, seed: int) -> tuple[list[dict], list[int]]:
    """Noisy predictions plus 25-45 more on each of five images: jittered copies of the
    image's predictions (persons of every size) and loose boxes, scores on a coarse grid."""
    rng = np.random.default_rng(seed)
    preds = noisy_predictions(doc, seed)
    for p in preds:
        p["score"] = float(rng.choice(SCORE_GRID))
    by_image: dict[int, list[dict]] = {}
    for p in preds:
        by_image.setdefault(p["image_id"], []).append(p)
    crowded = sorted(by_image, key=lambda i: (-len(by_image[i]), i))[:5]
    for image_id in crowded:
        base = by_image[image_id]
        for i in range(int(rng.integers(25, 46))):
            kp = np.asarray(base[i % len(base)]["keypoints"], float).reshape(-1, 3)
            scale = rng.choice([1.0, 4.0, 40.0])  # near the person, off it, a loose false positive
            kp[:, :2] += rng.normal(0, scale, (len(kp), 2))
            preds.append({"image_id": image_id, "category_id": 1, "keypoints": kp.reshape(-1).tolist(),
                          "score": float(rng.choice(SCORE_GRID))})  # fmt: skip
    order = rng.permutation(len(preds))
    return [preds[i] for i in order], crowded


def _tie_at_the_cut(preds: list[dict], image_id: int) -> bool:
    scores = sorted((p["score"] for p in preds if p["image_id"] == image_id), reverse=True)
    return len(scores) > MAX_DETECTIONS and scores[MAX_DETECTIONS - 1] == scores[MAX_DETECTIONS]


@pytest.mark.slow
@pytest.mark.parametrize(("size_area", "seed"), [(AreaSource.BBOX, 0), (AreaSource.SEGM, 1)])
def test_images_over_20_detections_equal_pycocotools_and_xtcocotools(
    tmp_path: Path, size_area: AreaSource, seed: int
) -> None:
    """A synthetic COCO-like set: crowds of up to 30 persons (so images over 20 detections
    without adding any, and small persons at every density level), crowd RLE regions,
    unlabelled small persons; five images get 25-45 more detections."""
    require_xtcocotools()
    path = tmp_path / "synthetic.json"
    write_synthetic_coco(path, n_images=30, n_persons=300, polygon_points=8, seed=3)
    doc = json.loads(path.read_text())
    root, key, _ = build(tmp_path, path)
    instances = read_instances(root, key)
    images = read_images(root, key)
    request = EvaluationRequest(
        sigmas="coco", oks_area=AreaSource.SEGM, size=SizeDefinition(size_area), crowd_index=CrowdIndexSource.COMPUTED
    )
    area = {AreaSource.BBOX: instances["bbox_w"] * instances["bbox_h"], AreaSource.SEGM: instances["segm_area"]}
    size_area_by_ann = dict(zip(instances["ann_id"].astype(int), area[size_area].astype(float), strict=True))
    preds, crowded = _crowded_predictions(doc, seed)
    assert any(_tie_at_the_cut(preds, i) for i in crowded), "the case must tie at the 20th detection"
    results = tmp_path / f"model-{seed}.json"
    results.write_text(json.dumps(preds))
    outcome = evaluate_files(root, key, [results], ["model"], request, progress=False)[0]
    ours = outcome.result
    assert ours.definitions.size.area_source is size_area
    per_image = np.unique([p["image_id"] for p in preds], return_counts=True)[1]
    assert (per_image > MAX_DETECTIONS).sum() >= 5
    assert outcome.record.counts.over_max_per_image == np.maximum(per_image - MAX_DETECTIONS, 0).sum()

    # The levels, from the cache (tested elsewhere): persons' crowding, detections' density, CrowdIndex.
    levels = ours.definitions.density_edges
    det = pq.read_table(evaluations_dir(root, key) / "model" / DETECTIONS_FILE).to_pandas()
    det_level = dict(zip(det["det_id"].astype(int), levels.codes(det["density"].to_numpy(float)), strict=True))
    # A detection beyond its image's 20 best is never matched nor counted: any level will do.
    det_level.update({i: -1 for i in range(1, len(preds) + 1) if i not in det_level})
    person_level = levels.codes(instances["crowding"].to_numpy(float))
    small_level = dict(zip(instances["ann_id"].astype(int), person_level, strict=True))
    image_level = ours.definitions.crowd_convention.levels().codes(images["crowd_index"].to_numpy(float))
    image_level_by_id = dict(zip(images["image_id"].astype(int), image_level, strict=True))

    # diagnose re-matches the stored (cut) detections on its own: its "base" step is each slice's AP.
    names = read_manifest(root, key).keypoint_schema.joint_names
    keypoints = gt_keypoints(root, key, len(instances), len(names))
    diagnosis = diagnose_stored(read_evaluation(root, key, "model"), images, instances, keypoints, names,
                                ours.definitions)  # fmt: skip

    for tool in ("pycocotools", "xtcocotools"):
        reference = ten_slices(tool, path, preds, COCO_SIGMAS, tmp_path, size_area_by_ann, small_level,
                               det_level, image_level_by_id)  # fmt: skip
        for name in SLICE_NAMES:
            assert_metrics_equal(ours.slices[name].to_json(), reference[name], what=f"{tool} seed {seed} {name}")
            base_ap = diagnosis.slices[name].ap["base"]
            assert base_ap is not None and abs(base_ap - reference[name]["AP"]) <= 1e-9, (tool, name, "diagnose")
    assert all(ours.slices[name].n_gt > 0 for name in SLICE_NAMES), "every slice must have persons"
