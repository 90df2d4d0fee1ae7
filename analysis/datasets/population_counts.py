"""Counts of persons and bbox size buckets under each person population (for ``info``).

Pure numpy over the cached instances columns; the dashboard applies the same
``PersonPopulation.mask`` in ``dashboard.filters``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow.parquet as pq

from analysis.cache import contract as cache
from analysis.definitions import (
    INFO_POPULATIONS,
    PersonPopulation,
    SizeBucket,
    SizeEdges,
    size_bucket_codes,
)

POPULATION_COLUMNS = ["iscrowd", "num_keypoints", "n_labelled", "bbox_area"]


def population_counts(
    iscrowd: npt.ArrayLike,
    num_keypoints: npt.ArrayLike,
    n_labelled: npt.ArrayLike,
    bbox_area: npt.ArrayLike,
    populations: Sequence[PersonPopulation] = INFO_POPULATIONS,
    edges: SizeEdges | None = None,
) -> dict[str, dict[str, int]]:
    """Persons and their bbox S/M/L counts per population.

    Args:
        iscrowd: (N,) crowd-region flags of every instance (crowd regions are never persons).
        num_keypoints: (N,) stored count, NaN where the file has none.
        n_labelled: (N,) labelled joints (v > 0).
        bbox_area: (N,) w*h.
        populations: which populations to count.
        edges: bucket edges (default 32^2 / 96^2; an area equal to an edge falls in the upper bucket).

    Returns:
        ``{str(population): {"persons": n, "small": n, "medium": n, "large": n}}``.
    """
    person = ~np.asarray(iscrowd, dtype=bool)
    codes = size_bucket_codes(bbox_area, edges or SizeEdges())
    out = {}
    for population in populations:
        keep = person & population.mask(num_keypoints, n_labelled)
        counts = np.bincount(codes[keep & (codes >= 0)].astype(np.int64), minlength=3)
        out[str(population)] = {
            "persons": int(keep.sum()),
            **{b.value: int(n) for b, n in zip(SizeBucket, counts, strict=True)},
        }
    return out


def cached_population_counts(root: Path, key: cache.CacheKey) -> dict[str, dict[str, int]]:
    """``population_counts`` of one cached split (reads four small columns)."""
    table = pq.read_table(key.directory(Path(root)) / cache.INSTANCES_FILE, columns=POPULATION_COLUMNS)
    column = {name: table.column(name).to_numpy(zero_copy_only=False) for name in POPULATION_COLUMNS}
    stored = table.column("num_keypoints").cast("float64").fill_null(np.nan).to_numpy(zero_copy_only=False)
    return population_counts(column["iscrowd"], stored, column["n_labelled"], column["bbox_area"])
