"""The global filters <-> the URL query string (pure; no streamlit).

The sidebar's state is one typed object, ``dashboard.filters.Filters`` (enums, a
``SizeDefinition``, a ``PersonPopulation``); this module is its edge to text.

Keys: ``ds`` (comma-separated datasets), ``split``, ``src`` (comma-separated
sources), ``persons`` (person population: ``all``, ``keypoints``, ``labelled``,
``minN``), ``series`` (``dataset``, ``split``, ``source``), ``bucket``, ``area``,
``sm`` / ``ml`` (bucket edges as side lengths in px: 32 means 32^2; finite, in
(0, ``MAX_EDGE_PX``]), ``norm`` (``count``, ``share``).  Unknown or invalid values
fall back to defaults, so a stale bookmark never breaks the app; ``parse(..., strict=True)``
(the paper export, ``analysis.api``) refuses them instead with one ``QueryError`` line,
since a paper's figure must be exactly what was asked.  ``url_params`` reads a URL (or its
query string) into parameters, refusing unknown or repeated keys.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from enum import Enum
from typing import TypeVar
from urllib.parse import parse_qsl, urlsplit

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
from analysis.errors import PoseAtlasError
from dashboard.filters import Filters
from dashboard.series import SeriesBy

#: The value of ``split`` / ``bucket`` meaning "no restriction".
ALL = "all"
#: Bucket edges are accepted as side lengths in [MIN_EDGE_PX, MAX_EDGE_PX] (analysis.definitions):
#: squaring them never overflows nor underflows to 0 (``?sm=1e-200`` falls back to the default).

E = TypeVar("E", bound=Enum)
D = TypeVar("D")  # a default of any type (None: no value)

#: Every query key: the filters' (in the order the module docstring lists them), then the
#: qualitative panels' ``images`` (comma-separated image ids) and ``model`` (a stored model's
#: label), which only the paper export reads (``exports.cli.panel_options``; ``parse`` ignores them).
KEYS = ("ds", "split", "src", "bucket", "area", "sm", "ml", "norm", "persons", "series", "images", "model")


class QueryError(PoseAtlasError):
    """A URL or value the strict parser refuses: one line, without the input's name (the
    caller prefixes ``--url:`` or the spec entry)."""


def url_params(text: str) -> dict[str, str]:
    """Query parameters of a dashboard URL, or of just its query string.

    Raises QueryError for an empty or malformed URL, or an unknown or repeated key.
    """
    text = text.strip()
    if not text:
        raise QueryError("empty (give a dashboard URL or its query string, e.g. ds=coco&bucket=small)")
    try:
        parts = urlsplit(text)
    except ValueError as exc:  # e.g. "Invalid IPv6 URL"
        raise QueryError(f"{text!r} is not a valid URL ({exc})") from None
    if parts.scheme and parts.scheme not in ("http", "https"):
        raise QueryError(f"{text!r} is not an http(s) URL or a query string")
    is_url = bool(parts.scheme or parts.netloc) or text.startswith(("/", "?"))
    qs = parts.query if is_url else text
    try:
        pairs = parse_qsl(qs, keep_blank_values=True, strict_parsing=bool(qs))
    except ValueError:
        raise QueryError(f"{text!r}: malformed query string (expected key=value&key=value)") from None
    params: dict[str, str] = {}
    for key, value in pairs:
        if key not in KEYS:
            raise QueryError(f"unknown query key {key!r} (known: {', '.join(KEYS)})")
        if key in params:
            raise QueryError(f"query key {key!r} given twice")
        params[key] = value
    return params


def edge_px(area: float) -> float:
    """A bucket edge (area, px^2) as the side length the URL and sidebar show."""
    return math.sqrt(area)


def _one(params: Mapping[str, object], key: str) -> str | None:
    value = params.get(key)
    if isinstance(value, list | tuple):
        value = value[-1] if value else None
    return None if value is None else str(value)


def checked_side(key: str, text: str) -> float:
    """``sm`` / ``ml``: a side length in [MIN_EDGE_PX, MAX_EDGE_PX] (px), else QueryError."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not MIN_EDGE_PX <= value <= MAX_EDGE_PX:  # NaN fails too
        raise QueryError(f"{key}={text!r} is not a side length in px in [{MIN_EDGE_PX:g}, {MAX_EDGE_PX:g}]")
    return value


