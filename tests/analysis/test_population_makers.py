"""The person population in ``compose`` and ``subset``: which small persons select an image,
what the counts are over, the warnings, and the counts under every population.

Expected values are worked out here from the raw annotation files, never from the cache."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest

from tests.analysis.dataset_helpers import build, run_cli
from tests.analysis.test_compose import COCO_NAMES, _compose, _load, _setup
from tests.conftest import require_fixtures

CROWDPOSE_NAMES = [
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
    "head",
    "neck",
]


def _person(
    ann_id: int,
    image_id: int,
    w: float,
    h: float,
    labelled: list[int],
    n_joints: int,
    num_keypoints: int | None = None,
    iscrowd: int = 0,
) -> dict:
    keypoints = []
    for j in range(n_joints):
        keypoints += [10 + j, 20 + j, 2] if j in labelled else [0, 0, 0]
    record = {
        "id": ann_id,
        "image_id": image_id,
        "category_id": 1,
        "iscrowd": iscrowd,
        "bbox": [5, 5, w, h],
        "keypoints": keypoints,
    }
    record["num_keypoints"] = len(labelled) if num_keypoints is None else num_keypoints
    return record


def _document(names: list[str], images: list[int], annotations: list[dict]) -> dict:
    return {
        "images": [{"id": i, "file_name": f"{i}.jpg", "width": 640, "height": 480} for i in images],
        "annotations": annotations,
        "categories": [{"id": 1, "name": "person", "keypoints": names, "skeleton": []}],
    }


def _small_keypoint_images(doc: dict, edge: float) -> set[int]:
    """Images with a non-crowd person of stored num_keypoints > 0 and bbox area below ``edge``."""
    return {
        a["image_id"]
        for a in doc["annotations"]
        if not a.get("iscrowd") and (a.get("num_keypoints") or 0) > 0 and a["bbox"][2] * a["bbox"][3] < edge
    }


# COCO labels no keypoints below 32^2 (segmentation area; the smallest labelled bbox in coco-mini is ~1,300 px^2),
# so with the default edges no image would be selected: a 50^2 edge makes a few persons "small".
EDGE = 2500


def test_compose_default_population_is_keypoints_on_real_coco(tmp_path, capsys):
    fixtures = require_fixtures() / "coco-mini" / "annotations"
    docs = {
        ("coco", s): orjson.loads((fixtures / f"person_keypoints_{s}2017.json").read_bytes()) for s in ("train", "val")
    }
    registry, cache_root = _setup(tmp_path, docs)
    config = (
        f'name = "pop"\n[size]\nedges = [{EDGE}, 9216]\n[[source]]\ndataset = "coco"\ntrain = ["train"]\n'
        'val = ["val"]\n'
    )
    code, stdout, stderr, out = _compose(capsys, tmp_path, registry, cache_root, config)
    assert code == 0, stderr
    for split in ("train", "val"):
        expected = _small_keypoint_images(docs["coco", split], EDGE)
        assert expected, "the fixture has small persons with keypoints"
        got = {im["original_image_id"] for im in _load(out, split)["images"]}
        assert got == expected
        # Every output image has a small person with a labelled joint (the benchmark's point).
        doc = _load(out, split)
        with_small = {
            a["image_id"]
            for a in doc["annotations"]
            if not a["iscrowd"] and a["num_keypoints"] > 0 and a["bbox"][2] * a["bbox"][3] < EDGE
        }
        assert with_small == {im["id"] for im in doc["images"]}
    report = orjson.loads((out / "report.json").read_bytes())
    assert report["population"] == "keypoints" and "num_keypoints > 0" in stdout
    # Counts under every population, for the input and each side, from the raw file.
    for row, split in zip(report["sources"], ("train", "val"), strict=True):
        persons = [a for a in docs["coco", split]["annotations"] if not a.get("iscrowd")]
        for population, keep in {
            "all": lambda a: True,
            "keypoints": lambda a: a.get("num_keypoints", 0) > 0,
            "labelled": lambda a: any(v > 0 for v in a["keypoints"][2::3]),
            "min4": lambda a: sum(v > 0 for v in a["keypoints"][2::3]) >= 4,
        }.items():
            taken = [a for a in persons if keep(a)]
            counts = row["populations"]["in"][population]
            assert counts["persons"] == len(taken)
            assert counts["small"] == sum(a["bbox"][2] * a["bbox"][3] < EDGE for a in taken)
            kept_images = _small_keypoint_images(docs["coco", split], EDGE)
            side = row["populations"][split][population]
            assert side["persons"] == sum(a["image_id"] in kept_images for a in taken)
        assert row["out"][split]["persons"] == row["populations"][split]["keypoints"]["persons"]
    # The old behaviour, asked for explicitly: every non-crowd annotation.
    code, _, stderr, out_all = _compose(
        capsys,
        tmp_path,
        registry,
        cache_root,
        config.replace('name = "pop"', 'name = "pop"\npopulation = "all"'),
        tmp_path / "all",
    )
    assert code == 0, stderr
    expected_all = {
        a["image_id"]
        for a in docs["coco", "val"]["annotations"]
        if not a.get("iscrowd") and a["bbox"][2] * a["bbox"][3] < EDGE
    }
    assert {im["original_image_id"] for im in _load(out_all, "val")["images"]} == expected_all
    assert expected_all > _small_keypoint_images(docs["coco", "val"], EDGE)  # COCO labels few small persons


def test_compose_warnings_lost_joints_missing_joints_and_empty_source(tmp_path, capsys):
    # CrowdPose-like: image 1 has a small head/neck-only person, image 2 a small person with a shoulder.
    crowd = _document(
        CROWDPOSE_NAMES,
        [1, 2, 3],
        [
            _person(11, 1, 10, 10, [12, 13], 14),
            _person(21, 2, 10, 10, [0, 13], 14),
            _person(31, 3, 100, 100, [0], 14),
        ],
    )
    # No small person with keypoints at all: contributes no image under "keypoints".
    bare = _document(COCO_NAMES, [5, 6], [_person(51, 5, 10, 10, [], 17), _person(61, 6, 200, 200, [0], 17)])
    coco = _document(COCO_NAMES, [8], [_person(81, 8, 10, 10, [0, 1], 17)])
    registry, cache_root = _setup(tmp_path, {("crowd", "train"): crowd, ("bare", "train"): bare, ("coco", "val"): coco})
    config = """
