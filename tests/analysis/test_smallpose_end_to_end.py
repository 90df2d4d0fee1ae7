"""SmallPose §9.1 on the fixtures, end to end, through the CLI only: AIC (native), MPII
(mmpose JSON), PoseTrack18 (a video folder, ``--every 2``) converted; COCO and CrowdPose
as they are; composed with ``population = "keypoints"`` into train / val (MPII split
8:2, PoseTrack grouped by video); built with a ``source`` rule; evaluated per source
with noisy predictions made on each source's own file and mapped onto the val split.

The fixtures' persons are large (the smallest labelled AIC person is 80 px on a side,
MPII's 231), so "small" here is below 400^2: the mechanics are SmallPose's, the edge
is the fixtures'.  Every expected value is computed on the test side from the raw files."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import orjson
import pytest

from tests.analysis.dataset_helpers import run_cli
from tests.analysis.evaluation.reference import COCO_SIGMAS, assert_metrics_equal, noisy_predictions, pycocotools_slices
from tests.conftest import require_fixtures

SMALL_EDGE = 400.0**2
EVERY = 2


def _area_053(doc: dict) -> dict:
    """pycocotools' OKS scale = CrowdPose's 0.53 * w * h (AIC has no segmentation area)."""
    out = copy.deepcopy(doc)
    for ann in out["annotations"]:
        ann["area"] = 0.53 * ann["bbox"][2] * ann["bbox"][3]
    return out


@pytest.mark.slow  # ~10 s: six builds, a compose, an evaluation and pycocotools per source
def test_smallpose_like_benchmark_from_the_fixtures(tmp_path, capsys):
    fixtures = require_fixtures()
    work = tmp_path

    def cli(*argv):
        code, stdout, stderr = run_cli(capsys, *argv)
        assert code == 0, stderr
        return stdout, stderr

    # 1. Native formats -> COCO files.
    aic_raw = json.loads((fixtures / "aic-native/keypoint_annotations_example.json").read_text())
    cli(
        "convert",
        "--format",
        "aic",
        fixtures / "aic-native/keypoint_annotations_example.json",
        "--out",
        work / "aic.json",
    )
    mpii_raw = json.loads((fixtures / "mmpose/mpii/test_mpii.json").read_text())
    cli(
        "convert",
        "--format",
        "mpii",
        fixtures / "mmpose/mpii/test_mpii.json",
        "--images",
        fixtures / "mmpose/mpii",
        "--out",
        work / "mpii.json",
    )
    videos = fixtures / "mmpose/posetrack18/annotations/val"
    cli("convert", "--format", "posetrack18", videos, "--every", EVERY, "--out", work / "posetrack.json")
    converted = {n: orjson.loads((work / f"{n}.json").read_bytes()) for n in ("aic", "mpii", "posetrack")}
    # Counts and coordinates against the raw files.
    assert len(converted["aic"]["images"]) == len({r["image_id"] for r in aic_raw})
    assert len(converted["aic"]["annotations"]) == sum(len(r["human_annotations"]) for r in aic_raw)
    aic_first = aic_raw[0]["keypoint_annotations"]["human1"]
    ann = next(a for a in converted["aic"]["annotations"] if a["image_id"] == 1 and a["aic_human"] == "human1")
    assert ann["keypoints"][27:30] == [aic_first[27], aic_first[28], {1: 2, 2: 1}[aic_first[29]]]
    assert [a["keypoints"][0::3] for a in converted["mpii"]["annotations"]] == [
        [j[0] if v else 0 for j, v in zip(r["joints"], r["joints_vis"], strict=True)] for r in mpii_raw
    ]
    frames = {}
    for f in sorted(videos.glob("*.json")):
        for im in json.loads(f.read_text())["images"]:
            frames.setdefault(im["vid_id"], []).append(im["id"])
    expected_frames = sorted(i for ids in frames.values() for i in sorted(ids)[::EVERY])
    assert sorted(im["id"] for im in converted["posetrack"]["images"]) == expected_frames

    # 2. Register, build, compose.
    coco = fixtures / "coco-mini/annotations"
    files = {
        ("aic", "train"): work / "aic.json",
        ("mpii", "train"): work / "mpii.json",
        ("posetrack", "val"): work / "posetrack.json",
        ("coco", "train"): coco / "person_keypoints_train2017.json",
        ("coco", "val"): coco / "person_keypoints_val2017.json",
        ("crowdpose", "val"): fixtures / "xtcocoapi/example_crowdpose_val.json",
    }
    registry = work / "datasets.toml"
    registry.write_text(
        "".join(f'[[dataset]]\nname = "{n}"\nsplit = "{s}"\nannotations = "{p}"\n\n' for (n, s), p in files.items())
    )
    cli("build", "--registry", registry, "--cache-dir", work / "cache", "--quiet")
    config = work / "smallpose.toml"
    config.write_text(f"""
