"""The parquet cache: layout, atomic writes, manifests and readers.

Layout (the cache contract in DESIGN.md)::

    <root>/<dataset>/<split>/images.parquet
                             instances.parquet
                             scenes.parquet      (optional)
                             manifest.json

Every file is written to a temporary sibling and renamed into place, so an
interrupted or failed write never leaves a partial file and never destroys the
previous good one.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

if TYPE_CHECKING:  # pandas costs 0.2 s to import; the build never needs it
    import pandas as pd

#: Bumped whenever a cached column changes meaning or type.
SCHEMA_VERSION = 1
DEFAULT_CACHE_DIR = Path("data/cache")

IMAGES_FILE = "images.parquet"
INSTANCES_FILE = "instances.parquet"
SCENES_FILE = "scenes.parquet"
MANIFEST_FILE = "manifest.json"
#: An unfinished scene run's shards (see analysis.scenes.runner); kept across rebuilds.
SCENES_PARTIAL_DIR = ".scenes-partial"
#: Stored model evaluations (see analysis.evaluation.store); kept across rebuilds.
EVALUATIONS_DIR = "evaluations"

IMAGE_COLUMNS = (
    "dataset", "split", "image_id", "file_name", "width", "height", "n_persons",
    "n_crowd_regions", "crowd_index", "crowd_index_stored", "source",
)
INSTANCE_COLUMNS = (
    "dataset", "split", "ann_id", "image_id", "iscrowd", "bbox_x", "bbox_y", "bbox_w",
    "bbox_h", "bbox_area", "segm_area", "num_keypoints", "n_labelled", "n_visible",
    "crowding", "keypoints",
)
SCENE_COLUMNS = (
    "dataset", "split", "image_id", "entropy", "top5_ids", "top5_probs", "p_indoor", "model",
)


@dataclass(frozen=True)
class CacheKey:
    """One cached dataset split."""

    dataset: str
    split: str

    def directory(self, root: Path) -> Path:
        return Path(root) / self.dataset / self.split

    def __str__(self) -> str:
        return f"{self.dataset}/{self.split}"


@contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it onto ``target`` on success.

    On any exception the temporary file is removed and ``target`` is untouched.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        # mkstemp creates 0600 files; give the result the usual umask-based mode.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


#: Low-cardinality text columns; dictionary-encoding float columns (keypoints)
#: would cost more time than it saves space.
DICTIONARY_COLUMNS = ("dataset", "split", "source", "model")


def write_table(table: pa.Table, path: Path) -> None:
    """Write a parquet file (zstd) in place; callers make it atomic."""
    dictionary = [c for c in DICTIONARY_COLUMNS if c in table.column_names]
    # Byte-stream-split keypoint floats: faster to write and smaller with zstd.
    split_floats = ["keypoints.list.element"] if "keypoints" in table.column_names else False
    pq.write_table(table, path, compression="zstd", use_dictionary=dictionary, use_byte_stream_split=split_floats)


def write_parquet(table: pa.Table | pd.DataFrame, target: Path) -> None:
    """Write a parquet file atomically."""
    if not isinstance(table, pa.Table):
        table = pa.Table.from_pandas(table, preserve_index=False)
    with atomic_path(target) as tmp:
        write_table(table, tmp)


def write_json(obj: Any, target: Path) -> None:
    """Write JSON atomically (pretty, sorted keys, numpy values allowed)."""
    data = orjson.dumps(
        obj, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY
    )
    with atomic_path(target) as tmp:
        tmp.write_bytes(data + b"\n")


def read_manifest(root: Path, key: CacheKey) -> dict[str, Any] | None:
    """The manifest of a cached split, or None when there is none."""
    path = key.directory(root) / MANIFEST_FILE
    if not path.is_file():
        return None
    return orjson.loads(path.read_bytes())


def read_images(root: Path, key: CacheKey, columns: list[str] | None = None) -> pd.DataFrame:
    return pq.read_table(key.directory(root) / IMAGES_FILE, columns=columns).to_pandas()


def read_instances(root: Path, key: CacheKey, columns: list[str] | None = None) -> pd.DataFrame:
    """Instances of a split; pass ``columns`` to skip the heavy ``keypoints`` list."""
    return pq.read_table(key.directory(root) / INSTANCES_FILE, columns=columns).to_pandas()


def read_scenes(root: Path, key: CacheKey) -> pd.DataFrame | None:
    """scenes.parquet of a split, or None when scenes were not computed."""
    path = key.directory(root) / SCENES_FILE
    return pq.read_table(path).to_pandas() if path.is_file() else None


def list_caches(root: Path) -> list[CacheKey]:
    """Every split under ``root`` that has a complete cache (manifest present)."""
    root = Path(root)
    if not root.is_dir():
        return []
    keys = [
        CacheKey(manifest.parent.parent.name, manifest.parent.name)
        for manifest in root.glob(f"*/*/{MANIFEST_FILE}")
        if (manifest.parent / IMAGES_FILE).is_file() and (manifest.parent / INSTANCES_FILE).is_file()
    ]
    return sorted(keys, key=lambda k: (k.dataset, k.split))
