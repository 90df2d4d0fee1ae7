"""``python -m analysis convert``: AIC (the real example file), MPII (mmpose's JSON and a .mat
written here with the official field layout), PoseTrack 2018 (the real per-video folder and
a made-up longer one for ``--every``), and bad input.

Every expected count and coordinate is computed here from the raw files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import orjson
import pytest
from PIL import Image

from tests.analysis.dataset_helpers import build, run_cli
from tests.conftest import require_fixtures


def _convert(capsys, fmt: str, out: Path, *inputs, extra: tuple = ()) -> tuple[int, str, str]:
    return run_cli(capsys, "convert", "--format", fmt, *inputs, "--out", out, *extra)


def _load(path: Path):
    return orjson.loads(Path(path).read_bytes())


# --- AIC ------------------------------------------------------------------------------------


def test_aic_native_example(tmp_path, capsys):
    source = require_fixtures() / "aic-native" / "keypoint_annotations_example.json"
    raw = json.loads(source.read_text())
    # A few image files, for the sizes: two present, the others missing.
    images = tmp_path / "images"
    images.mkdir()
    sizes = {raw[0]["image_id"]: (320, 200), raw[5]["image_id"]: (64, 48)}
    for image_id, size in sizes.items():
        Image.new("RGB", size).save(images / f"{image_id}.jpg")
    out = tmp_path / "aic.json"
    code, stdout, stderr = _convert(capsys, "aic", out, source, extra=("--images", images))
    assert code == 0, stderr
    doc, report = _load(out), _load(tmp_path / "aic.report.json")

    assert doc["categories"][0]["keypoints"][12:] == ["Head top", "Neck"]
    assert [im["aic_image_id"] for im in doc["images"]] == [r["image_id"] for r in raw]  # all unique, file order
    by_image = {im["aic_image_id"]: im for im in doc["images"]}
    for image_id, (w, h) in sizes.items():
        assert (by_image[image_id]["width"], by_image[image_id]["height"]) == (w, h)
    assert report["image_files_missing"] == len(raw) - 2
    assert "width" not in by_image[raw[1]["image_id"]]

    expected = {}
    for record in raw:
        for human, corners in record["human_annotations"].items():
            assert human in record["keypoint_annotations"]  # this file has both for every human
            expected[record["image_id"], human] = (corners, record["keypoint_annotations"][human])
    annotations = {(doc["images"][a["image_id"] - 1]["aic_image_id"], a["aic_human"]): a for a in doc["annotations"]}
    assert annotations.keys() == expected.keys()
    assert len(doc["annotations"]) == 2761 == report["converted"]["annotations"]
    coco_v = {1: 2, 2: 1, 3: 0}
    counts = {0: 0, 1: 0, 2: 0}
    for key, (corners, flat) in expected.items():
        ann = annotations[key]
        x1, y1, x2, y2 = corners
        assert ann["bbox"] == [x1, y1, x2 - x1, y2 - y1]
        for j in range(14):
            x, y, v = flat[3 * j : 3 * j + 3]
            got = ann["keypoints"][3 * j : 3 * j + 3]
            assert got == ([x, y, coco_v[v]] if v != 3 else [0, 0, 0])
            counts[coco_v[v]] += 1
        assert ann["num_keypoints"] == sum(v != 3 for v in flat[2::3])
    # The file's own visibility totals (1: 24,158 visible, 2: 8,578 occluded, 3: 5,918 unlabelled).
    assert counts == {2: 24158, 1: 8578, 0: 5918}
    # Natural order of humans within an image.
    first = [a["aic_human"] for a in doc["annotations"] if a["image_id"] == 1]
    assert first == sorted(raw[0]["human_annotations"], key=lambda h: int(h[5:]))
    assert "1000 images, 2761 persons" in stdout
    build(tmp_path / "cache", "aic", "example", out)


def test_aic_skips_are_counted_and_bad_records_refused(tmp_path, capsys):
    flat = [10, 20, 1] * 13 + [0, 0, 3]
    records = [
        {
            "image_id": "a",
            "human_annotations": {"human1": [0, 0, 50, 80], "human2": [5, 5, 5, 9]},
            "keypoint_annotations": {"human1": flat, "human2": flat, "human3": flat},
        },
        {"image_id": "a", "human_annotations": {}, "keypoint_annotations": {}},
    ]
    source = tmp_path / "aic.json"
    source.write_text(json.dumps(records))
    out = tmp_path / "out.json"
    code, stdout, stderr = _convert(capsys, "aic", out, source)
    assert code == 0, stderr
    report = _load(tmp_path / "out.report.json")
    assert report["skipped"] == {
        "a box with x2 <= x1 or y2 <= y1": 1,
        "a human with a box but no keypoints, or keypoints but no box": 1,
        "repeated image_id (first record kept)": 1,
    }
    assert len(report["skipped_examples"]) == 3 and "human3" in " ".join(report["skipped_examples"])
    assert [a["aic_human"] for a in _load(out)["annotations"]] == ["human1"]
    assert "skipped: repeated image_id" in stdout
    # A visibility AIC does not use: one line naming the file and the record; the earlier output stays.
    before = out.read_bytes()
    records[0]["keypoint_annotations"]["human1"] = [1, 2, 5, *flat[3:]]
    source.write_text(json.dumps(records))
    code, _, stderr = _convert(capsys, "aic", out, source)
    lines = stderr.strip().splitlines()
    assert code == 2 and len(lines) == 1
    assert str(source) in lines[0] and "record 0" in lines[0] and "human1" in lines[0] and "visibility 5" in lines[0]
    assert out.read_bytes() == before


# --- MPII -----------------------------------------------------------------------------------

MPII_NAMES = [
    "right_ankle",
    "right_knee",
    "right_hip",
    "left_hip",
    "left_knee",
    "left_ankle",
    "pelvis",
    "thorax",
    "upper_neck",
    "head_top",
    "right_wrist",
    "right_elbow",
    "right_shoulder",
    "left_shoulder",
    "left_elbow",
    "left_wrist",
]


def _padded_extent(points: list[tuple[float, float]], size: tuple[int, int] | None) -> list[float]:
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    w, h = max(xs) - min(xs), max(ys) - min(ys)
    x0, y0, x1, y1 = min(xs) - 0.1 * w, min(ys) - 0.1 * h, max(xs) + 0.1 * w, max(ys) + 0.1 * h
    if size:
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, size[0]), min(y1, size[1])
    return [x0, y0, x1 - x0, y1 - y0]


def test_mpii_mmpose_json(tmp_path, capsys):
    folder = require_fixtures() / "mmpose" / "mpii"
    raw = json.loads((folder / "test_mpii.json").read_text())
    out = tmp_path / "mpii.json"
    code, _, stderr = _convert(capsys, "mpii", out, folder / "test_mpii.json", extra=("--images", folder))
    assert code == 0, stderr
    doc = _load(out)
    assert doc["categories"][0]["keypoints"] == MPII_NAMES
    assert [im["file_name"] for im in doc["images"]] == list(dict.fromkeys(r["image"] for r in raw))
    assert len(doc["annotations"]) == len(raw)
    for record, ann in zip(raw, doc["annotations"], strict=True):
        image = doc["images"][ann["image_id"] - 1]
        assert image["file_name"] == record["image"]
        with Image.open(folder / record["image"]) as im:
            size = im.size
        assert (image["width"], image["height"]) == size
        labelled = []
        for j, ((x, y), v) in enumerate(zip(record["joints"], record["joints_vis"], strict=True)):
            assert ann["keypoints"][3 * j : 3 * j + 3] == ([x, y, 2] if v else [0, 0, 0])
            if v:
                labelled.append((x, y))
        assert ann["bbox"] == pytest.approx(_padded_extent(labelled, size))
        assert ann["center"] == record["center"] and ann["scale"] == record["scale"]
    build(tmp_path / "cache", "mpii", "test", out)


def _struct_array(rows: list[dict], fields: list[str]) -> np.ndarray:
    """A MATLAB struct array (1 x n) for scipy's savemat: a structured array of object fields."""
    array = np.zeros((1, len(rows)), dtype=[(f, object) for f in fields])
    for i, row in enumerate(rows):
        for f in fields:
            array[0, i][f] = row.get(f, np.zeros((0, 0)))
    return array


