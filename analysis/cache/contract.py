"""The parquet cache: layout, atomic writes and table readers (manifests: :mod:`analysis.cache.manifest`).

Layout (the cache contract; the README's "Cache contract" section)::

    <root>/<dataset>/<split>/images.parquet
                             instances.parquet
                             scenes.parquet      (optional)
                             manifest.json       (analysis.cache.manifest.Manifest)

The Arrow schemas below are the tables' exact column types: the build and the
scenes run write them, the readers check them, the benchmarks' synthetic caches
use them.  Every file is written to a temporary sibling and renamed into place, so an
interrupted or failed write never leaves a partial file and never destroys the
previous good one.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

# Re-exported: the CLI's parsers import them from analysis.cache.key without pyarrow.
from analysis.cache.key import DEFAULT_CACHE_DIR as DEFAULT_CACHE_DIR
from analysis.cache.key import CacheKey as CacheKey
from analysis.errors import PoseAtlasError
from analysis.names import is_valid_name

if TYPE_CHECKING:  # pandas costs 0.2 s to import; the build never needs it
    import pandas as pd

#: The cache format: bumped whenever a cached column or a manifest field changes
#: meaning or type.  A cache of another format is stale: ``build`` rebuilds it,
#: ``info`` and the dashboard name it and the command that rebuilds it.
SCHEMA_VERSION = 2

IMAGES_FILE = "images.parquet"
INSTANCES_FILE = "instances.parquet"
SCENES_FILE = "scenes.parquet"
MANIFEST_FILE = "manifest.json"
#: An unfinished scene run's shards (see analysis.scenes.runner); kept across rebuilds.
SCENES_PARTIAL_DIR = ".scenes-partial"
#: Stored model evaluations (see analysis.evaluation.store); kept across rebuilds.
EVALUATIONS_DIR = "evaluations"

#: images.parquet: one row per image (M rows).  Nulls: width/height when the file
#: has none, crowd_index_stored when the file stores none, source when unknown.
IMAGES_SCHEMA = pa.schema(
    [
        ("dataset", pa.string()),
        ("split", pa.string()),
        ("image_id", pa.int64()),
        ("file_name", pa.string()),
        ("width", pa.float64()),
        ("height", pa.float64()),
        ("n_persons", pa.int32()),  # non-crowd annotations
        ("n_crowd_regions", pa.int32()),
        ("crowd_index", pa.float64()),
        ("crowd_index_stored", pa.float64()),
        ("source", pa.string()),
    ]
)
#: instances.parquet: one row per annotation (N rows), crowd regions included.
#: Nulls: segm_area when absent, num_keypoints when the file stores none.
INSTANCES_SCHEMA = pa.schema(
    [
        ("dataset", pa.string()),
        ("split", pa.string()),
        ("ann_id", pa.int64()),
        ("image_id", pa.int64()),
        ("iscrowd", pa.bool_()),
        ("bbox_x", pa.float64()),
        ("bbox_y", pa.float64()),
        ("bbox_w", pa.float64()),
        ("bbox_h", pa.float64()),
        ("bbox_area", pa.float64()),
        ("segm_area", pa.float64()),
        ("num_keypoints", pa.int32()),
        ("n_labelled", pa.int32()),
        ("n_visible", pa.int32()),
        ("crowding", pa.float64()),
        ("keypoints", pa.large_list(pa.field("element", pa.float32()))),  # 3K values: x, y, v per joint
    ]
)
#: scenes.parquet (optional): one row per classified image, in images.parquet order.
SCENES_SCHEMA = pa.schema(
    [
        ("dataset", pa.string()),
        ("split", pa.string()),
        ("image_id", pa.int64()),
        ("entropy", pa.float64()),
        ("top5_ids", pa.list_(pa.field("element", pa.int16()))),
        ("top5_probs", pa.list_(pa.field("element", pa.float32()))),
        ("p_indoor", pa.float64()),
        ("model", pa.string()),
    ]
)
#: The schema of each table file.  List items are named "element", as parquet
#: reads them back, so a file's schema equals these exactly.
TABLE_SCHEMAS: dict[str, pa.Schema] = {
    IMAGES_FILE: IMAGES_SCHEMA,
    INSTANCES_FILE: INSTANCES_SCHEMA,
    SCENES_FILE: SCENES_SCHEMA,
}
IMAGE_COLUMNS = tuple(IMAGES_SCHEMA.names)
INSTANCE_COLUMNS = tuple(INSTANCES_SCHEMA.names)


def swap_in(staging: Path, target: Path, retired: Path) -> None:
    """Replace the folder ``target`` by ``staging`` (two renames; ``target`` may not exist yet).

    The old folder is renamed to ``retired`` first and deleted once the new one is in
    place; if the second rename fails the old folder is put back.  A crash between the
    renames leaves only ``retired``, which the next writer renames back.
    """
    shutil.rmtree(retired, ignore_errors=True)
    if target.exists():
        os.replace(target, retired)
    try:
        os.replace(staging, target)
    except BaseException:
        if retired.exists() and not target.exists():
            os.replace(retired, target)
        raise
    shutil.rmtree(retired, ignore_errors=True)


@contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it onto ``target`` on success.

    On any exception the temporary file is removed and ``target`` is untouched.
    """
    target = Path(target)
    tmp = temporary_sibling(target)
    try:
        yield tmp
        give_default_mode(tmp)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def temporary_sibling(target: Path) -> Path:
    """A new empty file beside ``target`` (its folder made if needed), to be renamed onto it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    return Path(tmp_name)


def give_default_mode(path: Path) -> None:
    """mkstemp creates 0600 files; give ``path`` the usual umask-based mode before publishing it."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


