"""Per-person match statuses, the "missed small persons" filter and the prediction drawing
on hand-made frames (expected values worked out here)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from analysis.definitions import AreaSource, SizeDefinition, SizeEdges
from dashboard.draw import draw_matches
from dashboard.predictions import (
    STATUS_STYLES,
    MatchStatus,
    detection_status,
    ground_truth_status,
    images_missing_small,
    keypoint_boxes,
    small_ann_ids,
)


@pytest.fixture
def gt():
    # image 1: ann 10 matched, ann 11 missed, ann 12 ignored (crowd) and unmatched
    # image 2: ann 20 missed; image 3: ann 30 matched
    return pd.DataFrame(
        {
            "ann_id": [10, 11, 12, 20, 30],
            "image_id": [1, 1, 1, 2, 3],
            "matched_det_id": pd.array([100, None, None, None, 300], dtype="Int64"),
            "oks": [0.9, np.nan, np.nan, np.nan, 0.6],
            "ignored": [False, False, True, False, False],
        }
    )


def test_ground_truth_status(gt):
    assert list(ground_truth_status(gt)) == [
        MatchStatus.MATCHED,
        MatchStatus.MISSED,
        MatchStatus.IGNORED,
        MatchStatus.MISSED,
        MatchStatus.MATCHED,
    ]


def test_detection_status(gt):
    dets = pd.DataFrame(
        {
            "det_id": [100, 101, 102, 300],
            "image_id": [1, 1, 1, 3],
            "score": [0.9, 0.5, 0.7, 0.8],
            "matched_ann_id": [10.0, np.nan, 12.0, 30.0],
        }
    )
    assert list(detection_status(dets, gt)) == [
        MatchStatus.MATCHED,
        MatchStatus.FALSE_POSITIVE,
        MatchStatus.IGNORED,
        MatchStatus.MATCHED,
    ]
    # only the 2 best of image 1 (scores 0.9, 0.7) are evaluated: 101 (0.5) is not a false positive
    assert list(detection_status(dets, gt, max_per_image=2)) == [
        MatchStatus.MATCHED,
        MatchStatus.IGNORED,
        MatchStatus.IGNORED,
        MatchStatus.MATCHED,
    ]
    # ties keep row order: of two equal scores the first row is evaluated
    ties = pd.DataFrame({"image_id": [5, 5], "score": [0.5, 0.5], "matched_ann_id": [np.nan, np.nan]})
    assert list(detection_status(ties, gt, max_per_image=1)) == [MatchStatus.FALSE_POSITIVE, MatchStatus.IGNORED]


def test_missed_small_images(gt):
    # small: 11 (missed, image 1), 30 (matched, image 3), 12 (ignored crowd: never a miss)
    assert images_missing_small(gt, [11, 30, 12]).tolist() == [1]
    assert images_missing_small(gt, [11, 20]).tolist() == [1, 2]
    assert images_missing_small(gt, [10, 30]).tolist() == []


def test_small_ann_ids_follow_the_size_definition():
    persons = pd.DataFrame(
        {
            "ann_id": [1, 2, 3, 4],
            "bbox_w": [10.0, 32.0, 31.0, 40.0],
            "bbox_h": [10.0, 32.0, 32.0, 40.0],
            "segm_area": [50.0, 500.0, np.nan, 1000.0],
        }
    )
    # bbox areas 100, 1024 (== 32^2: medium, half-open), 992, 1600
    assert small_ann_ids(persons, SizeDefinition()).tolist() == [1, 3]
    # segm: 50, 500, unknown (never small), 1000
    assert small_ann_ids(persons, SizeDefinition(AreaSource.SEGM)).tolist() == [1, 2, 4]
    # edges 40 / 96 on bbox: 100, 1024, 992 small; 1600 == 40^2 is medium
    assert small_ann_ids(persons, SizeDefinition(edges=SizeEdges(40.0**2, 96.0**2))).tolist() == [1, 2, 3]


def test_keypoint_boxes_span_every_joint():
    kp = np.array([[10, 20, 0.9, 30, 5, 0.1, 15, 40, 0.0]], dtype=float)
    np.testing.assert_allclose(keypoint_boxes(kp), [[10, 5, 20, 35]])
    assert keypoint_boxes(np.zeros((0, 9))).shape == (0, 4)


def _rgb(color: str) -> tuple[int, int, int]:
    return tuple(int(color[i : i + 2], 16) for i in (1, 3, 5))


def test_draw_matches_side_by_side_colour_and_dash():
    image = Image.new("RGB", (200, 100), "white")
    gt_boxes = np.array([[10, 10, 60, 60], [120, 20, 50, 50]], dtype=float)
    det_kp = np.array([[12, 12, 1.0, 68, 68, 1.0], [150, 5, 1.0, 190, 90, 1.0]])
    out = draw_matches(
        image,
        gt_boxes,
        None,
        [MatchStatus.MATCHED, MatchStatus.MISSED],
        np.array([0.8, np.nan]),
        det_kp,
        [MatchStatus.MATCHED, MatchStatus.FALSE_POSITIVE],
        np.array([0.8, np.nan]),
        [],
    )
    assert out.size == (2 * 200 + 6, 100)
    px = np.asarray(out)
    blue, vermillion, purple = (
        _rgb(str(STATUS_STYLES[s]["color"]))
        for s in (MatchStatus.MATCHED, MatchStatus.MISSED, MatchStatus.FALSE_POSITIVE)
    )

    def run(row: int, x0: int, x1: int, colour) -> np.ndarray:
        return (px[row, x0:x1] == colour).all(axis=1)

    # left panel: matched box solid blue along its bottom edge (y = 70), missed box dashed
    assert run(70, 12, 68, blue).all()
    missed = run(70, 122, 168, vermillion)
    assert 0.3 < missed.mean() < 0.9  # dashes and gaps
    # right panel (offset 206): the false positive's box (x 150..190, y 5..90) dotted purple on its bottom
    fp = run(90, 206 + 152, 206 + 188, purple)
    assert 0.2 < fp.mean() < 0.7
    # the matched detection's box (x 12..68) solid blue on the right panel
    assert run(68, 206 + 14, 206 + 66, blue).all()
    # greyscale: the three line styles differ even without colour
    assert len({tuple(STATUS_STYLES[s]["dash"]) for s in MatchStatus}) == len(MatchStatus)


def test_missed_small_equals_pycocotools_on_a_real_evaluation(demo_cache):
    """The demo's synthetic model, matched by the engine: exactly the images where
    pycocotools' own matching (range all, OKS 0.5) leaves a counted small person unmatched."""
    import json

    from analysis.cache import contract as cache
    from analysis.evaluation.slices import matches_at
    from analysis.evaluation.store import read_evaluation
    from tests.dashboard.cocoeval_matches import run as coco_run

    key = cache.CacheKey("demo-small", "val")
    data = demo_cache.parent / "data" / "demo-small"
    instances = cache.read_instances(demo_cache, key)
    persons = instances[~instances["iscrowd"].astype(bool)]
    doc = json.loads((data / "annotations.json").read_text())
    for model in ("synthetic-precise", "synthetic-coarse"):
        dets, gt = matches_at(read_evaluation(demo_cache, key, model), instances, 0.5)
        ref = coco_run(data / "annotations.json", data / "predictions" / f"{model}.json")
        for size in (SizeDefinition(), SizeDefinition(edges=SizeEdges(20.0**2, 96.0**2))):
            small = {
                a["id"]
                for a in doc["annotations"]
                if not a.get("iscrowd") and a["bbox"][2] * a["bbox"][3] < size.edges.small_medium
            }
            g = ref.gt
            expected = set(g.loc[(g["matched"] == 0) & ~g["ignored"] & g["ann_id"].isin(small), "image_id"])
            got = images_missing_small(gt, small_ann_ids(persons, size))
            assert set(got.tolist()) == expected, (model, size)
        # statuses: matched / false positive / ignored agree with pycocotools' matches per detection
        status = detection_status(dets, gt)
        ref_match = dets["det_id"].map(ref.dt_matched).to_numpy()
        ignored = set(g.loc[g["ignored"], "ann_id"])
        expected_status = [
            MatchStatus.FALSE_POSITIVE if m == 0 else MatchStatus.IGNORED if m in ignored else MatchStatus.MATCHED
            for m in ref_match
        ]
        assert list(status) == expected_status


def test_draw_matches_on_a_reduced_decode_equals_the_full_size_drawing():
    # Browse decodes reduced (JPEG draft): coordinates still refer to the full-size image.
    full = Image.new("RGB", (960, 720), (128, 128, 128))
    reduced = Image.new("RGB", (480, 360), (128, 128, 128))
    gt_boxes = np.array([[100, 100, 300, 400]], dtype=float)
    det_kp = np.array([[110, 110, 1.0, 390, 490, 1.0]])
    args = (gt_boxes, None, [MatchStatus.MATCHED], np.array([0.9]), det_kp, [MatchStatus.MATCHED], np.array([0.9]), [])
    from_full = draw_matches(full, *args)
    from_reduced = draw_matches(reduced, *args, source_size=(960, 720))
    assert from_full.size == from_reduced.size == (2 * 480 + 6, 360)
    assert np.array_equal(np.asarray(from_full), np.asarray(from_reduced))
    # and the box lands where the full-size coordinates put it: bottom edge y = 500 / 2
    blue = _rgb(str(STATUS_STYLES[MatchStatus.MATCHED]["color"]))
    assert (np.asarray(from_reduced)[250, 52:198] == blue).all()