def _points(points: list[tuple[int, float, float, object]]) -> np.ndarray:
    return _struct_array(
        [{"id": j, "x": x, "y": y, "is_visible": v} for j, x, y, v in points], ["id", "x", "y", "is_visible"]
    )


def test_mpii_official_mat_layout(tmp_path, capsys):
    from scipy.io import savemat

    rect_fields = ["x1", "y1", "x2", "y2", "annopoints", "scale", "objpos"]
    person_a = {
        "x1": 100.0,
        "y1": 50.0,
        "x2": 130.0,
        "y2": 90.0,
        "scale": 1.5,
        "objpos": {"x": 120.0, "y": 200.0},
        "annopoints": {
            "point": _points(
                [
                    (9, 115.0, 55.0, 1),
                    (0, 110.0, 300.0, "1"),
                    (12, 90.0, 120.0, 0),
                    (13, 140.0, 120.0, np.zeros((0, 0))),
                ]
            )
        },
    }
    person_without_joints = {"scale": 2.0, "objpos": {"x": 400.0, "y": 200.0}}
    person_one_point = {
        "x1": 10.0,
        "y1": 10.0,
        "x2": 20.0,
        "y2": 20.0,
        "scale": 0.1,
        "objpos": {"x": 15.0, "y": 30.0},
        "annopoints": {"point": _points([(9, 15.0, 12.0, 1)])},
    }
    annolist = _struct_array(
        [
            {
                "image": {"name": "000001.jpg"},
                "annorect": _struct_array([person_a, person_without_joints], rect_fields),
            },
            {"image": {"name": "000002.jpg"}, "annorect": _struct_array([person_a], rect_fields)},  # test image
            {"image": {"name": "000003.jpg"}, "annorect": _struct_array([person_one_point], rect_fields)},
        ],
        ["image", "annorect", "frame_sec", "vididx"],
    )
    act = _struct_array(
        [{"cat_name": "sports", "act_name": "running", "act_id": 3}, {}, {}], ["cat_name", "act_name", "act_id"]
    )
    release = {
        "annolist": annolist,
        "img_train": np.array([[1, 0, 1]]),
        "single_person": np.zeros((3, 1), object),
        "act": act,
        "video_list": np.zeros((1, 0), object),
    }
    mat = tmp_path / "mpii_human_pose_v1_u12_1.mat"
    savemat(mat, {"RELEASE": release})

    out = tmp_path / "mpii.json"
    code, _, stderr = _convert(capsys, "mpii", out, mat)
    assert code == 0, stderr
    doc, report = _load(out), _load(tmp_path / "mpii.report.json")
    assert [im["file_name"] for im in doc["images"]] == ["000001.jpg", "000003.jpg"]
    assert doc["images"][0]["activity"] == {"category": "sports", "name": "running", "id": 3}
    assert report["skipped"] == {
        "person without joints (no annopoints)": 1,
        "test image (img_train = 0: no public joints)": 1,
    }
    assert report["derived"] == {"bbox from center and scale": 1, "bbox from the joints' extent": 1}
    first, single = doc["annotations"]
    expected = [0.0] * 48
    for joint, x, y, v in [(9, 115.0, 55.0, 2), (0, 110.0, 300.0, 2), (12, 90.0, 120.0, 1), (13, 140.0, 120.0, 2)]:
        expected[3 * joint : 3 * joint + 3] = [x, y, v]
    assert first["keypoints"] == expected and first["num_keypoints"] == 4
    assert first["bbox_head"] == [100.0, 50.0, 30.0, 40.0]
    assert first["bbox"] == pytest.approx(_padded_extent([(115, 55), (110, 300), (90, 120), (140, 120)], None))
    # One point: the square of side 200 * scale = 20 around objpos (15, 30).
    assert single["bbox"] == pytest.approx([5.0, 20.0, 20.0, 20.0])
    build(tmp_path / "cache", "mpii", "mat", out)
    # Another MATLAB file: refused, naming what it has.
    other = tmp_path / "other.mat"
    savemat(other, {"something": np.eye(2)})
    code, _, stderr = _convert(capsys, "mpii", tmp_path / "o.json", other)
    assert code == 2 and "RELEASE.annolist" in stderr and "something" in stderr
    assert not (tmp_path / "o.json").exists() and not (tmp_path / "o.report.json").exists()