name = "smallpose-like"
seed = 0
population = "keypoints"
keep_without_small = 0.5
[size]
edges = [{SMALL_EDGE}, 250000]
[[source]]
dataset = "coco"
train = ["train"]
val = ["val"]
[[source]]
dataset = "aic"
train = ["train"]
[[source]]
dataset = "mpii"
train = ["train"]
split_ratio = [0.8, 0.2]
[[source]]
dataset = "posetrack"
train = ["val"]
# The fixture's videos are one frame each and two are kept: 8:2 of two whole videos would leave val none.
split_ratio = [0.5, 0.5]
group = {{ field = "video", pattern = ".+" }}
[[source]]
dataset = "crowdpose"
train = ["val"]
""")
    stdout, _ = cli(
        "compose",
        "--config",
        config,
        "--out",
        work / "out",
        "--registry",
        registry,
        "--cache-dir",
        work / "cache",
        "--quiet",
    )
    report = orjson.loads((work / "out/report.json").read_bytes())
    out = {s: orjson.loads((work / "out" / f"{s}.json").read_bytes()) for s in ("train", "val")}
    assert "warning: aic/train lacks target joint(s) nose" in stdout

    # Selection: an image is kept for its small persons iff the source file has a small person with
    # stored num_keypoints > 0 and a labelled joint COCO-17 has; the others are the keep share.
    coco_names = out["train"]["categories"][0]["keypoints"]
    sources = {
        "coco": [files["coco", "train"], files["coco", "val"]],
        "aic": [files["aic", "train"]],
        "mpii": [files["mpii", "train"]],
        "posetrack": [files["posetrack", "val"]],
        "crowdpose": [files["crowdpose", "val"]],
    }
    for source, paths in sources.items():
        with_small, n_images = set(), 0
        for path in paths:
            doc = json.loads(Path(path).read_text())
            names = doc["categories"][0]["keypoints"]
            kept_joints = [j for j, n in enumerate(names) if n.lower().replace(" ", "_") in coco_names]
            n_images += len(doc["images"])
            for a in doc["annotations"]:
                v = a["keypoints"][2::3]
                if (
                    not a.get("iscrowd")
                    and a.get("num_keypoints", 0) > 0
                    and a["bbox"][2] * a["bbox"][3] < SMALL_EDGE
                    and any(v[j] > 0 for j in kept_joints)
                ):
                    with_small.add(a["image_id"])
        rows = [r for r in report["sources"] if r["source"] == source]
        kept = {im["original_image_id"] for s in out.values() for im in s["images"] if im["source"] == source}
        assert with_small <= kept, source
        assert len(kept - with_small) == sum(r["images_without_small_kept"] for r in rows), source
        assert sum(r["in"]["images_with_small"] for r in rows) == len(with_small), source
    # Every small person the benchmark counts has a keypoint: the report's small counts are the
    # output's small persons with labelled joints, and every image kept for them has one.
    for split, doc in out.items():
        small_with_keypoints = [
            a
            for a in doc["annotations"]
            if not a["iscrowd"] and a["num_keypoints"] > 0 and a["bbox"][2] * a["bbox"][3] < SMALL_EDGE
        ]
        assert len(small_with_keypoints) == sum(r["out"][split]["small"] for r in report["sources"]) > 0
    # MPII split 8:2 (whole images: within half an image of 0.8 * n); PoseTrack's videos on one side.
    mpii = [im for s in ("train", "val") for im in out[s]["images"] if im["source"] == "mpii"]
    n_train = sum(1 for im in out["train"]["images"] if im["source"] == "mpii")
    assert abs(n_train - 0.8 * len(mpii)) <= 0.5 and len(mpii) >= 3
    side = {}
    for s in ("train", "val"):
        for im in out[s]["images"]:
            if im["source"] == "posetrack":
                side.setdefault(im["video"], set()).add(s)
    assert side and all(len(v) == 1 for v in side.values())

    # 3. Build with a source rule; evaluate val per source with predictions mapped from the source files.
    for split in ("train", "val"):
        cli(
            "build",
            "--name",
            "smallpose",
            "--split",
            split,
            "--annotations",
            work / "out" / f"{split}.json",
            "--cache-dir",
            work / "cache",
            "--quiet",
        )
    registry_composed = work / "composed.toml"
    registry_composed.write_text(
        f'[[dataset]]\nname = "smallpose"\nsplit = "val"\nannotations = '
        f'"{work / "out/val.json"}"\nsource = {{ field = "file_name", pattern = '
        f'"^(?P<source>[^/]+)/" }}\n'
    )
    cli("build", "--registry", registry_composed, "--cache-dir", work / "cache", "--quiet", "--force")
    # A COCO-17 model's results on each source's own files: noisy predictions of the composed persons,
    # under the image ids of the source file (found by file name, not by the composed ids), for the
    # source's train images too (those cannot map onto val).
    original_id = {}
    for source, paths in sources.items():
        for path in paths:
            for im in json.loads(Path(path).read_text())["images"]:
                original_id[f"{source}/{im['file_name']}"] = im["id"]
    val = out["val"]
    made: dict[str, list[dict]] = {}
    expected: list[dict] = []  # the mapped file: source by source, each file's order
    for k, split in enumerate(("val", "train")):
        file_of = {im["id"]: im["file_name"] for im in out[split]["images"]}
        for pred in noisy_predictions(out[split], seed=k):
            name = file_of[pred["image_id"]]
            made.setdefault(name.split("/", 1)[0], []).append({**pred, "image_id": original_id[name]})
    argv = []
    for source, preds in made.items():
        (work / f"preds-{source}.json").write_text(json.dumps(preds))
        argv += ["--source-predictions", f"{source}=" + str(work / f"preds-{source}.json")]
    stdout, stderr = cli(
        "evaluate",
        "--name",
        "smallpose",
        "--split",
        "val",
        "--cache-dir",
        work / "cache",
        *argv,
        "--mapped-out",
        work / "mapped.json",
        "--model",
        "noisy",
        "--by",
        "source",
        "--oks-area",
        "crowdpose",
        "--json",
        "--quiet",
    )
    result = json.loads(stdout)
    assert set(result["by_source"]) == {im["source"] for im in val["images"]} == set(sources)
    # The mapping, independently: the source file's id -> its file name -> the composed val image.
    composed_id = {im["file_name"]: im["id"] for im in val["images"]}
    name_of = {(name.split("/", 1)[0], i): name for name, i in original_id.items()}
    for source, preds in made.items():
        mapped = [
            {**p, "image_id": composed_id[name_of[source, p["image_id"]]]}
            for p in preds
            if name_of[source, p["image_id"]] in composed_id
        ]
        assert 0 < len(mapped) < len(preds)
        assert f"{source}: {len(mapped)} of {len(preds)} records" in stderr
        expected += mapped
    mapped_preds = orjson.loads((work / "mapped.json").read_bytes())
    assert mapped_preds == expected
    reference_doc = _area_053(val)
    reference = pycocotools_slices(reference_doc, expected, COCO_SIGMAS)
    assert_metrics_equal(result["slices"]["all"], reference["all"], what="all")
    for source, ours in result["by_source"].items():
        ids = {im["id"] for im in val["images"] if im["source"] == source}
        part = {
            **reference_doc,
            "images": [im for im in val["images"] if im["id"] in ids],
            "annotations": [a for a in reference_doc["annotations"] if a["image_id"] in ids],
        }
        reference = pycocotools_slices(part, [p for p in expected if p["image_id"] in ids], COCO_SIGMAS)
        assert_metrics_equal(ours["slices"]["all"], reference["all"], what=source)
        assert ours["images"] == len(ids)
