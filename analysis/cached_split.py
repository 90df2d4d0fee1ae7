"""A built split seen by the dataset makers (subset, compose): its source file and its persons.

Everything these commands read from a cache's manifest goes through
:func:`open_cached_split`, and the annotation file is trusted only while its
fingerprint (size, mtime, SHA-256 recorded at build time) still matches.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq

from analysis import cache
from analysis.definitions import AreaSource, person_area
from analysis.errors import PoseAtlasError
from analysis.fingerprint import file_sha256
from analysis.manifest import BuildOptions, FileFingerprint, VisibilityConvention, images_root, rebuild_command
from analysis.subsets import SplitPersons


@dataclass(frozen=True)
class CachedSplit:
    """What a built split says about its input.

    Attributes:
        key: the split.
        annotations: the annotation file it was built from.
        fingerprint: that file's recorded size, mtime_ns and sha256.
        joint_names: (K,) joint names of the stored keypoints.
        binary_visibility: whether the file marks labelled joints 1 (PoseTrack) rather than 2.
        images_dir: the registered image folder, or None.
        options: the build options (keypoint schema override, source rule).
    """

    key: cache.CacheKey
    annotations: Path
    fingerprint: FileFingerprint
    joint_names: tuple[str, ...]
    binary_visibility: bool
    images_dir: Path | None
    options: BuildOptions
    rebuild: str  #: a command that rebuilds the split


def open_cached_split(cache_root: Path, key: cache.CacheKey) -> CachedSplit:
    """Read a split's manifest (the one place these commands do).

    Raises:
        PoseAtlasError: the split is not built; StaleCacheError / InvalidManifestError
            (PoseAtlasErrors too) when its manifest is of another format or damaged.
    """
    manifest = cache.read_manifest(cache_root, key)
    if manifest is None:
        raise PoseAtlasError(
            f"{key} is not built under {cache_root}: build it first (python -m analysis build ...)"
        )
    return CachedSplit(
        key=key,
        annotations=Path(manifest.inputs.annotations.path),
        fingerprint=manifest.inputs.annotations,
        joint_names=tuple(manifest.keypoint_schema.joint_names),
        binary_visibility=manifest.definitions.visibility is VisibilityConvention.BINARY,
        images_dir=images_root(manifest),
        options=manifest.options,
        rebuild=rebuild_command(key.directory(cache_root), manifest),
    )


def check_unchanged(split: CachedSplit) -> None:
    """Refuse an annotation file that changed (or vanished) since the split was built.

    Same size and mtime means unchanged; a touched file of the same size is compared
    by SHA-256.

    Raises:
        PoseAtlasError: missing, or different from what the cache was built from.
    """
    path = split.annotations
    rebuild = f"rebuild the cache of {split.key} ({split.rebuild})"
    try:
        stat = path.stat()
    except OSError:
        raise PoseAtlasError(f"{path}: the annotation file {split.key} was built from is gone; {rebuild}") from None
    recorded = split.fingerprint
    same = stat.st_size == recorded.size and (
        stat.st_mtime_ns == recorded.mtime_ns or file_sha256(path) == recorded.sha256
    )
    if not same:
        raise PoseAtlasError(f"{path}: changed since the cache of {split.key} was built; {rebuild}")


@dataclass(frozen=True)
class SplitImages:
    """A split's images and persons as the cache has them.

    Attributes:
        image_ids: (M,) image ids in cache order.
        persons: the sampler's view (persons per image, person -> image row, areas).
        person_ann_ids: (P,) annotation id of each person.
        annotation_ids: (N,) id of every cached annotation, crowd regions included.
    """

    image_ids: npt.NDArray[np.int64]
    persons: SplitPersons
    person_ann_ids: npt.NDArray[np.int64]
    annotation_ids: npt.NDArray[np.int64]


def read_split_images(cache_root: Path, key: cache.CacheKey, area_source: AreaSource) -> SplitImages:
    """Images and non-crowd persons of a built split, areas under ``area_source``.

    Raises:
        PoseAtlasError: ``segm`` asked for but some persons have no segmentation area.
    """
    # pyarrow straight to numpy: pandas would cost more to import than the read itself.
    folder = key.directory(cache_root)
    images = _read_table(folder / cache.IMAGES_FILE, ["image_id", "n_persons"])
    instances = _read_table(
        folder / cache.INSTANCES_FILE, ["ann_id", "image_id", "iscrowd", "bbox_w", "bbox_h", "segm_area"]
    )

    def column(table: pa.Table, name: str) -> np.ndarray:
        return table.column(name).to_numpy()  # float nulls (segm_area) become NaN

    is_person = ~column(instances, "iscrowd").astype(bool)
    area = person_area(
        column(instances, "bbox_w")[is_person], column(instances, "bbox_h")[is_person],
        column(instances, "segm_area").astype(np.float64)[is_person], area_source,
    )
    missing = int(np.isnan(area).sum())
    if missing:
        raise PoseAtlasError(
            f"{key}: {missing} of {len(area)} persons have no segmentation area (the file has no 'area' "
            "field for them); use another area source (bbox or crowdpose)"
        )
    image_ids = column(images, "image_id").astype(np.int64)
    by_id = np.argsort(image_ids, kind="stable")
    person_image = by_id[np.searchsorted(image_ids[by_id], column(instances, "image_id")[is_person])]
    return SplitImages(
        image_ids=image_ids,
        persons=SplitPersons(
            image_persons=column(images, "n_persons").astype(np.int64),
            person_image=person_image.astype(np.int64),
            person_area=area,
        ),
        person_ann_ids=column(instances, "ann_id")[is_person].astype(np.int64),
        annotation_ids=column(instances, "ann_id").astype(np.int64),
    )


def _read_table(path: Path, columns: list[str]) -> pa.Table:
    """Columns of a contract table, schema checked (``CacheFileError`` when damaged)."""
    cache.checked_schema(path, columns)
    try:
        return pq.read_table(path, columns=columns)
    except (OSError, pa.ArrowException) as exc:
        raise cache.CacheFileError(f"{path}: unreadable parquet file ({exc})") from None