# --- PoseTrack 2018 -------------------------------------------------------------------------


def test_posetrack_folder_of_videos(tmp_path, capsys):
    folder = require_fixtures() / "mmpose" / "posetrack18" / "annotations" / "val"
    files = sorted(folder.glob("*.json"))
    raw = {f: json.loads(f.read_text()) for f in files}
    out = tmp_path / "pt.json"
    code, _, stderr = _convert(capsys, "posetrack18", out, folder)
    assert code == 0, stderr
    doc = _load(out)
    assert [im["id"] for im in doc["images"]] == [im["id"] for f in files for im in raw[f]["images"]]
    assert [im["video"] for im in doc["images"]] == [im["vid_id"] for f in files for im in raw[f]["images"]]
    originals = {a["id"]: a for f in files for a in raw[f]["annotations"]}
    assert len(doc["annotations"]) == len(originals) == 14
    for ann in doc["annotations"]:
        original = originals[ann["id"]]
        assert ann["iscrowd"] == (1 if original["iscrowd"] else 0) and isinstance(ann["iscrowd"], int)
        assert {k: v for k, v in ann.items() if k != "iscrowd"} == {k: v for k, v in original.items() if k != "iscrowd"}
    assert doc["categories"][0]["keypoints"] == raw[files[0]]["categories"][0]["keypoints"]
    build(tmp_path / "cache", "pt", "val", out)


