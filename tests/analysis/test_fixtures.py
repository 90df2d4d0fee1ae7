"""Real annotation files (../shared/fixtures): every COCO-format file builds, quirks
load as they should, and coco-mini agrees with an independent pycocotools computation."""

from __future__ import annotations

import json

import numpy as np
import pytest
from pycocotools.coco import COCO

from analysis.build.run import build_split
from analysis.cache import contract as cache
from analysis.errors import AnnotationError
from analysis.registry import DatasetSpec

NOT_COCO = {
    "mmpose/mpii/test_mpii.json": "MPII-style records .*convert it to COCO",  # MPII's own format
    "mmpose/mpii/test_mpii_trb.json": "missing bbox",  # centre/scale, no bbox
    # AI Challenger's native records: named as such, with `convert --format aic` as the way in
    "aic-native/keypoint_annotations_example.json": "AI Challenger records .*convert it to COCO",
}


def all_fixture_files(fixtures_dir):
    return sorted(str(p.relative_to(fixtures_dir)) for p in fixtures_dir.rglob("*.json"))


def test_every_coco_format_fixture_builds(tmp_path, fixtures_dir):
    files = all_fixture_files(fixtures_dir)
    assert len(files) >= 20
    for index, relative in enumerate(files):
        spec = DatasetSpec(f"f{index}", "val", fixtures_dir / relative)
        if relative in NOT_COCO:
            with pytest.raises(AnnotationError, match=NOT_COCO[relative]):
                build_split(spec, tmp_path, progress=False)
            continue
        result = build_split(spec, tmp_path, progress=False)
        raw = json.loads((fixtures_dir / relative).read_text())
        inst = cache.read_instances(tmp_path, result.key)
        n_joints = result.manifest.keypoint_schema.joint_names
        assert len(inst) == len(raw["annotations"]), relative
        assert inst["keypoints"].map(len).eq(3 * len(n_joints)).all(), relative
        assert result.manifest.counts.images == len({img["id"] for img in raw["images"]})


@pytest.mark.parametrize(
    "relative, joints, visibility",
    [
        ("mmpose/halpe/test_halpe.json", 136, "coco"),  # empty name list, 136 joints stored
        ("mmpose/humanart/test_humanart.json", 17, "coco"),  # 21 names, 17 stored
        ("mmpose/posetrack18/annotations/test_posetrack18_val.json", 17, "binary"),  # bool iscrowd, 0/1
        ("mmpose/crowdpose/test_crowdpose.json", 14, "coco"),
        ("mmpose/jhmdb/test_jhmdb_sub1.json", 15, "coco"),  # float visibility, no iscrowd
    ],
)
def test_quirks(tmp_path, fixtures_dir, relative, joints, visibility):
    result = build_split(DatasetSpec("q", "val", fixtures_dir / relative), tmp_path, progress=False)
    assert len(result.manifest.keypoint_schema.joint_names) == joints
    assert result.manifest.definitions.visibility.value == visibility
    raw = json.loads((fixtures_dir / relative).read_text())
    inst = cache.read_instances(tmp_path, result.key).set_index("ann_id")
    for ann in raw["annotations"]:
        v = np.asarray(ann["keypoints"], dtype=float)[2::3]
        assert inst.loc[ann["id"], "n_labelled"] == int((v > 0).sum())
        expected_visible = (v > 0).sum() if visibility == "binary" else (v == 2).sum()
        assert inst.loc[ann["id"], "n_visible"] == int(expected_visible)
        assert bool(inst.loc[ann["id"], "iscrowd"]) == bool(ann.get("iscrowd", 0))


def test_crowdpose_keeps_stored_index_and_has_no_segm(tmp_path, fixtures_dir):
    path = fixtures_dir / "xtcocoapi/example_crowdpose_val.json"
    result = build_split(DatasetSpec("cp", "val", path), tmp_path, progress=False)
    images = cache.read_images(tmp_path, result.key).set_index("image_id")
    shipped = {img["id"]: img["crowdIndex"] for img in json.loads(path.read_text())["images"]}
    assert images["crowd_index_stored"].to_dict() == shipped
    assert (images["crowd_index"].round(2) == images["crowd_index_stored"]).all()
    assert cache.read_instances(tmp_path, result.key)["segm_area"].isna().all()
    assert [s.value for s in result.manifest.definitions.area_sources] == ["bbox", "crowdpose"]


@pytest.mark.parametrize("split", ["val2017", "train2017"])
def test_coco_mini_matches_pycocotools(tmp_path, fixtures_dir, split):
    path = fixtures_dir / f"coco-mini/annotations/person_keypoints_{split}.json"
    images_dir = fixtures_dir / f"coco-mini/{split}"
    result = build_split(DatasetSpec("mini", split, path, images_dir), tmp_path, progress=False)
    images = cache.read_images(tmp_path, result.key).set_index("image_id")
    inst = cache.read_instances(tmp_path, result.key).set_index("ann_id")

    coco = COCO(str(path))
    assert sorted(images.index) == sorted(coco.getImgIds())
    for image_id in coco.getImgIds():
        persons = coco.getAnnIds(imgIds=image_id, iscrowd=False)
        crowds = [a for a in coco.getAnnIds(imgIds=image_id) if coco.anns[a]["iscrowd"]]
        assert images.loc[image_id, "n_persons"] == len(persons)
        assert images.loc[image_id, "n_crowd_regions"] == len(crowds)
        assert images.loc[image_id, "width"] == coco.imgs[image_id]["width"]
    for ann_id, ann in coco.anns.items():
        _x, _y, w, h = ann["bbox"]
        assert inst.loc[ann_id, "bbox_area"] == pytest.approx(w * h)
        assert inst.loc[ann_id, "segm_area"] == pytest.approx(ann["area"])
        assert inst.loc[ann_id, "num_keypoints"] == ann["num_keypoints"]
    # COCO's own small/medium/large split uses the segmentation area and 32^2 / 96^2.
    small = sum(1 for a in coco.anns.values() if not a["iscrowd"] and a["area"] < 32**2)
    persons = inst[~inst["iscrowd"]]
    assert int((persons["segm_area"] < 32**2).sum()) == small
    assert result.manifest.inputs.images.n_missing == 0
