"""Cache table columns as numpy arrays, read and written without pandas.

``python -m analysis evaluate`` reads a few columns of images.parquet and
instances.parquet and writes its detections and OKS pairs.  Going through pandas
(``Table.to_pandas``, ``pa.array``, even ``Array.to_numpy``) imports it, about a third of
the command's start-up; here each column goes from its Arrow buffers straight to numpy,
and back (``pa.Array.from_buffers``).

A column reads as ``Table.to_pandas()`` gives it: an integer column without nulls keeps
its integer type, one with nulls becomes float64 with NaN for null, a float column has NaN
for null, a boolean column without nulls is bool (a boolean null is refused: pandas would
give an object column).  ``tests/analysis/cache/test_columns.py`` checks this against
``to_pandas`` on generated tables and the fixture caches.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq

from analysis.cache.contract import CacheFileError, checked_schema

if TYPE_CHECKING:
    import pandas as pd

#: The numpy type of each fixed-width Arrow type read or written here.
_NUMPY_TYPES = {
    pa.int8(): np.int8,
    pa.int16(): np.int16,
    pa.int32(): np.int32,
    pa.int64(): np.int64,
    pa.uint8(): np.uint8,
    pa.uint16(): np.uint16,
    pa.uint32(): np.uint32,
    pa.uint64(): np.uint64,
    pa.float32(): np.float32,
    pa.float64(): np.float64,
}


class Columns(Mapping[str, np.ndarray]):
    """Named numpy columns of one table, all of one length: what ``evaluate`` reads of a
    cache table, in place of a pandas frame."""

    __slots__ = ("_data", "_rows")

    def __init__(self, data: Mapping[str, npt.ArrayLike], rows: int | None = None) -> None:
        self._data = {name: np.asarray(values) for name, values in data.items()}
        lengths = {len(v) for v in self._data.values()}
        if len(lengths) > 1:
            raise ValueError(f"columns of different lengths: { {n: len(v) for n, v in self._data.items()} }")
        self._rows = lengths.pop() if lengths else (rows or 0)

    def __getitem__(self, name: str) -> np.ndarray:
        return self._data[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        """The row count (as ``len`` of a frame)."""
        return self._rows

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(self._data)

    def take(self, rows: npt.ArrayLike) -> Columns:
        """The rows at ``rows`` (indices or a boolean mask), every column."""
        index = np.asarray(rows)
        n = int(np.count_nonzero(index)) if index.dtype == bool else len(index)
        return Columns({name: values[index] for name, values in self._data.items()}, n)

    def to_pandas(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame(self._data)


def column(table: pd.DataFrame | Columns, name: str) -> np.ndarray:
    """One column of a frame or :class:`Columns` as numpy, as :class:`Columns` holds it: a
    frame's nullable or object column becomes float64 with NaN for a missing value."""
    if isinstance(table, Columns):
        return table[name]
    series = table[name]
    if isinstance(series.dtype, np.dtype) and series.dtype.kind in "biuf":
        return series.to_numpy()
    return series.astype("Float64").to_numpy(dtype=np.float64, na_value=np.nan)


def as_columns(table: pd.DataFrame | Columns, names: Sequence[str]) -> Columns:
    """``names`` of a frame or :class:`Columns` (see :func:`column`), rows in order."""
    return Columns({name: column(table, name) for name in names}, len(table))


def as_frame(table: pd.DataFrame | Columns) -> pd.DataFrame:
    """A pandas frame of either (for the callers that need one: drawing, diagnosis)."""
    return table.to_pandas() if isinstance(table, Columns) else table


def numpy_of(array: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A fixed-width numeric or boolean Arrow column as numpy (module docstring: the types)."""
    if isinstance(array, pa.ChunkedArray):
        parts = [numpy_of(chunk) for chunk in array.chunks]
        if not parts:
            return np.zeros(0, dtype=_numpy_type(array.type))
        if len(parts) == 1:
            return parts[0]
        kinds = {p.dtype for p in parts}
        return np.concatenate(parts if len(kinds) == 1 else [p.astype(np.float64) for p in parts])
    n, offset = len(array), array.offset
    validity, data = array.buffers()[:2]
    if array.type == pa.bool_():
        if array.null_count:
            raise ValueError("a boolean column with nulls (pandas would read it as objects)")
        if data is None or n == 0:
            return np.zeros(0, bool)
        bits = np.unpackbits(np.frombuffer(data, np.uint8), bitorder="little", count=offset + n)
        return bits[offset:].astype(bool)
    dtype = np.dtype(_numpy_type(array.type))
    values = (
        np.frombuffer(data, dtype, count=n, offset=offset * dtype.itemsize).copy()
        if n and data is not None
        else np.zeros(n, dtype)
    )
    if not array.null_count:
        return values
    present = np.unpackbits(np.frombuffer(validity, np.uint8), bitorder="little", count=offset + n)[offset:]
    values = values.astype(np.float64) if dtype.kind in "iu" else values
    values[present == 0] = np.nan
    return values


def list_values(array: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """The values of a list column, all rows' lists one after the other, as numpy."""
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if not len(array):
        return np.zeros(0, dtype=_numpy_type(array.type.value_type))
    offsets = numpy_of(array.offsets)
    return numpy_of(array.values.slice(int(offsets[0]), int(offsets[-1] - offsets[0])))


def _numpy_type(type_: pa.DataType) -> type:
    if type_ == pa.bool_():
        return np.bool_
    if type_ not in _NUMPY_TYPES:
        raise TypeError(f"no numpy column for Arrow type {type_}")
    return _NUMPY_TYPES[type_]


def read_columns(path: Path, names: Sequence[str]) -> Columns:
    """Columns ``names`` of a cache table file, schema checked (``CacheFileError`` when
    damaged), as :func:`numpy_of` reads them."""
    checked_schema(path, list(names))
    try:
        table = pq.ParquetFile(path).read(columns=list(names))
        return Columns({name: numpy_of(table.column(name)) for name in names}, table.num_rows)
    except (OSError, pa.ArrowException) as exc:
        raise CacheFileError(f"{path}: unreadable parquet file ({exc})") from None


def validity_bitmap(null_mask: npt.ArrayLike | None) -> pa.Buffer | None:
    """Arrow's validity bitmap (bit set = value present, least significant bit first)."""
    if null_mask is None or not np.asarray(null_mask).any():
        return None
    return pa.py_buffer(np.packbits(~np.asarray(null_mask, bool), bitorder="little"))


def arrow_of(values: npt.ArrayLike, type_: pa.DataType, null_mask: npt.ArrayLike | None = None) -> pa.Array:
    """A numeric or boolean Arrow array built from numpy (``null_mask`` marks nulls), without
    ``pa.array`` (which imports pandas)."""
    values = np.asarray(values)
    if type_ == pa.bool_():
        data = pa.py_buffer(np.packbits(values.astype(bool, copy=False), bitorder="little"))
    else:
        data = pa.py_buffer(np.ascontiguousarray(values, dtype=_numpy_type(type_)))
    return pa.Array.from_buffers(type_, len(values), [validity_bitmap(null_mask), data])
