"""The cache tables' columns, assembled from buffers, equal pyarrow's own conversion (``pa.array``)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from analysis.build.tables import _numeric, _repeated, _strings


@pytest.mark.parametrize("n", [0, 1, 7, 8, 9, 1000])
@pytest.mark.parametrize("type_", [pa.int32(), pa.int64(), pa.float32(), pa.float64(), pa.bool_()])
def test_numeric_columns_equal_pa_array(n, type_):
    rng = np.random.default_rng(n)
    values = rng.integers(-5, 5, n) if type_ != pa.bool_() else rng.random(n) < 0.5
    if pa.types.is_floating(type_):
        values = values * 0.5
        values[::3] = np.nan  # NaN is a value, not a null
    for mask in (None, rng.random(n) < 0.3, np.ones(n, bool), np.zeros(n, bool)):
        expected = pa.array(values, type_, mask=mask)
        got = _numeric(values, type_, mask)
        assert got.type == type_
        assert got.null_count == expected.null_count
        if not pa.types.is_floating(type_):  # (NaN != NaN in lists: floats compared as arrays below)
            assert got.to_pylist() == expected.to_pylist()
        np.testing.assert_array_equal(got.to_numpy(zero_copy_only=False), expected.to_numpy(zero_copy_only=False))
        got.validate(full=True)


@pytest.mark.parametrize(
    "values",
    [
        [],
        ["a"],
        ["img/1.jpg", "ünïcødé/ß.png", "", "x" * 300],
        [None, "src", None, "日本/2.jpg", None, "", "s", "t", "u"],
        [None] * 9,
    ],
)
def test_string_columns_equal_pa_array(values):
    got = _strings(values)
    expected = pa.array(values, pa.string())
    got.validate(full=True)
    assert got.equals(expected)
    assert got.null_count == expected.null_count


@pytest.mark.parametrize(("text", "n"), [("coco", 0), ("coco", 5), ("säö-1", 3), ("", 4)])
def test_repeated_text_equals_pa_array(text, n):
    got = _repeated(text, n)
    got.validate(full=True)
    assert got.equals(pa.array([text] * n, pa.string()))