name = "warn"
population = "labelled"
[[source]]
dataset = "crowd"
train = ["train"]
[[source]]
dataset = "bare"
train = ["train"]
[[source]]
dataset = "coco"
train = []
val = ["val"]
"""
    code, stdout, stderr, out = _compose(capsys, tmp_path, registry, cache_root, config)
    assert code == 0, stderr
    report = orjson.loads((out / "report.json").read_bytes())
    crowd_row, bare_row, _ = report["sources"]
    # The head/neck-only person is no person of the COCO-17 benchmark: image 1 is not selected.
    kept = {
        im["original_image_id"] for n in ("train", "val") for im in _load(out, n)["images"] if im["source"] == "crowd"
    }
    assert kept == {2}
    assert crowd_row["lost_in_mapping"] == {"persons": 1, "small": 1}
    assert bare_row["in"]["images_with_small"] == 0
    warnings = report["warnings"]
    assert any("crowd/train" in w and "1 small person" in w and "lost" in w for w in warnings), warnings
    assert any("bare/train" in w and "contributes no image" in w for w in warnings), warnings
    assert any(
        "crowd/train lacks target joint(s) nose, left_eye, right_eye, left_ear, right_ear" in w for w in warnings
    ), warnings
    for warning in warnings:
        assert f"warning: {warning}" in stdout
    # Under "all", the head/neck-only person stays a person (counted and warned about): image 1 is
    # selected, and "bare" gives its small person's image.
    code, stdout, stderr, out_all = _compose(
        capsys, tmp_path, registry, cache_root, config.replace('"labelled"', '"all"'), tmp_path / "all"
    )
    assert code == 0, stderr
    report = orjson.loads((out_all / "report.json").read_bytes())
    assert report["sources"][0]["lost_in_mapping"] == {"persons": 1, "small": 1}
    assert "they stay persons (population all), without keypoints" in stdout
    kept = {(im["source"], im["original_image_id"]) for n in ("train", "val") for im in _load(out_all, n)["images"]}
    assert kept == {("crowd", 1), ("crowd", 2), ("bare", 5), ("coco", 8)}


def test_compose_refuses_an_unknown_population(tmp_path, capsys):
    registry, cache_root = _setup(tmp_path, {("c", "val"): _document(COCO_NAMES, [1], [_person(1, 1, 9, 9, [0], 17)])})
    code, _, stderr, out = _compose(
        capsys,
        tmp_path,
        registry,
        cache_root,
        'name = "x"\npopulation = "some"\n[[source]]\ndataset = "c"\nval = ["val"]\ntrain = []\n',
    )
    assert code == 2 and "compose.toml: population: unknown person population 'some'" in stderr
    assert not out.exists()


@pytest.fixture(scope="module")
def coco_mini_val(tmp_path_factory) -> tuple[Path, dict]:
    source = require_fixtures() / "coco-mini" / "annotations" / "person_keypoints_val2017.json"
    root = tmp_path_factory.mktemp("pop-subset")
    annotations = root / "val.json"
    annotations.write_bytes(source.read_bytes())
    build(root / "cache", "cm", "val", annotations)
    return root / "cache", json.loads(source.read_text())


def test_subset_counts_persons_of_the_population(coco_mini_val, tmp_path, capsys):
    cache_root, doc = coco_mini_val
    with_keypoints = [a for a in doc["annotations"] if not a.get("iscrowd") and a.get("num_keypoints", 0) > 0]
    everyone = [a for a in doc["annotations"] if not a.get("iscrowd")]
    assert len(with_keypoints) < len(everyone)
    wanted = len(with_keypoints) // 2
    out = tmp_path / "out"
    code, stdout, stderr = run_cli(
        capsys,
        "subset",
        "--name",
        "cm",
        "--split",
        "val",
        "--persons",
        wanted,
        "--cache-dir",
        cache_root,
        "--out",
        out,
        "--quiet",
    )  # default: keypoints
    assert code == 0, stderr
    report = orjson.loads((out / "report.json").read_bytes())
    assert report["population"] == "keypoints" and "num_keypoints > 0" in stdout
    assert report["full_split"]["persons"] == len(with_keypoints)
    assert report["full_split"]["populations"]["all"]["persons"] == len(everyone)
    subset = orjson.loads((out / "subset-1.json").read_bytes())
    kept = {im["id"] for im in subset["images"]}
    in_subset = [a for a in with_keypoints if a["image_id"] in kept]
    tolerance = int(0.005 * wanted)
    assert abs(len(in_subset) - wanted) <= tolerance
    assert report["subsets"][0]["persons"] == len(in_subset)
    assert report["subsets"][0]["populations"]["keypoints"]["persons"] == len(in_subset)
    assert report["subsets"][0]["populations"]["all"]["persons"] == sum(a["image_id"] in kept for a in everyone)
    # More persons of the population than the split has: refused, naming the count.
    code, _, stderr = run_cli(
        capsys,
        "subset",
        "--name",
        "cm",
        "--split",
        "val",
        "--persons",
        len(with_keypoints) + 1,
        "--cache-dir",
        cache_root,
        "--out",
        tmp_path / "no",
        "--quiet",
    )
    assert code == 2 and str(len(with_keypoints)) in stderr and not (tmp_path / "no").exists()
    code, _, stderr = run_cli(
        capsys,
        "subset",
        "--name",
        "cm",
        "--split",
        "val",
        "--persons",
        5,
        "--population",
        "bogus",
        "--cache-dir",
        cache_root,
        "--out",
        tmp_path / "no",
        "--quiet",
    )
    assert code == 2 and "--population" in stderr and "bogus" in stderr