def _side(key: str, text: str | None) -> float | None:
    """A side length in [MIN_EDGE_PX, MAX_EDGE_PX], or None."""
    try:
        return None if text is None else checked_side(key, text)
    except QueryError:
        return None


def _enum(kind: type[E], text: str | None, default: D) -> E | D:
    try:
        return kind(text) if text is not None else default
    except ValueError:
        return default


def _choice(key: str, value: str, choices: Sequence[str]) -> None:
    if value not in choices:
        raise QueryError(f"{key}={value!r} is not one of {', '.join(choices)}")


#: The sources of the given datasets' images (``dashboard.filters.sources_of`` over the caches).
SourcesOf = Callable[[Sequence[str]], Sequence[str]]


def _check_datasets(params: Mapping[str, str], datasets: Sequence[str]) -> list[str]:
    names = [d for d in params.get("ds", "").split(",") if d]
    if "ds" in params and not names:
        raise QueryError("ds= names no dataset")
    unknown = [d for d in names if d not in datasets]
    if unknown:
        raise QueryError(f"dataset {', '.join(unknown)} not in the caches (cached: {', '.join(datasets) or 'none'})")
    return names


def _check_sources(text: str, have: Sequence[str]) -> None:
    bad = [s for s in text.split(",") if s and s not in have]
    if bad:
        raise QueryError(f"source {', '.join(bad)} not found (sources: {', '.join(have) or 'none'})")


def _check_population(text: str) -> None:
    try:
        PersonPopulation.parse(text)
    except ValueError as exc:
        raise QueryError(f"persons={text!r}: {exc}") from None


def _check(params: Mapping[str, str], datasets: Sequence[str], splits: Sequence[str], sources_of: SourcesOf) -> None:
    """Refuse what :func:`parse` would silently replace by a default (the strict mode)."""
    names = _check_datasets(params, datasets)
    if "split" in params:
        _choice("split", params["split"], [ALL, *splits])
    if "src" in params:
        _check_sources(params["src"], sources_of(names or datasets))
    choices = {
        "bucket": [ALL, *SizeBucket.names()],
        "area": [a.value for a in AreaSource],
        "norm": [n.value for n in Normalisation],
        "series": [s.value for s in SeriesBy],
    }
    for key, allowed in choices.items():
        if key in params:
            _choice(key, params[key], allowed)
    if "persons" in params:
        _check_population(params["persons"])
    default = SizeEdges()
    sm = checked_side("sm", params["sm"]) if "sm" in params else edge_px(default.small_medium)
    ml = checked_side("ml", params["ml"]) if "ml" in params else edge_px(default.medium_large)
    if not sm < ml:
        raise QueryError(f"edges must satisfy sm < ml (got sm={sm:g}, ml={ml:g})")


def parse(
    params: Mapping[str, object],
    datasets: Sequence[str],
    splits: Sequence[str],
    *,
    strict: bool = False,
    sources_of: SourcesOf | None = None,
) -> Filters:
    """Filters from query parameters, validated against what is cached.

    Lenient by default: an unknown or invalid value falls back to its default.  With
    ``strict`` (``params`` as :func:`url_params` returns them; ``sources_of`` required), a
    value that would fall back raises QueryError instead: an unknown dataset, split, source,
    bucket, area source, normalisation, series or population, an edge outside
    [MIN_EDGE_PX, MAX_EDGE_PX], or ``sm >= ml``.
    """
    if strict:
        if sources_of is None:
            raise TypeError("parse(strict=True) needs sources_of")
        _check({k: str(v) for k, v in params.items()}, datasets, splits, sources_of)
    ds_text = _one(params, "ds")
    chosen = tuple(d for d in (ds_text.split(",") if ds_text else []) if d in datasets) or tuple(datasets)
    split = _one(params, "split")
    src_text = _one(params, "src")
    bucket = _one(params, "bucket")
    default_edges = SizeEdges()
    sm = _side("sm", _one(params, "sm")) or edge_px(default_edges.small_medium)
    ml = _side("ml", _one(params, "ml")) or edge_px(default_edges.medium_large)
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
