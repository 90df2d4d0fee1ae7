"""The pycocotools baseline doubles as an independent reference for CrowdIndex and the
instance columns: it must reproduce CrowdPose's shipped crowdIndex values and cases
worked out by hand."""

from __future__ import annotations

import math

import pytest

from tests.reference.coco_reference import crowd_index, reference_tables

CROWDPOSE_FIXTURES = [
    "mmpose/crowdpose/test_crowdpose.json",
    "xtcocoapi/example_crowdpose_val.json",
]


def kps(*joints, k=5):
    """Flat COCO keypoints from (x, y, v) triples, padded with (0, 0, 0) to k joints."""
    flat = [float(c) for j in joints for c in j]
    return flat + [0.0] * (3 * (k - len(joints)))


def person(ann_id, bbox, joints, num_keypoints="auto", iscrowd=0, image_id=1, **extra):
    ann = {
        "id": ann_id,
        "image_id": image_id,
        "category_id": 1,
        "iscrowd": iscrowd,
        "bbox": list(bbox),
        "keypoints": kps(*joints),
        **extra,
    }
    if num_keypoints == "auto":
        ann["num_keypoints"] = sum(1 for j in joints if j[2] > 0)
    elif num_keypoints is not None:
        ann["num_keypoints"] = num_keypoints
    return ann


def dataset(anns, images=(1,)):
    return {
        "images": [{"id": i, "file_name": f"{i}.jpg", "width": 640, "height": 480} for i in images],
        "annotations": anns,
        "categories": [
            {
                "id": 1,
                "name": "person",
                "supercategory": "person",
                "keypoints": [f"j{i}" for i in range(5)],
                "skeleton": [],
            }
        ],
    }


def tables(anns, images=(1,)):
    images_df, instances_df = reference_tables(dataset(anns, images))
    return images_df.set_index("image_id"), instances_df.set_index("ann_id")


FOUR = [(20, 20, 2), (30, 30, 2), (40, 40, 1), (50, 50, 2)]


def test_two_persons_one_reaching_into_the_others_box():
    a = person(1, [10, 10, 100, 100], FOUR)  # x, y in [10, 110]
    # B: (105,105) inside A's box, (110,110) on A's corner, two outside.
    b = person(2, [100, 100, 50, 50], [(105, 105, 2), (110, 110, 2), (120, 120, 2), (140, 140, 1)])
    images, inst = tables([a, b])
    assert inst.loc[1, "crowding"] == pytest.approx(2 / 4)
    assert inst.loc[2, "crowding"] == pytest.approx(0.0)
    assert images.loc[1, "crowd_index"] == pytest.approx((0.5 + 0.0) / 2)
    assert images.loc[1, "n_persons"] == 2
    assert images.loc[1, "n_crowd_regions"] == 0
    assert crowd_index([a, b]) == pytest.approx(0.25)


def test_box_edges_are_inside_and_just_beyond_is_not():
    p = person(1, [0, 0, 10, 10], [(1, 1, 2), (2, 2, 2), (3, 3, 2), (4, 4, 2)])
    q = person(2, [50, 50, 10, 10], [(10, 10, 2), (0, 5, 1), (10.01, 5, 2), (5, -0.01, 2)])  # 2 in, 2 out
    images, inst = tables([p, q])
    assert inst.loc[1, "crowding"] == pytest.approx(2 / 4)
    assert inst.loc[2, "crowding"] == pytest.approx(0 / 4)
    assert images.loc[1, "crowd_index"] == pytest.approx(0.25)


def test_unlabelled_joints_never_count_even_inside_the_box():
    p = person(1, [0, 0, 10, 10], [(1, 1, 2), (2, 2, 2), (3, 3, 2), (4, 4, 2)])
    # q's unlabelled joints sit at (0, 0) and (5, 5): both inside p's box, v = 0.
    q = person(2, [100, 100, 10, 10], [(0, 0, 0), (5, 5, 0), (105, 105, 2)])
    images, inst = tables([p, q])
    assert inst.loc[1, "crowding"] == 0.0
    assert inst.loc[2, "n_labelled"] == 1
    assert images.loc[1, "crowd_index"] == 0.0


def test_iscrowd_neighbour_counts_in_n_b_but_is_no_reference_person():
    p = person(1, [0, 0, 100, 100], FOUR)
    crowd = person(2, [0, 0, 200, 200], [(50, 50, 2), (60, 60, 1), (150, 150, 2)], iscrowd=1)
    rle_only = {
        "id": 3,
        "image_id": 1,
        "category_id": 1,
        "iscrowd": 1,
        "bbox": [0, 0, 300, 300],
        "area": 900.0,
        "num_keypoints": 0,
        "segmentation": {"counts": [0, 1], "size": [1, 1]},
    }
    images, inst = tables([p, crowd, rle_only])
    assert inst.loc[1, "crowding"] == pytest.approx(2 / 4)
    assert math.isnan(inst.loc[2, "crowding"])
    assert math.isnan(inst.loc[3, "crowding"])
    assert images.loc[1, "crowd_index"] == pytest.approx(0.5)
    assert images.loc[1, "n_persons"] == 1
    assert images.loc[1, "n_crowd_regions"] == 2
    assert inst.loc[2, "iscrowd"] == 1
    assert inst.loc[3, "n_labelled"] == 0


