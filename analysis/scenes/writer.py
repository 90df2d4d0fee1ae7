"""The one writer of scene results: ``scenes.parquet`` (atomic) and ``manifest["scenes"]``.

Used by a real run (``analysis.scenes.runner``) and by the demo's synthetic results
(``analysis.demo``); torch-free.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa

from analysis.cache import MANIFEST_FILE, SCENES_FILE, write_json, write_parquet
from analysis.errors import PoseAtlasError

SCENES_SCHEMA = pa.schema([
    ("dataset", pa.string()),
    ("split", pa.string()),
    ("image_id", pa.int64()),
    ("entropy", pa.float64()),
    ("top5_ids", pa.list_(pa.int16())),
    ("top5_probs", pa.list_(pa.float32())),
    ("p_indoor", pa.float64()),
    ("model", pa.string()),
])


def write_scenes(
    cache_dir: Path, dataset: str, split: str, results: pd.DataFrame, model_id: str, facts: dict[str, Any],
) -> Path:
    """Write ``scenes.parquet`` atomically, then record ``facts`` as ``manifest["scenes"]``
    (read-modify-write, atomic: what others wrote to the manifest stays).

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
    manifest_path = cache_dir / MANIFEST_FILE
    if not manifest_path.is_file():
        raise PoseAtlasError(f"no cache at {cache_dir} (no {MANIFEST_FILE}); build the dataset first")
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
    current = orjson.loads(manifest_path.read_bytes())
    current["scenes"] = facts
    write_json(current, manifest_path)
    return scenes_path