def _video_file(folder: Path, video: str, n_frames: int, unlabelled: set[int], image_id0: int, ann_id0: int) -> None:
    images, annotations = [], []
    for f in range(n_frames):
        image_id = image_id0 + f
        images.append(
            {
                "id": image_id,
                "file_name": f"images/{video}/{f:06d}.jpg",
                "frame_id": image_id,
                "vid_id": video,
                "is_labeled": f not in unlabelled,
                "width": 640,
                "height": 480,
            }
        )
        if f not in unlabelled:
            annotations.append(
                {
                    "id": ann_id0 + f,
                    "image_id": image_id,
                    "category_id": 1,
                    "iscrowd": False,
                    "bbox": [1, 1, 20, 20],
                    "keypoints": [5, 5, 1] + [0, 0, 0] * 16,
                    "num_keypoints": 1,
                }
            )
    names = [
        "nose",
        "head_bottom",
        "head_top",
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
    doc = {
        "images": images[::-1],
        "annotations": annotations,  # frames out of order in the file
        "categories": [{"id": 1, "name": "person", "keypoints": names, "skeleton": [[1, 2]]}],
    }
    (folder / f"{video}.json").write_text(json.dumps(doc))


def test_posetrack_every_n_frames_and_repeated_ids(tmp_path, capsys):
    folder = tmp_path / "videos"
    folder.mkdir()
    _video_file(folder, "v1", 7, {1}, 100, 1000)  # labelled frames 0, 2, 3, 4, 5, 6
    _video_file(folder, "v2", 3, set(), 200, 2000)
    out = tmp_path / "pt.json"
    code, _, stderr = _convert(capsys, "posetrack18", out, folder, extra=("--every", "2"))
    assert code == 0, stderr
    doc, report = _load(out), _load(tmp_path / "pt.report.json")
    # Every second labelled frame in frame order: v1 -> frames 0, 3, 5; v2 -> frames 0, 2.
    kept = sorted((im["video"], im["id"]) for im in doc["images"])
    assert kept == [("v1", 100), ("v1", 103), ("v1", 105), ("v2", 200), ("v2", 202)]
    assert sorted(a["image_id"] for a in doc["annotations"]) == [100, 103, 105, 200, 202]
    assert report["skipped"] == {
        "annotation of a frame not sampled": 4,
        "labelled frame not sampled by --every 2": 4,
        "unlabelled frame (is_labeled false, no annotation)": 1,
    }
    # The video field groups frames in compose.
    assert all(im["video"] in ("v1", "v2") for im in doc["images"])
    # Two folders with the same ids: renumbered, the originals kept.
    again = tmp_path / "again"
    again.mkdir()
    _video_file(again, "v3", 2, set(), 100, 1000)
    code, _, stderr = _convert(capsys, "posetrack18", tmp_path / "both.json", folder, again)
    assert code == 0, stderr
    both = _load(tmp_path / "both.json")
    assert [im["id"] for im in both["images"]] == list(range(1, 12))  # v1's unlabelled frame 101 skipped
    assert sorted(im["original_id"] for im in both["images"]) == sorted(
        [100, *range(102, 107), 200, 201, 202, 100, 101]
    )
    assert len({a["id"] for a in both["annotations"]}) == len(both["annotations"]) == 6 + 3 + 2
    image_of = {im["id"]: im for im in both["images"]}
    for ann in both["annotations"]:
        image = image_of[ann["image_id"]]
        assert ann["original_id"] % 1000 == image["original_id"] % 100  # made with frame f: ids 1000 + f, 100 + f


# --- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "source", "needle"),
    [
        ("aic", "mmpose/mpii/test_mpii.json", "looks like mmpose's MPII JSON (--format mpii)"),
        (
            "mpii",
            "aic-native/keypoint_annotations_example.json",
            "looks like AI Challenger keypoint JSON (--format aic)",
        ),
        ("aic", "coco-mini/annotations/person_keypoints_val2017.json", "looks like a COCO-style keypoint file"),
        ("posetrack18", "aic-native/keypoint_annotations_example.json", "looks like AI Challenger"),
    ],
)
def test_a_file_of_another_format_is_named(tmp_path, capsys, fmt, source, needle):
    path = require_fixtures() / source
    out = tmp_path / "x.json"
    code, _, stderr = _convert(capsys, fmt, out, path)
    lines = stderr.strip().splitlines()
    assert code == 2 and len(lines) == 1 and str(path) in lines[0] and needle in lines[0], stderr
    assert list(tmp_path.iterdir()) == []


