"""``python -m analysis compose``: joint-by-joint mapping of two schemas, the small-person
criterion at its exact edges, group-aware splits, ids, reproducibility, the real build
with a ``source`` rule, and every bad config of the issue."""

from __future__ import annotations

import json
import os
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest

from analysis.build.loading import SourceRule
from tests.analysis.dataset_helpers import build, run_cli
from tests.conftest import require_fixtures

COCO_NAMES = [
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
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
# AIC's own spelling (the real file's category, see the mmpose fixture).
AIC_NAMES = [
    "Right Shoulder",
    "Right Elbow",
    "Right Wrist",
    "Left Shoulder",
    "Left Elbow",
    "Left Wrist",
    "Right Hip",
    "Right Knee",
    "Right Ankle",
    "Left Hip",
    "Left Knee",
    "Left Ankle",
    "Head top",
    "Neck",
]
# Worked out by hand: COCO joint -> AIC joint index; the rest of COCO is missing in AIC.
AIC_TO_COCO = {
    "right_shoulder": 0,
    "right_elbow": 1,
    "right_wrist": 2,
    "left_shoulder": 3,
    "left_elbow": 4,
    "left_wrist": 5,
    "right_hip": 6,
    "right_knee": 7,
    "right_ankle": 8,
    "left_hip": 9,
    "left_knee": 10,
    "left_ankle": 11,
}
AIC_MISSING = ["nose", "left_eye", "right_eye", "left_ear", "right_ear"]


def _keypoints(n_joints: int, seed: int, binary: bool = False) -> list:
    """Distinct, recognisable values per joint: x = 100 * seed + j, y = j + 0.5, v cycling 0/1/2."""
    flat = []
    for j in range(n_joints):
        v = (j + seed) % 3
        if binary:
            v = min(v, 1)
        flat += [100 * seed + j, j + 0.5, v] if v else [0, 0, 0]
    return flat


def _doc(
    names: list[str],
    images: list[tuple[int, str, list[tuple[float, float]]]],
    binary: bool = False,
    extra_annotation: dict | None = None,
) -> dict:
    """images: (id, file_name, [(bbox w, bbox h) per person])."""
    annotations = []
    for image_id, _, boxes in images:
        for k, (w, h) in enumerate(boxes):
            ann_id = image_id * 100 + k
            annotations.append(
                {
                    "id": ann_id,
                    "image_id": image_id,
                    "category_id": 1,
                    "iscrowd": 0,
                    "bbox": [1, 2, w, h],
                    "keypoints": _keypoints(len(names), ann_id, binary),
                    "num_keypoints": 99,
                    "note": f"a{ann_id}",
                    **(extra_annotation or {}),
                }
            )
    return {
        "info": {"description": "hand-made"},
        "images": [{"id": i, "file_name": f, "width": 640, "height": 480, "extra": [i, "x"]} for i, f, _ in images],
        "annotations": annotations,
        "categories": [{"id": 1, "name": "person", "keypoints": names, "skeleton": []}],
    }


def _setup(tmp_path: Path, docs: dict[tuple[str, str], dict]) -> tuple[Path, Path]:
    """Write the documents, register them, build them for real; returns (registry, cache root)."""
    registry = tmp_path / "datasets.toml"
    lines = []
    for (name, split), doc in docs.items():
        path = tmp_path / "raw" / f"{name}-{split}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(doc))
        lines += ["[[dataset]]", f'name = "{name}"', f'split = "{split}"', f'annotations = "{path}"', ""]
    registry.write_text("\n".join(lines))
    for name, split in docs:
        build(tmp_path / "cache", name, split, tmp_path / "raw" / f"{name}-{split}.json")
    return registry, tmp_path / "cache"


def _compose(capsys, tmp_path: Path, registry: Path, cache_root: Path, config: str, out: Path | None = None):
    config_path = tmp_path / "compose.toml"
    config_path.write_text(config)
    out = out or tmp_path / "out"
    code, stdout, stderr = run_cli(
        capsys,
        "compose",
        "--config",
        config_path,
        "--out",
        out,
        "--registry",
        registry,
        "--cache-dir",
        cache_root,
        "--quiet",
    )
    return code, stdout, stderr, out


def _load(out: Path, name: str) -> dict:
    return orjson.loads((out / f"{name}.json").read_bytes())


SMALL = (10, 10)  # area 100 < 32^2


@pytest.fixture
def two_schemas(tmp_path):
    coco_train = _doc(COCO_NAMES, [(1, "a.jpg", [SMALL, (100, 100)]), (2, "b.jpg", [(50, 50)]), (3, "c.jpg", [SMALL])])
    coco_val = _doc(COCO_NAMES, [(7, "v.jpg", [SMALL])])
    aic = _doc(AIC_NAMES, [(i, f"vid{i % 3}/f{i}.jpg", [SMALL, (40, 40)]) for i in range(1, 11)])
    registry, cache_root = _setup(
        tmp_path, {("coco", "train"): coco_train, ("coco", "val"): coco_val, ("aic", "train"): aic}
    )
    sources = {"coco/train": coco_train, "coco/val": coco_val, "aic/train": aic}
    return registry, cache_root, sources


CONFIG_TWO = """
name = "two"
seed = 3
[[source]]
dataset = "coco"
train = ["train"]
val = ["val"]
[[source]]
dataset = "aic"
name = "aicx"
train = ["train"]
split_ratio = [0.6, 0.4]
group = { field = "file_name", pattern = "^(vid[0-9]+)/" }
"""


def test_two_schemas_mapped_joint_by_joint(two_schemas, tmp_path, capsys):
    registry, cache_root, sources = two_schemas
    code, stdout, stderr, out = _compose(capsys, tmp_path, registry, cache_root, CONFIG_TWO)
    assert code == 0, stderr
    source_name = {"coco/train": "coco", "coco/val": "coco", "aic/train": "aicx"}
    originals = {(source_name[src], a["id"]): (src, a) for src, doc in sources.items() for a in doc["annotations"]}
    seen = set()
    for name in ("train", "val"):
        doc = _load(out, name)
        assert doc["categories"] == [
            {
                "supercategory": "person",
                "id": 1,
                "name": "person",
                "keypoints": COCO_NAMES,
                "skeleton": [[a + 1, b + 1] for a, b in _coco_skeleton()],
            }
        ]
        images = {im["id"]: im for im in doc["images"]}
        for ann in doc["annotations"]:
            source, original = originals[images[ann["image_id"]]["source"], ann["original_id"]]
            seen.add((source, ann["original_id"]))
            assert images[ann["image_id"]]["original_image_id"] == original["image_id"]
            kp = ann["keypoints"]
            assert len(kp) == 3 * 17
            for t, joint in enumerate(COCO_NAMES):
                if source.startswith("coco"):
                    s = t
                elif joint in AIC_TO_COCO:
                    s = AIC_TO_COCO[joint]
                else:
                    assert kp[3 * t : 3 * t + 3] == [0, 0, 0], joint
                    continue
                assert kp[3 * t : 3 * t + 3] == original["keypoints"][3 * s : 3 * s + 3], (source, joint)
            assert ann["num_keypoints"] == sum(1 for t in range(17) if kp[3 * t + 2] > 0)
            # Every other field unchanged.
            changed = {"id", "image_id", "keypoints", "num_keypoints", "category_id", "original_id"}
            assert {k: v for k, v in ann.items() if k not in changed} == {
                k: v for k, v in original.items() if k not in changed
            }
            assert ann["category_id"] == 1
    # Everything selected (all images here have a small person except coco image 2).
    expected = {
        (src, a["id"])
        for src, doc in sources.items()
        for a in doc["annotations"]
        if (src, a["image_id"]) != ("coco/train", 2)
    }
    assert seen == expected
    report = orjson.loads((out / "report.json").read_bytes())
    by_split = {(r["source"], r["split"]): r for r in report["sources"]}
    assert by_split["aicx", "train"]["joints"]["missing"] == AIC_MISSING
    assert by_split["coco", "train"]["joints"]["missing"] == []
    assert "nose, left_eye" in stdout


def _coco_skeleton():
    from analysis.schema import COCO17_SKELETON  # the published skeleton, 0-based

    return COCO17_SKELETON


def test_ids_sources_and_file_names(two_schemas, tmp_path, capsys):
    registry, cache_root, sources = two_schemas
    code, _, _, out = _compose(capsys, tmp_path, registry, cache_root, CONFIG_TWO)
    assert code == 0
    original_images = {(src.split("/")[0], im["id"]): im for src, doc in sources.items() for im in doc["images"]}
    for name in ("train", "val"):
        doc = _load(out, name)
        assert [im["id"] for im in doc["images"]] == list(range(1, len(doc["images"]) + 1))
        assert [a["id"] for a in doc["annotations"]] == list(range(1, len(doc["annotations"]) + 1))
        for im in doc["images"]:
            dataset = "aic" if im["source"] == "aicx" else im["source"]
            original = original_images[dataset, im["original_image_id"]]
            assert im["file_name"] == f"{im['source']}/{original['file_name']}"
            assert im["extra"] == original["extra"] and im["width"] == original["width"]
    train_sources = [im["source"] for im in _load(out, "train")["images"]]
    assert train_sources == sorted(train_sources, key=["coco", "aicx"].index)  # config order


def test_group_aware_split(tmp_path, capsys):
    # 40 frames of 8 videos (5 frames each) plus 4 frames no rule matches; every image has a small person.
    images = [(v * 10 + f, f"clips/v{v}/{f}.jpg", [SMALL]) for v in range(8) for f in range(5)]
    images += [(900 + i, f"loose/{i}.jpg", [SMALL]) for i in range(4)]
    registry, cache_root = _setup(tmp_path, {("pt", "train"): _doc(COCO_NAMES, images)})
    config = """
name = "g"
[[source]]
dataset = "pt"
train = ["train"]
group = { pattern = "^clips/(?P<group>v[0-9]+)/" }
"""
    for seed in (0, 1, 2):
        code, _, stderr, out = _compose(
            capsys,
            tmp_path,
            registry,
            cache_root,
            config.replace('name = "g"', f'name = "g"\nseed = {seed}'),
            tmp_path / f"out{seed}",
        )
        assert code == 0, stderr
        sides = {}
        for name in ("train", "val"):
            for im in _load(out, name)["images"]:
                group = im["file_name"].split("/")[2] if "/clips/" in im["file_name"] else im["file_name"]
                sides.setdefault(group, set()).add(name)
        assert all(len(s) == 1 for s in sides.values()), "a video on both sides"
        n_train = len(_load(out, "train")["images"])
        # Whole groups: within half the largest group (5 frames) of 0.8 * 44 = 35.2.
        assert abs(n_train - 35.2) <= 2.5


def test_small_person_criterion_at_the_exact_edges(tmp_path, capsys):
    images = [
        (1, "edge.jpg", [(32, 32)]),  # 1024 = 32^2: medium, not small
        (2, "below.jpg", [(32, 31.99)]),  # 1023.68: small
        (3, "big.jpg", [(200, 200)]),  # large
        (4, "mixed.jpg", [(96, 96), (1, 1)]),  # one small person is enough
        (5, "empty.jpg", []),
    ]
    registry, cache_root = _setup(
        tmp_path, {("s", "train"): _doc(COCO_NAMES, images), ("s", "val"): _doc(COCO_NAMES, [(9, "v.jpg", [SMALL])])}
    )
    config = """
name = "edges"
[[source]]
dataset = "s"
train = ["train"]
val = ["val"]
"""
    code, _, stderr, out = _compose(capsys, tmp_path, registry, cache_root, config)
    assert code == 0, stderr
    assert sorted(im["original_image_id"] for im in _load(out, "train")["images"]) == [2, 4]
    report = orjson.loads((out / "report.json").read_bytes())
    train_row = report["sources"][0]
    assert train_row["out"]["train"] == {"images": 2, "persons": 3, "small": 2, "medium": 0, "large": 1}
    assert train_row["in"] == {"images": 5, "persons": 5, "images_with_small": 2}
    # Custom edges: 1024 is small below an edge of 1025; a share of 1.0 keeps every other image.
    wider = (
        config.replace('name = "edges"', 'name = "edges"\nkeep_without_small = 1.0\n')
        + "[size]\nedges = [1025, 9216]\n"
    )
    code, _, stderr, out = _compose(capsys, tmp_path, registry, cache_root, wider, tmp_path / "out2")
    assert code == 0, stderr
    report = orjson.loads((tmp_path / "out2" / "report.json").read_bytes())
    assert report["sources"][0]["in"]["images_with_small"] == 3  # 1024 and 1023.68 and the 1x1
    assert sorted(im["original_image_id"] for im in _load(tmp_path / "out2", "train")["images"]) == [1, 2, 3, 4, 5]


def test_keep_share_of_images_without_small_persons(tmp_path, capsys):
    images = [(i, f"{i}.jpg", [(100, 100)]) for i in range(1, 21)] + [(99, "s.jpg", [SMALL])]
    registry, cache_root = _setup(tmp_path, {("k", "train"): _doc(COCO_NAMES, images)})
    config = (
        'name = "k"\nkeep_without_small = 0.25\nseed = SEED\n[[source]]\ndataset = "k"\ntrain = ["train"]\n'
        "split_ratio = [1.0, 0.0]\n"
    )
    kept = []
    for seed in (0, 0, 5):
        code, _, stderr, out = _compose(
            capsys, tmp_path, registry, cache_root, config.replace("SEED", str(seed)), tmp_path / f"o{len(kept)}"
        )
        # split_ratio [1, 0] leaves val empty: an empty result is refused.
        assert code == 2 and "val" in stderr
        assert not (tmp_path / f"o{len(kept)}").exists()
        kept.append(None)
    config = config.replace("split_ratio = [1.0, 0.0]", "split_ratio = [0.5, 0.5]")
    outs = []
    for i, seed in enumerate((0, 0, 5)):
        code, _, stderr, out = _compose(
            capsys, tmp_path, registry, cache_root, config.replace("SEED", str(seed)), tmp_path / f"p{i}"
        )
        assert code == 0, stderr
        ids = sorted(im["original_image_id"] for n in ("train", "val") for im in _load(out, n)["images"])
        assert 99 in ids and len(ids) == 1 + 5  # the small one + round(0.25 * 20)
        outs.append((ids, {n: (out / f"{n}.json").read_bytes() for n in ("train", "val", "report")}))
    assert outs[0][1] == outs[1][1]  # same config: byte-identical
    assert outs[0][0] != outs[2][0]  # another seed: another choice


def test_binary_visibility_and_user_mapping(tmp_path, capsys):
    names = ["nose", "head_bottom", "head_top", "left_ear", "right_ear", *COCO_NAMES[5:]]  # PoseTrack's 17
    images = [(1, "p.jpg", [SMALL])]
    registry, cache_root = _setup(
        tmp_path,
        {
            ("pt", "train"): _doc(names, images, binary=True),
            ("pt", "val"): _doc(names, [(2, "q.jpg", [SMALL])], binary=True),
        },
    )
    config = """
name = "vis"
keypoint_schema = "crowdpose14"
[[source]]
dataset = "pt"
train = ["train"]
val = ["val"]
keypoint_map = { head = "head_top", neck = "head_bottom", left_shoulder = "" }
"""
    code, _, stderr, out = _compose(capsys, tmp_path, registry, cache_root, config)
    assert code == 0, stderr
    original = _doc(names, images, binary=True)["annotations"][0]["keypoints"]
    ann = _load(out, "train")["annotations"][0]
    crowdpose = [
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
    source_of = {"head": 2, "neck": 1, "left_shoulder": None} | {
        j: names.index(j) for j in crowdpose if j not in ("head", "neck", "left_shoulder")
    }
    for t, joint in enumerate(crowdpose):
        s = source_of[joint]
        got = ann["keypoints"][3 * t : 3 * t + 3]
        if s is None or original[3 * s + 2] == 0:
            assert got == [0, 0, 0] if s is None else got[2] == 0
        else:
            assert original[3 * s + 2] == 1 and got == [original[3 * s], original[3 * s + 1], 2]  # 1 -> 2
    report = orjson.loads((out / "report.json").read_bytes())
    assert report["sources"][0]["joints"]["missing"] == ["left_shoulder"]
    assert report["sources"][0]["visibility_0_1_to_0_2"] is True


def test_composed_files_build_with_a_source_rule(two_schemas, tmp_path, capsys):
    registry, cache_root, _ = two_schemas
    code, _, _, out = _compose(capsys, tmp_path, registry, cache_root, CONFIG_TWO)
    assert code == 0
    report = orjson.loads((out / "report.json").read_bytes())
    for name in ("train", "val"):
        build(
            tmp_path / "built",
            "two",
            name,
            out / f"{name}.json",
            source_rule=SourceRule("file_name", r"^(?P<source>[^/]+)/"),
        )
        images = pq.read_table(tmp_path / "built" / "two" / name / "images.parquet").to_pandas()
        counts = images.groupby("source")["n_persons"].agg(["size", "sum"])
        expected = {}
        for row in report["sources"]:
            part = row["out"][name]
            if part["images"]:
                n_images, n_persons = expected.get(row["source"], (0, 0))
                expected[row["source"]] = (n_images + part["images"], n_persons + part["persons"])
        assert {s: (int(r["size"]), int(r["sum"])) for s, r in counts.iterrows()} == expected


def test_real_fixtures_compose_and_build(tmp_path, capsys):
    fixtures = require_fixtures()
    files = {
        ("cocomini", "train"): fixtures / "coco-mini/annotations/person_keypoints_train2017.json",
        ("cocomini", "val"): fixtures / "coco-mini/annotations/person_keypoints_val2017.json",
        ("aic", "train"): fixtures / "mmpose/aic/test_aic.json",
        ("posetrack", "train"): fixtures / "mmpose/posetrack18/annotations/test_posetrack18_val.json",
        ("mhp", "train"): fixtures / "mmpose/mhp/test_mhp.json",
    }
    registry = tmp_path / "datasets.toml"
    registry.write_text(
        "".join(f'[[dataset]]\nname = "{n}"\nsplit = "{s}"\nannotations = "{p}"\n\n' for (n, s), p in files.items())
        + f'images = "{fixtures / "mmpose/mhp"}"\n'
    )  # the last entry (mhp)
    for (n, s), p in files.items():
        build(tmp_path / "cache", n, s, p, images=fixtures / "mmpose/mhp" if n == "mhp" else None)
    config = """
name = "mini"
keep_without_small = 1.0
[[source]]
dataset = "cocomini"
train = ["train"]
val = ["val"]
[[source]]
dataset = "aic"
train = ["train"]
split_ratio = [0.5, 0.5]
[[source]]
dataset = "posetrack"
train = ["train"]
group = { pattern = "^images/val/(?P<group>[^/]+)/" }
[[source]]
dataset = "mhp"
train = ["train"]
"""
    code, _, stderr, out = _compose(capsys, tmp_path, registry, tmp_path / "cache", config)
    assert code == 0, stderr
    originals = {}
    for (n, _), p in files.items():
        doc = orjson.loads(p.read_bytes())
        names = doc["categories"][0]["keypoints"]
        for a in doc["annotations"]:
            originals[n, a["id"]] = (names, a)
    aic_expected = dict(AIC_TO_COCO)
    # MHP (MPII-style names): hand-worked indices of the COCO joints it has.
    mhp_expected = {
        "right_ankle": 0,
        "right_knee": 1,
        "right_hip": 2,
        "left_hip": 3,
        "left_knee": 4,
        "left_ankle": 5,
        "right_wrist": 10,
        "right_elbow": 11,
        "right_shoulder": 12,
        "left_shoulder": 13,
        "left_elbow": 14,
        "left_wrist": 15,
    }
    report = orjson.loads((out / "report.json").read_bytes())
    dirs = [r["images_dir"] for r in report["sources"]]  # relative to the registry's folder
    assert dirs[:4] == [None] * 4 and (registry.parent / dirs[4]).resolve() == (fixtures / "mmpose/mhp").resolve()
    checked = 0
    for name in ("train", "val"):
        doc = _load(out, name)
        sources = {im["id"]: im["source"] for im in doc["images"]}
        for ann in doc["annotations"]:
            source = sources[ann["image_id"]]
            names, original = originals[source, ann["original_id"]]
            for t, joint in enumerate(COCO_NAMES):
                if source in ("cocomini", "posetrack"):
                    s = names.index(joint) if joint in names else None
                else:
                    s = (aic_expected if source == "aic" else mhp_expected).get(joint)
                got = ann["keypoints"][3 * t : 3 * t + 3]
                if s is None:
                    assert got == [0, 0, 0]
                else:
                    x, y, v = original["keypoints"][3 * s : 3 * s + 3]
                    # PoseTrack marks labelled joints 1: they become 2.
                    assert got == [x, y, 2 if (source == "posetrack" and v > 0) else v], (source, joint)
            checked += 1
    assert checked > 250
    for name in ("train", "val"):
        build(tmp_path / "built", "mini", name, out / f"{name}.json", source_rule=SourceRule())


# --- bad configs: one line, exit 2, nothing written -----------------------------------


def _refused(capsys, tmp_path, registry, cache_root, config: str, *needles: str, names_config: bool = True) -> None:
    out = tmp_path / "bad-out"
    code, _, stderr, _ = _compose(capsys, tmp_path, registry, cache_root, config, out)
    lines = stderr.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), stderr
    assert ("compose.toml" in lines[0]) == names_config
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert not out.exists()


BASE = 'name = "bad"\n[[source]]\ndataset = "coco"\ntrain = ["train"]\nval = ["val"]\n'


@pytest.mark.parametrize(
    ("config", "needles"),
    [
        (BASE.replace('dataset = "coco"', 'dataset = "nope"'), ("source[0].dataset", "'nope'", "not registered")),
        (BASE.replace('val = ["val"]', 'val = ["test"]'), ("source[0].val", "'test'")),
        (BASE.replace('val = ["val"]', "split_ratio = [0.7, 0.2]"), ("source[0].split_ratio", "sum to 1")),
        (BASE.replace('val = ["val"]', "split_ratio = [1.2, -0.2]"), ("source[0].split_ratio",)),
        (BASE + "split_ratio = [0.5, 0.5]\n", ("source[0].split_ratio", "without val")),
        ("colour = 1\n" + BASE, ("colour", "unknown field")),
        (BASE + "colour = 1\n", ("source[0]", "colour", "unknown field")),
        (BASE.replace('train = ["train"]', 'train = "train"'), ("source[0].train", "expected array")),
        (BASE.replace('name = "bad"', "name = 7"), ("name", "expected str")),
        ('name = "bad"\n', ("source",)),
        ("keep_without_small = 1.5\n" + BASE, ("keep_without_small", "[0, 1]")),
        ('keypoint_schema = "halpe"\n' + BASE, ("keypoint_schema", "halpe")),
        ('seed = "x"\n' + BASE, ("seed", "expected int")),
        (BASE + "[size]\nedges = [9216, 1024]\n", ("size.edges",)),
        (BASE + '[size]\narea_source = "mask"\n', ("size.area_source",)),
        (BASE.replace('val = ["val"]', 'group = { pattern = "(" }'), ("source[0].group.pattern",)),
        (BASE + 'keypoint_map = { elbow = "x" }\n', ("elbow", "target")),
        (BASE + 'keypoint_map = { nose = "snout" }\n', ("snout",)),
        ("name = [\n", ("not valid TOML",)),
    ],
)
def test_bad_configs(two_schemas, tmp_path, capsys, config, needles):
    registry, cache_root, _ = two_schemas
    _refused(capsys, tmp_path, registry, cache_root, config, *needles)


def test_unmappable_schema_and_empty_result(tmp_path, capsys):
    registry, cache_root = _setup(
        tmp_path,
        {
            ("odd", "train"): _doc(["j0", "j1", "j2"], [(1, "a.jpg", [SMALL])]),
            ("big", "train"): _doc(COCO_NAMES, [(1, "a.jpg", [(100, 100)])]),
            ("big", "val"): _doc(COCO_NAMES, [(2, "b.jpg", [(100, 100)])]),
        },
    )
    _refused(
        capsys,
        tmp_path,
        registry,
        cache_root,
        'name = "x"\n[[source]]\ndataset = "odd"\ntrain = ["train"]\n',
        "cannot be mapped",
        "j0",
    )
    # No small person anywhere and no share of the others: nothing to compose.
    _refused(
        capsys,
        tmp_path,
        registry,
        cache_root,
        'name = "x"\n[[source]]\ndataset = "big"\ntrain = ["train"]\nval = ["val"]\n',
        "empty",
    )


def test_changed_source_file_is_refused(two_schemas, tmp_path, capsys):
    registry, cache_root, _ = two_schemas
    raw = tmp_path / "raw" / "aic-train.json"
    raw.write_bytes(raw.read_bytes() + b" ")
    os.utime(raw)
    _refused(
        capsys, tmp_path, registry, cache_root, CONFIG_TWO, "aic-train.json", "changed", "rebuild", names_config=False
    )


def test_halpe_without_joint_names_needs_and_takes_a_user_mapping(tmp_path, capsys):
    """Halpe's category lists no joint names (generic joint_0 ... joint_135 in the cache):
    refused as unmappable, then mapped by a keypoint_map (its first 17 joints are COCO's)."""
    halpe = require_fixtures() / "mmpose/halpe/test_halpe.json"
    registry = tmp_path / "datasets.toml"
    registry.write_text(
        "".join(f'[[dataset]]\nname = "halpe"\nsplit = "{s}"\nannotations = "{halpe}"\n\n' for s in ("train", "val"))
    )
    for split in ("train", "val"):
        build(tmp_path / "cache", "halpe", split, halpe)
    config = 'name = "h"\nkeep_without_small = 1.0\n[[source]]\ndataset = "halpe"\ntrain = ["train"]\nval = ["val"]\n'
    _refused(capsys, tmp_path, registry, tmp_path / "cache", config, "cannot be mapped", "joint_0")
    mapping = ", ".join(f'{name} = "joint_{i}"' for i, name in enumerate(COCO_NAMES))
    code, _, stderr, out = _compose(
        capsys, tmp_path, registry, tmp_path / "cache", config + f"keypoint_map = {{ {mapping} }}\n"
    )
    assert code == 0, stderr
    originals = {a["id"]: a for a in orjson.loads(halpe.read_bytes())["annotations"]}
    composed = _load(out, "train")["annotations"]
    assert len(composed) == len(originals)
    for ann in composed:
        original = originals[ann["original_id"]]
        assert ann["keypoints"] == original["keypoints"][: 3 * 17]
        assert ann["num_keypoints"] == sum(1 for j in range(17) if original["keypoints"][3 * j + 2] > 0)


def test_repeated_records_and_other_categories_are_counted_not_copied(tmp_path, capsys):
    doc = _doc(COCO_NAMES, [(1, "a.jpg", [SMALL, SMALL]), (2, "b.jpg", [SMALL])])
    doc["images"].append(dict(doc["images"][0]))  # an identical repeated image record (seen in real files)
    doc["annotations"].append(dict(doc["annotations"][0]))  # and annotation record
    doc["categories"].append({"id": 2, "name": "dog"})
    doc["annotations"].append({"id": 555, "image_id": 1, "category_id": 2, "iscrowd": 0, "bbox": [0, 0, 5, 5]})
    registry, cache_root = _setup(
        tmp_path, {("d", "train"): doc, ("d", "val"): _doc(COCO_NAMES, [(9, "v.jpg", [SMALL])])}
    )
    code, _, stderr, out = _compose(
        capsys,
        tmp_path,
        registry,
        cache_root,
        'name = "d"\n[[source]]\ndataset = "d"\ntrain = ["train"]\nval = ["val"]\n',
    )
    assert code == 0, stderr
    train = _load(out, "train")
    assert sorted(im["original_image_id"] for im in train["images"]) == [1, 2]
    assert sorted(a["original_id"] for a in train["annotations"]) == [100, 101, 200]
    report = orjson.loads((out / "report.json").read_bytes())
    assert report["sources"][0]["annotations_left_out"] == 2  # the repeat and the dog


def test_report_side_counts_name_every_size_bucket_in_code_order() -> None:
    """report.json's per-side counts spell the bucket names as fields: they must be SizeBucket's."""
    from analysis.datasets.compose import SideCounts
    from analysis.definitions import SizeBucket

    assert SideCounts.__struct_fields__ == ("images", "persons", *SizeBucket.names())
