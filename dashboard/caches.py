"""Caches -> frames the views share.  Pure (pandas / pyarrow), no streamlit.

``load_caches`` reads every cached split once, without the heavy ``keypoints``
column, and joins what the views need: each person row carries the index of its
image (``image_index``), its row in the split's instances file (``instance_row``, to
look keypoints up later) and its image's area.  ``load_keypoints`` reads the keypoints of one split
as an (N, 3K) array, only for the views that draw or count joints.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import msgspec
import numpy as np
import pandas as pd
import pyarrow.compute as pc
import pyarrow.parquet as pq

from analysis.build.run import code_version
from analysis.cache import contract as cache_mod
from analysis.cache.contract import CacheKey
from analysis.cache.manifest import (
    KeypointSchemaRecord,
    Manifest,
    ManifestError,
    read_manifest,
    rebuild_command,
    table_problems,
)
from analysis.identity import DatasetIdentity, ResolvedIdentity, resolve
from analysis.scenes.aggregates import TOP1_COLUMN

PERSON_COLUMNS = [
    "dataset",
    "split",
    "ann_id",
    "image_id",
    "iscrowd",
    "bbox_x",
    "bbox_y",
    "bbox_w",
    "bbox_h",
    "segm_area",
    "num_keypoints",
    "n_labelled",
    "n_visible",
    "crowding",
]

#: What the views use per person (the rest stays on disk: smaller frames, faster filters).
KEEP_PERSON_COLUMNS = [
    "dataset",
    "split",
    "ann_id",
    "bbox_x",
    "bbox_y",
    "bbox_w",
    "bbox_h",
    "segm_area",
    "num_keypoints",
    "n_labelled",
    "crowding",
    "instance_row",
    "image_index",
]


@dataclass
class Caches:
    """Every cached split under one root, concatenated.

    Attributes:
        keys: the cached splits.
        manifests: manifest per ``str(key)``.
        skipped: ``str(key)`` -> why a split under the root was left out (unreadable,
            damaged, or of another cache format) and the command that rebuilds it.
        outdated: ``str(key)`` -> a note for splits read although an older build of
            the code wrote them (same cache format), with the command that rebuilds them.
        images: one row per image (``dataset``, ``split``, ``source`` categorical),
            plus ``entropy`` (NaN where scenes were not computed) and ``key``.
        persons: non-crowd instances (with ``num_keypoints`` as float32, NaN where the
            file has none, and ``n_labelled``, for the person population), plus ``image_index``
            (row in ``images``), ``instance_row`` (row in the split's instances file) and ``image_area``.
        crowd_regions: iscrowd instances (boxes only), with ``image_index``.
        scenes: scenes rows of every split that has them, plus ``image_index`` and ``top1_id``
            (``top5_ids[0]``, int16; the ``top5_ids`` / ``top5_probs`` lists themselves are
            left on disk unless a row has no class); None if none.
        datasets: every cached dataset name, in identity order (``order``, then name).
        identities: each dataset's identity (display name, style, order, paper name),
            as its manifests record it, defaults filled from the name alone.
    """

    keys: list[CacheKey]
    manifests: dict[str, Manifest]
    images: pd.DataFrame
    persons: pd.DataFrame
    crowd_regions: pd.DataFrame
    scenes: pd.DataFrame | None
    datasets: list[str] = field(default_factory=list)
    identities: dict[str, ResolvedIdentity] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    outdated: dict[str, str] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not self.keys

    def manifest(self, dataset: str, split: str) -> Manifest:
        """The manifest of a loaded split."""
        return self.manifests[f"{dataset}/{split}"]

    def synthetic(self, dataset: str) -> bool:
        return any(m.synthetic for k, m in self.manifests.items() if k.split("/")[0] == dataset)


def _categorical(df: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    for col in columns:
        if col in df.columns:
            df[col] = df[col].astype("category")
    return df


def _read_split(root: Path, key: CacheKey) -> tuple[Manifest, pd.DataFrame, pd.DataFrame, pd.DataFrame | None]:
    """One split's manifest, images, instances (view columns) and scenes.

    Raises:
        ManifestError, CacheFileError: unreadable, damaged, or of another cache format.
    """
    split_dir = key.directory(root)
    manifest = read_manifest(split_dir)
    if manifest is None:
        raise ManifestError(split_dir, "missing", rebuild_command(split_dir))
    names = tuple(manifest.tables)
    problems = table_problems(split_dir, manifest, names)
    if problems:
        raise cache_mod.CacheFileError(
            f"{split_dir}: {'; '.join(problems)}; rebuild it with `{rebuild_command(split_dir, manifest)}`"
        )
    images = cache_mod.read_images(root, key)
    inst = cache_mod.read_instances(root, key, columns=PERSON_COLUMNS)
    scenes = cache_mod.read_scenes(root, key) if cache_mod.SCENES_FILE in names else None
    return manifest, images, inst, scenes


CROWD_COLUMNS = ["dataset", "split", "image_id", "bbox_x", "bbox_y", "bbox_w", "bbox_h", "image_index"]


def load_caches(root: Path | str, keys: list[CacheKey] | None = None) -> Caches:
    """Read every split's images, instances (no keypoints) and scenes once.

    A split that cannot be read (see :func:`_read_split`) is left out and named in
    ``Caches.skipped``; the others load as usual.
    """
    root = Path(root)
    keys = cache_mod.list_caches(root) if keys is None else keys
    manifests: dict[str, Manifest] = {}
    skipped: dict[str, str] = {}
    outdated: dict[str, str] = {}
    loaded: list[CacheKey] = []
    images_parts, person_parts, crowd_parts, scene_parts = [], [], [], []
    offset = 0
    for key in keys:
        try:
            manifest, images, inst, scenes = _read_split(root, key)
        except (ManifestError, cache_mod.CacheFileError) as exc:
            skipped[str(key)] = str(exc)
            continue
        loaded.append(key)
        manifests[str(key)] = manifest
        if manifest.code_version != code_version():
            outdated[str(key)] = (
                f"{key} was built by analysis {manifest.code_version} (this is {code_version()}); "
                f"rebuild it with `{rebuild_command(key.directory(root), manifest)}`"
            )
        images, persons, crowd, scenes = _indexed_split(root, key, images, inst, scenes, offset)
        person_parts.append(persons)
        crowd_parts.append(crowd)
        if scenes is not None:
            scene_parts.append(scenes)
        images_parts.append(images)
        offset += len(images)
    images, persons, crowd_regions = _concat_or_empty(images_parts, person_parts, crowd_parts)
    scenes = pd.concat(scene_parts, ignore_index=True) if scene_parts else None
    _typed_columns(images, persons, scenes)
    images = _categorical(images, ["dataset", "split", "source", "key"])
    persons = _categorical(persons, ["dataset", "split"])
    crowd_regions = _categorical(crowd_regions, ["dataset", "split"])
    if scenes is not None:
        scenes = _categorical(scenes, ["dataset", "split"])
    identities = dataset_identities(manifests)
    datasets = sorted(identities, key=lambda name: identities[name].sort_key)
    return Caches(loaded, manifests, images, persons, crowd_regions, scenes, datasets, identities, skipped, outdated)


def _indexed_split(
    root: Path,
    key: CacheKey,
    images: pd.DataFrame,
    inst: pd.DataFrame,
    scenes: pd.DataFrame | None,
    offset: int,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame | None]:
    """One split's images (with ``key``), persons and crowd regions (with ``instance_row`` and
    ``image_index``: the row of their image among all splits' images, which start at ``offset``)
    and scenes (with ``image_index``; None when there are none)."""
    images = images.reset_index(drop=True)
    images["key"] = str(key)
    index = pd.Series(np.arange(len(images)) + offset, index=images["image_id"].to_numpy())
    index = index[~index.index.duplicated()]
    inst["instance_row"] = np.arange(len(inst), dtype=np.int64)
    img = index.reindex(inst["image_id"].to_numpy()).to_numpy()
    known = ~np.isnan(img)
    inst = inst[known]
    inst["image_index"] = img[known].astype(np.int64)
    crowd = inst["iscrowd"].astype(bool).to_numpy()
    persons, crowd_regions = inst.loc[~crowd, KEEP_PERSON_COLUMNS], inst.loc[crowd, CROWD_COLUMNS]
    if scenes is None or not len(scenes):
        return images, persons, crowd_regions, None
    simg = index.reindex(scenes["image_id"].to_numpy()).to_numpy()
    ok = ~np.isnan(simg)
    scenes = scenes[ok].copy()
    scenes["image_index"] = simg[ok].astype(np.int64)
    top1 = _top1_ids(key.directory(root) / cache_mod.SCENES_FILE)
    if top1 is not None:
        # the per-row lists are Python objects that every filter of the frame copies
        # one by one; the views read only the top-1 class, so keep that instead
        scenes = scenes.drop(columns=["top5_ids", "top5_probs"])
        scenes[TOP1_COLUMN] = top1[ok]
    return images, persons, crowd_regions, scenes


def _concat_or_empty(
    images_parts: list[pd.DataFrame],
    person_parts: list[pd.DataFrame],
    crowd_parts: list[pd.DataFrame],
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """All splits' images, persons and crowd regions; empty frames with the columns when none loaded."""
    if images_parts:
        return (
            pd.concat(images_parts, ignore_index=True),
            pd.concat(person_parts, ignore_index=True),
            pd.concat(crowd_parts, ignore_index=True),
        )
    images = pd.DataFrame({c: pd.Series(dtype=object) for c in cache_mod.IMAGE_COLUMNS})
    images["key"] = pd.Series(dtype=object)
    persons = pd.DataFrame({c: pd.Series(dtype=float) for c in KEEP_PERSON_COLUMNS})
    persons["instance_row"] = pd.Series(dtype=np.int64)
    persons["image_index"] = pd.Series(dtype=np.int64)
    crowd_regions = pd.DataFrame({c: pd.Series(dtype=float) for c in CROWD_COLUMNS})
    return images, persons, crowd_regions


def _typed_columns(images: pd.DataFrame, persons: pd.DataFrame, scenes: pd.DataFrame | None) -> None:
    """In place: each image's scene entropy (NaN without one), numeric CrowdIndex and counts,
    each person's image area and numeric areas, crowding and keypoint counts."""
    images["entropy"] = np.nan
    if scenes is not None:
        entropy = np.full(len(images), np.nan)
        entropy[scenes["image_index"].to_numpy()] = scenes["entropy"].to_numpy(dtype=float)
        images["entropy"] = entropy
    for col in ("crowd_index", "crowd_index_stored"):
        images[col] = pd.to_numeric(images[col], errors="coerce").astype(float)
    images["n_persons"] = images["n_persons"].astype(np.int64)
    area = images["width"].to_numpy(dtype=float) * images["height"].to_numpy(dtype=float)
    persons["image_area"] = area[persons["image_index"].to_numpy()] if len(persons) else np.empty(0)
    persons["segm_area"] = pd.to_numeric(persons["segm_area"], errors="coerce").astype(float)
    persons["crowding"] = pd.to_numeric(persons["crowding"], errors="coerce").astype(float)
    # the person population reads these: stored count (NaN where absent) and labelled joints
    persons["num_keypoints"] = pd.to_numeric(persons["num_keypoints"], errors="coerce").astype(np.float32)
    persons["n_labelled"] = pd.to_numeric(persons["n_labelled"], errors="coerce").fillna(0).astype(np.int32)


def _top1_ids(path: Path) -> np.ndarray | None:
    """Each scenes row's top-1 class (``top5_ids[0]``), read once per load in Arrow so that no
    rerun walks the per-row lists; None when a row has no class (then views read the lists)."""
    column = pq.read_table(path, columns=["top5_ids"]).column("top5_ids").combine_chunks()
    if len(column) == 0 or column.null_count or pc.min(pc.list_value_length(column)).as_py() < 1:
        return None
    return pc.list_element(column, 0).to_numpy(zero_copy_only=False).astype(np.int16)


def dataset_identities(manifests: dict[str, Manifest]) -> dict[str, ResolvedIdentity]:
    """Per dataset, the identity its splits' manifests record (``identity``), resolved.

    Splits built apart (ad hoc) may disagree; the first split's value wins then, as
    the registry refuses such conflicts before they reach a cache.
    """
    found: dict[str, DatasetIdentity] = {}
    for key in sorted(manifests):
        name = key.split("/")[0]
        try:
            mine = msgspec.convert(manifests[key].identity, DatasetIdentity, from_attributes=True)
        except (TypeError, ValueError):  # a hand-edited colour or hatch: fall back to the defaults
            mine = DatasetIdentity()
        have = found.get(name, DatasetIdentity())
        try:
            found[name] = have.merged(mine, name)
        except ValueError:
            found[name] = have
    return {name: resolve(name, identity) for name, identity in found.items()}


def load_keypoints(root: Path | str, key: CacheKey) -> np.ndarray:
    """(N, 3K) float32 keypoints of every instance row of one split (NaN-padded if ragged)."""
    path = key.directory(Path(root)) / cache_mod.INSTANCES_FILE
    column = pq.read_table(path, columns=["keypoints"]).column("keypoints").combine_chunks()
    n = len(column)
    if n == 0:
        return np.zeros((0, 0), dtype=np.float32)
    offsets = column.offsets.to_numpy()
    values = column.flatten().to_numpy(zero_copy_only=False).astype(np.float32, copy=False)
    lengths = np.diff(offsets)
    width = int(lengths.max()) if len(lengths) else 0
    if (lengths == width).all():
        return values.reshape(n, width)
    out = np.full((n, width), np.nan, dtype=np.float32)
    rows = np.repeat(np.arange(n), lengths)
    cols = np.arange(len(values)) - np.repeat(offsets[:-1] - offsets[0], lengths)
    out[rows, cols] = values
    return out


def keypoint_schema(schema: KeypointSchemaRecord, n_joints: int) -> tuple[list[str], list[tuple[int, int]]]:
    """Joint names and 0-based skeleton of a split, from its manifest's ``keypoint_schema``.

    Never assumes 17 joints: when the manifest names no joints (or a different
    count), generic ``joint_i`` names fill in and the skeleton keeps valid pairs.
    """
    names = list(schema.joint_names)[:n_joints]
    names += [f"joint_{i}" for i in range(len(names), n_joints)]
    skeleton = [(a, b) for a, b in schema.skeleton if 0 <= a < n_joints and 0 <= b < n_joints]
    return names, skeleton
