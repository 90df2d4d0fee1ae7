"""Every slice equals the reference tools run in the same test, to 1e-9.

- all / small / medium / large: pycocotools 2.0.11 COCOeval(iouType="keypoints")
  with areaRng set to the same half-open buckets (upper bound nextafter(hi, 0));
- density slices: pycocotools over the small range with the persons of other
  levels marked num_keypoints 0 and the detections of other levels given an area
  outside the range (so pycocotools ignores them exactly as the slice does);
- crowd levels: pycocotools restricted to the level's images, and xtcocotools'
  "keypoints_crowd" on the real CrowdPose annotations.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis.cache.contract import read_images, read_instances
from analysis.definitions import AreaSource, CrowdIndexSource, SizeDefinition
from analysis.evaluation.definitions import DetectionArea
from analysis.evaluation.run import EvaluationRequest, evaluate_files
from analysis.evaluation.store import DETECTIONS_FILE, evaluations_dir
from benchmarks.synthetic_coco import write_synthetic_coco
from tests.analysis.evaluation.reference import (
    COCO_SIGMAS,
    CROWDPOSE_SIGMAS,
    assert_metrics_equal,
    bbox_area_copy,
    build,
    noisy_predictions,
    pycocotools_range,
    pycocotools_slices,
    xtcocotools_crowd,
)
from tests.conftest import require_fixtures

SMALL = 32.0**2
LARGE = 96.0**2
RANGES = {"small": (0.0, np.nextafter(SMALL, 0)), "medium": (SMALL, np.nextafter(LARGE, 0)), "large": (LARGE, 1e10)}


def _fixture(relative: str) -> Path:
    return require_fixtures() / relative


COCO_FIXTURES = [
    "coco-mini/annotations/person_keypoints_val2017.json",
    "coco-mini/annotations/person_keypoints_train2017.json",
    "mmpose/coco/test_coco.json",
    "faster-coco-eval/gt_dataset.json",
]


def _evaluate(tmp_path: Path, root, key, preds: list[dict], request: EvaluationRequest, name: str = "model"):
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(preds))
    outcome = evaluate_files(root, key, [path], [name], request, progress=False)[0]
    return outcome.result


def _n_gt(doc: dict, area_of, lo: float, hi: float) -> int:
    """Persons COCO scores (not crowd, num_keypoints > 0) with lo <= area < hi."""
    return sum(
        1 for a in doc["annotations"]
        if not a.get("iscrowd") and a.get("num_keypoints", 0) > 0 and lo <= area_of(a) < hi
    )  # fmt: skip


def _check_against_pycocotools(tmp_path: Path, doc: dict, root, key, preds: list[dict], area: AreaSource) -> None:
    """Ours with `area` as OKS and size area vs pycocotools on the matching ground truth."""
    request = EvaluationRequest(sigmas="coco", oks_area=area, size=SizeDefinition(area))
    ours = _evaluate(tmp_path, root, key, preds, request)
    ref_doc = doc if area is AreaSource.SEGM else bbox_area_copy(doc)
    reference = pycocotools_slices(ref_doc, preds, COCO_SIGMAS)
    for name in ("all", "small", "medium", "large"):
        assert_metrics_equal(ours.slices[name].to_json(), reference[name], what=f"{key} {area.value} {name}")
    area_of = (lambda a: a["area"]) if area is AreaSource.SEGM else (lambda a: a["bbox"][2] * a["bbox"][3])
    assert ours.slices["all"].n_gt == _n_gt(doc, area_of, 0, np.inf)
    assert ours.slices["small"].n_gt == _n_gt(doc, area_of, 0, SMALL)
    assert ours.slices["medium"].n_gt == _n_gt(doc, area_of, SMALL, LARGE)
    assert ours.slices["large"].n_gt == _n_gt(doc, area_of, LARGE, np.inf)
    _check_density_and_crowd(tmp_path, ref_doc, root, key, preds, ours, COCO_SIGMAS)


def _check_density_and_crowd(tmp_path, ref_doc, root, key, preds, ours, sigmas) -> None:
    """Density and crowd slices against pycocotools on the equivalent custom slices.

    Inputs taken from the cache (tested elsewhere): persons' crowding and size
    bucket, images' CrowdIndex, and the detections' stored density."""
    definitions = ours.definitions
    instances = read_instances(root, key)
    images = read_images(root, key)
    det = pq.read_table(evaluations_dir(root, key) / "model" / DETECTIONS_FILE).to_pandas()
    levels = definitions.density_edges
    size_area = {
        AreaSource.SEGM: instances["segm_area"],
        AreaSource.BBOX: instances["bbox_w"] * instances["bbox_h"],
        AreaSource.CROWDPOSE: 0.53 * instances["bbox_w"] * instances["bbox_h"],
    }[definitions.size.area_source].to_numpy(float)
    small_person = size_area < SMALL
    person_level = levels.codes(instances["crowding"].to_numpy(float))
    det_level = levels.codes(det["density"].to_numpy(float))
    for code, name in enumerate(("small/sparse", "small/moderate", "small/dense")):
        ignore = set(instances["ann_id"][~(small_person & (person_level == code))].tolist())
        # Other levels' detections out of range; the level's at their size area (0.53 * box for crowdpose).
        factor = 0.53 if definitions.size.area_source is AreaSource.CROWDPOSE else 1.0
        in_level = det_level == code
        det_area = {int(i): 1e12 for i in det["det_id"][~in_level]}
        det_area.update(zip(det["det_id"][in_level].astype(int), factor * det["area"][in_level], strict=True))
        reference = pycocotools_range(ref_doc, preds, sigmas, RANGES["small"], ignore, det_area)
        assert_metrics_equal(ours.slices[name].to_json(), reference, what=f"{key} {name}")
    column = "crowd_index_stored" if definitions.crowd_index is CrowdIndexSource.STORED else "crowd_index"
    image_level = definitions.crowd_convention.levels().codes(images[column].to_numpy(float))
    for code, name in enumerate(("crowd/easy", "crowd/medium", "crowd/hard")):
        img_ids = images["image_id"][image_level == code].tolist()
        reference = pycocotools_range(ref_doc, preds, sigmas, (0, 1e10), img_ids=img_ids)
        assert_metrics_equal(ours.slices[name].to_json(), reference, what=f"{key} {name}")


@pytest.mark.slow
@pytest.mark.parametrize("relative", COCO_FIXTURES)
@pytest.mark.parametrize("area", [AreaSource.SEGM, AreaSource.BBOX])
def test_real_fixtures_equal_pycocotools(tmp_path: Path, relative: str, area: AreaSource) -> None:
    path = _fixture(relative)
    doc = json.loads(path.read_text())
    root, key, _ = build(tmp_path, path)
    for seed in range(3):
        _check_against_pycocotools(tmp_path, doc, root, key, noisy_predictions(doc, seed), area)


@pytest.mark.slow
@pytest.mark.parametrize("area", [AreaSource.SEGM, AreaSource.BBOX])
def test_synthetic_set_equals_pycocotools(tmp_path: Path, area: AreaSource) -> None:
    """A synthetic COCO-like set (crowd RLE regions, unlabelled small persons, crowds of up to 30)."""
    path = tmp_path / "synthetic.json"
    write_synthetic_coco(path, n_images=300, n_persons=1200, polygon_points=8, seed=3)
    doc = json.loads(path.read_text())
    root, key, _ = build(tmp_path, path)
    preds = noisy_predictions(doc, seed=11, duplicate=0.3, extra_fp=1.0)
    _check_against_pycocotools(tmp_path, doc, root, key, preds, area)


def test_more_than_20_detections_per_image_are_cut_as_pycocotools_does(tmp_path: Path) -> None:
    path = _fixture("coco-mini/annotations/person_keypoints_val2017.json")
    doc = json.loads(path.read_text())
    root, key, _ = build(tmp_path, path)
    preds = noisy_predictions(doc, seed=5)
    busiest = max({p["image_id"] for p in preds}, key=lambda i: sum(p["image_id"] == i for p in preds))
    rng = np.random.default_rng(0)
    base = next(p for p in preds if p["image_id"] == busiest)
    for _ in range(30):  # many extra detections on one image, scores interleaved with the real ones
        kp = np.asarray(base["keypoints"]).reshape(-1, 3)
        kp[:, :2] += rng.normal(0, 3, (len(kp), 2))
        preds.append({**base, "keypoints": kp.reshape(-1).tolist(), "score": float(rng.uniform(0, 1))})
    _check_against_pycocotools(tmp_path, doc, root, key, preds, AreaSource.SEGM)


@pytest.mark.slow
@pytest.mark.parametrize("relative", ["xtcocoapi/example_crowdpose_val.json", "mmpose/crowdpose/test_crowdpose.json"])
def test_crowdpose_equals_xtcocotools_keypoints_crowd(tmp_path: Path, relative: str) -> None:
    path = _fixture(relative)
    doc = json.loads(path.read_text())
    root, key, _ = build(tmp_path, path)
    request = EvaluationRequest(sigmas="crowdpose", oks_area=AreaSource.CROWDPOSE, crowd_index=CrowdIndexSource.STORED)
    for seed in range(4):
        preds = noisy_predictions(doc, seed, duplicate=0.3)
        ours = _evaluate(tmp_path, root, key, preds, request)
        reference = xtcocotools_crowd(path, preds, tmp_path)
        assert_metrics_equal(ours.slices["all"].to_json(), reference, what=f"{relative} seed {seed}")
        for level in ("easy", "medium", "hard"):
            ap = ours.slices[f"crowd/{level}"].ap
            expected = reference[level]
            if expected == -1:  # xtcocotools' "no ground truth"
                assert ap is None
            else:  # xtcocotools rounds easy / medium / hard to 4 decimals
                assert ap is not None and round(ap, 4) == pytest.approx(expected, abs=1e-12), (level, ap, expected)
        # The crowd levels are also exact to pycocotools restricted to each level's images.
        crowd_doc = json.loads(json.dumps(doc))
        for ann in crowd_doc["annotations"]:
            ann["area"] = ann["bbox"][3] * ann["bbox"][2] * 0.53
        _check_density_and_crowd(tmp_path, crowd_doc, root, key, preds, ours, CROWDPOSE_SIGMAS)


def _random_doc(draw) -> dict:
    n_images = draw(st.integers(1, 4))
    k = 17
    images, annotations = [], []
    next_id = 1
    for image_id in range(1, n_images + 1):
        images.append({"id": image_id * 7, "file_name": f"{image_id}.jpg", "width": 300, "height": 300})
        for _ in range(draw(st.integers(0, 5))):
            side = draw(st.sampled_from([8.0, 20.0, 31.0, 32.0, 33.0, 60.0, 96.0, 97.0, 150.0]))
            aspect = draw(st.sampled_from([0.5, 1.0, 2.0]))
            w, h = side * aspect**0.5, side / aspect**0.5
            x = draw(st.integers(0, 150))
            y = draw(st.integers(0, 150))
            crowd = draw(st.integers(0, 9)) == 0
            n_lab = 0 if crowd else draw(st.integers(0, k))
            rng = np.random.default_rng(draw(st.integers(0, 10_000)))
            kps = []
            labelled = set(rng.choice(k, n_lab, replace=False).tolist())
            for j in range(k):
                if j in labelled:
                    kps += [
                        int(x + rng.integers(0, int(w) + 1)),
                        int(y + rng.integers(0, int(h) + 1)),
                        int(rng.integers(1, 3)),
                    ]
                else:
                    kps += [0, 0, 0]
            area = float(draw(st.sampled_from([0.5, 0.8, 1.0])) * w * h)
            annotations.append({
                "id": next_id, "image_id": image_id * 7, "category_id": 1, "iscrowd": int(crowd),
                "bbox": [float(x), float(y), float(w), float(h)], "area": area, "num_keypoints": n_lab,
                "keypoints": kps,
            })  # fmt: skip
            next_id += 1
    names = [f"j{i}" for i in range(k)]
    return {
        "images": images,
        "annotations": annotations,
        "categories": [{"id": 1, "name": "person", "keypoints": names}],
    }


def _random_preds(draw, doc: dict) -> list[dict]:
    rng = np.random.default_rng(draw(st.integers(0, 10_000)))
    preds = []
    for image in doc["images"]:
        anns = [a for a in doc["annotations"] if a["image_id"] == image["id"]]
        for _ in range(draw(st.integers(0, 8))):
            if anns and rng.random() < 0.7:
                a = anns[rng.integers(len(anns))]
                x, y, w, h = a["bbox"]
                kp = np.stack([x + rng.random(17) * w, y + rng.random(17) * h, rng.random(17)], 1)
                if rng.random() < 0.3:  # close to the truth where labelled
                    gt = np.asarray(a["keypoints"], float).reshape(-1, 3)
                    lab = gt[:, 2] > 0
                    kp[lab, :2] = gt[lab, :2] + rng.normal(0, max(1.0, 0.05 * np.sqrt(w * h)), (lab.sum(), 2))
            else:
                kp = np.stack([rng.uniform(0, 300, 17), rng.uniform(0, 300, 17), rng.random(17)], 1)
            preds.append(
                {
                    "image_id": image["id"],
                    "category_id": 1,
                    "keypoints": kp.reshape(-1).tolist(),
                    "score": float(draw(st.sampled_from([0.1, 0.3, 0.5, 0.5, 0.7, 0.9]))),
                }
            )
    if not preds:
        preds.append({"image_id": doc["images"][0]["id"], "category_id": 1, "keypoints": [5.0] * 51, "score": 0.5})
    return preds


@st.composite
def _random_case(draw):
    doc = _random_doc(draw)
    return doc, _random_preds(draw, doc)


@pytest.mark.slow
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=_random_case())
def test_random_small_sets_equal_pycocotools(tmp_path_factory, case) -> None:
    doc, preds = case
    tmp_path = tmp_path_factory.mktemp("random")
    root, key, _ = build(tmp_path, doc)
    for area in (AreaSource.SEGM, AreaSource.BBOX):
        _check_against_pycocotools(tmp_path, doc, root, key, preds, area)


@pytest.mark.slow
def test_crowdpose_area_for_oks_and_size_and_the_paper_levels(tmp_path: Path) -> None:
    """--oks-area crowdpose --size-area crowdpose --crowd-levels paper --crowd-index computed on
    COCO: pycocotools on a ground-truth copy whose area is 0.53*w*h, each detection's area
    0.53 times its keypoint box (what --detection-area scaled gives a detection; the default,
    unscaled, is pinned against xtcocotools in test_detection_area.py)."""
    from analysis.definitions import CrowdConvention

    path = _fixture("coco-mini/annotations/person_keypoints_val2017.json")
    doc = json.loads(path.read_text())
    root, key, _ = build(tmp_path, path)
    crowd_doc = json.loads(json.dumps(doc))
    for ann in crowd_doc["annotations"]:
        ann["area"] = ann["bbox"][3] * ann["bbox"][2] * 0.53
    request = EvaluationRequest(
        sigmas="coco", oks_area=AreaSource.CROWDPOSE, size=SizeDefinition(AreaSource.CROWDPOSE),
        crowd_convention=CrowdConvention.PAPER, crowd_index=CrowdIndexSource.COMPUTED,
        detection_area=DetectionArea.SCALED,
    )  # fmt: skip
    for seed in range(3):
        preds = noisy_predictions(doc, seed)
        ours = _evaluate(tmp_path, root, key, preds, request)
        assert ours.definitions.crowd_convention.levels().low == 0.1
        det = pq.read_table(evaluations_dir(root, key) / "model" / DETECTIONS_FILE).to_pandas()
        det_area = dict(zip(det["det_id"].astype(int), 0.53 * det["area"], strict=True))
        for name, area_range in RANGES.items():
            reference = pycocotools_range(crowd_doc, preds, COCO_SIGMAS, area_range, det_area=det_area)
            assert_metrics_equal(ours.slices[name].to_json(), reference, what=f"crowdpose area {name}")
        reference = pycocotools_range(crowd_doc, preds, COCO_SIGMAS, (0, 1e10))
        assert_metrics_equal(ours.slices["all"].to_json(), reference, what="crowdpose area all")
        _check_density_and_crowd(tmp_path, crowd_doc, root, key, preds, ours, COCO_SIGMAS)
