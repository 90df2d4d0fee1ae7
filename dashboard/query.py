"""The global filters <-> the URL query string (pure; no streamlit).

The sidebar's state is one typed object, ``dashboard.filters.Filters`` (enums, a
``SizeDefinition``, a ``PersonPopulation``); this module is its edge to text.

Keys: ``ds`` (comma-separated datasets), ``split``, ``src`` (comma-separated
sources), ``persons`` (person population: ``all``, ``keypoints``, ``labelled``,
``minN``), ``series`` (``dataset``, ``split``, ``source``), ``bucket``, ``area``,
``sm`` / ``ml`` (bucket edges as side lengths in px: 32 means 32^2; finite, in
(0, ``MAX_EDGE_PX``]), ``norm`` (``count``, ``share``).  Unknown or invalid values
fall back to defaults, so a stale bookmark never breaks the app.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from enum import Enum
from typing import TypeVar

from analysis.definitions import (
    MAX_EDGE_PX,
    MIN_EDGE_PX,
    AreaSource,
    Normalisation,
    PersonPopulation,
    SizeBucket,
    SizeDefinition,
    SizeEdges,
)
from dashboard.filters import Filters
from dashboard.series import SeriesBy

#: The value of ``split`` / ``bucket`` meaning "no restriction".
ALL = "all"
#: Bucket edges are accepted as side lengths in [MIN_EDGE_PX, MAX_EDGE_PX] (analysis.definitions):
#: squaring them never overflows nor underflows to 0 (``?sm=1e-200`` falls back to the default).

E = TypeVar("E", bound=Enum)
D = TypeVar("D")  # a default of any type (None: no value)


def edge_px(area: float) -> float:
    """A bucket edge (area, px^2) as the side length the URL and sidebar show."""
    return math.sqrt(area)


def _one(params: Mapping[str, object], key: str) -> str | None:
    value = params.get(key)
    if isinstance(value, list | tuple):
        value = value[-1] if value else None
    return None if value is None else str(value)


def _side(text: str | None) -> float | None:
    """A side length in [MIN_EDGE_PX, MAX_EDGE_PX], or None."""
    try:
        value = float(text) if text is not None else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) and MIN_EDGE_PX <= value <= MAX_EDGE_PX else None


def _enum(kind: type[E], text: str | None, default: D) -> E | D:
    try:
        return kind(text) if text is not None else default
    except ValueError:
        return default


def parse(params: Mapping[str, object], datasets: Sequence[str], splits: Sequence[str]) -> Filters:
    """Filters from query parameters, validated against what is cached."""
    ds_text = _one(params, "ds")
    chosen = tuple(d for d in (ds_text.split(",") if ds_text else []) if d in datasets) or tuple(datasets)
    split = _one(params, "split")
    src_text = _one(params, "src")
    bucket = _one(params, "bucket")
    default_edges = SizeEdges()
    sm = _side(_one(params, "sm")) or edge_px(default_edges.small_medium)
    ml = _side(_one(params, "ml")) or edge_px(default_edges.medium_large)
    edges = SizeEdges(sm**2, ml**2) if sm < ml else default_edges
    try:
        population = PersonPopulation.parse(_one(params, "persons") or "")
    except ValueError:
        population = PersonPopulation()
    return Filters(
        datasets=chosen,
        split=split if split in splits else None,
        sources=tuple(s for s in src_text.split(",") if s) if src_text else None,
        size=SizeDefinition(_enum(AreaSource, _one(params, "area"), AreaSource.BBOX), edges),
        bucket=None if bucket == ALL else _enum(SizeBucket, bucket, None),
        normalise=_enum(Normalisation, _one(params, "norm"), Normalisation.COUNT),
        population=population,
        series=_enum(SeriesBy, _one(params, "series"), SeriesBy.DATASET),
    )


def to_params(f: Filters) -> dict[str, str]:
    """Query parameters for ``f`` (defaults left out to keep URLs short; ``persons``
    always written: scripts read it, and a default may change)."""
    params = {"ds": ",".join(f.datasets)}
    if f.split is not None:
        params["split"] = f.split
    if f.sources is not None:
        params["src"] = ",".join(f.sources)
    if f.bucket is not None:
        params["bucket"] = f.bucket.value
    if f.size.area_source is not AreaSource.BBOX:
        params["area"] = f.size.area_source.value
    default_edges = SizeEdges()
    if f.size.edges.small_medium != default_edges.small_medium:
        params["sm"] = f"{edge_px(f.size.edges.small_medium):g}"
    if f.size.edges.medium_large != default_edges.medium_large:
        params["ml"] = f"{edge_px(f.size.edges.medium_large):g}"
    if f.normalise is not Normalisation.COUNT:
        params["norm"] = f.normalise.value
    if f.series is not SeriesBy.DATASET:
        params["series"] = f.series.value
    params["persons"] = str(f.population)
    return params
