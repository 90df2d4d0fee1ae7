"""AP on fine bins of sqrt(area) and the size distribution of missed persons, against pycocotools
run per bin (``areaRng`` set to the bin) and pycocotools' own matching."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from analysis.definitions import AreaSource
from analysis.evaluation.run import EvaluationRequest
from analysis.evaluation.size_curve import FINE_SIZE_EDGES
from tests.analysis.evaluation.diagnosis_fixture import diagnosis_predictions
from tests.analysis.evaluation.reference import COCO_SIGMAS, bbox_area_copy, build, pycocotools_range
from tests.analysis.evaluation.test_diagnose import COCO_MINI_VAL, _diagnose, _evaluate, _matches_at, _shrunk
from tests.conftest import require_fixtures


@pytest.fixture(scope="module")
def shrunk_coco(tmp_path_factory: pytest.TempPathFactory):
    """coco-mini with odd images shrunk to 0.3 (small persons), bbox areas, deterministic noisy predictions."""
    tmp_path = tmp_path_factory.mktemp("size-curve")
    gt_doc = bbox_area_copy(_shrunk(json.loads((require_fixtures() / COCO_MINI_VAL).read_text())))
    root, key, _ = build(tmp_path, gt_doc)
    preds = diagnosis_predictions(gt_doc)
    request = EvaluationRequest(sigmas="coco", oks_area=AreaSource.BBOX)
    _evaluate(tmp_path, root, key, preds, request)
    return gt_doc, preds, _diagnose(root, key, request)


@pytest.mark.slow
def test_ap_per_bin_equals_pycocotools_with_area_range_set_to_the_bin(shrunk_coco) -> None:
    gt_doc, preds, diagnosis = shrunk_coco
    curve = diagnosis.by_size
    assert curve is not None and curve.area_source == "bbox"
    assert [b.lo for b in curve.bins] == list(FINE_SIZE_EDGES)
    assert curve.bins[-1].hi is None
    persons = [a for a in gt_doc["annotations"] if not a["iscrowd"] and a["num_keypoints"] > 0]
    side = np.sqrt([a["area"] for a in persons])
    populated = 0
    for b in curve.bins:
        hi = 1e10 if b.hi is None else b.hi
        # pycocotools keeps lo <= area <= hi; a bin is lo <= area < hi: the float just below hi^2.
        ref = pycocotools_range(gt_doc, preds, COCO_SIGMAS, (b.lo**2, float(np.nextafter(hi**2, 0))))
        assert b.n_gt == int(((side >= b.lo) & (side < hi)).sum()), b.label
        if ref["AP"] is None:
            assert b.n_gt == 0 and b.ap is None, b.label
            continue
        populated += 1
        for ours, theirs in ((b.ap, ref["AP"]), (b.ap50, ref["AP50"]), (b.ap75, ref["AP75"])):
            assert ours == pytest.approx(theirs, abs=1e-9), b.label
    # The fixture reaches below COCO's 32 px edge in several bins (the curve that edge hides).
    assert populated >= 8
    assert sum(b.n_gt for b in curve.bins if b.hi is not None and b.hi <= 32) >= 10
    assert sum(b.n_gt for b in curve.bins) == diagnosis.slices["all"].n_gt


def test_missed_persons_per_bin_equal_pycocotools_matching(shrunk_coco) -> None:
    gt_doc, preds, diagnosis = shrunk_coco
    curve = diagnosis.by_size
    persons = {a["id"]: a for a in gt_doc["annotations"] if not a["iscrowd"] and a["num_keypoints"] > 0}
    edges = np.asarray(FINE_SIZE_EDGES, float)
    for threshold, field in ((0.1, "missed"), (0.5, "missed_50")):
        matched = set(_matches_at(gt_doc, preds, (0.0, 1e10), frozenset(), None, None, threshold).values())
        missed_side = np.sqrt([a["area"] for i, a in persons.items() if i not in matched])
        expected = np.bincount(np.searchsorted(edges, missed_side, side="right") - 1, minlength=len(edges))
        assert [getattr(b, field) for b in curve.bins] == expected.tolist(), threshold
    # Missed at OKS 0.1 are the diagnosis' false negatives; more persons are missed at 0.5.
    assert sum(b.missed for b in curve.bins) == diagnosis.slices["all"].false_negatives
    assert sum(b.missed_50 for b in curve.bins) > sum(b.missed for b in curve.bins) > 0


def test_ap_by_size_in_the_diagnose_json(shrunk_coco) -> None:
    _, _, diagnosis = shrunk_coco
    doc = json.loads(json.dumps(diagnosis.to_json()))
    by_size = doc["ap_by_size"]
    assert by_size["area"] == "bbox" and "areaRng" in by_size["definition"]
    first = by_size["bins"][0]
    assert set(first) == {"lo", "hi", "n_gt", "AP", "AP50", "AP75", "missed", "missed_50"}
    assert [b["lo"] for b in by_size["bins"]] == list(FINE_SIZE_EDGES) and by_size["bins"][-1]["hi"] is None


def test_an_area_on_an_edge_falls_in_the_upper_bin(tmp_path: Path) -> None:
    """A 8 x 8 box (sqrt(area) exactly 8) is in the 8-16 bin, as the size buckets put edges."""
    from tests.analysis.evaluation.test_hand_made import detection, doc, person

    joints = {5: (102, 102), 6: (106, 102), 11: (102, 106), 12: (106, 106)}
    gt = doc([person(1, 1, (100, 100, 8, 8), joints, area=64.0)])
    root, key, _ = build(tmp_path, gt)
    request = EvaluationRequest(sigmas="coco", oks_area=AreaSource.BBOX)
    _evaluate(tmp_path, root, key, [detection(1, joints, 0.9)], request)
    bins = {b.lo: b for b in _diagnose(root, key, request).by_size.bins}
    assert bins[8.0].n_gt == 1 and bins[8.0].ap == pytest.approx(1.0) and bins[8.0].missed == 0
    assert bins[0.0].n_gt == 0 and bins[0.0].ap is None
