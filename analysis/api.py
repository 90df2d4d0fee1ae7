"""PoseAtlas from Python (a notebook, a script): plain pandas frames and plotly figures.

Everything here reads the parquet caches that ``poseatlas build`` / ``poseatlas demo``
write (``data/cache`` under the working folder unless ``cache_dir`` is given, or
``$POSEATLAS_CACHE_DIR``), with the same definitions objects the CLI and the dashboard
use (:class:`SizeDefinition`, :class:`PersonPopulation`, ...).  Nothing here imports
streamlit::

    from analysis import api

    api.splits()                                   # what is cached
    split = api.open_split("demo-crowd", "val")    # images and persons frames
    api.table5(["demo-small/val", "demo-crowd/val"])
    fig = api.figure("size", "size-buckets", "ds=demo-small,demo-crowd")
    api.save_figure(fig, "size.pdf")

A figure or table of a view is named by its file stem in ``poseatlas export`` (see
:func:`view_items` for every name a view has), and the view's filters are given as
the dashboard URL's query string (``ds=coco,crowdpose&bucket=small&persons=all``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import pandas as pd
import plotly.graph_objects as go

from analysis.cache import contract as cache
from analysis.cache.contract import CacheKey
from analysis.definitions import (
    AreaSource,
    Normalisation,
    PersonPopulation,
    PopulationKind,
    SizeBucket,
    SizeDefinition,
    SizeEdges,
)
from analysis.errors import PoseAtlasError
from analysis.evaluation.definitions import EvaluationDefinitions

if TYPE_CHECKING:  # the dashboard's loader is imported when first used
    from dashboard.caches import Caches

T = TypeVar("T")

__all__ = [
    "AreaSource",
    "CacheKey",
    "EvaluationDefinitions",
    "Normalisation",
    "PersonPopulation",
    "PopulationKind",
    "SizeBucket",
    "SizeDefinition",
    "SizeEdges",
    "Split",
    "ViewItems",
    "cache_root",
    "evaluations",
    "figure",
    "open_split",
    "save_figure",
    "slice_metrics",
    "splits",
    "table",
    "table5",
    "view_items",
]

#: The views that have figures and tables (the names ``poseatlas export --views`` takes).
VIEWS = ("overview", "people", "size", "crowding", "scenes", "keypoints", "models")


def cache_root(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """The cache folder the other functions read: ``cache_dir``, else ``$POSEATLAS_CACHE_DIR``,
    else ``data/cache`` under the working folder (the CLI's default), as an absolute path."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser().resolve()
    value = os.environ.get("POSEATLAS_CACHE_DIR")
    return Path(value).expanduser().resolve() if value else cache.DEFAULT_CACHE_DIR.resolve()


def _key(split: str | CacheKey) -> CacheKey:
    if isinstance(split, CacheKey):
        return split
    dataset, sep, name = str(split).partition("/")
    if not sep or not dataset or not name:
        raise PoseAtlasError(f"split {split!r}: write it as DATASET/SPLIT (e.g. coco/val)")
    return CacheKey(dataset, name)


def _caches(root: Path, keys: list[CacheKey] | None = None) -> Caches:
    from dashboard.caches import load_caches

    if not root.is_dir():
        raise PoseAtlasError(f"{root}: cache folder not found (poseatlas demo, or poseatlas build)")
    cached = cache.list_caches(root)
    absent = [str(k) for k in (keys or []) if k not in cached]
    if absent:
        raise PoseAtlasError(
            f"{', '.join(absent)}: not cached under {root} (cached: {', '.join(map(str, cached)) or 'none'})"
        )
    caches = load_caches(root, keys)
    missing = [str(k) for k in (keys or []) if k not in caches.keys]
    if missing:
        why = "; ".join(caches.skipped.get(k, f"{k} is not cached under {root}") for k in missing)
        raise PoseAtlasError(why)
    if caches.empty:
        raise PoseAtlasError(f"{root}: no caches (poseatlas demo, or poseatlas build)")
    return caches


def splits(cache_dir: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """Every cached split, one row each.

    Returns:
        Columns ``dataset``, ``split``, ``key`` (``dataset/split``, what the other
        functions take), ``images``, ``persons`` (non-crowd annotations),
        ``synthetic`` (the demo's made-up data).
    """
    root = cache_root(cache_dir)
    caches = _caches(root)
    counts = caches.images.groupby("key", observed=True).agg(images=("key", "size"), persons=("n_persons", "sum"))
    rows = [
        {
            "dataset": k.dataset,
            "split": k.split,
            "key": str(k),
            "images": int(counts.loc[str(k), "images"]) if str(k) in counts.index else 0,
            "persons": int(counts.loc[str(k), "persons"]) if str(k) in counts.index else 0,
            "synthetic": bool(caches.manifest(k.dataset, k.split).synthetic),
        }
        for k in caches.keys
    ]
    return pd.DataFrame(rows, columns=["dataset", "split", "key", "images", "persons", "synthetic"])


@dataclass(frozen=True)
class Split:
    """One cached split under a person population and a size definition.

    Attributes:
        key: which split.
        images: one row per image: ``file_name``, ``width``, ``height``, ``n_persons``
            (every non-crowd person annotation), ``n_selected`` (persons of the
            population, in ``bucket`` when one is given), ``crowd_index``, ``entropy``
            (NaN where scenes were not computed), ...
        persons: one row per person of the population: ``bbox_*``, ``segm_area``,
            ``num_keypoints``, ``n_labelled``, ``area`` (under ``size.area_source``;
            NaN where absent) and ``bucket`` (0 small, 1 medium, 2 large, -1 no area).
        population: which annotations count as persons.
        size: the area source and the small / medium / large edges.
        description: the definitions in words (for a caption).
    """

    key: CacheKey
    images: pd.DataFrame = field(repr=False)
    persons: pd.DataFrame = field(repr=False)
    population: PersonPopulation
    size: SizeDefinition
    description: str


def open_split(
    dataset: str,
    split: str,
    *,
    population: PersonPopulation = PersonPopulation(),
    size: SizeDefinition = SizeDefinition(),
    bucket: SizeBucket | str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
) -> Split:
    """A cached split's images and persons, by name, under a population and a size definition.

    Args:
        dataset: the dataset's name (``poseatlas info`` lists them).
        split: the split's name (``val``, ``train``, ...).
        population: which non-crowd annotations count as persons (default: stored
            ``num_keypoints > 0``; ``PersonPopulation.parse("all")`` for every one).
        size: the person area (``AreaSource.BBOX``: w*h, or ``SEGM``) and bucket edges
            (default COCO's 32^2 and 96^2).
        bucket: keep only persons of this size bucket (``"small"``, ...); None keeps all.
        cache_dir: the cache folder (see :func:`cache_root`).

    Raises:
        PoseAtlasError: no cache folder, or the split is not cached (or is damaged).
    """
    from dashboard.filters import Filters, apply_filters

    key = CacheKey(dataset, split)
    caches = _caches(cache_root(cache_dir), [key])
    filters = Filters(
        datasets=(dataset,),
        split=split,
        size=size,
        population=population,
        bucket=None if bucket is None else SizeBucket(bucket),
    )
    filtered = apply_filters(caches.images, caches.persons, filters)
    return Split(
        key,
        filtered.images.reset_index(drop=True),
        filtered.persons.reset_index(drop=True),
        population,
        size,
        filters.description,
    )


def evaluations(
    splits: Sequence[str | CacheKey] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
) -> pd.DataFrame:
    """The stored model evaluations (``poseatlas evaluate``) of some splits, or of every cached one.

    Returns:
        One row per evaluation: ``model``, ``dataset`` (``dataset/split``),
        ``predictions`` (the results file), ``records``, ``evaluated``, ``beyond 20 per
        image``, ``other categories`` (records left out, with why), ``evaluated at``,
        ``stale`` (the annotations changed since).
    """
    from dashboard.evaluations import find_models, stored_table

    root = cache_root(cache_dir)
    keys = cache.list_caches(root) if splits is None else [_key(s) for s in splits]
    return stored_table(find_models(root, keys))


def _models(
    root: Path, splits: Sequence[str | CacheKey], models: Sequence[str] | None, size: SizeDefinition | None
) -> list:  # -> list[EvaluatedModel]
    from dashboard.evaluations import find_models, model_result

    keys = [_key(s) for s in splits]
    entries = find_models(root, keys)
    if models is not None:
        unknown = sorted(set(models) - {e.model for e in entries})
        if unknown:
            raise PoseAtlasError(
                f"no stored evaluation of {', '.join(unknown)} on {', '.join(map(str, keys))} "
                f"under {root} (poseatlas evaluate stores one)"
            )
        entries = [e for e in entries if e.model in models]
    if not entries:
        raise PoseAtlasError(
            f"no stored evaluation on {', '.join(map(str, keys))} under {root} (poseatlas evaluate stores one)"
        )
    return [model_result(root, e, e.definitions.size if size is None else size) for e in entries]


def table5(
    splits: Sequence[str | CacheKey],
    models: Sequence[str] | None = None,
    *,
    size: SizeDefinition | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
) -> pd.DataFrame:
    """Table 5 of the SmallPose paper for several splits and models, from the stored evaluations.

    Args:
        splits: ``dataset/split`` names (or ``CacheKey``).
        models: model labels to keep (default: every stored one).
        size: re-slice under this size definition (default: the one each evaluation
            stored; sigmas and the OKS area stay those of the evaluation).
        cache_dir: the cache folder (see :func:`cache_root`).

    Returns:
        One row per (model, split): ``model``, ``dataset`` (``dataset/split``), the AP of
        each Table 5 column in percent (``AP``, ``AP^S``, ``AP^M``, ``AP^L``, ``AP^S_Sp``,
        ``AP^S_Mo``, ``AP^S_De``, ``AP^E``, ``AP^M(crowd)``, ``AP^H``; NaN where the
        slice has no ground truth), then ``n_gt <column>``, the ground-truth persons of
        each slice.  No intervals: they are not stored with the evaluations yet.
    """
    from dashboard.figures.models import table5_table

    return table5_table(_models(cache_root(cache_dir), splits, models, size))


def slice_metrics(
    splits: Sequence[str | CacheKey],
    models: Sequence[str] | None = None,
    *,
    size: SizeDefinition | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
) -> pd.DataFrame:
    """Every slice's metrics (AP, AP50, AP75, AR, ground truth) of stored evaluations, long form:
    one row per (model, split, slice).  Arguments as for :func:`table5`."""
    from dashboard.figures.models import slice_metrics_table

    return slice_metrics_table(_models(cache_root(cache_dir), splits, models, size))


@dataclass(frozen=True)
class ViewItems:
    """What one dashboard view shows for a URL: its figures and tables by file stem.

    Attributes:
        view: the view's name.
        figures: stem -> the on-screen figure (:func:`save_figure` renders it in the
            paper theme).
        tables: stem -> the summary table behind the view (the CSV ``poseatlas export``
            writes holds the same values).
        captions: stem -> the definitions the item used (figures and tables).
        notes: why something the view could show is absent under these filters.
    """

    view: str
    figures: dict[str, go.Figure] = field(repr=False)
    tables: dict[str, pd.DataFrame] = field(repr=False)
    captions: dict[str, str] = field(repr=False)
    notes: list[str]


def view_items(view: str, url: str = "", *, cache_dir: str | os.PathLike[str] | None = None) -> ViewItems:
    """The figures and summary tables of one view (``overview``, ``people``, ``size``,
    ``crowding``, ``scenes``, ``keypoints``, ``models``) under the filters of a dashboard URL.

    Args:
        view: the view's name.
        url: a dashboard URL copied from the browser, or just its query string
            (``ds=coco,crowdpose&bucket=small&area=segm&persons=all``); empty: the
            dashboard's defaults (every dataset).
        cache_dir: the cache folder (see :func:`cache_root`).

    Raises:
        PoseAtlasError: an unknown view, a malformed URL, or no image under its filters.
    """
    import functools

    from dashboard.caches import load_keypoints
    from dashboard.exports import catalog
    from dashboard.exports.cli import check_params, parse_url
    from dashboard.exports.items import FigureItem, Note, TableItem
    from dashboard.exports.state import state_from_params

    if view not in catalog.VIEWS:
        raise PoseAtlasError(f"unknown view {view!r} (one of {', '.join(catalog.VIEWS)})")
    root = cache_root(cache_dir)
    caches = _caches(root)
    params = parse_url(url) if url.strip() else {}
    check_params(params, caches)
    keypoints = functools.cache(lambda dataset, split: load_keypoints(root, CacheKey(dataset, split)))
    state = state_from_params(caches, params, keypoints=keypoints, root=root)
    if not state.datasets:
        raise PoseAtlasError(f"no image matches the URL's filters ({state.filtered.filters.description})")
    items = catalog.exports(view, state)
    figures = {i.stem: i.figure for i in items if isinstance(i, FigureItem)}
    tables = {i.stem: i.table for i in items if isinstance(i, TableItem)}
    captions = {i.stem: i.caption for i in items if isinstance(i, FigureItem | TableItem)}
    return ViewItems(view, figures, tables, captions, [i.text for i in items if isinstance(i, Note)])


def _item(kind: str, found: dict[str, T], view: ViewItems, name: str) -> T:
    if name not in found:
        why = f"; {'; '.join(view.notes)}" if view.notes else ""
        raise PoseAtlasError(
            f"view {view.view} has no {kind} {name!r} under these filters (has: {', '.join(found) or 'none'}){why}"
        )
    return found[name]


def figure(view: str, name: str, url: str = "", *, cache_dir: str | os.PathLike[str] | None = None) -> go.Figure:
    """One figure of a view by its file stem (e.g. ``figure("size", "size-buckets", "ds=coco")``);
    arguments as for :func:`view_items`."""
    items = view_items(view, url, cache_dir=cache_dir)
    return _item("figure", items.figures, items, name)


def table(view: str, name: str, url: str = "", *, cache_dir: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """One summary table of a view by its file stem; arguments as for :func:`view_items`."""
    items = view_items(view, url, cache_dir=cache_dir)
    return _item("table", items.tables, items, name)


def save_figure(fig: go.Figure, path: str | os.PathLike[str], preset: str = "single") -> Path:
    """Write ``fig`` in the paper theme as PDF, SVG or PNG (by the file's suffix), the way
    ``poseatlas export`` does.

    Args:
        fig: a figure from :func:`figure` (or any plotly figure).
        path: the file to write; its suffix picks the format.
        preset: ``single`` (3.5 in column) or ``double`` (7.16 in page width).

    Returns:
        The path written.
    """
    from dashboard.exports.paper import FORMATS, figure_bytes

    path = Path(path)
    fmt = path.suffix.lstrip(".").lower()
    if fmt not in FORMATS:
        raise PoseAtlasError(f"{path}: unknown figure format {fmt!r} (use .{', .'.join(FORMATS)})")
    path.write_bytes(figure_bytes(fig, fmt, preset))
    return path