def test_bad_options(tmp_path, capsys):
    source = require_fixtures() / "aic-native" / "keypoint_annotations_example.json"
    for extra, needle in [
        (("--every", "2"), "--every applies to --format posetrack18"),
        (("--images", tmp_path / "none"), "image folder not found"),
    ]:
        code, _, stderr = _convert(capsys, "aic", tmp_path / "x.json", source, extra=extra)
        assert code == 2 and needle in stderr
    code, _, stderr = _convert(capsys, "posetrack18", tmp_path / "x.json", source, extra=("--images", tmp_path))
    assert code == 2 and "--images applies to --format aic and mpii" in stderr
    code, _, stderr = _convert(capsys, "aic", tmp_path / "x.txt", source)
    assert code == 2 and ".json" in stderr
    code, _, stderr = _convert(capsys, "aic", tmp_path / "x.json", tmp_path / "missing.json")
    assert code == 2 and "not found" in stderr
    assert list(tmp_path.iterdir()) == []


# --- HiEve (frame files as humaninevents.org/format.html describes them) ----------------------

HIEVE_NAMES = [
    "Nose",
    "Chest",
    "Right-shoulder",
    "Right-elbow",
    "Right-wrist",
    "Left-shoulder",
    "Left-elbow",
    "Left-wrist",
    "Right-hip",
    "Right-knee",
    "Right-ankle",
    "Left-hip",
    "Left-knee",
    "Left-ankle",
]


def _hieve_person(name: str, box: tuple[int, int, int, int], seed: int) -> dict:
    flags = [(j + seed) % 3 - 1 for j in range(14)]  # -1, 0, 1 in turn
    joints = {
        n: f"{100 + 10 * j + seed},{200 + j},{f}" for j, (n, f) in enumerate(zip(HIEVE_NAMES, flags, strict=True))
    }
    return {
        "name": name,
        "action": "walking-alone",
        "pose": "unspecified",
        "truncated": "0",
        "difficult": "0",
        "bndbox": {"xmin": str(box[0]), "ymin": str(box[1]), "xmax": str(box[2]), "ymax": str(box[3]), **joints},
    }


def _hieve_xml(frame: dict) -> str:
    a = frame["annotation"]
    objects = "".join(
        "<object>"
        + "".join(f"<{k}>{v}</{k}>" for k, v in o.items() if k != "bndbox")
        + "<bndbox>"
        + "".join(f"<{k}>{v}</{k}>" for k, v in o["bndbox"].items())
        + "</bndbox></object>"
        for o in a["object"]
    )
    return (
        f"<annotation><folder>{a['folder']}</folder><filename>{a['filename']}</filename>"
        f"<size><width>{a['size']['width']}</width><height>{a['size']['height']}</height><depth>3</depth></size>"
        f"{objects}</annotation>"
    )


