"""The one-pass decode (files up to ``ONE_PASS_MAX_BYTES``) and the chunked two-pass decode
give identical cache tables, manifests' counts and skips, and identical errors."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from analysis.build import coco_json
from analysis.build.loading import SourceRule, load_pose_dataset
from analysis.build.run import build_split
from analysis.cli import main
from analysis.errors import AnnotationError
from analysis.registry import DatasetSpec
from benchmarks.synthetic_coco import write_synthetic_coco
from tests.analysis.helpers import coco_doc, mutated, write_doc
from tests.analysis.test_bad_input import BAD_DOCS

ONE_PASS, CHUNKED = 1 << 40, -1  # ONE_PASS_MAX_BYTES forcing either path


def assert_same_tables(one: dict, two: dict) -> None:
    """Equal schemas, nulls and values (NaN equal to NaN, which Table.equals does not allow)."""
    for name, table in one.items():
        other = two[name]
        assert table.schema.equals(other.schema), name
        for column in table.column_names:
            a, b = table.column(column).combine_chunks(), other.column(column).combine_chunks()
            assert a.null_count == b.null_count, (name, column)
            if pa.types.is_floating(a.type):
                np.testing.assert_array_equal(a.to_numpy(zero_copy_only=False), b.to_numpy(zero_copy_only=False))
            elif pa.types.is_large_list(a.type):
                np.testing.assert_array_equal(a.offsets.to_numpy(), b.offsets.to_numpy())
                np.testing.assert_array_equal(a.flatten().to_numpy(), b.flatten().to_numpy())
            else:
                assert a.equals(b), (name, column)


def _build(tmp_path, path, limit, monkeypatch, label, **spec):
    monkeypatch.setattr(coco_json, "ONE_PASS_MAX_BYTES", limit)
    root = tmp_path / label
    result = build_split(DatasetSpec("ds", "val", path, **spec), root, progress=False)
    folder = result.key.directory(root)
    return result.manifest, {name: pq.read_table(folder / name) for name in ("images.parquet", "instances.parquet")}


@pytest.mark.parametrize(
    "relative",
    [
        "coco-mini/annotations/person_keypoints_train2017.json",
        "mmpose/crowdpose/test_crowdpose.json",
        "mmpose/halpe/test_halpe.json",
        "mmpose/posetrack18/annotations/test_posetrack18_val.json",
    ],
)
def test_real_files_give_identical_caches(tmp_path, fixtures_dir, monkeypatch, relative):
    path = fixtures_dir / relative
    if not path.is_file():
        pytest.skip(f"{relative} not in the fixtures")
    one_manifest, one = _build(tmp_path, path, ONE_PASS, monkeypatch, "one")
    two_manifest, two = _build(tmp_path, path, CHUNKED, monkeypatch, "two")
    assert_same_tables(one, two)
    assert one_manifest.counts == two_manifest.counts
    assert one_manifest.skipped == two_manifest.skipped
    assert one_manifest.skipped_counts == two_manifest.skipped_counts
    assert one_manifest.warnings == two_manifest.warnings


def test_many_chunks_and_a_source_rule_give_identical_caches(tmp_path, monkeypatch):
    """More annotations than one chunk (so the chunked path decodes several), and extra image fields."""
    path = tmp_path / "synthetic.json"
    write_synthetic_coco(path, n_images=300, n_persons=3000, polygon_points=4, seed=2)
    monkeypatch.setattr(coco_json, "CHUNK_RECORDS", 700)
    rule = SourceRule("file_name", r"^(?P<source>\d)")
    _, one = _build(tmp_path, path, ONE_PASS, monkeypatch, "one", source_rule=rule)
    _, two = _build(tmp_path, path, CHUNKED, monkeypatch, "two", source_rule=rule)
    assert_same_tables(one, two)
    assert one["instances.parquet"].num_rows == 3000


@pytest.mark.parametrize("case", sorted(BAD_DOCS))
def test_bad_files_give_identical_errors(tmp_path, monkeypatch, case):
    fn, _, _ = BAD_DOCS[case]
    path = write_doc(tmp_path / "bad.json", mutated(coco_doc(), fn))
    messages = []
    for limit in (ONE_PASS, CHUNKED):
        monkeypatch.setattr(coco_json, "ONE_PASS_MAX_BYTES", limit)
        with pytest.raises(AnnotationError) as info:
            load_pose_dataset(path)
        messages.append(str(info.value))
    assert messages[0] == messages[1]


def test_a_nan_token_in_an_ignored_field_is_rewritten_on_either_path(tmp_path, monkeypatch, capsys):
    text = write_doc(tmp_path / "ok.json", coco_doc()).read_text()
    path = tmp_path / "nan.json"
    path.write_text(text.replace('"images": [', '"info": {"x": NaN}, "images": [', 1))
    lines = []
    for limit in (ONE_PASS, CHUNKED):
        monkeypatch.setattr(coco_json, "ONE_PASS_MAX_BYTES", limit)
        assert (
            main(
                [
                    "build",
                    "--name",
                    "ds",
                    "--split",
                    "val",
                    "--annotations",
                    str(path),
                    "--cache-dir",
                    str(tmp_path / f"c{limit}"),
                    "--quiet",
                ]
            )
            == 0
        )
        lines.append(capsys.readouterr().out.split("[")[0])
    assert lines[0] == lines[1] and "persons" in lines[0]


def test_the_size_threshold_picks_the_path(tmp_path, monkeypatch):
    path = write_doc(tmp_path / "ok.json", coco_doc())
    size = path.stat().st_size
    monkeypatch.setattr(coco_json, "ONE_PASS_MAX_BYTES", size)
    one = coco_json.decode_coco(path)
    monkeypatch.setattr(coco_json, "ONE_PASS_MAX_BYTES", size - 1)
    two = coco_json.decode_coco(path)
    assert one.annotations is not None and not one.annotation_records
    assert two.annotations is None and len(two.annotation_records) == 4
    assert [a for _, chunk in one.annotation_chunks() for a in chunk] == [
        a for _, chunk in two.annotation_chunks() for a in chunk
    ]
