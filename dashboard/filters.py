"""The global filters as pure pandas / numpy operations (no streamlit).

The person population (``analysis.definitions.PersonPopulation``) decides which
non-crowd annotations are persons at all; every person-based result follows it.
A size-bucket filter keeps the persons of that bucket and the images holding at
least one of them; ``n_selected`` is then the number of such persons per image (all
population persons when no bucket is chosen).  Buckets are recomputed from the cached raw
areas on every call, so changing the area source or an edge needs no rebuild.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from analysis.definitions import (
    AreaSource,
    Normalisation,
    PersonPopulation,
    PopulationKind,
    SizeBucket,
    SizeDefinition,
    person_area,
    size_bucket_codes,
)
from dashboard import frame_memo
from dashboard.series import SeriesBy, series_keys


@dataclass(frozen=True)
class Filters:
    """The sidebar's choices, applied to every view (``dashboard.query`` maps them to the URL).

    Attributes:
        datasets: datasets to compare (in display order).
        split: one split, or None for all splits.
        sources: ``source`` sub-datasets to keep, or None for all.
        size: area source and bucket edges.
        bucket: keep only persons of this bucket (None: all persons).
        normalise: counts, or shares (each dataset sums to 1).
        population: which annotations count as persons (default: stored num_keypoints > 0).
        series: what one figure series is (dataset, dataset/split, source).
    """

    datasets: tuple[str, ...] = ()
    split: str | None = None
    sources: tuple[str, ...] | None = None
    size: SizeDefinition = SizeDefinition()
    bucket: SizeBucket | None = None
    normalise: Normalisation = Normalisation.COUNT
    population: PersonPopulation = PersonPopulation()
    series: SeriesBy = SeriesBy.DATASET

    @property
    def description(self) -> str:
        parts = [self.population.description, self.size.description]
        if self.bucket is not None:
            parts.append(f"{self.bucket.value} persons only")
        if self.split:
            parts.append(f"split {self.split}")
        if self.sources is not None:
            parts.append("source " + ", ".join(self.sources))
        if self.series is not SeriesBy.DATASET:
            parts.append(self.series.description)
        return "; ".join(parts)


@dataclass
class Filtered:
    """Frames after the global filters.

    Attributes:
        images: kept images with ``n_selected`` (persons in the bucket, or all persons).
        persons: kept persons with ``area`` (float) and ``bucket`` (int8: 0 small,
            1 medium, 2 large, -1 unknown area); the loaded person columns but
            ``POPULATION_ONLY_COLUMNS``.
        no_area: datasets without any area under the chosen source (segm absent);
            their persons are left out of size-based results, never re-sourced.
        unknown_area: persons per dataset whose area is missing (partial segm).
        filters: what was applied.
    """

    images: pd.DataFrame
    persons: pd.DataFrame
    no_area: tuple[str, ...]
    unknown_area: dict[str, int]
    filters: Filters

    @property
    def empty(self) -> bool:
        return len(self.images) == 0


@dataclass(frozen=True)
class Population:
    """The first stage of :func:`apply_filters`: what the size edges and the bucket do not change.

    Kept apart (``dashboard.data`` keeps the last two) so that a new edge or bucket filters
    no person row by image or population again: it only buckets these persons' areas.

    Attributes:
        keep: (M,) the images of the chosen datasets, split and sources.
        persons: their persons in the population, with ``area`` (float) under the chosen
            source; the persons of datasets without any such area left out; without
            ``POPULATION_ONLY_COLUMNS``.
        n_population: (kept images,) persons in the population per kept image.
        no_area, unknown_area: as :class:`Filtered`'s.
        key: the filter parts this depends on (:func:`population_key`).
    """

    keep: npt.NDArray[np.bool_]
    persons: pd.DataFrame
    n_population: npt.NDArray[np.int64]
    no_area: tuple[str, ...]
    unknown_area: dict[str, int]
    key: tuple[object, ...]


#: Person columns that only choose the population and its area (``select_population``): the
#: filtered persons do not carry them (no view reads them; the loaded caches keep them).
POPULATION_ONLY_COLUMNS = ("segm_area", "num_keypoints", "n_labelled")


def population_key(f: Filters) -> tuple[object, ...]:
    """The filter parts a :class:`Population` depends on (not the edges, bucket, normalisation
    or series)."""
    return (f.datasets, f.split, f.sources, f.population, f.size.area_source)


def select_population(images: pd.DataFrame, persons: pd.DataFrame, f: Filters) -> Population:
    """The persons of the chosen images and population with their areas (see :func:`apply_filters`)."""
    keep = _kept_images(images, f)
    pmask = keep[persons["image_index"].to_numpy()] if len(persons) else np.zeros(0, dtype=bool)
    everyone = f.population.kind is PopulationKind.ALL
    if not everyone and len(persons):
        pmask &= f.population.mask(
            persons["num_keypoints"].to_numpy(dtype=float, na_value=np.nan), persons["n_labelled"].to_numpy()
        )
    sel = persons[pmask]
    if everyone:
        n_population = images["n_persons"].to_numpy()[keep]
    else:
        n_population = np.bincount(sel["image_index"].to_numpy(), minlength=len(images))[keep]
    area = person_area(
        sel["bbox_w"].to_numpy(),
        sel["bbox_h"].to_numpy(),
        sel["segm_area"].to_numpy(dtype=float, na_value=np.nan),
        f.size.area_source,
    )
    no_area, unknown = _missing_areas(sel, np.isnan(area))
    # What only chose the population and its area is not carried on: every new size edge or
    # bucket copies the bucket's rows of each remaining column (3 of 16 columns fewer).
    sel = sel.drop(columns=[c for c in POPULATION_ONLY_COLUMNS if c in sel.columns]).assign(area=area)
    if no_area:
        sel = sel[~sel["dataset"].isin(no_area).to_numpy()]
    return Population(keep, sel, n_population, tuple(sorted(no_area)), unknown, population_key(f))


def apply_filters(
    images: pd.DataFrame, persons: pd.DataFrame, f: Filters, population: Population | None = None
) -> Filtered:
    """Apply ``f`` to the concatenated frames of ``dashboard.caches.Caches``.

    Args:
        images: one row per image with ``dataset``, ``split``, ``source``, ``n_persons``.
        persons: one row per non-crowd person with ``image_index`` (row in ``images``),
            ``dataset``, ``bbox_w``, ``bbox_h``, ``segm_area``, ``num_keypoints`` (float,
            NaN where absent) and ``n_labelled``.
        f: the filters.
        population: :func:`select_population` of these frames for filters with the same
            :func:`population_key` (computed here when None): then only the size edges and
            the bucket are applied, over its persons.
    """
    if population is None or population.key != population_key(f):
        population = select_population(images, persons, f)
    keep = population.keep
    sel = population.persons
    sel = sel.assign(bucket=size_bucket_codes(sel["area"].to_numpy(), f.size.edges))
    if f.bucket is None:
        kept = images[keep].assign(n_selected=population.n_population)
        kept["series"] = series_keys(kept, f.series)
    else:
        sel = sel[sel["bucket"].to_numpy() == f.bucket.code]
        counts = np.bincount(sel["image_index"].to_numpy(), minlength=len(images))
        # The images of the bucket's persons, taken from every column once (not the kept
        # images and then the non-empty ones: 60-90 ms of a new edge at 3M persons).
        # Series keys by split or source take their categories from all kept images, as
        # before; by dataset they are the dataset column's categories whatever the rows.
        selected = counts[keep] > 0
        kept = images.iloc[np.flatnonzero(keep)[selected]].assign(n_selected=counts[keep][selected])
        if f.series is SeriesBy.DATASET and isinstance(images["dataset"].dtype, pd.CategoricalDtype):
            kept["series"] = series_keys(kept, f.series)
        else:
            needed = [c for c in ("dataset", "split", "source") if c in images.columns]
            kept["series"] = series_keys(images.loc[keep, needed], f.series)[selected]
    sel = sel.assign(series=_series_of_persons(kept, sel, len(images)))
    return Filtered(kept, sel, population.no_area, dict(population.unknown_area), f)


def _kept_images(images: pd.DataFrame, f: Filters) -> npt.NDArray[np.bool_]:
    """(M,) the images of the chosen datasets, split and sources."""
    keep = np.array(images["dataset"].isin(f.datasets), dtype=bool)  # a writable copy
    if f.split is not None:
        keep &= (images["split"] == f.split).to_numpy()
    if f.sources is not None:
        keep &= images["source"].isin(f.sources).to_numpy()
    return keep


def _missing_areas(persons: pd.DataFrame, nan: npt.NDArray[np.bool_]) -> tuple[list[str], dict[str, int]]:
    """Datasets none of whose ``persons`` has an area (``nan`` per person), and the number of
    persons without one in the others that have some."""
    no_area: list[str] = []
    unknown: dict[str, int] = {}
    if not nan.any():
        return no_area, unknown
    missing = pd.Series(nan, index=persons.index).groupby(persons["dataset"], observed=True).agg(["sum", "size"])
    for name, row in missing.iterrows():
        if row["sum"] == row["size"] and row["size"] > 0:
            no_area.append(str(name))
        elif row["sum"] > 0:
            unknown[str(name)] = int(row["sum"])
    return no_area, unknown


def _series_of_persons(kept: pd.DataFrame, persons: pd.DataFrame, n_images: int) -> pd.Categorical:
    """Each person's series: its image's (``kept`` holds every image of a kept person)."""
    keys = kept["series"].cat
    codes = np.full(n_images, -1, dtype=np.int32)
    codes[kept.index.to_numpy()] = keys.codes.to_numpy()
    return pd.Categorical.from_codes(codes[persons["image_index"].to_numpy()], categories=keys.categories)


def present(filtered: Filtered, column: str = "dataset") -> list[str]:
    """Selected datasets that still have rows after filtering, in selection order."""
    have = {str(v) for v in filtered.images[column].unique()}
    return [d for d in filtered.filters.datasets if d in have]


def sources_of(images: pd.DataFrame, datasets: Sequence[str]) -> list[str]:
    """Non-null ``source`` values of the given datasets (empty: hide the control).

    Kept per ``images`` frame (the loaded caches' frame, read-only) and datasets: the sidebar
    asks on every rerun, and masking 560,000 image rows cost 10-15 ms each time."""
    if "source" not in images.columns:
        return []
    return list(frame_memo.kept(images, ("sources of", tuple(datasets)), lambda: _sources_of(images, datasets)))


def _sources_of(images: pd.DataFrame, datasets: Sequence[str]) -> list[str]:
    values = images.loc[images["dataset"].isin(datasets).to_numpy(), "source"].dropna()
    return sorted(str(v) for v in values.unique())


def area_source_note(filtered: Filtered) -> str | None:
    """What to tell the user about missing areas, or None."""
    notes = []
    if filtered.no_area:
        notes.append(
            "no segmentation area in this dataset: "
            + ", ".join(filtered.no_area)
            + f" (left out of size results under the '{AreaSource.SEGM.value}' source;"
            " choose bbox or crowdpose to include it)"
            if filtered.filters.size.area_source is AreaSource.SEGM
            else "no area under this source: " + ", ".join(filtered.no_area)
        )
    if filtered.unknown_area:
        notes.append(
            "persons without an area (left out of size buckets): "
            + ", ".join(f"{k} {v:,}" for k, v in sorted(filtered.unknown_area.items()))
        )
    return "; ".join(notes) if notes else None
