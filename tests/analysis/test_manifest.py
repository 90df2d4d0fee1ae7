"""The typed manifest and the table schemas: what the build writes is exactly the contract."""

from __future__ import annotations

import shlex

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from analysis.build.run import build_split
from analysis.cache import contract as cache
from analysis.cache.manifest import (
    InvalidManifestError,
    Manifest,
    SourceRuleRecord,
    StaleCacheError,
    VisibilityConvention,
    encode_manifest,
    images_root,
    read_manifest,
    rebuild_command,
)
from analysis.cli import main
from analysis.registry import DatasetSpec
from tests.analysis.helpers import coco_doc, write_doc


def _build(tmp_path, **spec_kw):
    ann = write_doc(tmp_path / "ann.json", coco_doc())
    spec = DatasetSpec("ds", "val", ann, **spec_kw)
    return build_split(spec, tmp_path / "cache", progress=False), tmp_path / "cache" / "ds" / "val"


def _expected_images_schema() -> pa.Schema:
    # Written out here, not taken from analysis.cache.contract: the README's table, typed.
    return pa.schema(
        [
            ("dataset", pa.string()),
            ("split", pa.string()),
            ("image_id", pa.int64()),
            ("file_name", pa.string()),
            ("width", pa.float64()),
            ("height", pa.float64()),
            ("n_persons", pa.int32()),
            ("n_crowd_regions", pa.int32()),
            ("crowd_index", pa.float64()),
            ("crowd_index_stored", pa.float64()),
            ("source", pa.string()),
        ]
    )


def test_built_tables_have_exactly_the_contract_schemas(tmp_path):
    _, split = _build(tmp_path)
    images = pq.read_schema(split / cache.IMAGES_FILE).remove_metadata()
    instances = pq.read_schema(split / cache.INSTANCES_FILE).remove_metadata()
    assert images.equals(cache.IMAGES_SCHEMA, check_metadata=True)
    assert instances.equals(cache.INSTANCES_SCHEMA, check_metadata=True)
    assert images.equals(_expected_images_schema())
    assert instances.field("keypoints").type == pa.large_list(pa.float32())
    assert instances.field("iscrowd").type == pa.bool_() and instances.field("num_keypoints").type == pa.int32()


def test_write_parquet_conforms_a_table_to_its_schema(tmp_path):
    # pandas gives large_string / int64 / list<double>: written as the contract's types.
    import pandas as pd

    scenes = pd.DataFrame(
        {
            "dataset": ["d"],
            "split": ["s"],
            "image_id": [1],
            "entropy": [1.0],
            "top5_ids": [[1, 2, 3, 4, 5]],
            "top5_probs": [[0.2] * 5],
            "p_indoor": [0.5],
            "model": ["m"],
        }
    )
    cache.write_parquet(scenes, tmp_path / cache.SCENES_FILE)
    assert pq.read_schema(tmp_path / cache.SCENES_FILE).remove_metadata().equals(cache.SCENES_SCHEMA)
    with pytest.raises(ValueError, match=r"missing \['model'\]"):
        cache.write_parquet(scenes.drop(columns="model"), tmp_path / cache.SCENES_FILE)


def test_reader_refuses_a_table_of_another_type(tmp_path):
    _, split = _build(tmp_path)
    table = pq.read_table(split / cache.IMAGES_FILE)
    bad = table.set_column(
        table.schema.get_field_index("image_id"), "image_id", table.column("image_id").cast(pa.string())
    )
    pq.write_table(bad, split / cache.IMAGES_FILE)
    with pytest.raises(cache.CacheFileError, match="column 'image_id' is string, the cache contract says int64"):
        cache.read_images(tmp_path / "cache", cache.CacheKey("ds", "val"))


