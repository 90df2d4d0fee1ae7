"""The one writer of scene results: ``scenes.parquet`` (atomic) and ``manifest.scenes``.

Used by a real run (``analysis.scenes.runner``) and by the demo's synthetic results
(``analysis.demo``); torch-free.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from analysis.cache.contract import SCENES_FILE, SCENES_SCHEMA, split_lock, write_parquet
from analysis.cache.manifest import ScenesFacts, read_manifest, table_file, write_manifest
from analysis.errors import PoseAtlasError


def write_scenes(
    cache_dir: Path,
    dataset: str,
    split: str,
    results: pd.DataFrame,
    model_id: str,
    facts: ScenesFacts,
) -> Path:
    """Write ``scenes.parquet`` atomically, then record ``facts`` (and the table's size and
    rows) in the split's manifest: read-modify-write under the split's lock, so a build
    swapping the split meanwhile is never undone by an old manifest.

    Args:
        cache_dir: ``<root>/<dataset>/<split>``, with its manifest.
        results: one row per classified image, index ``image_id`` (in images.parquet
            order), columns ``entropy``, ``top5_ids``, ``top5_probs``, ``p_indoor``.
        model_id: the ``model`` column's value.
        facts: the run's description for the manifest.

    Returns:
        Path of scenes.parquet.
    """
    cache_dir = Path(cache_dir)
    if read_manifest(cache_dir) is None:
        raise PoseAtlasError(f"no cache at {cache_dir} (no manifest.json); build the dataset first")
    table = pa.table(
        {
            "dataset": pa.array([dataset] * len(results), pa.string()),
            "split": pa.array([split] * len(results), pa.string()),
            "image_id": pa.array(results.index.to_numpy(dtype=np.int64), pa.int64()),
            "entropy": pa.array(results["entropy"].to_numpy(dtype=np.float64), pa.float64()),
            "top5_ids": pa.array([list(v) for v in results["top5_ids"]], pa.list_(pa.int16())),
            "top5_probs": pa.array([list(v) for v in results["top5_probs"]], pa.list_(pa.float32())),
            "p_indoor": pa.array(results["p_indoor"].to_numpy(dtype=np.float64), pa.float64()),
            "model": pa.array([model_id] * len(results), pa.string()),
        },
        schema=SCENES_SCHEMA,
    )
    scenes_path = cache_dir / SCENES_FILE
    write_parquet(table, scenes_path)
    with split_lock(cache_dir):
        current = read_manifest(cache_dir)
        if current is None:
            raise PoseAtlasError(f"no cache at {cache_dir} (no manifest.json); build the dataset first")
        current.scenes = facts
        current.tables[SCENES_FILE] = table_file(scenes_path)
        write_manifest(current, cache_dir)
    return scenes_path
