"""A built split's images and the persons of one population, as the dataset makers (subset, compose) read them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq

from analysis.cache import contract as cache
from analysis.datasets.population_counts import population_counts
from analysis.datasets.sampling import SplitPersons
from analysis.definitions import (
    INFO_POPULATIONS,
    AreaSource,
    PersonPopulation,
    PopulationKind,
    SizeEdges,
    person_area,
)
from analysis.errors import PoseAtlasError

#: Every non-crowd person: what the dataset makers took before they took a population.
ALL_PERSONS = PersonPopulation(PopulationKind.ALL)


@dataclass(frozen=True)
class SplitImages:
    """A split's images and the persons of one population as the cache has them.

    Attributes:
        image_ids: (M,) image ids in cache order.
        persons: the sampler's view (persons of the population per image, person -> image row, areas).
        annotation_ids: (N,) id of every cached annotation, crowd regions included.
        population: the persons taken.
        instance_image: (N,) image row of every cached annotation.
        instance_area: (N,) area of every cached annotation under the area source (NaN: none).
        is_person: (N,) not a crowd region.
        stored_num_keypoints: (N,) stored ``num_keypoints``, NaN where the file has none.
        n_labelled: (N,) labelled joints (v > 0) in the source schema.
        lost_in_mapping: (N,) persons of the population left without a labelled joint by
            the mapping to ``kept_joints`` (only when it was given): under any population
            but ``all`` every such person (they are left out of ``persons``); under ``all``
            those that had labelled joints (they stay persons).
    """

    image_ids: npt.NDArray[np.int64]
    persons: SplitPersons
    annotation_ids: npt.NDArray[np.int64]
    population: PersonPopulation
    instance_image: npt.NDArray[np.int64]
    instance_area: npt.NDArray[np.float64]
    is_person: npt.NDArray[np.bool_]
    stored_num_keypoints: npt.NDArray[np.float64]
    n_labelled: npt.NDArray[np.int64]
    lost_in_mapping: npt.NDArray[np.bool_]

    def population_counts(
        self, where: npt.NDArray[np.bool_], edges: SizeEdges | None = None
    ) -> dict[str, dict[str, int]]:
        """Persons and S/M/L (under ``instance_area``) of the cached annotations at ``where``
        ((N,) mask) under every population ``info`` reports (:func:`population_counts`)."""
        return population_counts(
            ~self.is_person[where],
            self.stored_num_keypoints[where],
            self.n_labelled[where],
            self.instance_area[where],
            INFO_POPULATIONS,
            edges,
        )


def read_split_images(
    cache_root: Path,
    key: cache.CacheKey,
    area_source: AreaSource,
    population: PersonPopulation = ALL_PERSONS,
    kept_joints: tuple[int, ...] | None = None,
) -> SplitImages:
    """Images and the persons of ``population`` of a built split, areas under ``area_source``.

    Args:
        population: which non-crowd annotations are persons (see ``PersonPopulation``).
        kept_joints: source joint indices the target schema keeps (compose's mapping);
            a person of a population other than ``all`` with no labelled joint among
            them is not a person of the composed benchmark (``lost_in_mapping``).

    Raises:
        PoseAtlasError: ``segm`` asked for but some persons have no segmentation area.
    """
    # pyarrow straight to numpy: pandas would cost more to import than the read itself.
    folder = key.directory(cache_root)
    images = _read_table(folder / cache.IMAGES_FILE, ["image_id"])
    columns = ["ann_id", "image_id", "iscrowd", "bbox_w", "bbox_h", "segm_area", "num_keypoints", "n_labelled"]
    if kept_joints is not None:
        columns.append("keypoints")
    instances = _read_table(folder / cache.INSTANCES_FILE, columns)

    is_person = ~_column(instances, "iscrowd").astype(bool)
    area = _instance_area(key, instances, area_source, is_person)
    stored = instances.column("num_keypoints").cast(pa.float64()).fill_null(np.nan).to_numpy()
    n_labelled = _column(instances, "n_labelled").astype(np.int64)
    member = is_person & population.mask(stored, n_labelled)
    lost = np.zeros(len(member), dtype=bool)
    if kept_joints is not None:
        none_kept = _labelled_among(instances.column("keypoints"), kept_joints) == 0
        if population.kind is PopulationKind.ALL:
            lost = member & (n_labelled > 0) & none_kept
        else:
            lost = member & none_kept
            member &= ~lost

    image_ids = _column(images, "image_id").astype(np.int64)
    by_id = np.argsort(image_ids, kind="stable")
    instance_image = by_id[np.searchsorted(image_ids[by_id], _column(instances, "image_id"))].astype(np.int64)
    person_image = instance_image[member]
    return SplitImages(
        image_ids=image_ids,
        persons=SplitPersons(
            image_persons=np.bincount(person_image, minlength=len(image_ids)).astype(np.int64),
            person_image=person_image,
            person_area=area[member],
        ),
        annotation_ids=_column(instances, "ann_id").astype(np.int64),
        population=population,
        instance_image=instance_image,
        instance_area=area,
        is_person=is_person,
        stored_num_keypoints=stored,
        n_labelled=n_labelled,
        lost_in_mapping=lost,
    )


def _column(table: pa.Table, name: str) -> np.ndarray:
    return table.column(name).to_numpy()  # float nulls (segm_area) become NaN


def _instance_area(
    key: cache.CacheKey, instances: pa.Table, area_source: AreaSource, is_person: npt.NDArray[np.bool_]
) -> npt.NDArray[np.float64]:
    """(N,) each annotation's area under ``area_source``; every person must have one."""
    area = person_area(
        _column(instances, "bbox_w"),
        _column(instances, "bbox_h"),
        _column(instances, "segm_area").astype(np.float64),
        area_source,
    )
    missing = int(np.isnan(area[is_person]).sum())
    if missing:
        raise PoseAtlasError(
            f"{key}: {missing} of {int(is_person.sum())} persons have no segmentation area (the file has no "
            "'area' field for them); use another area source (bbox or crowdpose)"
        )
    return area


def _labelled_among(keypoints: pa.ChunkedArray, joints: tuple[int, ...]) -> npt.NDArray[np.int64]:
    """(N,) labelled joints (v > 0) among ``joints`` of each annotation's stored keypoints."""
    n = len(keypoints)
    if n == 0 or not joints:
        return np.zeros(n, dtype=np.int64)
    combined = keypoints.combine_chunks()
    flat = combined.flatten().to_numpy(zero_copy_only=False)
    lengths = combined.value_lengths().fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    # One visibility read per (annotation, kept joint); joints past an annotation's length read none.
    index = 3 * np.asarray(joints, dtype=np.int64) + 2
    valid = index[None, :] < lengths[:, None]
    positions = np.where(valid, starts[:, None] + index[None, :], 0)
    v = np.where(valid, flat[positions] if len(flat) else 0, 0)
    return (v > 0).sum(axis=1).astype(np.int64)


def _read_table(path: Path, columns: list[str]) -> pa.Table:
    """Columns of a contract table, schema checked (``CacheFileError`` when damaged)."""
    cache.checked_schema(path, columns)
    try:
        return pq.read_table(path, columns=columns)
    except (OSError, pa.ArrowException) as exc:
        raise cache.CacheFileError(f"{path}: unreadable parquet file ({exc})") from None