#: Low-cardinality text columns; dictionary-encoding float columns (keypoints)
#: would cost more time than it saves space.
DICTIONARY_COLUMNS = ("dataset", "split", "source", "model")


class CacheFileError(PoseAtlasError):
    """A cache file that is unreadable or not of the cache contract's schema."""


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` with exactly ``schema``'s columns, in order, cast to its types.

    Raises:
        ValueError: a column is missing or extra, or a value does not fit the type.
    """
    if set(table.column_names) != set(schema.names):
        missing = sorted(set(schema.names) - set(table.column_names))
        extra = sorted(set(table.column_names) - set(schema.names))
        raise ValueError(f"columns differ from the cache schema: missing {missing}, extra {extra}")
    return table.select(schema.names).cast(schema).replace_schema_metadata(None)


def write_table(table: pa.Table, path: Path, schema: pa.Schema | None = None) -> None:
    """Write a parquet file (zstd) in place; callers make it atomic.

    ``schema``: write exactly this schema (see :func:`conform`); default: the
    contract's schema when ``path`` is named like one of its tables (``TABLE_SCHEMAS``).
    """
    expected = schema if schema is not None else TABLE_SCHEMAS.get(Path(path).name)
    if expected is not None and not table.schema.equals(expected):
        table = conform(table, expected)
    dictionary = [c for c in DICTIONARY_COLUMNS if c in table.column_names]
    # Byte-stream-split keypoint floats: faster to write and smaller with zstd.
    split_floats = ["keypoints.list.element"] if "keypoints" in table.column_names else False
    pq.write_table(table, path, compression="zstd", use_dictionary=dictionary, use_byte_stream_split=split_floats)


def write_parquet(table: pa.Table | pd.DataFrame, target: Path) -> None:
    """Write a parquet file atomically (in the contract's schema when it is one of its tables)."""
    if not isinstance(table, pa.Table):
        table = pa.Table.from_pandas(table, preserve_index=False)
    with atomic_path(target) as tmp:
        write_table(table, tmp, TABLE_SCHEMAS.get(Path(target).name))


def write_json(obj: Any, target: Path) -> None:
    """Write JSON atomically (pretty, sorted keys, numpy values allowed)."""
    data = orjson.dumps(obj, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY)
    with atomic_path(target) as tmp:
        tmp.write_bytes(data + b"\n")


def checked_schema(path: Path, columns: list[str] | None = None) -> pa.Schema:
    """The schema of a contract table file, checked against ``TABLE_SCHEMAS``.

    Only the footer is read.  ``columns``: check only these.

    Raises:
        CacheFileError: unreadable, or a column missing or of another type.
    """
    expected = TABLE_SCHEMAS[path.name]
    try:
        actual = pq.read_schema(path)
    except (OSError, pa.ArrowException) as exc:
        raise CacheFileError(f"{path}: unreadable parquet file ({exc})") from None
    for name in columns or expected.names:
        want = expected.field(name).type
        if name not in actual.names:
            raise CacheFileError(f"{path}: column {name!r} missing")
        got = actual.field(name).type
        if got != want:
            raise CacheFileError(f"{path}: column {name!r} is {got}, the cache contract says {want}")
    return actual


def _read(path: Path, columns: list[str] | None) -> pd.DataFrame:
    checked_schema(path, columns)
    try:
        return pq.read_table(path, columns=columns).to_pandas()
    except (OSError, pa.ArrowException) as exc:
        raise CacheFileError(f"{path}: unreadable parquet file ({exc})") from None


def read_images(root: Path, key: CacheKey, columns: list[str] | None = None) -> pd.DataFrame:
    """images.parquet of a split (schema checked; ``CacheFileError`` when damaged)."""
    return _read(key.directory(root) / IMAGES_FILE, columns)


def read_instances(root: Path, key: CacheKey, columns: list[str] | None = None) -> pd.DataFrame:
    """Instances of a split; pass ``columns`` to skip the heavy ``keypoints`` list."""
    return _read(key.directory(root) / INSTANCES_FILE, columns)


def read_scenes(root: Path, key: CacheKey) -> pd.DataFrame | None:
    """scenes.parquet of a split, or None when scenes were not computed."""
    path = key.directory(root) / SCENES_FILE
    return _read(path, None) if path.is_file() else None


def table_rows(path: Path) -> int:
    """Row count from a parquet footer (``CacheFileError`` when unreadable)."""
    try:
        return pq.read_metadata(path).num_rows
    except (OSError, pa.ArrowException) as exc:
        raise CacheFileError(f"{path}: unreadable parquet file ({exc})") from None


# --------------------------------------------------------------------------- concurrency


def lock_path(split_dir: Path) -> Path:
    """``<dataset>/.<split>.lock``: beside the split, so it survives the swap."""
    return split_dir.parent / f".{split_dir.name}.lock"


@contextmanager
def split_lock(split_dir: Path) -> Iterator[None]:
    """Hold an exclusive lock on one split (``fcntl.flock``; waits for the holder).

    Builds and the scenes run's manifest update take it, so two of them never
    interleave their swaps and manifest writes.  The lock goes with the process.
    When the split still does not exist on release (a failed first build), the lock
    file and an empty dataset folder are removed: bad input leaves nothing behind.
    """
    split_dir = Path(split_dir)
    path = lock_path(split_dir)
    while True:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fh = open(path, "a+b")  # noqa: SIM115 - held across the yield
        except FileNotFoundError:  # the folder was just removed by a releasing holder
            continue
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            # A releasing holder may have unlinked the file we waited on: lock the current one.
            if os.stat(path).st_ino == os.fstat(fh.fileno()).st_ino:
                break
        except FileNotFoundError:
            pass
        fh.close()
    try:
        yield
    finally:
        if not split_dir.exists():
            path.unlink(missing_ok=True)
            with suppress(OSError):
                path.parent.rmdir()  # only when empty
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        fh.close()


def staging_dir(split_dir: Path, pid: int) -> Path:
    """Where the process ``pid`` stages a new build of ``split_dir``."""
    return split_dir.parent / f".{split_dir.name}.building-{pid}"


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def remove_stale_staging(split_dir: Path) -> list[Path]:
    """Remove the staging folders of builds of ``split_dir`` whose process is gone.

    Returns:
        The folders removed.
    """
    removed: list[Path] = []
    prefix = f".{split_dir.name}.building-"
    if not split_dir.parent.is_dir():
        return removed
    for folder in split_dir.parent.glob(f"{prefix}*"):
        pid_text = folder.name[len(prefix) :]
        if pid_text.isdigit() and int(pid_text) != os.getpid() and not _process_alive(int(pid_text)):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def list_caches(root: Path) -> list[CacheKey]:
    """Every split under ``root`` with a manifest (its tables readable, damaged or missing:
    a split whose ``instances.parquet`` was deleted is listed, so that ``info`` and the
    dashboard name it as damaged instead of dropping it silently)."""
    root = Path(root)
    if not root.is_dir():
        return []
    keys = [
        CacheKey(manifest.parent.parent.name, manifest.parent.name)
        for manifest in root.glob(f"*/*/{MANIFEST_FILE}")
        # a folder whose name breaks the naming rule was not made by a build: not listed
        if is_valid_name(manifest.parent.parent.name) and is_valid_name(manifest.parent.name)
    ]
    return sorted(keys, key=lambda k: (k.dataset, k.split))
