"""`evaluate` slices numpy columns read without pandas (analysis.cache.columns); these tests
check its slice masks, crowd levels and results equal the pandas computation the
evaluation used before (written out here from that code: frames read with
``read_images``/``read_instances``, nullable columns through ``astype("Float64")``, crowd
levels looked up with ``Series.reindex``), on generated data and real fixture files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.cache.contract import read_images, read_instances
from analysis.definitions import (
    AreaSource,
    CrowdIndexSource,
    SizeBucket,
    SizeDefinition,
    person_area,
    size_bucket_codes,
)
from analysis.evaluation.definitions import GT_COLUMNS, DetectionArea
from analysis.evaluation.predictions import member_of
from analysis.evaluation.run import EvaluationRequest, _read_ground_truth, evaluate_files
from analysis.evaluation.slices import (
    _match,
    _prepare,
    _slice_masks,
    base_ignore,
    detection_size_area,
    evaluate_stored,
)
from analysis.evaluation.store import read_evaluation
from benchmarks.synthetic_coco import write_synthetic_coco
from tests.analysis.evaluation.reference import build, noisy_predictions
from tests.conftest import require_fixtures


def _old_gt_masks(instances: pd.DataFrame, used) -> np.ndarray:
    """(7, G) persons each matched slice ignores, as the pandas code computed them."""
    gt = instances.reset_index(drop=True)
    stored = gt["num_keypoints"].astype("Float64").to_numpy(dtype=np.float64, na_value=np.nan)
    count = np.where(np.isnan(stored), gt["n_labelled"].to_numpy(np.float64), stored)
    ignore = gt["iscrowd"].to_numpy(bool) | (count == 0)
    segm = gt["segm_area"].astype("Float64").to_numpy(dtype=np.float64, na_value=np.nan)
    area = person_area(
        gt["bbox_w"].to_numpy(np.float64), gt["bbox_h"].to_numpy(np.float64), segm, used.size.area_source
    )
    size = size_bucket_codes(area, used.size.edges)
    density = used.density_edges.codes(gt["crowding"].to_numpy(np.float64))
    return np.stack(
        [
            ignore,
            *(ignore | (size != b.code) for b in SizeBucket),
            *(ignore | (size != SizeBucket.SMALL.code) | (density != lvl) for lvl in range(3)),
        ]
    )


def _old_det_outside(detections: pd.DataFrame, used) -> np.ndarray:
    """(7, D) detections outside each matched slice, in the global order, as the pandas code did."""
    det = detections.iloc[
        np.lexsort(
            (detections["det_id"].to_numpy(), detections["image_id"].to_numpy(), -detections["score"].to_numpy())
        )
    ]
    det_area = detection_size_area(det["area"].to_numpy(np.float64), used.size.area_source, used.detection_area)
    det_size = size_bucket_codes(det_area, used.size.edges)
    level = used.density_edges.codes(det["density"].to_numpy(np.float64))
    return np.stack(
        [
            np.zeros(len(det_size), bool),
            *(det_size != b.code for b in SizeBucket),
            *((det_size != SizeBucket.SMALL.code) | (level != lvl) for lvl in range(3)),
        ]
    )


def _old_levels(images: pd.DataFrame, used, image_ids: np.ndarray) -> np.ndarray:
    column = "crowd_index_stored" if used.crowd_index is CrowdIndexSource.STORED else "crowd_index"
    values = images[column].astype("Float64").to_numpy(dtype=np.float64, na_value=np.nan)
    codes = used.crowd_convention.levels().codes(values)
    return pd.Series(codes, index=images["image_id"].to_numpy(np.int64)).reindex(image_ids).to_numpy()


def _check(tmp_path: Path, source: Path | dict, preds: list[dict], requests: list[EvaluationRequest]) -> None:
    root, key, _ = build(tmp_path, source)
    path = tmp_path / "preds.json"
    path.write_text(json.dumps(preds))
    evaluate_files(root, key, [path], ["m"], requests[0], progress=False)
    stored = read_evaluation(root, key, "m")  # detections and OKS pairs as frames (what the dashboard reads)
    as_numpy = read_evaluation(root, key, "m", as_numpy=True)  # what evaluate re-slices
    for frame, columns in ((stored.detections, as_numpy.detections), (stored.oks, as_numpy.oks)):
        assert list(columns) == [c for c in frame.columns if c != "keypoints"]
        for name in columns:
            np.testing.assert_array_equal(columns[name], frame[name].to_numpy(), strict=True)
    images_cols, instances_cols = _read_ground_truth(root, key)
    images, instances = read_images(root, key), read_instances(root, key, columns=GT_COLUMNS)
    for request in requests:
        from analysis.cache.split import open_cached_split
        from analysis.evaluation.context import resolve_definitions

        definitions = resolve_definitions(request, open_cached_split(root, key), images_cols, instances_cols)
        used = stored.definitions.with_slicing(definitions)
        prep = _prepare(stored, instances_cols)
        gt_ignore, det_outside = _slice_masks(prep, base_ignore(prep.gt), used)
        np.testing.assert_array_equal(gt_ignore, _old_gt_masks(instances, used))
        np.testing.assert_array_equal(det_outside, _old_det_outside(stored.detections, used))
        matched = _match(stored, images_cols, instances_cols, definitions)
        np.testing.assert_array_equal(matched.det_level, _old_levels(images, used, prep.det_image))
        np.testing.assert_array_equal(
            matched.gt_level, _old_levels(images, used, instances["image_id"].to_numpy(np.int64))
        )
        # the whole result: numpy columns vs the frames the dashboard passes
        whole = evaluate_stored(stored, images, instances, definitions).to_json()
        assert evaluate_stored(stored, images_cols, instances_cols, definitions).to_json() == whole
        assert evaluate_stored(as_numpy, images_cols, instances_cols, definitions).to_json() == whole


REQUESTS = [
    EvaluationRequest(),
    EvaluationRequest(size=SizeDefinition(AreaSource.SEGM), crowd_index=CrowdIndexSource.COMPUTED),
    EvaluationRequest(size=SizeDefinition(AreaSource.CROWDPOSE), detection_area=DetectionArea.SCALED),
]


def test_generated_data_slices_as_the_pandas_code(tmp_path: Path) -> None:
    path = tmp_path / "synthetic.json"
    write_synthetic_coco(path, n_images=80, n_persons=400, polygon_points=8, seed=11)
    doc = json.loads(path.read_text())
    # persons without num_keypoints or area (null columns), and one with no labelled joints
    for i, ann in enumerate(doc["annotations"][:60]):
        if i % 3 == 0:
            ann.pop("num_keypoints", None)
        if i == 5:
            ann["keypoints"] = [0] * len(ann["keypoints"])
            ann["num_keypoints"] = 0
    _check(tmp_path, doc, noisy_predictions(doc, seed=5), [EvaluationRequest(oks_area=AreaSource.BBOX), *REQUESTS])


@pytest.mark.parametrize(
    "relative",
    ["coco-mini/annotations/person_keypoints_val2017.json", "xtcocoapi/example_crowdpose_val.json"],
)
def test_real_fixtures_slice_as_the_pandas_code(tmp_path: Path, relative: str) -> None:
    path = require_fixtures() / relative
    doc = json.loads(path.read_text())
    requests = [r for r in REQUESTS if r.size.area_source is not AreaSource.SEGM or "crowdpose" not in relative]
    if "crowdpose" in relative:  # no area: OKS and sizes on 0.53*w*h; crowd levels on the stored crowdIndex
        requests = [EvaluationRequest(sigmas="crowdpose", crowd_index=CrowdIndexSource.STORED), *requests]
    _check(tmp_path, path, noisy_predictions(doc, seed=2), requests)


def test_member_of_equals_isin() -> None:
    rng = np.random.default_rng(3)
    for _ in range(300):
        values = rng.integers(-5, 40, rng.integers(0, 60))
        candidates = rng.integers(-5, 40, rng.integers(0, 8))
        np.testing.assert_array_equal(member_of(values, candidates), np.isin(values, candidates))
        np.testing.assert_array_equal(member_of(values, candidates.tolist()), np.isin(values, candidates.tolist()))
