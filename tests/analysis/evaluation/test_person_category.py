"""Which predictions count as persons: the category the build chose, recorded in the manifest.

A file may list another keypoint category (a 21-joint ``hand``) before ``person``;
the build takes the schema and the persons from the category most annotations use,
and the evaluation must keep exactly that category's predictions.  A gzip
annotation file (read directly by the build) must evaluate too.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from analysis.build.run import build_split
from analysis.cache import contract as cache
from analysis.cache.manifest import read_manifest
from analysis.cli import main
from analysis.evaluation.store import list_evaluations
from analysis.registry import DatasetSpec
from tests.analysis.evaluation.test_hand_made import NAMES as COCO17_JOINTS
from tests.analysis.helpers import coco_doc

K = 17
PERSON, HAND = 1, 5


def _doc_with_hand_category_first() -> dict:
    doc = coco_doc()
    doc["categories"] = [
        {"id": HAND, "name": "hand", "keypoints": [f"h{i}" for i in range(21)], "skeleton": []},
        {"id": PERSON, "name": "person", "keypoints": list(COCO17_JOINTS), "skeleton": [[1, 2]]},
    ]
    return doc


def _evaluate(root: Path, key: cache.CacheKey, predictions: Path, capsys) -> tuple[int, str, str]:
    code = main([
        "evaluate", "--name", key.dataset, "--split", key.split, "--predictions", str(predictions),
        "--cache-dir", str(root), "--quiet",
    ])  # fmt: skip
    out, err = capsys.readouterr()
    return code, out, err


def _predictions(tmp_path: Path, categories: list[int]) -> Path:
    records = [
        {"image_id": image_id, "category_id": category, "keypoints": [12.0, 12.0, 1.0] * K, "score": 0.9}
        for image_id in (1, 2) for category in categories
    ]  # fmt: skip
    path = tmp_path / "predictions.json"
    path.write_text(json.dumps(records))
    return path


def test_the_manifest_records_the_persons_category(tmp_path: Path) -> None:
    src = tmp_path / "hand-first.json"
    src.write_text(json.dumps(_doc_with_hand_category_first()))
    root = tmp_path / "cache"
    build_split(DatasetSpec("ds", "val", src), root, progress=False)
    manifest = read_manifest(root, cache.CacheKey("ds", "val"))
    assert manifest.keypoint_schema.category_id == PERSON
    assert manifest.keypoint_schema.joint_names == list(COCO17_JOINTS)


def test_predictions_of_the_other_keypoint_category_are_not_persons(tmp_path: Path, capsys) -> None:
    src = tmp_path / "hand-first.json"
    src.write_text(json.dumps(_doc_with_hand_category_first()))
    root = tmp_path / "cache"
    key = cache.CacheKey("ds", "val")
    build_split(DatasetSpec("ds", "val", src), root, progress=False)
    code, _out, err = _evaluate(root, key, _predictions(tmp_path, [PERSON, HAND]), capsys)
    assert code == 0, err
    # two images x (one person + one hand prediction): the hand ones are another category
    (record,) = list_evaluations(root, key)
    assert (record.counts.records, record.counts.kept, record.counts.other_category) == (4, 2, 2)


def test_a_gzip_annotation_file_evaluates(tmp_path: Path, capsys) -> None:
    doc = coco_doc()
    doc["categories"][0]["keypoints"] = list(COCO17_JOINTS)
    src = tmp_path / "ann.json.gz"
    src.write_bytes(gzip.compress(json.dumps(doc).encode()))
    root = tmp_path / "cache"
    key = cache.CacheKey("gz", "val")
    build_split(DatasetSpec("gz", "val", src), root, progress=False)
    code, _out, err = _evaluate(root, key, _predictions(tmp_path, [PERSON]), capsys)
    assert code == 0, err
    (record,) = list_evaluations(root, key)
    assert (record.counts.records, record.counts.kept) == (2, 2)


def test_a_cache_without_the_recorded_category_reads_the_file_categories(tmp_path: Path) -> None:
    """Older caches record no category: the file's keypoint categories are read (gzip too),
    by the build's reader that ``context`` imports only then."""
    from types import SimpleNamespace
    from typing import cast

    from analysis.cache.split import CachedSplit
    from analysis.evaluation.context import person_categories

    doc = _doc_with_hand_category_first()
    doc["categories"].append({"id": 9, "name": "car", "supercategory": "vehicle"})
    plain, compressed = tmp_path / "a.json", tmp_path / "a.json.gz"
    plain.write_text(json.dumps(doc))
    compressed.write_bytes(gzip.compress(plain.read_bytes()))
    expected = [c["id"] for c in doc["categories"] if c.get("keypoints")]
    assert expected == [HAND, PERSON]
    facts = cast(CachedSplit, SimpleNamespace(category_id=None))
    assert person_categories(facts, plain) == person_categories(facts, compressed) == expected
    assert person_categories(cast(CachedSplit, SimpleNamespace(category_id=PERSON)), tmp_path / "absent") == [PERSON]
