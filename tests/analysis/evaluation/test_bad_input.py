"""Bad results files: one line naming the file, the record and the problem, exit 2, nothing stored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from analysis.cli import main
from analysis.evaluation.store import list_evaluations
from tests.analysis.evaluation.reference import build
from tests.analysis.evaluation.test_hand_made import NAMES as COCO17_JOINTS
from tests.analysis.helpers import coco_doc

K = 17


def _pred(image_id=1, **extra):
    record = {"image_id": image_id, "category_id": 1, "keypoints": [10.0, 10.0, 1.0] * K, "score": 0.5}
    record.update(extra)
    return record


@pytest.fixture
def split(tmp_path: Path):
    doc = coco_doc()
    doc["categories"][0]["keypoints"] = list(COCO17_JOINTS)  # COCO's schema: published sigmas
    root, key, _ = build(tmp_path, doc)
    return tmp_path, root, key


def _run(tmp_path: Path, root: Path, key, text: str, capsys, name: str = "bad") -> tuple[int, str, str]:
    path = tmp_path / f"{name}.json"
    path.write_text(text)
    code = main([
        "evaluate", "--name", key.dataset, "--split", key.split, "--predictions", str(path),
        "--cache-dir", str(root), "--quiet",
    ])  # fmt: skip
    out, err = capsys.readouterr()
    return code, out, err


def _assert_refused(split, capsys, text: str, *needles: str) -> str:
    tmp_path, root, key = split
    code, _out, err = _run(tmp_path, root, key, text, capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and "bad.json" in lines[0], lines[0]
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert list_evaluations(root, key) == []
    return lines[0]


def test_not_a_json_list(split, capsys) -> None:
    _assert_refused(split, capsys, json.dumps({"annotations": []}), "JSON list", "got a JSON dict")


def test_not_json_at_all(split, capsys) -> None:
    _assert_refused(split, capsys, '[{"image_id": 1, "keypoints": [1, 2', "not valid JSON")


@pytest.mark.parametrize("field", ["image_id", "keypoints", "score"])
def test_a_record_without_a_required_field(split, capsys, field: str) -> None:
    records = [_pred(), _pred()]
    del records[1][field]
    _assert_refused(split, capsys, json.dumps(records), "record 1", f"missing '{field}'")


def test_keypoints_of_the_wrong_length(split, capsys) -> None:
    records = [_pred(), _pred(keypoints=[1.0, 2.0, 1.0] * 14)]
    _assert_refused(split, capsys, json.dumps(records), "record 1 (image_id=1)", "42 values", "3 x 17 joints = 51")


def test_a_nan_coordinate(split, capsys) -> None:
    keypoints = [10.0, 10.0, 1.0] * K
    keypoints[3] = float("nan")
    text = json.dumps([_pred(), _pred(), _pred(keypoints=keypoints)])  # Python writes NaN
    _assert_refused(split, capsys, text, "record 2", "NaN or infinite")


def test_an_infinite_score(split, capsys) -> None:
    text = json.dumps([_pred(score=float("inf"))])  # Python writes Infinity
    _assert_refused(split, capsys, text, "record 0", "score is inf")


def test_an_overflowing_number_is_infinite(split, capsys) -> None:
    text = '[{"image_id": 1, "category_id": 1, "keypoints": [' + ", ".join(["1e999"] * 51) + '], "score": 0.5}]'
    _assert_refused(split, capsys, text, "record 0", "NaN or infinite")


def test_image_ids_not_in_the_dataset(split, capsys) -> None:
    records = [_pred(1), _pred(99), _pred(98), _pred(2)]
    _assert_refused(split, capsys, json.dumps(records), "record 1 (image_id=99)", "2 record(s)")


def test_only_other_category_ids(split, capsys) -> None:
    records = [_pred(category_id=2), _pred(category_id=3)]
    _assert_refused(split, capsys, json.dumps(records), "no prediction has a person category id", "[2, 3]")


def test_an_empty_list(split, capsys) -> None:
    _assert_refused(split, capsys, "[]", "empty")


def test_a_bad_file_among_several_stores_nothing_and_keeps_earlier_results(split, capsys) -> None:
    tmp_path, root, key = split
    good = tmp_path / "good.json"
    good.write_text(json.dumps([_pred(1), _pred(2)]))
    assert main(["evaluate", "--name", key.dataset, "--split", key.split, "--predictions", str(good),
                 "--cache-dir", str(root), "--quiet"]) == 0  # fmt: skip
    before = list_evaluations(root, key)
    assert [r.model for r in before] == ["good"]
    capsys.readouterr()
    good.write_text(json.dumps([_pred(1)]))  # changed: would be re-evaluated
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([_pred(5)]))
    code = main(["evaluate", "--name", key.dataset, "--split", key.split, "--predictions", str(good), str(bad),
                 "--cache-dir", str(root), "--quiet"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "bad.json" in err and "image_id=5" in err
    assert list_evaluations(root, key) == before  # the earlier good result, untouched


def test_other_categories_alongside_persons_are_counted_not_refused(split, capsys) -> None:
    tmp_path, root, key = split
    records = [_pred(1), _pred(1, category_id=7), _pred(2), _pred(2, category_id=7)]
    code, out, err = _run(tmp_path, root, key, json.dumps(records), capsys, name="mixed")
    assert code == 0, err
    assert "2 detections evaluated of 4 records" in out
    assert "2 of other categories not evaluated" in out
    (record,) = list_evaluations(root, key)
    assert (record.counts.kept, record.counts.other_category, record.counts.records) == (2, 2, 4)


def test_a_changed_annotation_file_asks_for_a_rebuild(split, capsys) -> None:
    tmp_path, root, key = split
    annotations = tmp_path / "ds-val.json"
    doc = json.loads(annotations.read_text())
    doc["annotations"][0]["bbox"][2] += 1
    annotations.write_text(json.dumps(doc))
    code, _, err = _run(tmp_path, root, key, json.dumps([_pred()]), capsys, name="fine")
    assert code == 2
    assert "changed since ds/val was built" in err and "rebuild" in err and str(annotations) in err
    assert list_evaluations(root, key) == []


def test_a_split_that_was_never_built(tmp_path: Path, capsys) -> None:
    path = tmp_path / "p.json"
    path.write_text(json.dumps([_pred()]))
    code = main(["evaluate", "--name", "nope", "--split", "val", "--predictions", str(path),
                 "--cache-dir", str(tmp_path / "cache")])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "nope/val: no cache" in err and "build it first" in err


@pytest.mark.parametrize(
    ("option", "value", "needle"),
    [
        ("--edges", "96,32", "--edges 96,32"),
        ("--edges", "a,b", "expected two numbers"),
        ("--density-edges", "0.8", "expected two"),
        ("--sigmas", "nosuch", "not coco, crowdpose or an existing file"),
        ("--sigmas", "crowdpose", "14 sigmas for a 17-joint schema"),
        ("--oks-area", "segm", "1 person(s) have no 'area'"),
        ("--crowd-index", "stored", "have no stored crowdIndex"),
    ],
)
def test_impossible_definitions(split, capsys, option: str, value: str, needle: str) -> None:
    tmp_path, root, key = split
    path = tmp_path / "p.json"
    path.write_text(json.dumps([_pred()]))
    code = main(["evaluate", "--name", key.dataset, "--split", key.split, "--predictions", str(path),
                 "--cache-dir", str(root), option, value])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and needle in err, err
    assert list_evaluations(root, key) == []


def test_a_schema_without_published_sigmas_needs_a_sigma_file(tmp_path: Path, capsys) -> None:
    root, key, _ = build(tmp_path, coco_doc())  # joints j0..j16: no published sigmas
    path = tmp_path / "p.json"
    path.write_text(json.dumps([_pred()]))
    args = ["evaluate", "--name", key.dataset, "--split", key.split, "--predictions", str(path),
            "--cache-dir", str(root), "--oks-area", "bbox", "--json"]  # fmt: skip
    assert main(args) == 2
    assert "custom-17 keypoint schema has no published OKS sigmas; pass --sigmas FILE" in capsys.readouterr().err
    sigmas = tmp_path / "sigmas.txt"
    sigmas.write_text(" ".join(["0.05"] * 16))
    assert main([*args, "--sigmas", str(sigmas)]) == 2
    assert "16 sigmas for a 17-joint schema" in capsys.readouterr().err
    sigmas.write_text(json.dumps([0.05] * 17))
    assert main([*args, "--sigmas", str(sigmas)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["definitions"]["sigmas"] == [0.05] * 17 and doc["definitions"]["sigma_source"] == "file"


def test_records_without_category_id_are_persons(split, capsys) -> None:
    tmp_path, root, key = split
    records = [_pred(1), _pred(2)]
    del records[1]["category_id"]
    code, out, err = _run(tmp_path, root, key, json.dumps(records), capsys, name="nocat")
    assert code == 0, err
    assert "2 detections evaluated of 2 records" in out
