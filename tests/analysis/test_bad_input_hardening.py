"""Every bad input of issue 11 (items 9-15, 17): one line naming file, record and problem,
exit status 2, nothing written, the earlier cache intact -- or, where the README says so,
accepted and counted in the manifest."""

from __future__ import annotations

import errno
import gzip
import json
import os
import warnings
from pathlib import Path

import numpy as np
import pytest

from analysis.build import run as build_module
from analysis.cache import contract as cache
from analysis.cache.manifest import Manifest, read_manifest
from analysis.cli import main
from analysis.registry import load_registry
from analysis.schema import COCO17_JOINTS, COCO17_SIGMAS
from tests.analysis.helpers import coco_doc, mutated, write_doc


def run_build(tmp_path: Path, ann: Path, capsys, *extra: str, name: str = "ds") -> tuple[int, str]:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a raw numpy (or any) warning fails the test
        code = main(
            [
                "build",
                f"--name={name}",
                "--split",
                "val",
                "--annotations",
                str(ann),
                "--cache-dir",
                str(tmp_path / "cache"),
                "--quiet",
                *extra,
            ]
        )
    return code, capsys.readouterr().err


def snapshot(folder: Path) -> dict:
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def manifest(tmp_path: Path, name: str = "ds") -> Manifest:
    return read_manifest(tmp_path / "cache", cache.CacheKey(name, "val"))


def assert_one_line(code: int, err: str, ann: Path, *parts: str) -> None:
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1, err
    assert lines[0].startswith(f"error: {ann}") or lines[0].startswith("error: "), err
    for part in parts:
        assert part in lines[0], (part, err)
    assert "Traceback" not in err


@pytest.fixture
def good(tmp_path, capsys) -> tuple[Path, dict]:
    """A good cache built first; tests then break the file and check it stays intact."""
    ann = write_doc(tmp_path / "ann.json", coco_doc())
    assert run_build(tmp_path, ann, capsys)[0] == 0
    return ann, snapshot(tmp_path / "cache")


# ----------------------------------------------------------------- item 9: encodings, nesting


def test_latin1_byte_in_file_name(tmp_path, capsys, good):
    ann, before = good
    data = json.dumps(coco_doc()).encode().replace(b"a/one.jpg", b"a/caf\xe9.jpg")
    ann.write_bytes(data)
    column = data.index(b"\xe9") + 1  # one line of JSON
    code, err = run_build(tmp_path, ann, capsys)
    assert_one_line(
        code, err, ann, str(ann), f"not UTF-8 text: byte 0xe9 at line 1 column {column}", "re-encode the file as UTF-8"
    )
    assert snapshot(tmp_path / "cache") == before


def test_latin1_byte_in_a_category_name_on_line_3(tmp_path, capsys, good):
    ann, before = good
    doc = coco_doc()
    doc["categories"][0]["name"] = "persona_X"
    text = json.dumps(doc, indent=0).encode()
    text = text.replace(b"persona_X", b"person\xf1")
    ann.write_bytes(text)
    offset = text.index(b"\xf1")
    line = text.count(b"\n", 0, offset) + 1
    column = offset - text.rfind(b"\n", 0, offset)
    code, err = run_build(tmp_path, ann, capsys)
    assert_one_line(code, err, ann, f"byte 0xf1 at line {line} column {column}")
    assert snapshot(tmp_path / "cache") == before


def test_ten_thousand_deep_nesting_in_an_ignored_field(tmp_path, capsys, good):
    ann, before = good
    doc = coco_doc()
    doc["info"] = "PLACEHOLDER"
    text = json.dumps(doc).encode()
    deep = b"[" * 10_000 + b"]" * 10_000
    offset = text.index(b'"PLACEHOLDER"')
    ann.write_bytes(text.replace(b'"PLACEHOLDER"', deep))
    code, err = run_build(tmp_path, ann, capsys)
    assert_one_line(code, err, ann, "nested too deeply", f"line 1 column {offset + 1}")
    assert snapshot(tmp_path / "cache") == before


# ----------------------------------------------------------------- item 10: the cache target


