"""Every bad input: one clear line naming file, record and problem; exit 2; nothing written;
the previous good cache intact."""

from __future__ import annotations

import subprocess
import sys

import pytest

from analysis.cli import main
from tests.analysis.helpers import coco_doc, mutated, write_doc


def _set(path, value):
    def fn(doc):
        target = doc
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return fn


def _del(key):
    return lambda doc: doc.pop(key)


def _dup_image_conflict(doc):
    doc["images"].append({**doc["images"][0], "width": 999})


def _dup_ann_conflict(doc):
    doc["annotations"].append({**doc["annotations"][0], "bbox": [1, 2, 3, 4]})


BAD_DOCS = {
    "missing images": (_del("images"), None, "missing required key(s): images"),
    "missing annotations": (_del("annotations"), None, "missing required key(s): annotations"),
    "missing categories": (_del("categories"), None, "missing required key(s): categories"),
    "keypoints too short": (
        _set(["annotations", 1, "keypoints"], [1, 2, 2] * 16),
        "annotation id=12",
        "keypoints has 48 values, expected 51",
    ),
    "negative bbox": (_set(["annotations", 0, "bbox"], [0, 0, -5, 10]), "annotation id=11", "negative width or height"),
    "missing bbox": (lambda d: d["annotations"][3].pop("bbox"), "annotation id=21", "missing bbox"),
    "null bbox": (_set(["annotations", 3, "bbox"], None), "annotation id=21", "missing bbox"),
    "short bbox": (_set(["annotations", 3, "bbox"], [1, 2, 3]), "annotation id=21", "bbox has 3 values"),
    "string bbox": (_set(["annotations", 2, "bbox"], "0 0 1 1"), "annotation id=13", "Expected `array"),
    "orphan annotation": (
        _set(["annotations", 2, "image_id"], 777),
        "annotation id=13",
        "image_id 777 has no image record",
    ),
    "conflicting duplicate image": (_dup_image_conflict, "image id=1", "conflicting content"),
    "conflicting duplicate annotation": (_dup_ann_conflict, "annotation id=11", "conflicting content"),
    "image without id": (lambda d: d["images"][1].pop("id"), "image", "missing required field `id`"),
}


def run_build(tmp_path, ann, capsys):
    code = main(
        [
            "build",
            "--name",
            "ds",
            "--split",
            "val",
            "--annotations",
            str(ann),
            "--cache-dir",
            str(tmp_path / "cache"),
            "--quiet",
        ]
    )
    captured = capsys.readouterr()
    return code, captured.err


def snapshot(folder):
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("case", sorted(BAD_DOCS))
def test_bad_document_gives_one_clean_line_and_keeps_good_cache(tmp_path, capsys, case):
    mutate, record, problem = BAD_DOCS[case]
    ann = write_doc(tmp_path / "ann.json", coco_doc())
    assert run_build(tmp_path, ann, capsys)[0] == 0
    before = snapshot(tmp_path / "cache")

    write_doc(ann, mutated(coco_doc(), mutate))
    code, err = run_build(tmp_path, ann, capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert str(ann) in lines[0] and problem in lines[0]
    if record:
        assert record in lines[0]
    assert "Traceback" not in err
    assert snapshot(tmp_path / "cache") == before


@pytest.mark.parametrize(
    "content, problem",
    [
        (b"this is not json", "not valid JSON"),
        (b'{"images": [{"id": 1, "file_name": "a.jpg"', "truncated JSON"),
        (b"", "empty file"),
        (b"[1, 2, 3]", "top level is a JSON array"),
        (b'{"images": "\xc3\x28"}', "not UTF-8"),
    ],
)
def test_unparseable_file(tmp_path, capsys, content, problem):
    ann = tmp_path / "ann.json"
    ann.write_bytes(content)
    code, err = run_build(tmp_path, ann, capsys)
    assert code == 2 and problem in err and str(ann) in err
    assert not (tmp_path / "cache" / "ds").exists()


def test_nan_bbox_token_is_named(tmp_path, capsys):
    # Python's json writes NaN tokens; strict parsers reject them, we name the record.
    ann = tmp_path / "ann.json"
    doc = coco_doc()
    doc["annotations"][1]["bbox"] = [0.0, float("nan"), 5.0, 5.0]
    import json

    ann.write_text(json.dumps(doc))
    code, err = run_build(tmp_path, ann, capsys)
    assert code == 2 and "annotation id=12" in err and "NaN" in err


def test_identical_duplicate_image_is_merged_with_a_warning(tmp_path, capsys):
    doc = coco_doc()
    doc["images"].append(dict(doc["images"][1]))
    ann = write_doc(tmp_path / "ann.json", doc)
    code = main(
        [
            "build",
            "--name",
            "ds",
            "--split",
            "val",
            "--annotations",
            str(ann),
            "--cache-dir",
            str(tmp_path / "cache"),
            "--quiet",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "3 images" in out and "1 identical duplicate image record(s) merged" in out
    from analysis.cache.manifest import SkippedRecord, read_manifest

    manifest = read_manifest(tmp_path / "cache" / "ds" / "val")
    assert manifest.skipped == [SkippedRecord(record="image id=2", reason="identical duplicate image record merged")]


def test_cli_subprocess_has_no_traceback(tmp_path):
    ann = tmp_path / "ann.json"
    ann.write_text('{"images": [], "annotations": [')
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "analysis",
            "build",
            "--name",
            "ds",
            "--split",
            "val",
            "--annotations",
            str(ann),
            "--cache-dir",
            str(tmp_path / "cache"),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PYTHONPATH": str(__import__("pathlib").Path(__file__).resolve().parents[2])},
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_missing_file_and_bad_schema_override(tmp_path, capsys):
    code, err = run_build(tmp_path, tmp_path / "nope.json", capsys)
    assert code == 2 and "annotation file not found" in err
    ann = write_doc(tmp_path / "ann.json", coco_doc())
    code = main(
        [
            "build",
            "--name",
            "ds",
            "--split",
            "val",
            "--annotations",
            str(ann),
            "--keypoint-schema",
            "bogus",
            "--cache-dir",
            str(tmp_path / "c"),
        ]
    )
    assert code == 2 and "unknown keypoint schema 'bogus'" in capsys.readouterr().err
