"""Hand-made images whose slice metrics are worked out by hand in each test's docstring.

COCO's 17 joints and sigmas; OKS area = the ``area`` field; sizes by bbox area
(the defaults).  A detection lists all 17 joints: the labelled ones where the
test says, the others on its first point (so its keypoint box is what the test
says).  At every OKS threshold the ranking is the same, so AP = AP50 = AP75.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq

from analysis.evaluation.run import evaluate_files
from analysis.evaluation.store import DETECTIONS_FILE, evaluations_dir
from tests.analysis.evaluation.reference import build

K = 17
NAMES = [
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder", "left_elbow",
    "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle",
    "right_ankle",
]  # fmt: skip


def person(ann_id, image_id, bbox, joints: dict[int, tuple[float, float]], area, iscrowd=0, num_keypoints=None):
    kps = [0.0] * (3 * K)
    for j, (x, y) in joints.items():
        kps[3 * j : 3 * j + 3] = [x, y, 2]
    return {
        "id": ann_id, "image_id": image_id, "category_id": 1, "iscrowd": iscrowd, "bbox": list(bbox),
        "area": area, "num_keypoints": len(joints) if num_keypoints is None else num_keypoints, "keypoints": kps,
    }  # fmt: skip


def detection(image_id, joints: dict[int, tuple[float, float]], score):
    first = next(iter(joints.values()))
    kps = []
    for j in range(K):
        x, y = joints.get(j, first)
        kps += [float(x), float(y), 0.9]
    return {"image_id": image_id, "category_id": 1, "keypoints": kps, "score": score}


def doc(annotations, n_images=1):
    return {
        "images": [{"id": i, "file_name": f"{i}.jpg", "width": 640, "height": 480} for i in range(1, n_images + 1)],
        "annotations": annotations,
        "categories": [{"id": 1, "name": "person", "keypoints": NAMES, "skeleton": []}],
    }


def evaluate(tmp_path: Path, gt: dict, preds: list[dict], **request):
    from analysis.evaluation.run import EvaluationRequest

    tmp_path.mkdir(parents=True, exist_ok=True)
    root, key, _ = build(tmp_path, gt)
    path = tmp_path / "preds.json"
    path.write_text(json.dumps(preds))
    result = evaluate_files(root, key, [path], ["m"], EvaluationRequest(**request), progress=False)[0].result
    return result, root, key


def metrics(result, name):
    """(AP, AP50, AP75, AR, n_gt), the fractions rounded to 12 decimals: pycocotools'
    precision tp / (tp + fp + eps) is 1 - 2e-16 for a perfect ranking."""
    m = result.slices[name]
    return (*(None if v is None else round(v, 12) for v in (m.ap, m.ap50, m.ap75, m.ar)), m.n_gt)


LARGE_PERSON = {5: (120, 120), 6: (150, 150), 11: (180, 200), 12: (160, 280)}


def test_a_perfect_detection(tmp_path: Path) -> None:
    """One large person (bbox 100x200), a detection on its labelled joints: OKS 1 at
    every threshold, so AP = AR = 1 in "all", "large" and the image's crowd level
    (CrowdIndex 0, nobody else: easy); every other slice has no ground truth."""
    gt = doc([person(1, 1, (100, 100, 100, 200), LARGE_PERSON, area=15000.0)])
    result, *_ = evaluate(tmp_path, gt, [detection(1, LARGE_PERSON, 0.9)])
    assert metrics(result, "all") == (1.0, 1.0, 1.0, 1.0, 1)
    assert metrics(result, "large") == (1.0, 1.0, 1.0, 1.0, 1)
    assert metrics(result, "crowd/easy") == (1.0, 1.0, 1.0, 1.0, 1)
    for name in ("small", "medium", "small/sparse", "small/moderate", "small/dense", "crowd/medium", "crowd/hard"):
        assert metrics(result, name) == (None, None, None, None, 0), name
    doc_json = result.to_json()
    assert doc_json["slices"]["small"] == {"AP": None, "AP50": None, "AP75": None, "AR": None, "n_gt": 0}


def test_a_detection_matched_to_an_ignored_person(tmp_path: Path) -> None:
    """Person A has no keypoints (num_keypoints 0: ignored), person B is large.

    d1 (0.9) and d3 (0.85) sit inside A's box (OKS 1 with A: no labelled joint, so
    the distance is to A's box grown by its size); d2 (0.8) is exact on B.
    d1 takes A and is ignored; A is not a crowd region, so d3 finds A taken and
    is a false positive; d2 is a true positive.  Ranking: ignored, FP, TP ->
    precision at full recall 1/2 -> AP = 0.5, AR = 1.  (Were d1 a false positive
    too, AP would be 1/3.)  In "large", d1 and d3 (area 0: every joint on one
    point) are outside the bucket when unmatched or matched to an ignored person,
    so AP^L = 1.
    """
    a = person(1, 1, (10, 10, 50, 100), {}, area=4000.0, num_keypoints=0)
    b = person(2, 1, (300, 100, 100, 200), {5: (320, 120), 6: (350, 150), 11: (380, 200), 12: (360, 280)}, 15000.0)
    preds = [
        detection(1, {0: (30, 50)}, 0.9),
        detection(1, {0: (35, 60)}, 0.85),
        detection(1, {5: (320, 120), 6: (350, 150), 11: (380, 200), 12: (360, 280)}, 0.8),
    ]
    result, *_ = evaluate(tmp_path, doc([a, b]), preds)
    assert metrics(result, "all") == (0.5, 0.5, 0.5, 1.0, 1)
    assert metrics(result, "large") == (1.0, 1.0, 1.0, 1.0, 1)


def test_a_crowd_region_absorbs_two_detections(tmp_path: Path) -> None:
    """A crowd region C and a large person B.  d1 (0.9) and d2 (0.85) inside C's box
    both match C (a crowd region stays available) and are ignored; d3 (0.8) is exact
    on B.  AP = AR = 1.  (If C took only one, d2 would be a false positive before the
    true positive: AP 0.5.)"""
    c = person(1, 1, (10, 10, 100, 100), {}, area=8000.0, iscrowd=1, num_keypoints=0)
    b = person(2, 1, (300, 100, 100, 200), {5: (320, 120), 6: (350, 150), 11: (380, 200), 12: (360, 280)}, 15000.0)
    preds = [
        detection(1, {0: (30, 30)}, 0.9),
        detection(1, {0: (60, 60)}, 0.85),
        detection(1, {5: (320, 120), 6: (350, 150), 11: (380, 200), 12: (360, 280)}, 0.8),
    ]
    result, *_ = evaluate(tmp_path, doc([c, b]), preds)
    assert metrics(result, "all") == (1.0, 1.0, 1.0, 1.0, 1)


def test_a_person_at_exactly_32_squared(tmp_path: Path) -> None:
    """P1's bbox is 32x32 = 32^2 exactly: medium (half-open [32^2, 96^2)), never also
    small as pycocotools' closed ranges would have it; P2's is 31x32 = 992: small.
    Exact detections on both: AP^S = AP^M = 1 with one person each.  With the
    segmentation area as size (P1: 700, P2: 600) both are small."""
    p1 = person(1, 1, (100, 100, 32, 32), {5: (105, 105), 6: (125, 110), 11: (110, 125), 12: (120, 128)}, 700.0)
    p2 = person(2, 1, (300, 100, 31, 32), {5: (305, 105), 6: (325, 110), 11: (310, 125), 12: (320, 128)}, 600.0)
    preds = [
        detection(1, {5: (105, 105), 6: (125, 110), 11: (110, 125), 12: (120, 128)}, 0.9),
        detection(1, {5: (305, 105), 6: (325, 110), 11: (310, 125), 12: (320, 128)}, 0.8),
    ]
    result, *_ = evaluate(tmp_path, doc([p1, p2]), preds)
    assert metrics(result, "small") == (1.0, 1.0, 1.0, 1.0, 1)
    assert metrics(result, "medium") == (1.0, 1.0, 1.0, 1.0, 1)
    assert metrics(result, "large")[-1] == 0

    from analysis.definitions import AreaSource, SizeDefinition

    by_segm, *_ = evaluate(tmp_path / "segm", doc([p1, p2]), preds, size=SizeDefinition(AreaSource.SEGM))
    assert metrics(by_segm, "small") == (1.0, 1.0, 1.0, 1.0, 2)
    assert metrics(by_segm, "medium")[-1] == 0


def test_density_slices_with_one_sparse_and_one_dense_small_person(tmp_path: Path) -> None:
    """Small S (alone: N_b/N_a = 0, sparse) and small D (bbox [100,120]^2, joints at
    (105,105), (110,110); neighbour N's joints (112,112) and (118,118) lie inside:
    2/2 = 1.0, dense); N is large (bbox 150x200).

    Detections: det_S, det_D, det_N exact (0.9, 0.8, 0.7); F (0.93) on empty
    background (box [500,510]x[400,410]; OKS 0 with everyone, so no own person:
    density 0/17 = 0, sparse); G (0.95), a poor copy of D (D's knees 5 px off:
    OKS with D = exp(-25 / (2 * 300 * (2*0.087)^2)) = 0.25 < 0.5, unmatched), box
    [102,118]^2, own person D, N's two joints inside (one on the edge): 2 / D's 2
    labelled = 1.0, dense.

    small/dense (D): G FP, det_S ignored (matched S), det_D TP -> AP 0.5.
    small/sparse (S): G ignored (dense), F FP, det_S TP -> AP 0.5.
    small (S, D): G FP, F FP, det_S TP, det_D TP -> precision 1/3, 2/4; AP 0.5.
    all (S, D, N): then det_N TP -> best precision at any recall 3/5 -> AP 0.6.
    large (N): G, F unmatched and small: ignored -> AP 1.  moderate: nobody.
    """
    d_joints = {13: (105, 105), 14: (110, 110)}
    s_joints = {13: (405, 305), 14: (410, 310)}
    n_joints = {1: (112, 112), 2: (118, 118), 15: (200, 250), 16: (220, 280)}
    gt = doc([
        person(1, 1, (100, 100, 20, 20), d_joints, 300.0),
        person(2, 1, (95, 95, 150, 200), n_joints, 1500.0),
        person(3, 1, (400, 300, 20, 20), s_joints, 300.0),
    ])  # fmt: skip
    g = {13: (110, 105), 14: (110, 115), 1: (102, 118), 2: (118, 102), 0: (110, 110)}
    preds = [
        detection(1, s_joints, 0.9),
        detection(1, d_joints, 0.8),
        detection(1, n_joints, 0.7),
        detection(1, {0: (500, 400), 1: (510, 410)}, 0.93),
        detection(1, g, 0.95),
    ]
    result, root, key = evaluate(tmp_path, gt, preds)
    assert metrics(result, "small/dense") == (0.5, 0.5, 0.5, 1.0, 1)
    assert metrics(result, "small/sparse") == (0.5, 0.5, 0.5, 1.0, 1)
    assert metrics(result, "small/moderate") == (None, None, None, None, 0)
    assert metrics(result, "small") == (0.5, 0.5, 0.5, 1.0, 2)
    assert metrics(result, "all") == (0.6, 0.6, 0.6, 1.0, 3)
    assert metrics(result, "large") == (1.0, 1.0, 1.0, 1.0, 1)
    stored = pq.read_table(evaluations_dir(root, key) / "m" / DETECTIONS_FILE).to_pandas().set_index("det_id")
    # det_id = position in the results file, from 1: G is 5, F is 4.
    assert stored.loc[5, "density"] == 1.0
    assert stored.loc[4, "density"] == 0.0
    assert stored.loc[5, "area"] == 16.0 * 16.0
    assert stored.loc[4, "area"] == 100.0


def test_an_image_without_ground_truth(tmp_path: Path) -> None:
    """Image 2 has nobody; a detection there (0.95, box 50x50 = 2500: medium) is a
    false positive ranked before the exact detection of image 1's large person
    (0.9): AP = 0.5, AR = 1.  In "large" it is outside the bucket: AP^L = 1.
    Image 2's CrowdIndex is 0 (easy), so it counts in crowd/easy too: 0.5."""
    gt = doc([person(1, 1, (100, 100, 100, 200), LARGE_PERSON, area=15000.0)], n_images=3)
    preds = [detection(2, {0: (10, 10), 1: (60, 60)}, 0.95), detection(1, LARGE_PERSON, 0.9)]
    result, *_ = evaluate(tmp_path, gt, preds)
    assert metrics(result, "all") == (0.5, 0.5, 0.5, 1.0, 1)
    assert metrics(result, "large") == (1.0, 1.0, 1.0, 1.0, 1)
    assert metrics(result, "crowd/easy") == (0.5, 0.5, 0.5, 1.0, 1)
    assert metrics(result, "medium") == (None, None, None, None, 0)