def test_hieve_frame_folders_json_and_xml(tmp_path, capsys):
    root = tmp_path / "hieve"
    frames = {}
    for video, n_frames, xml in (("hm_in_fighting1", 5, False), ("hm_in_street2", 3, True)):
        (root / video).mkdir(parents=True)
        for f in range(n_frames):
            frame = {
                "annotation": {
                    "folder": video,
                    "filename": f"{f}.jpg",
                    "path": f"D:\\{video}\\{f}.jpg",
                    "source": {"database": "Unknown"},
                    "size": {"width": "1920", "height": "1080", "depth": "3"},
                    "segmented": "0",
                    "object": [
                        _hieve_person("P-1", (700, 100, 1000, 1000), f),
                        _hieve_person("P-2", (10, 20, 40, 90), f + 1),
                    ],
                }
            }
            path = root / video / f"{f:06d}.{'xml' if xml else 'json'}"
            path.write_text(_hieve_xml(frame) if xml else json.dumps(frame))
            frames[video, f] = frame
    out = tmp_path / "hieve.json"
    code, _, stderr = _convert(capsys, "hieve", out, root, extra=("--every", "2"))
    assert code == 0, stderr
    doc, report = _load(out), _load(tmp_path / "hieve.report.json")
    kept = [
        ("hm_in_fighting1", 0),
        ("hm_in_fighting1", 2),
        ("hm_in_fighting1", 4),
        ("hm_in_street2", 0),
        ("hm_in_street2", 2),
    ]
    assert [(im["video"], im["file_name"]) for im in doc["images"]] == [(v, f"{v}/{f}.jpg") for v, f in kept]
    assert all((im["width"], im["height"]) == (1920, 1080) for im in doc["images"])
    assert report["skipped"] == {"frame not sampled by --every 2": 3}
    assert doc["categories"][0]["keypoints"] == HIEVE_NAMES
    coco_v = {"0": 2, "1": 1, "-1": 0}
    annotations = iter(doc["annotations"])
    for image, key in zip(doc["images"], kept, strict=True):
        for person in frames[key]["annotation"]["object"]:
            ann = next(annotations)
            box = person["bndbox"]
            x1, y1, x2, y2 = (float(box[k]) for k in ("xmin", "ymin", "xmax", "ymax"))
            assert ann["image_id"] == image["id"] and ann["hieve_name"] == person["name"]
            assert ann["bbox"] == [x1, y1, x2 - x1, y2 - y1]
            for j, name in enumerate(HIEVE_NAMES):
                x, y, flag = box[name].split(",")
                v = coco_v[flag]
                assert ann["keypoints"][3 * j : 3 * j + 3] == ([float(x), float(y), v] if v else [0, 0, 0])
    build(tmp_path / "cache", "hieve", "train", out)
    # A frame with a flag HiEve does not use: file, object and problem named; nothing written.
    bad = frames["hm_in_fighting1", 0]
    bad["annotation"]["object"][1]["bndbox"]["Chest"] = "1,2,7"
    (root / "hm_in_fighting1" / "000000.json").write_text(json.dumps(bad))
    code, _, stderr = _convert(capsys, "hieve", tmp_path / "bad.json", root)
    assert code == 2 and "000000.json" in stderr and "object 1 (P-2)" in stderr and "flag 7" in stderr
    assert not (tmp_path / "bad.json").exists()


def test_the_output_never_replaces_an_input(tmp_path, capsys):
    """`--out` naming the input itself (or the report landing on it) is refused before any
    work, naming the input; the input keeps its bytes and nothing is written."""
    fixtures = require_fixtures()
    source = tmp_path / "aic.json"
    source.write_bytes((fixtures / "aic-native" / "keypoint_annotations_example.json").read_bytes())
    before = source.read_bytes()
    code, stdout, stderr = _convert(capsys, "aic", source, source)
    assert code == 2 and stdout == ""
    assert stderr.strip().splitlines() == [
        f"error: --out {source}: is an input of this conversion ({source.resolve()}); writing there would "
        "destroy it; choose another file"
    ]
    report_as_input = tmp_path / "x.report.json"
    report_as_input.write_bytes(before)
    code, _, stderr = _convert(capsys, "aic", tmp_path / "x.json", report_as_input)
    assert code == 2 and "--out (its report)" in stderr and "is an input of this conversion" in stderr
    assert source.read_bytes() == before and report_as_input.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["aic.json", "x.report.json"]
