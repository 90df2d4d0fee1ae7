"""Cached data functions (Streamlit): one load per cache, shared by every session.

Loaded frames are returned by reference (``st.cache_resource``) and treated as
read-only by every view; the key includes the manifests' modification times, so a
rebuild is picked up on the next rerun without restarting the server.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from analysis.cache import contract as cache
from analysis.cache.contract import CacheKey
from analysis.definitions import AreaSource, SizeDefinition, SizeEdges
from dashboard import evaluations, paths
from dashboard.caches import Caches, load_caches, load_keypoints
from dashboard.evaluations import StoredModel
from dashboard.exports.state import resolve
from dashboard.figures.models import EvaluatedModel
from dashboard.filters import Filtered, Filters, Population, population_key, select_population


@st.cache_resource(show_spinner="Loading caches ...", max_entries=2)
def _caches(root: str, stamp: tuple) -> Caches:
    return load_caches(Path(root))


def caches() -> Caches:
    root = paths.cache_root()
    return _caches(str(root), paths.cache_stamp(root))


#: What ``dashboard.exports.state.resolve`` returns: filtered frames, styles, datasets present, series keys.
Resolved = tuple[Filtered, dict[str, dict[str, str]], tuple[str, ...], tuple[str, ...]]


@st.cache_resource(show_spinner=False, max_entries=2)
def _population(root: str, stamp: tuple, population_key: str, _caches: Caches, _filters: Filters) -> Population:
    return select_population(_caches.images, _caches.persons, _filters)


@st.cache_resource(show_spinner=False, max_entries=4)
def _resolved(root: str, stamp: tuple, filters_key: str, _caches: Caches, _filters: Filters) -> Resolved:
    key = repr(population_key(_filters))
    return resolve(_caches, _filters, _population(root, stamp, key, _caches, _filters))


def resolved(c: Caches, filters: Filters) -> Resolved:
    """``dashboard.exports.state.resolve`` of the loaded caches, kept per filter state.

    A rerun that changes no global filter (a page widget, a page switch, a filter set back to
    one of the last four states) reuses the filtered frames instead of filtering every person
    again.  Keyed on the caches' stamp and ``repr(filters)`` (a frozen dataclass of enums,
    tuples and floats: complete and exact); the frames are shared read-only, like ``caches()``.
    A new filter state that keeps the datasets, split, sources, population and area source
    of one of the last two (a new size edge or bucket) reuses their persons and areas
    (``dashboard.filters.Population``) and only buckets them.
    """
    root = paths.cache_root()
    return _resolved(str(root), paths.cache_stamp(root), repr(filters), c, filters)


@st.cache_resource(show_spinner="Loading keypoints ...", max_entries=8)
def _keypoints(root: str, dataset: str, split: str, stamp: tuple) -> np.ndarray:
    return load_keypoints(Path(root), CacheKey(dataset, split))


def keypoints(dataset: str, split: str) -> np.ndarray:
    """(N, 3K) keypoints of one split, rows as in its instances file (loaded on demand)."""
    root = paths.cache_root()
    return _keypoints(str(root), dataset, split, paths.cache_stamp(root))


def _evaluations_stamp(root: Path, key: CacheKey) -> tuple[tuple[str, int], ...]:
    """Modification times of a split's manifest and stored evaluation files."""
    folder = key.directory(root)
    stamp = []
    for path in sorted([folder / "manifest.json", *folder.glob("evaluations/[!.]*/*")]):
        try:  # an evaluation being swapped in may vanish between the listing and the stat
            stamp.append((str(path.relative_to(folder)), path.stat().st_mtime_ns))
        except OSError:
            continue
    return tuple(stamp)


@st.cache_data(show_spinner="Slicing the stored evaluation ...", max_entries=64)
def _model_result(
    root: str,
    dataset: str,
    split: str,
    model: str,
    area: str,
    small_medium: float,
    medium_large: float,
    stamp: tuple,
    source: str | None = None,
) -> EvaluatedModel:
    key = CacheKey(dataset, split)
    entry = next(m for m in evaluations.find_models(Path(root), [key]) if m.model == model)
    size = SizeDefinition(AreaSource(area), SizeEdges(small_medium, medium_large))
    return evaluations.model_result(Path(root), entry, size, source)


def model_result(entry: StoredModel, size: SizeDefinition, source: str | None = None) -> EvaluatedModel:
    """``dashboard.evaluations.model_result`` cached on the evaluation files' mtimes."""
    root = paths.cache_root()
    return _model_result(
        str(root),
        entry.key.dataset,
        entry.key.split,
        entry.model,
        size.area_source.value,
        float(size.edges.small_medium),
        float(size.edges.medium_large),
        _evaluations_stamp(root, entry.key),
        source,
    )


@st.cache_data(show_spinner="Matching predictions ...", max_entries=8)
def _matches(
    root: str, dataset: str, split: str, model: str, threshold: float, stamp: tuple
) -> tuple[pd.DataFrame, pd.DataFrame]:
    key = CacheKey(dataset, split)
    entry = next(m for m in evaluations.find_models(Path(root), [key]) if m.model == model)
    return evaluations.model_matches(Path(root), entry, threshold)


def matches(entry: StoredModel, threshold: float = 0.5) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``dashboard.evaluations.model_matches`` cached on the evaluation files' mtimes."""
    root = paths.cache_root()
    return _matches(
        str(root),
        entry.key.dataset,
        entry.key.split,
        entry.model,
        float(threshold),
        _evaluations_stamp(root, entry.key),
    )


@st.cache_resource(max_entries=8)
def _instance_boxes(root: str, dataset: str, split: str, stamp: tuple) -> pd.DataFrame:
    return cache.read_instances(
        Path(root),
        CacheKey(dataset, split),
        columns=["ann_id", "image_id", "iscrowd", "bbox_x", "bbox_y", "bbox_w", "bbox_h"],
    )


def instance_boxes(dataset: str, split: str) -> pd.DataFrame:
    """ann_id, image_id, iscrowd and bbox of every instance row of one split (rows as its file)."""
    root = paths.cache_root()
    return _instance_boxes(str(root), dataset, split, paths.cache_stamp(root))
