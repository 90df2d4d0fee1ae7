"""Joint-name mapping on the real category names of the fixtures, and hand-made edge cases."""

from __future__ import annotations

import orjson
import pytest

from analysis.datasets.keypoint_mapping import canonical_joint_name, map_joints
from analysis.errors import PoseAtlasError
from analysis.schema import COCO17_JOINTS, CROWDPOSE14_JOINTS
from tests.conftest import require_fixtures

LIMBS = [
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
]
FACE = ["nose", "left_eye", "right_eye", "left_ear", "right_ear"]

# Worked out by reading each file's category: which COCO 17 joints it provides.
COCO_FROM = {
    "coco/test_coco.json": (list(COCO17_JOINTS), []),
    "ochuman/test_ochuman.json": (list(COCO17_JOINTS), []),
    "humanart/test_humanart.json": (list(COCO17_JOINTS), []),  # 21 names, the first 17 are COCO's
    "crowdpose/test_crowdpose.json": (LIMBS, FACE),
    "exlpose/test_exlpose.json": (LIMBS, FACE),
    "aic/test_aic.json": (LIMBS, FACE),  # "Right Shoulder" ... "Head top", "Neck"
    "mhp/test_mhp.json": (LIMBS, FACE),  # MPII's names: "Right-ankle" ... "Left-wrist"
    "jhmdb/test_jhmdb_sub1.json": (LIMBS, FACE),
    "posetrack18/annotations/test_posetrack18_val.json": (
        ["nose", "left_ear", "right_ear", *LIMBS],
        ["left_eye", "right_eye"],
    ),
    # H36M: "left_foot" / "right_foot" are not guessed to be ankles.
    "h36m/h36m_coco.json": ([j for j in LIMBS if "ankle" not in j], [*FACE, "left_ankle", "right_ankle"]),
}


@pytest.mark.parametrize("relative", sorted(COCO_FROM))
def test_real_schemas_onto_coco17(relative):
    path = require_fixtures() / "mmpose" / relative
    category = orjson.loads(path.read_bytes())["categories"][0]
    names = category["keypoints"]
    mapping = map_joints(COCO17_JOINTS, names)
    mapped, missing = COCO_FROM[relative]
    assert sorted(mapping.mapped) == sorted(mapped)
    assert mapping.missing == [j for j in COCO17_JOINTS if j in missing]
    for target, source in zip(mapping.target, mapping.source_index, strict=True):
        if source >= 0:
            # The source joint is the same joint: same words, whatever the spelling.
            assert names[source].lower().replace(" ", "_").replace("-", "_") == target


def test_aic_onto_crowdpose14_joint_by_joint():
    names = orjson.loads((require_fixtures() / "mmpose/aic/test_aic.json").read_bytes())["categories"][0]["keypoints"]
    mapping = map_joints(CROWDPOSE14_JOINTS, names)
    expected = {  # CrowdPose joint -> AIC index, by hand
        "left_shoulder": 3,
        "right_shoulder": 0,
        "left_elbow": 4,
        "right_elbow": 1,
        "left_wrist": 5,
        "right_wrist": 2,
        "left_hip": 9,
        "right_hip": 6,
        "left_knee": 10,
        "right_knee": 7,
        "left_ankle": 11,
        "right_ankle": 8,
        "neck": 13,
    }
    assert dict(zip(mapping.target, mapping.source_index, strict=True)) == {**expected, "head": -1}
    with_head = map_joints(CROWDPOSE14_JOINTS, names, {"head": "Head top"})
    assert with_head.source_index[CROWDPOSE14_JOINTS.index("head")] == 12


@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        ("Right Shoulder", "right_shoulder"),
        ("Right-ankle", "right_ankle"),
        ("r_shoulder", "right_shoulder"),
        ("RShoulder", "right_shoulder"),
        ("LKnee", "left_knee"),
        ("knee_left", "left_knee"),
        ("knee_l", "left_knee"),
        ("L_Hip", "left_hip"),
        ("Head top", "head_top"),
        ("headtop", "head_top"),
        ("Head-top", "head_top"),
        ("root (pelvis)", "pelvis"),
        ("Upper-neck", "upper_neck"),
        ("RBigToe", "right_big_toe"),
        ("nose", "nose"),
        ("neck", "neck"),
        ("head", "head"),
        ("left_foot", "left_foot"),
    ],
)
def test_canonical_names(name, canonical):
    assert canonical_joint_name(name) == canonical


def test_apply_maps_values_and_counts_labelled_joints():
    mapping = map_joints(["a", "left_b", "c"], ["l_b", "x", "a"])
    assert mapping.source_index == (2, 0, -1)
    out, labelled = mapping.apply([1, 2, 2, 5.5, 6.5, 1, 7, 8, 0])
    assert out == [7, 8, 0, 1, 2, 2, 0, 0, 0]
    assert labelled == 1
    out, labelled = mapping.apply([1, 2, 1, 5, 6, 1, 7, 8, 1], binary_visibility=True)
    assert out == [7, 8, 2, 1, 2, 2, 0, 0, 0] and labelled == 2


def test_ambiguous_and_unknown_names_are_refused():
    with pytest.raises(PoseAtlasError, match="both read as 'left_knee'"):
        map_joints(COCO17_JOINTS, ["left_knee", "LKnee"], where="cfg: ")
    with pytest.raises(PoseAtlasError, match="target schema lacks"):
        map_joints(COCO17_JOINTS, ["nose"], {"elbow": "nose"})
    with pytest.raises(PoseAtlasError, match="no joint 'snout'"):
        map_joints(COCO17_JOINTS, ["nose"], {"nose": "snout"})
