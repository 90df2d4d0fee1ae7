"""analysis.cache.columns reads Arrow columns as pandas' to_pandas() gives them, and writes
them back, without pandas: generated tables (nulls, offsets, several chunks) and the
caches of the real fixture files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from analysis.cache.columns import Columns, as_columns, column, list_values, numpy_of, read_columns
from analysis.cache.contract import IMAGES_SCHEMA, INSTANCES_SCHEMA, CacheFileError, read_images, read_instances
from tests.analysis.evaluation.reference import build
from tests.conftest import require_fixtures

TYPES = [pa.int8(), pa.int32(), pa.int64(), pa.uint16(), pa.float32(), pa.float64()]


def _assert_same(ours: np.ndarray, reference: np.ndarray) -> None:
    assert ours.dtype == reference.dtype, (ours.dtype, reference.dtype)
    np.testing.assert_array_equal(ours, reference)  # NaN == NaN here


@pytest.mark.parametrize("type_", TYPES, ids=str)
@pytest.mark.parametrize("with_nulls", [False, True])
def test_numeric_columns_read_as_to_pandas(type_: pa.DataType, with_nulls: bool) -> None:
    rng = np.random.default_rng(7)
    values = [None if with_nulls and rng.random() < 0.3 else int(v) for v in rng.integers(0, 100, 50)]
    values[3] = None if with_nulls else values[3]
    array = pa.array(values, type_)
    chunked = pa.chunked_array([array.slice(0, 17), array.slice(17, 1), array.slice(18)])  # offsets, 3 chunks
    for arrow in (array, array.slice(5, 30), chunked):
        table = pa.table({"c": arrow})
        _assert_same(numpy_of(table.column("c")), table.to_pandas()["c"].to_numpy())


@pytest.mark.parametrize("offset", [0, 3, 9])
def test_boolean_columns_and_their_bit_offsets(offset: int) -> None:
    values = np.random.default_rng(offset).random(40) < 0.5
    array = pa.array(values).slice(offset, 25)
    _assert_same(numpy_of(array), array.to_numpy(zero_copy_only=False))
    with pytest.raises(ValueError, match="boolean column with nulls"):
        numpy_of(pa.array([True, None, False]))


def test_empty_columns_and_list_values() -> None:
    assert numpy_of(pa.chunked_array([], pa.int64())).dtype == np.int64
    lists = pa.array([[1.0, 2.0], [], [3.0, 4.0, 5.0], [6.0]], pa.large_list(pa.float32()))
    for arrow in (lists, lists.slice(1, 2), pa.chunked_array([lists.slice(0, 2), lists.slice(2)])):
        expected = np.concatenate([np.asarray(v, np.float32) for v in arrow.to_pylist() if v] or [np.zeros(0)])
        np.testing.assert_array_equal(list_values(arrow), expected.astype(np.float32))


def test_frames_convert_like_the_old_pandas_reads() -> None:
    """A hand-made frame (object columns with None, nullable dtypes) gives what the
    evaluation's `.astype("Float64").to_numpy(na_value=nan)` reads gave."""
    frame = pd.DataFrame(
        {
            "segm_area": [1.5, None, 3.0],
            "num_keypoints": pd.array([4, None, 0], dtype="Int32"),
            "iscrowd": [False, True, False],
            "ann_id": np.array([3, 1, 2], np.int64),
        }
    )
    cols = as_columns(frame, ["segm_area", "num_keypoints", "iscrowd", "ann_id"])
    for name in ("segm_area", "num_keypoints"):
        old = frame[name].astype("Float64").to_numpy(dtype=np.float64, na_value=np.nan)
        _assert_same(cols[name], old)
    _assert_same(cols["iscrowd"], frame["iscrowd"].to_numpy(bool))
    _assert_same(column(cols, "ann_id"), frame["ann_id"].to_numpy(np.int64))
    assert len(cols) == 3 and cols.take(np.array([True, False, True]))["ann_id"].tolist() == [3, 2]
    assert len(Columns({}, rows=4)) == 4


def test_fixture_caches_read_as_to_pandas(tmp_path) -> None:
    """Every numeric column of real fixture caches (nullable num_keypoints, segm_area,
    crowd_index_stored included) equals to_pandas()."""
    fixtures = require_fixtures()
    nulls = set()
    for i, relative in enumerate(
        [
            "coco-mini/annotations/person_keypoints_val2017.json",
            "xtcocoapi/example_crowdpose_val.json",  # no area: null segm_area; stored crowdIndex
            "mmpose/aic/test_aic.json",
        ]
    ):
        root, key, _ = build(tmp_path / str(i), fixtures / relative)
        for read, schema, name in (
            (read_images, IMAGES_SCHEMA, "images"),
            (read_instances, INSTANCES_SCHEMA, "instances"),
        ):
            names = [f.name for f in schema if f.type not in (pa.string(),) and not pa.types.is_list(f.type)
                     and not pa.types.is_large_list(f.type)]  # fmt: skip
            frame = read(root, key, columns=names)
            ours = read_columns(key.directory(root) / f"{name}.parquet", names)
            assert len(ours) == len(frame)
            for n in names:
                _assert_same(ours[n], frame[n].to_numpy())
                if ours[n].dtype.kind == "f" and np.isnan(ours[n]).any():
                    nulls.add(n)
        path = key.directory(root) / "instances.parquet"
        keypoints = pq.read_table(path, columns=["keypoints"]).column("keypoints")
        np.testing.assert_array_equal(list_values(keypoints), keypoints.combine_chunks().flatten().to_numpy())
    assert {"segm_area", "crowd_index_stored"} <= nulls  # the null paths ran on real files


def test_unreadable_file_is_one_clear_error(tmp_path) -> None:
    path = tmp_path / "instances.parquet"
    pq.write_table(pa.table({"ann_id": pa.array([1], pa.int64())}), path)
    with pytest.raises(CacheFileError, match="instances.parquet"):
        read_columns(path, ["ann_id", "segm_area"])
