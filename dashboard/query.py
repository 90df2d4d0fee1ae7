"""The global controls <-> the URL query string (pure; no streamlit).

Keys: ``ds`` (comma-separated datasets), ``split``, ``src`` (comma-separated
sources), ``persons`` (person population: ``all``, ``keypoints``, ``labelled``,
``minN``), ``series`` (``dataset``, ``split``, ``source``), ``bucket``, ``area``, ``sm`` / ``ml`` (bucket edges as side lengths in
px: 32 means 32^2; finite, in (0, ``MAX_EDGE_PX``]), ``norm``.  Unknown or invalid
values fall back to defaults, so a stale bookmark never breaks the app.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from analysis.definitions import AreaSource, PersonPopulation, SizeBucket, SizeDefinition, SizeEdges
from dashboard.filters import NORMALISATIONS, Filters
from dashboard.series import SeriesBy

ALL = "all"
#: Largest bucket edge accepted, as a side length in px (area 1e10 px^2): beyond any
#: real image, and small enough that squaring it never overflows.
MAX_EDGE_PX = 100_000.0


@dataclass(frozen=True)
class Controls:
    """The sidebar's values (what the query string stores)."""

    datasets: tuple[str, ...]
    split: str = ALL
    sources: tuple[str, ...] | None = None
    bucket: str = ALL
    area: str = AreaSource.BBOX.value
    small_medium: float = 32.0
    medium_large: float = 96.0
    normalise: str = "count"
    population: str = str(PersonPopulation())
    series: str = SeriesBy.DATASET.value

    def to_filters(self) -> Filters:
        return Filters(
            datasets=self.datasets,
            split=None if self.split == ALL else self.split,
            sources=self.sources,
            size=SizeDefinition(AreaSource(self.area),
                                SizeEdges(self.small_medium**2, self.medium_large**2)),
            bucket=None if self.bucket == ALL else SizeBucket(self.bucket),
            normalise=self.normalise,
            population=PersonPopulation.parse(self.population),
            series=SeriesBy(self.series),
        )


def _one(params: Mapping[str, object], key: str) -> str | None:
    value = params.get(key)
    if isinstance(value, list | tuple):
        value = value[-1] if value else None
    return None if value is None else str(value)


def _num(text: str | None, default: float) -> float:
    try:
        value = float(text) if text is not None else default
    except ValueError:
        return default
    return value if math.isfinite(value) and 0 < value <= MAX_EDGE_PX else default


def parse(params: Mapping[str, object], datasets: Sequence[str], splits: Sequence[str]) -> Controls:
    """Controls from query parameters, validated against what is cached."""
    ds_text = _one(params, "ds")
    chosen = tuple(d for d in (ds_text.split(",") if ds_text else []) if d in datasets)
    if not chosen:
        chosen = tuple(datasets)
    split = _one(params, "split") or ALL
    if split != ALL and split not in splits:
        split = ALL
    src_text = _one(params, "src")
    sources = tuple(s for s in src_text.split(",") if s) if src_text else None
    bucket = _one(params, "bucket") or ALL
    if bucket not in [ALL] + [b.value for b in SizeBucket]:
        bucket = ALL
    area = _one(params, "area") or AreaSource.BBOX.value
    if area not in [a.value for a in AreaSource]:
        area = AreaSource.BBOX.value
    sm = _num(_one(params, "sm"), 32.0)
    ml = _num(_one(params, "ml"), 96.0)
    if not sm < ml:
        sm, ml = 32.0, 96.0
    norm = _one(params, "norm") or "count"
    if norm not in NORMALISATIONS:
        norm = "count"
    try:
        population = str(PersonPopulation.parse(_one(params, "persons") or ""))
    except ValueError:
        population = str(PersonPopulation())
    series = _one(params, "series") or SeriesBy.DATASET.value
    if series not in [s.value for s in SeriesBy]:
        series = SeriesBy.DATASET.value
    return Controls(chosen, split, sources, bucket, area, sm, ml, norm, population, series)


def to_params(c: Controls) -> dict[str, str]:
    """Query parameters for ``c`` (defaults left out to keep URLs short)."""
    params = {"ds": ",".join(c.datasets)}
    if c.split != ALL:
        params["split"] = c.split
    if c.sources is not None:
        params["src"] = ",".join(c.sources)
    if c.bucket != ALL:
        params["bucket"] = c.bucket
    if c.area != AreaSource.BBOX.value:
        params["area"] = c.area
    if c.small_medium != 32.0:
        params["sm"] = f"{c.small_medium:g}"
    if c.medium_large != 96.0:
        params["ml"] = f"{c.medium_large:g}"
    if c.normalise != "count":
        params["norm"] = c.normalise
    if c.series != SeriesBy.DATASET.value:
        params["series"] = c.series
    params["persons"] = c.population  # always written: scripts read it, and the default may change
    return params