def test_manifest_round_trip_and_readable_json(tmp_path):
    images = tmp_path / "imgs"
    images.mkdir()
    result, split = _build(tmp_path, images=images)
    manifest = read_manifest(split)
    assert manifest == result.manifest
    assert isinstance(manifest, Manifest)
    text = (split / cache.MANIFEST_FILE).read_text()
    assert text.startswith('{\n  "built_at": ')  # indented, keys sorted
    raw = orjson.loads(text)
    # The README's cache-contract row: every field is there under its name.
    for key in (
        "inputs",
        "code_version",
        "schema_version",
        "options",
        "keypoint_schema",
        "definitions",
        "counts",
        "warnings",
        "timings",
        "skipped",
        "skipped_counts",
        "scenes",
        "tables",
    ):
        assert key in raw, key
    assert raw["schema_version"] == cache.SCHEMA_VERSION == 2
    assert raw["definitions"]["visibility"] == "coco"  # coco_doc uses v = 2
    assert manifest.definitions.visibility is VisibilityConvention.COCO
    assert raw["inputs"]["annotations"]["size"] == (tmp_path / "ann.json").stat().st_size
    assert raw["tables"]["instances.parquet"] == {"rows": 4, "size": (split / "instances.parquet").stat().st_size}
    assert raw["tables"]["images.parquet"]["rows"] == 3
    assert images_root(manifest) == images.resolve()
    assert encode_manifest(manifest) == text.encode()


def test_truncated_manifest_is_invalid_and_names_the_split(tmp_path):
    _, split = _build(tmp_path)
    path = split / cache.MANIFEST_FILE
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(InvalidManifestError) as info:
        read_manifest(split)
    assert str(path) in str(info.value) and "unreadable" in str(info.value)
    assert "--only ds/val" in info.value.command  # nothing left to say it was ad hoc


def test_wrongly_typed_field_is_invalid_with_its_path(tmp_path):
    _, split = _build(tmp_path)
    path = split / cache.MANIFEST_FILE
    raw = orjson.loads(path.read_bytes())
    raw["counts"]["images"] = "three"
    path.write_bytes(orjson.dumps(raw))
    with pytest.raises(InvalidManifestError, match=r"\$\.counts\.images"):
        read_manifest(split)
    raw["counts"]["images"] = 3
    raw["definitions"]["visibility"] = "binary (file uses only 0/1): v == 1 labelled and visible"  # format 1 prose
    path.write_bytes(orjson.dumps(raw))
    with pytest.raises(InvalidManifestError, match=r"\$\.definitions\.visibility"):
        read_manifest(split)


def test_older_cache_format_is_stale(tmp_path):
    _, split = _build(tmp_path)
    path = split / cache.MANIFEST_FILE
    raw = orjson.loads(path.read_bytes())
    raw["schema_version"] = 1
    path.write_bytes(orjson.dumps(raw))
    with pytest.raises(StaleCacheError, match="cache format 1, this version reads format 2") as info:
        read_manifest(split)
    ann = str((tmp_path / "ann.json").resolve())
    assert shlex.split(info.value.command) == [
        "python",
        "-m",
        "analysis",
        "build",
        "--name",
        "ds",
        "--split",
        "val",
        "--annotations",
        ann,
        "--force",
        "--cache-dir",
        str(tmp_path / "cache"),
    ]


def test_rebuild_command_rebuilds_an_ad_hoc_cache(tmp_path, capsys):
    images = tmp_path / "imgs"
    images.mkdir()
    ann = write_doc(tmp_path / "ann.json", coco_doc(n_joints=14))
    assert (
        main(
            [
                "build",
                "--name",
                "ds",
                "--split",
                "val",
                "--annotations",
                str(ann),
                "--images",
                str(images),
                "--keypoint-schema",
                "crowdpose14",
                "--cache-dir",
                str(tmp_path / "cache"),
                "--quiet",
            ]
        )
        == 0
    )
    split = tmp_path / "cache" / "ds" / "val"
    before = read_manifest(split)
    command = shlex.split(rebuild_command(split, before))
    assert command[:3] == ["python", "-m", "analysis"]
    assert "--images" in command and "crowdpose14" in command
    capsys.readouterr()
    assert main([*command[3:], "--quiet"]) == 0
    assert "ds/val: built" in capsys.readouterr().out
    after = read_manifest(split)
    assert after.options == before.options and after.keypoint_schema.name == "crowdpose14"


def test_rebuild_command_of_registered_and_demo_caches(tmp_path):
    registered = tmp_path / "cache" / "reg" / "val"
    manifest = _build(tmp_path)[0].manifest
    manifest.options.source_rule = SourceRuleRecord(field="file_name", pattern="^(?P<source>[^/]+)/")
    # a source rule exists only in the registry: the registered form
    assert rebuild_command(registered, manifest) == (
        f"python -m analysis build --only reg/val --force --cache-dir {tmp_path / 'cache'}"
    )
    manifest.synthetic = True
    assert rebuild_command(registered, manifest) == f"python -m analysis demo --force --cache-dir {tmp_path / 'cache'}"