def test_cache_folder_that_is_a_file(tmp_path, capsys):
    ann = write_doc(tmp_path / "ann.json", coco_doc())
    (tmp_path / "cache").write_text("not a folder")
    code, err = run_build(tmp_path, ann, capsys)
    assert_one_line(code, err, ann, "cannot write the cache", "Not a directory")
    (tmp_path / "cache").unlink()
    split = tmp_path / "cache" / "ds" / "val"
    split.parent.mkdir(parents=True)
    split.write_text("a file where the split's folder goes")
    code, err = run_build(tmp_path, ann, capsys)
    assert_one_line(code, err, ann, f"cannot write the cache {split}: it exists and is not a folder")


def test_read_only_cache_fails_before_the_work(tmp_path, capsys, monkeypatch):
    """Root ignores permission bits, so the read-only file system is simulated at os.mkdir;
    the annotation file must not even be read."""
    ann = write_doc(tmp_path / "ann.json", coco_doc())
    (tmp_path / "cache").mkdir()
    real_mkdir = os.mkdir

    def read_only(path, *args, **kwargs):
        if Path(path).is_relative_to(tmp_path / "cache"):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        return real_mkdir(path, *args, **kwargs)

    def never(*_args, **_kwargs):
        raise AssertionError("the build read the annotations although the cache is not writable")

    monkeypatch.setattr(os, "mkdir", read_only)
    monkeypatch.setattr(build_module, "read_annotation_bytes", never)
    code, err = run_build(tmp_path, ann, capsys)
    assert_one_line(code, err, ann, "cannot write the cache", "Read-only file system")