def test_only_person_with_three_keypoints_gives_zero():
    p = person(1, [0, 0, 100, 100], FOUR[:3])
    images, inst = tables([p])
    assert inst.loc[1, "num_keypoints"] == 3
    assert images.loc[1, "crowd_index"] == 0.0


def test_persons_below_four_keypoints_are_crowded_but_not_references():
    p = person(1, [0, 0, 100, 100], FOUR[:3])
    q = person(2, [0, 0, 100, 100], [(10, 10, 2), (11, 11, 2), (12, 12, 2)])
    images, inst = tables([p, q])
    assert inst.loc[1, "crowding"] == pytest.approx(3 / 3)
    assert inst.loc[2, "crowding"] == pytest.approx(3 / 3)
    assert images.loc[1, "crowd_index"] == 0.0


def test_stored_num_keypoints_decides_who_is_a_reference_person():
    # CrowdPose-like: the stored count (body joints only) differs from the labelled one.
    five = [(10, 10, 2), (11, 11, 2), (12, 12, 2), (13, 13, 1), (14, 14, 2)]
    stored_3 = person(1, [0, 0, 100, 100], five, num_keypoints=3)  # 5 labelled
    stored_4 = person(2, [0, 0, 100, 100], [*FOUR[:2], (60, 60, 2)], num_keypoints=4)
    images, inst = tables([stored_3, stored_4])
    # Only ann 2 is a reference: N_a = 3 (labelled, not the stored 4), N_b = 5.
    assert inst.loc[2, "n_labelled"] == 3
    assert inst.loc[2, "num_keypoints"] == 4
    assert images.loc[1, "crowd_index"] == pytest.approx(5 / 3)
    assert inst.loc[1, "crowding"] == pytest.approx(3 / 5)


def test_absent_num_keypoints_falls_back_to_the_labelled_count():
    four = person(1, [0, 0, 100, 100], FOUR, num_keypoints=None)
    three = person(2, [0, 0, 100, 100], [(70, 70, 2), (71, 71, 2), (72, 72, 2)], num_keypoints=None)
    images, inst = tables([four, three])
    assert inst.loc[1, "num_keypoints"] is pd_na()
    assert images.loc[1, "crowd_index"] == pytest.approx(3 / 4)  # only ann 1 is a reference


def pd_na():
    import pandas as pd

    return pd.NA


def test_instance_columns_and_empty_images():
    p = person(1, [1.5, 2.5, 10, 20], FOUR, area=123.4)
    no_kps = {"id": 2, "image_id": 1, "category_id": 1, "iscrowd": 0, "bbox": [0, 0, 5, 5]}
    images, inst = tables([p, no_kps], images=(1, 2))
    row = inst.loc[1]
    assert (row.bbox_x, row.bbox_y, row.bbox_w, row.bbox_h) == (1.5, 2.5, 10.0, 20.0)
    assert row.bbox_area == 200.0
    assert row.segm_area == pytest.approx(123.4)
    assert row.n_labelled == 4 and row.n_visible == 3
    assert len(row.keypoints) == 15
    assert inst.loc[2, "segm_area"] is pd_na()
    assert inst.loc[2, "num_keypoints"] is pd_na()
    assert inst.loc[2, "n_labelled"] == 0
    assert math.isnan(inst.loc[2, "crowding"])
    assert images.loc[2, "n_persons"] == 0
    assert images.loc[2, "crowd_index"] == 0.0
    assert images.loc[1, "crowd_index_stored"] is pd_na()


def test_float_visibility_and_boolean_iscrowd():
    p = person(1, [0, 0, 100, 100], [(10, 10, 2.0), (20, 20, 1.0), (30, 30, 2.0), (40, 40, 2.0)])
    q = person(2, [0, 0, 100, 100], [(50, 50, 2.0)], iscrowd=True)
    images, inst = tables([p, q])
    assert inst.loc[2, "iscrowd"] == 1
    assert images.loc[1, "crowd_index"] == pytest.approx(1 / 4)


@pytest.mark.parametrize("relative", CROWDPOSE_FIXTURES)
def test_reproduces_crowdposes_shipped_crowd_index(fixtures_dir, relative):
    images, _ = reference_tables(fixtures_dir / relative)
    assert len(images) > 0
    assert images["crowd_index_stored"].notna().all()
    for ours, stored in zip(images["crowd_index"], images["crowd_index_stored"], strict=False):
        assert round(ours, 2) == pytest.approx(stored, abs=1e-9), (ours, stored)
