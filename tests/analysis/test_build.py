"""The build: the cache contract, hand-worked values, fingerprints and atomic swaps."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from analysis.build.run import build_split
from analysis.cache import contract as cache
from analysis.cache.manifest import ScenesFacts, read_manifest, write_manifest
from analysis.cli import main
from analysis.registry import DatasetSpec
from tests.analysis.helpers import coco_doc, write_doc


def build(tmp_path, doc=None, images=None, **kw):
    ann = write_doc(tmp_path / "ann.json", doc or coco_doc())
    spec = DatasetSpec("hand", "val", ann, images, **kw)
    return build_split(spec, tmp_path / "cache", progress=False)


def test_columns_are_exactly_the_contract(tmp_path):
    build(tmp_path)
    split = tmp_path / "cache" / "hand" / "val"
    assert tuple(pq.read_schema(split / "images.parquet").names) == cache.IMAGE_COLUMNS
    assert tuple(pq.read_schema(split / "instances.parquet").names) == cache.INSTANCE_COLUMNS
    assert sorted(p.name for p in split.iterdir()) == ["images.parquet", "instances.parquet", "manifest.json"]


def test_hand_worked_values(tmp_path):
    result = build(tmp_path)
    key = cache.CacheKey("hand", "val")
    images = cache.read_images(tmp_path / "cache", key).set_index("image_id")
    inst = cache.read_instances(tmp_path / "cache", key).set_index("ann_id")

    assert images["n_persons"].to_dict() == {1: 2, 2: 1, 3: 0}
    assert images["n_crowd_regions"].to_dict() == {1: 1, 2: 0, 3: 0}
    # Image 1: person 11 (ref, 4 labelled) holds both joints of 12 inside its box -> 2/4;
    # person 12 (stored num_keypoints 2) is no reference.  Image 2: 21 alone -> 0.
    assert images.loc[1, "crowd_index"] == pytest.approx(0.5)
    assert images.loc[2, "crowd_index"] == 0.0 and images.loc[3, "crowd_index"] == 0.0
    assert images["crowd_index_stored"].isna().all()

    assert inst.loc[11, "bbox_area"] == 100 * 200
    assert inst.loc[12, "segm_area"] == 400.0 and pd.isna(inst.loc[21, "segm_area"])
    assert inst["n_labelled"].to_dict() == {11: 4, 12: 2, 13: 0, 21: 5}
    assert inst["n_visible"].to_dict() == {11: 3, 12: 1, 13: 0, 21: 5}
    assert inst.loc[11, "crowding"] == pytest.approx(0.5)
    # Person 12's box (50..70) holds none of 11's joints (10..40): 0 / 2.
    assert inst.loc[12, "crowding"] == 0.0
    assert np.isnan(inst.loc[13, "crowding"])
    assert len(inst.loc[11, "keypoints"]) == 51
    assert result.manifest.counts.images_without_persons == 1
    assert [s.value for s in result.manifest.definitions.area_sources] == ["bbox", "segm", "crowdpose"]


def test_any_joint_count(tmp_path):
    result = build(tmp_path, coco_doc(n_joints=136))
    inst = cache.read_instances(tmp_path / "cache", cache.CacheKey("hand", "val"))
    assert inst["keypoints"].map(len).eq(3 * 136).all()
    assert result.manifest.keypoint_schema.name == "custom-136"


def test_source_rule(tmp_path):
    from analysis.build.loading import SourceRule

    build(tmp_path, source_rule=SourceRule("file_name", r"^(?P<source>[^/]+)/"))
    images = cache.read_images(tmp_path / "cache", cache.CacheKey("hand", "val")).set_index("image_id")
    assert images["source"].to_dict() == {1: "a", 2: "b", 3: "a"}


def test_missing_images_are_counted_not_fatal(tmp_path):
    root = tmp_path / "imgs"
    (root / "a").mkdir(parents=True)
    (root / "a" / "one.jpg").write_bytes(b"x")
    result = build(tmp_path, images=root)
    assert result.manifest.inputs.images.n_missing == 2
    assert sorted(result.manifest.inputs.images.missing) == ["a/three.jpg", "b/two.jpg"]


def test_unchanged_input_is_not_rebuilt_but_changed_or_forced_is(tmp_path):
    ann = write_doc(tmp_path / "ann.json", coco_doc())
    spec = DatasetSpec("hand", "val", ann)
    root = tmp_path / "cache"
    assert build_split(spec, root, progress=False).status == "built"
    assert build_split(spec, root, progress=False).status == "up-to-date"
    os.utime(ann, ns=(1, 1))  # touched, same bytes: the hash decides
    assert build_split(spec, root, progress=False).status == "up-to-date"
    assert build_split(spec, root, progress=False, force=True).status == "built"
    doc = coco_doc()
    doc["annotations"].pop()
    write_doc(ann, doc)
    assert build_split(spec, root, progress=False).status == "built"
    assert read_manifest(root, cache.CacheKey("hand", "val")).counts.annotations == 3


def test_scenes_survive_a_rebuild(tmp_path):
    build(tmp_path)
    split = tmp_path / "cache" / "hand" / "val"
    scenes = pa.table(
        {
            "dataset": ["hand"],
            "split": ["val"],
            "image_id": [1],
            "entropy": [1.5],
            "top5_ids": [[1, 2, 3, 4, 5]],
            "top5_probs": [[0.5, 0.2, 0.1, 0.1, 0.1]],
            "p_indoor": [0.25],
            "model": ["m"],
        }
    )
    cache.write_parquet(scenes, split / "scenes.parquet")
    scenes_bytes = (split / "scenes.parquet").read_bytes()
    (split / cache.SCENES_PARTIAL_DIR).mkdir()
    (split / cache.SCENES_PARTIAL_DIR / "shard-00000.parquet").write_bytes(b"shard")
    manifest = read_manifest(tmp_path / "cache", cache.CacheKey("hand", "val"))
    manifest.scenes = ScenesFacts(model="m")
    write_manifest(manifest, split)
    ann = tmp_path / "ann.json"
    build_split(DatasetSpec("hand", "val", ann), tmp_path / "cache", progress=False, force=True)
    assert (split / "scenes.parquet").read_bytes() == scenes_bytes
    assert (split / cache.SCENES_PARTIAL_DIR / "shard-00000.parquet").read_bytes() == b"shard"
    assert read_manifest(tmp_path / "cache", cache.CacheKey("hand", "val")).scenes == ScenesFacts(model="m")


def test_interrupted_swap_is_recovered(tmp_path):
    build(tmp_path)
    split = tmp_path / "cache" / "hand" / "val"
    os.replace(split, split.parent / ".val.old")  # a crash between the two renames
    result = build_split(DatasetSpec("hand", "val", tmp_path / "ann.json"), tmp_path / "cache", progress=False)
    assert result.status == "up-to-date" and (split / "images.parquet").is_file()


def test_cli_ad_hoc_build_and_info(tmp_path, capsys):
    ann = write_doc(tmp_path / "ann.json", coco_doc())
    code = main(
        [
            "build",
            "--name",
            "hand",
            "--split",
            "val",
            "--annotations",
            str(ann),
            "--cache-dir",
            str(tmp_path / "c"),
            "--quiet",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0 and "hand/val: built - 3 images, 3 persons, 1 crowd regions" in out
    assert main(["info", "--cache-dir", str(tmp_path / "c"), "--registry", str(tmp_path / "none.toml")]) == 0
    assert "hand/val: 3 images, 3 persons (1.00/image)" in capsys.readouterr().out


def test_cli_ad_hoc_needs_all_three(tmp_path, capsys):
    assert main(["build", "--name", "x", "--cache-dir", str(tmp_path)]) == 2
    assert "needs --name, --split and --annotations" in capsys.readouterr().err


def test_source_rule_reads_any_image_field(tmp_path):
    from analysis.build.loading import SourceRule

    doc = coco_doc()
    for image, origin in zip(doc["images"], ["mpii", None, "hieve/seq1"], strict=True):
        if origin is not None:
            image["origin"] = origin
    build(tmp_path, doc, source_rule=SourceRule("origin", r"^[a-z]+"))
    images = cache.read_images(tmp_path / "cache", cache.CacheKey("hand", "val")).set_index("image_id")
    assert images["source"].tolist()[0] == "mpii" and images.loc[3, "source"] == "hieve"
    assert images["source"].isna().tolist() == [False, True, False]