def test_full_disk_keeps_the_previous_cache(tmp_path, capsys, monkeypatch, good):
    ann, before = good
    write_doc(ann, mutated(coco_doc(), lambda d: d["images"].append({"id": 9, "file_name": "x.jpg"})))

    def full(*_args, **_kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(cache, "write_table", full)
    code, err = run_build(tmp_path, ann, capsys)
    assert_one_line(code, err, ann, "cannot write the cache", "No space left on device")
    assert snapshot(tmp_path / "cache") == before  # no staging folder left, old cache intact


def test_cache_path_with_a_name_over_255_bytes(tmp_path, capsys):
    ann = write_doc(tmp_path / "ann.json", coco_doc())
    long_dir = tmp_path / ("c" * 300)
    code = main(
        ["build", "--name", "ds", "--split", "val", "--annotations", str(ann), "--cache-dir", str(long_dir), "--quiet"]
    )
    err = capsys.readouterr().err
    assert_one_line(code, err, ann, "cannot write the cache", "File name too long")


# ----------------------------------------------------------------- item 11: registry types


@pytest.mark.parametrize(
    ("toml", "problem"),
    [
        (
            '[[dataset]]\nname = "a"\nsplit = "v"\nannotations = "x.json"\nimages = 5\n',
            "dataset[0]: 'images' must be a string (a folder), got an integer",
        ),
        ("dataset = [1]\n", "dataset[0]: expected a table ([[dataset]] with name = ...), got an integer"),
        ('dataset = ["a"]\n', "dataset[0]: expected a table ([[dataset]] with name = ...), got a string"),
        ('[[dataset]]\nname = 5\nsplit = "v"\nannotations = "x.json"\n', "'name' must be a string, got an integer"),
        ('[[dataset]]\nsplit = "v"\nannotations = "x.json"\n', "'name' is required"),
        (
            '[[dataset]]\nname = "a"\nsplit = "v"\nannotations = ["x.json"]\n',
            "'annotations' must be a string, got an array",
        ),
        (
            '[[dataset]]\nname = "a"\nsplit = "v"\nannotations = "x.json"\nkeypoint_schema = 5\n',
            "keypoint_schema must be a name (coco17, crowdpose14) or an array of joint names, got an integer",
        ),
        (
            '[[dataset]]\nname = "a"\nsplit = "v"\nannotations = "x.json"\nsource = { field = 5, pattern = "x" }\n',
            "source must be",
        ),
    ],
)
def test_registry_type_errors_are_one_line(tmp_path, capsys, toml, problem):
    registry = tmp_path / "datasets.toml"
    registry.write_text(toml, encoding="utf-8")
    code = main(["build", "--registry", str(registry), "--cache-dir", str(tmp_path / "cache"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and problem in err and str(registry) in err, err


# ----------------------------------------------------------------- item 12: value ranges


def _set_ann(i: int, key: str, value):
    def fn(doc):
        doc["annotations"][i][key] = value

    return fn


def _set_image(i: int, key: str, value):
    def fn(doc):
        doc["images"][i][key] = value

    return fn


def _set_joint(i: int, joint: int, slot: int, value):
    def fn(doc):
        doc["annotations"][i]["keypoints"][3 * joint + slot] = value

    return fn


ERRORS = {
    "iscrowd 2": (_set_ann(0, "iscrowd", 2), "annotation id=11", "iscrowd must be 0/1 or true/false, got 2"),
    "negative image width": (_set_image(1, "width", -5), "image id=2", "width -5.0 is negative or out of range"),
    "negative area": (_set_ann(1, "area", -1.0), "annotation id=12", "area -1.0 is negative"),
    "negative num_keypoints": (_set_ann(1, "num_keypoints", -7), "annotation id=12", "num_keypoints -7 is negative"),
    "huge keypoint": (_set_joint(0, 2, 0, 1e300), "annotation id=11", "keypoint coordinate 1e+300 is out of range"),
    "keypoint beyond float64": (
        _set_joint(0, 2, 0, "TOKEN"),
        "annotation id=11",
        "keypoints hold a number beyond float64",
    ),
    "huge bbox": (_set_ann(3, "bbox", [0, 0, 1e200, 1e201]), "annotation id=21", "is out of range"),
    "numeric string width": (
        _set_image(0, "width", "640"),
        "image id=1",
        "the string '640' where a number is expected (numbers must not be quoted) in field 'width'",
    ),
    "numeric string bbox": (
        _set_ann(2, "bbox", [0, "1", 2, 3]),
        "annotation id=13",
        "the string '1' where a number is expected",
    ),
    "numeric string id": (_set_ann(2, "id", "13"), "annotations[2]", "the string '13' where a number is expected"),
}


@pytest.mark.parametrize("case", sorted(ERRORS))
def test_out_of_range_or_quoted_values_are_errors(tmp_path, capsys, good, case):
    ann, before = good
    mutate, record, problem = ERRORS[case]
    text = json.dumps(mutated(coco_doc(), mutate))
    ann.write_text(text.replace('"TOKEN"', "1" + "0" * 400))  # a literal beyond float64
    code, err = run_build(tmp_path, ann, capsys)
    assert_one_line(code, err, ann, str(ann), record, problem)
    assert snapshot(tmp_path / "cache") == before


def test_odd_visibility_values_are_read_and_counted(tmp_path, capsys):
    doc = coco_doc()
    # annotation 11: joint 0 v=3 (labelled), joint 1 v=-1 (unlabelled); annotation 12: joint 0 v=1.5
    doc["annotations"][0]["keypoints"][2] = 3
    doc["annotations"][0]["keypoints"][5] = -1
    doc["annotations"][1]["keypoints"][2] = 1.5
    ann = write_doc(tmp_path / "ann.json", doc)
    code, err = run_build(tmp_path, ann, capsys)
    assert code == 0, err
    warning = next(w for w in manifest(tmp_path).warnings if "visibility" in w)
    assert warning.startswith("2 annotation(s) with keypoint visibility other than 0, 1 or 2 (values -1, 1.5, 3;")
    assert "first: annotation id=11" in warning
    inst = cache.read_instances(tmp_path / "cache", cache.CacheKey("ds", "val")).set_index("ann_id")
    # worked out by hand: 11 had 4 labelled joints (v 2,2,1,2) -> (3,-1,1,2): 3 labelled; 12: (1.5, 1) -> 2
    assert inst.loc[11, "n_labelled"] == 3 and inst.loc[12, "n_labelled"] == 2


def test_zero_image_size_is_unknown_and_counted(tmp_path, capsys):
    doc = mutated(coco_doc(), _set_image(2, "height", 0))
    ann = write_doc(tmp_path / "ann.json", doc)
    assert run_build(tmp_path, ann, capsys)[0] == 0
    m = manifest(tmp_path)
    assert "1 image(s) with width or height 0: size read as unknown" in m.warnings
    assert m.skipped_counts["image width or height 0 read as unknown"] == 1
    images = cache.read_images(tmp_path / "cache", cache.CacheKey("ds", "val")).set_index("image_id")
    assert np.isnan(images.loc[3, "width"]) and np.isnan(images.loc[3, "height"])
    assert images.loc[1, "width"] == 640


def test_numeric_string_in_an_ignored_field_is_fine(tmp_path, capsys):
    doc = mutated(coco_doc(), _set_image(0, "license", "3"))
    ann = write_doc(tmp_path / "ann.json", doc)
    assert run_build(tmp_path, ann, capsys)[0] == 0


# ----------------------------------------------------------------- item 13: names


@pytest.mark.parametrize(
    "bad", ["a,b", "a\nb", "a b", "a<b", "a>b", "a%b", "a&b", "a$b", "a#b", ".hidden", "-dash", "x" * 101, "é"]
)
def test_bad_dataset_names_are_refused_everywhere(tmp_path, capsys, bad):
    ann = write_doc(tmp_path / "ann.json", coco_doc())
    code, err = run_build(tmp_path, ann, capsys, name=bad)
    assert code == 2 and "invalid dataset name" in err and "letters, digits, '-', '_' or '.'" in err
    assert not (tmp_path / "cache").exists()
    registry = tmp_path / "datasets.toml"
    registry.write_text(
        f'[[dataset]]\nname = {json.dumps(bad)}\nsplit = "v"\nannotations = "ann.json"\n', encoding="utf-8"
    )
    with pytest.raises(Exception, match="invalid dataset name"):
        load_registry(registry)


def test_good_names_and_folders_with_bad_names_are_not_listed(tmp_path, capsys):
    ann = write_doc(tmp_path / "ann.json", coco_doc())
    assert run_build(tmp_path, ann, capsys, name="coco-2017_v1.0")[0] == 0
    # a folder made by hand (or by an older version) whose name breaks the rule is not listed
    good_dir = tmp_path / "cache" / "coco-2017_v1.0" / "val"
    bad_dir = tmp_path / "cache" / "a,b" / "val"
    bad_dir.mkdir(parents=True)
    for f in good_dir.iterdir():
        (bad_dir / f.name).write_bytes(f.read_bytes())
    assert cache.list_caches(tmp_path / "cache") == [cache.CacheKey("coco-2017_v1.0", "val")]


# ----------------------------------------------------------------- item 14: wording, gzip, fetch


def test_gzip_file_is_read_directly_and_equals_the_plain_build(tmp_path, capsys):
    plain = write_doc(tmp_path / "ann.json", coco_doc())
    packed = tmp_path / "ann.json.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    assert run_build(tmp_path, plain, capsys, name="plain")[0] == 0
    assert run_build(tmp_path, packed, capsys, name="packed")[0] == 0
    a = cache.read_instances(tmp_path / "cache", cache.CacheKey("plain", "val")).drop(columns="dataset")
    b = cache.read_instances(tmp_path / "cache", cache.CacheKey("packed", "val")).drop(columns="dataset")
    assert a.to_json() == b.to_json()
    assert manifest(tmp_path, "packed").inputs.annotations.size == packed.stat().st_size


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"\x1f\x8b\x08\x00garbage", "gzip-compressed but does not decompress"),
        (b"MATLAB 5.0 MAT-file, Platform: GLNXA64", "a MATLAB .mat file (MPII's native format?)"),
        (b"PK\x03\x04rest", "a zip archive, not JSON: unpack it first"),
        (
            json.dumps([{"image_id": "a", "keypoint_annotations": {}, "human_annotations": {}}]).encode(),
            "AI Challenger records (keypoint_annotations / human_annotations): AIC's native format, not COCO",
        ),
        (json.dumps([{"joints": [[1, 2]], "joints_vis": [1], "image": "x.jpg"}]).encode(), "MPII-style records"),
        (b"", "empty file"),
        (b"  \n ", "empty file (only whitespace)"),
        (
            json.dumps({"images": [], "annotations": [], "categorie": []}).encode(),
            "missing required key(s): categories (found 'categorie' instead of 'categories'?)",
        ),
    ],
)
def test_wording_of_unreadable_files(tmp_path, capsys, content, problem):
    ann = tmp_path / "ann.json"
    ann.write_bytes(content)
    code, err = run_build(tmp_path, ann, capsys)
    assert_one_line(code, err, ann, str(ann), problem)
    assert not (tmp_path / "cache" / "ds" / "val").exists()  # (the split's lock file may remain)


def test_directory_and_fifo_are_not_called_missing(tmp_path, capsys):
    folder = tmp_path / "ann_dir.json"
    folder.mkdir()
    code, err = run_build(tmp_path, folder, capsys)
    assert_one_line(code, err, folder, "is a directory, not an annotation file")
    fifo = tmp_path / "ann.fifo"
    os.mkfifo(fifo)
    code, err = run_build(tmp_path, fifo, capsys)
    assert_one_line(code, err, fifo, "is a FIFO, not a regular annotation file")


# ----------------------------------------------------------------- item 15: the schema's category


def test_schema_comes_from_the_category_the_annotations_use(tmp_path, capsys):
    doc = coco_doc()
    doc["categories"][0]["keypoints"] = list(COCO17_JOINTS)
    hand = {"id": 2, "name": "hand", "keypoints": [f"h{i}" for i in range(21)], "skeleton": []}
    doc["categories"].insert(0, hand)  # listed first
    doc["annotations"].append(
        {
            "id": 99,
            "image_id": 2,
            "category_id": 2,
            "bbox": [1, 1, 5, 5],
            "keypoints": [1, 1, 2] * 21,
            "num_keypoints": 21,
        }
    )
    ann = write_doc(tmp_path / "ann.json", doc)
    assert run_build(tmp_path, ann, capsys)[0] == 0
    m = manifest(tmp_path)
    assert m.keypoint_schema.joint_names == list(COCO17_JOINTS)
    assert m.keypoint_schema.sigmas == pytest.approx(list(COCO17_SIGMAS))
    assert m.counts.annotations == 4
    reason = "annotation of keypoint category 'hand' (id=2), not the schema's 'person'"
    assert m.skipped_counts[reason] == 1
    assert ("annotation id=99", reason) in [(r.record, r.reason) for r in m.skipped]


# ----------------------------------------------------------------- item 17: NaN / Infinity tokens


def test_nan_in_an_ignored_field_builds_and_is_counted(tmp_path, capsys):
    doc = coco_doc()
    doc["info"] = {"score": float("nan"), "range": [float("-inf"), float("inf")]}
    doc["images"][0]["file_name"] = "NaN, Infinity].jpg"  # token-like text inside a string stays text
    doc["images"][1]["file_name"] = 'a "b", NaN].jpg'  # ... also after escaped quotes
    ann = tmp_path / "ann.json"
    ann.write_text(json.dumps(doc))  # Python writes NaN / -Infinity / Infinity tokens
    code, err = run_build(tmp_path, ann, capsys)
    assert code == 0, err
    m = manifest(tmp_path)
    assert "3 NaN/Infinity token(s) in fields PoseAtlas does not read (ignored)" in m.warnings
    images = cache.read_images(tmp_path / "cache", cache.CacheKey("ds", "val")).set_index("image_id")
    assert images.loc[1, "file_name"] == "NaN, Infinity].jpg"
    assert images.loc[2, "file_name"] == 'a "b", NaN].jpg'


@pytest.mark.parametrize(
    ("where", "value", "record", "problem"),
    [
        (
            ("annotations", 1, "bbox", 1),
            float("nan"),
            "annotation id=12",
            "NaN is not a number JSON allows in field 'bbox[1]'",
        ),
        (
            ("annotations", 0, "keypoints", 4),
            float("inf"),
            "annotation id=11",
            "Infinity is not a number JSON allows in field 'keypoints[4]'",
        ),
        (
            ("images", 1, "width", None),
            float("-inf"),
            "image id=2",
            "-Infinity is not a number JSON allows in field 'width'",
        ),
    ],
)
def test_nan_in_a_field_we_read_names_the_record(tmp_path, capsys, good, where, value, record, problem):
    ann, before = good
    doc = coco_doc()
    section, i, key, j = where
    if j is None:
        doc[section][i][key] = value
    else:
        doc[section][i][key][j] = value
    ann.write_text(json.dumps(doc))
    code, err = run_build(tmp_path, ann, capsys)
    assert_one_line(code, err, ann, record, problem)
    assert snapshot(tmp_path / "cache") == before


def test_fingerprint_is_of_the_file_even_when_tokens_are_rewritten(tmp_path, capsys):
    import hashlib

    doc = coco_doc()
    doc["info"] = {"score": float("nan")}
    ann = tmp_path / "ann.json"
    ann.write_text(json.dumps(doc))
    assert run_build(tmp_path, ann, capsys)[0] == 0
    assert manifest(tmp_path).inputs.annotations.sha256 == hashlib.sha256(ann.read_bytes()).hexdigest()
