"""CrowdIndex and per-person crowding: hand-worked cases and CrowdPose's shipped values."""

from __future__ import annotations

import json

import numpy as np
import pytest

from analysis.build import crowding as crowding_module
from analysis.build.crowding import compute_crowding
from analysis.build.loading import load_pose_dataset


def person(box, joints, n_joints=4, num_keypoints=None, iscrowd=False):
    """An annotation with labelled joints at ``joints`` (x, y) and the rest unlabelled."""
    kp = np.zeros((n_joints, 3))
    for j, (x, y) in enumerate(joints):
        kp[j] = (x, y, 2)
    stored = len(joints) if num_keypoints is None else num_keypoints
    return {"box": box, "kp": kp, "num_keypoints": stored, "iscrowd": iscrowd}


def run(images: list[list[dict]]):
    anns = [(i, a) for i, image in enumerate(images) for a in image]
    if not anns:
        return compute_crowding(
            np.zeros((0, 4, 3)),
            np.zeros((0, 4)),
            np.zeros(0, np.int64),
            np.zeros(0, bool),
            np.zeros(0, np.int64),
            len(images),
        )
    return compute_crowding(
        np.stack([a["kp"] for _, a in anns]),
        np.array([a["box"] for _, a in anns], dtype=float),
        np.array([i for i, _ in anns]),
        np.array([a["iscrowd"] for _, a in anns]),
        np.array([a["num_keypoints"] for _, a in anns]),
        len(images),
    )


def test_two_people_one_inside_the_other():
    # A: box (0,0,10,10), 4 joints all inside its own box.
    # B: box (20,20,10,10), 4 joints, 3 of them at (2,2),(5,5),(8,8) inside A's box.
    a = person((0, 0, 10, 10), [(1, 1), (2, 3), (4, 4), (6, 6)])
    b = person((20, 20, 10, 10), [(2, 2), (5, 5), (8, 8), (25, 25)])
    result = run([[a, b]])
    # N_b(A) = 3 (B's joints inside A), N_a(A) = 4 -> 0.75; N_b(B) = 0 -> 0.
    np.testing.assert_array_equal(result.n_inside_others, [3, 0])
    np.testing.assert_allclose(result.ratio, [0.75, 0.0])
    np.testing.assert_allclose(result.crowd_index, [(0.75 + 0.0) / 2])


def test_joint_exactly_on_box_edges_counts():
    a = person((10, 10, 20, 20), [(11, 11), (12, 12), (13, 13), (14, 14)])
    # B's joints on the left edge, the right edge (x = 10 + 20), a corner, and just outside.
    b = person((100, 100, 5, 5), [(10, 15), (30, 15), (30, 30), (30.001, 15)])
    result = run([[a, b]])
    assert result.n_inside_others[0] == 3
    np.testing.assert_allclose(result.crowd_index, [(3 / 4 + 0) / 2])


def test_iscrowd_neighbour_joints_count_but_region_is_no_reference():
    a = person((0, 0, 10, 10), [(1, 1), (2, 2), (3, 3), (4, 4)])
    crowd = person((0, 0, 50, 50), [(5, 5), (6, 6)], iscrowd=True, num_keypoints=10)
    result = run([[a, crowd]])
    assert result.n_inside_others[0] == 2
    assert not result.is_reference[1]
    assert np.isnan(result.ratio[1])
    # Only A is a reference person: 2 / 4.
    np.testing.assert_allclose(result.crowd_index, [0.5])


def test_no_reference_person_gives_zero():
    # num_keypoints 3 < 4: not a reference person even though joints overlap.
    a = person((0, 0, 10, 10), [(1, 1), (2, 2), (3, 3)])
    b = person((0, 0, 10, 10), [(4, 4), (5, 5), (6, 6)])
    result = run([[a, b], []])
    np.testing.assert_array_equal(result.crowd_index, [0.0, 0.0])
    np.testing.assert_allclose(result.ratio, [1.0, 1.0])


def test_stored_num_keypoints_decides_reference_not_labelled_count():
    # CrowdPose's num_keypoints excludes head and neck: stored 3 with 4 labelled -> no reference.
    a = person((0, 0, 10, 10), [(1, 1), (2, 2), (3, 3), (4, 4)], num_keypoints=3)
    b = person((0, 0, 10, 10), [(5, 5), (6, 6), (7, 7), (8, 8)], num_keypoints=4)
    result = run([[a, b]])
    assert list(result.is_reference) == [False, True]
    np.testing.assert_allclose(result.crowd_index, [4 / 4])


def test_absent_num_keypoints_falls_back_to_labelled_count():
    a = person((0, 0, 10, 10), [(1, 1), (2, 2), (3, 3), (4, 4)], num_keypoints=-1)
    b = person((0, 0, 10, 10), [(5, 5)], num_keypoints=-1)
    result = run([[a, b]])
    assert list(result.is_reference) == [True, False]
    np.testing.assert_allclose(result.crowd_index, [1 / 4])


def test_not_clipped_above_one():
    a = person((0, 0, 10, 10), [(1, 1), (2, 2), (3, 3), (4, 4)])
    others = [person((50, 50, 1, 1), [(5, 5), (6, 6), (7, 7), (8, 8)]) for _ in range(3)]
    result = run([[a, *others]])
    assert result.ratio[0] == pytest.approx(3.0)


def test_unlabelled_joints_inside_box_do_not_count():
    a = person((0, 0, 10, 10), [(1, 1), (2, 2), (3, 3), (4, 4)])
    b = person((50, 50, 5, 5), [(51, 51), (52, 52), (53, 53), (54, 54)])
    b["kp"][0] = (5, 5, 0)  # inside A's box but unlabelled
    b["num_keypoints"] = 3
    result = run([[a, b]])
    assert result.n_inside_others[0] == 0


def test_chunked_pairs_equal_unchunked(monkeypatch, fixtures_dir):
    data = load_pose_dataset(fixtures_dir / "coco-mini/annotations/person_keypoints_train2017.json")
    inst = data.instances
    args = (inst.keypoints, inst.bbox, inst.image_index, inst.iscrowd, inst.num_keypoints, len(data.images.image_id))
    whole = compute_crowding(*args)
    monkeypatch.setattr(crowding_module, "PAIRS_PER_CHUNK", 7)
    chunked = compute_crowding(*args)
    np.testing.assert_array_equal(whole.n_inside_others, chunked.n_inside_others)
    np.testing.assert_array_equal(whole.crowd_index, chunked.crowd_index)


@pytest.mark.parametrize(
    "relative",
    [
        "mmpose/crowdpose/test_crowdpose.json",
        "xtcocoapi/example_crowdpose_val.json",
    ],
)
def test_reproduces_crowdpose_shipped_crowd_index(fixtures_dir, relative):
    path = fixtures_dir / relative
    shipped = {img["id"]: img["crowdIndex"] for img in json.loads(path.read_text())["images"]}
    data = load_pose_dataset(path)
    inst = data.instances
    result = compute_crowding(
        inst.keypoints, inst.bbox, inst.image_index, inst.iscrowd, inst.num_keypoints, len(data.images.image_id)
    )
    ours = dict(zip(data.images.image_id.tolist(), np.round(result.crowd_index, 2).tolist(), strict=True))
    assert ours == shipped
