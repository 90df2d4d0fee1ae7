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
from typing import Any, TypeAlias

import msgspec
import numpy as np
import pandas as pd
import pyarrow as pa
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


#: A split's string column: its single value when every row holds it, else its values (``str`` dtype).
Labels: TypeAlias = str | pd.Series

#: Columns read as Arrow dictionaries, so that a split's single value is found without
#: building a string per row (``dataset`` and ``split`` repeat one value per split file).
LABEL_COLUMNS = ("dataset", "split")


def _labels(column: pa.ChunkedArray) -> Labels:
    """The column's one value when every row holds it (read as a dictionary: one ``unique``
    over its integer indices per chunk), else every row's value as a ``str`` Series."""
    values: set[str] = set()
    if not column.null_count:
        for chunk in column.chunks:
            if isinstance(chunk, pa.DictionaryArray):
                used = chunk.dictionary.take(pc.unique(chunk.indices))
            else:
                used = pc.unique(chunk)
            values.update(used.to_pylist())
            if len(values) > 1:
                break
    if len(values) == 1:
        return values.pop()
    return column.cast(pa.string()).to_pandas()


def _stacked_categorical(parts: list[Labels], lengths: list[int]) -> pd.Categorical:
    """``pd.concat`` of the parts' values ``.astype("category")``, without a string per row
    when each part holds one value: its categories sorted, its codes repeated per part."""
    if all(isinstance(part, str) for part in parts):
        categories = sorted({str(part) for part, n in zip(parts, lengths, strict=True) if n})
        position = {value: i for i, value in enumerate(categories)}
        codes = np.repeat(np.array([position.get(str(part), 0) for part in parts], dtype=np.int64), lengths)
        dtype = pd.CategoricalDtype(pd.Index(categories, dtype="str"))
        return pd.Categorical.from_codes(codes, dtype=dtype)
    values = [
        pd.Series([part] * n, dtype="str") if isinstance(part, str) else part.reset_index(drop=True)
        for part, n in zip(parts, lengths, strict=True)
    ]
    return pd.Categorical(pd.concat(values, ignore_index=True).astype("category"))


def _read_table(path: Path, columns: list[str] | None) -> pa.Table:
    """One contract table file (schema checked), ``LABEL_COLUMNS`` read as dictionaries.

    Raises:
        CacheFileError: unreadable, or a column missing or of another type.
    """
    cache_mod.checked_schema(path, columns)
    names = columns if columns is not None else cache_mod.TABLE_SCHEMAS[path.name].names
    try:
        return pq.read_table(path, columns=columns, read_dictionary=[c for c in LABEL_COLUMNS if c in names])
    except (OSError, pa.ArrowException) as exc:
        raise cache_mod.CacheFileError(f"{path}: unreadable parquet file ({exc})") from None


@dataclass
class _Split:
    """One split's rows as read: images (pandas, without the label columns), the instance
    columns the views use and the scenes (Arrow), with each table's labels."""

    manifest: Manifest
    images: pd.DataFrame
    image_labels: dict[str, Labels]
    instances: pa.Table
    scenes: pa.Table | None


def _read_split(root: Path, key: CacheKey) -> _Split:
    """One split's manifest, images, instances (view columns) and scenes (no per-row lists
    when every row has a top-1 class).

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
    images_table = _read_table(split_dir / cache_mod.IMAGES_FILE, None)
    image_labels = {c: _labels(images_table.column(c)) for c in LABEL_COLUMNS}
    images = images_table.drop_columns(list(LABEL_COLUMNS)).to_pandas()
    instances = _read_table(split_dir / cache_mod.INSTANCES_FILE, PERSON_COLUMNS)
    scenes = _read_scenes(split_dir / cache_mod.SCENES_FILE) if cache_mod.SCENES_FILE in names else None
    return _Split(manifest, images, image_labels, instances, scenes)


def _read_scenes(path: Path) -> pa.Table:
    """A split's scenes with ``top1_id`` (``top5_ids[0]``, int16) in place of the per-row
    ``top5_ids`` / ``top5_probs`` lists, which every filter of a frame would copy one Python
    object at a time; the lists are kept when a row has no class (views then read them)."""
    lists = ["top5_ids", "top5_probs"]
    table = _read_table(path, [c for c in cache_mod.SCENES_SCHEMA.names if c not in lists[1:]])
    top1 = _top1_ids(table.column("top5_ids"))
    if top1 is None:
        return _read_table(path, None)
    return table.drop_columns(lists[:1]).append_column(TOP1_COLUMN, pa.array(top1))


CROWD_COLUMNS = ["dataset", "split", "image_id", "bbox_x", "bbox_y", "bbox_w", "bbox_h", "image_index"]
#: Instance columns read into the person and crowd-region frames (the labels are added apart).
_NUMERIC_COLUMNS = [c for c in PERSON_COLUMNS if c not in LABEL_COLUMNS]


@dataclass
class _Parts:
    """What every loaded split contributes, in load order."""

    images: list[pd.DataFrame] = field(default_factory=list)
    image_labels: list[dict[str, Labels]] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    persons: list[dict[str, np.ndarray]] = field(default_factory=list)
    person_labels: list[dict[str, Labels]] = field(default_factory=list)
    crowd: list[dict[str, np.ndarray]] = field(default_factory=list)
    crowd_labels: list[dict[str, Labels]] = field(default_factory=list)
    scenes: list[pa.Table] = field(default_factory=list)


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
    parts = _Parts()
    offset = 0
    for key in keys:
        try:
            split = _read_split(root, key)
        except (ManifestError, cache_mod.CacheFileError) as exc:
            skipped[str(key)] = str(exc)
            continue
        loaded.append(key)
        manifests[str(key)] = split.manifest
        if split.manifest.code_version != code_version():
            outdated[str(key)] = (
                f"{key} was built by analysis {split.manifest.code_version} (this is {code_version()}); "
                f"rebuild it with `{rebuild_command(key.directory(root), split.manifest)}`"
            )
        _add_split(parts, str(key), split, offset)
        offset += len(split.images)
    images, persons, crowd_regions, scenes = _frames(parts)
    identities = dataset_identities(manifests)
    datasets = sorted(identities, key=lambda name: identities[name].sort_key)
    return Caches(loaded, manifests, images, persons, crowd_regions, scenes, datasets, identities, skipped, outdated)


def _image_rows(image_ids: np.ndarray, ids: np.ndarray, offset: int) -> np.ndarray:
    """Each of ``ids``' row among the images (the first image with that id), ``offset`` added;
    -1 where no image has the id.  One hash lookup per id."""
    first = np.flatnonzero(~pd.Index(image_ids).duplicated())
    rows = pd.Index(image_ids[first]).get_indexer(ids)
    return np.where(rows >= 0, first[rows] + offset, -1)


def _add_split(parts: _Parts, key: str, split: _Split, offset: int) -> None:
    """One split's images, persons and crowd regions (with ``instance_row`` and ``image_index``:
    the row of their image among all splits' images, which start at ``offset``) and scenes
    (with ``image_index``; left out when there are none)."""
    image_ids = split.images["image_id"].to_numpy()
    parts.images.append(split.images)
    parts.image_labels.append(split.image_labels)
    parts.keys.append(key)
    inst = split.instances
    labels = {c: _labels(inst.column(c)) for c in LABEL_COLUMNS}
    image_index = _image_rows(image_ids, inst.column("image_id").to_numpy(zero_copy_only=False), offset)
    known = image_index >= 0
    crowd = inst.column("iscrowd").to_numpy(zero_copy_only=False).astype(bool)
    columns = {c: inst.column(c).to_numpy(zero_copy_only=False) for c in _NUMERIC_COLUMNS}
    columns["instance_row"] = np.arange(len(inst), dtype=np.int64)
    columns["image_index"] = image_index
    for rows, out, out_labels in (
        (known & ~crowd, parts.persons, parts.person_labels),
        (known & crowd, parts.crowd, parts.crowd_labels),
    ):
        every = bool(rows.all())  # most splits: every instance a person of a known image, no copy
        out.append({c: values if every else values[rows] for c, values in columns.items()})
        out_labels.append({c: v if isinstance(v, str) or every else v[rows] for c, v in labels.items()})
    if split.scenes is not None and split.scenes.num_rows:
        scenes = split.scenes
        rows = _image_rows(image_ids, scenes.column("image_id").to_numpy(zero_copy_only=False), offset)
        ok = rows >= 0
        if not ok.all():
            scenes = scenes.filter(pa.array(ok))
        scenes = scenes.append_column("image_index", pa.array(rows[ok].astype(np.int64)))
        order = [c for c in scenes.column_names if c != TOP1_COLUMN]  # top1_id last, as it is added
        parts.scenes.append(scenes.select(order + [TOP1_COLUMN] * (TOP1_COLUMN in scenes.column_names)))


def _frames(parts: _Parts) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame | None]:
    """Every split's images, persons, crowd regions and scenes, each built once from its parts
    with the label columns categorical and the typed columns (see :func:`_typed_columns`)."""
    if not parts.images:
        return _empty_frames()
    n_images = [len(df) for df in parts.images]
    images = pd.concat(parts.images, ignore_index=True)
    for i, col in enumerate(LABEL_COLUMNS):
        images.insert(i, col, _stacked_categorical([labels[col] for labels in parts.image_labels], n_images))
    images["source"] = images["source"].astype("category")
    images["key"] = _stacked_categorical(list(parts.keys), n_images)
    persons = _stacked_frame(parts.persons, parts.person_labels, KEEP_PERSON_COLUMNS)
    crowd_regions = _stacked_frame(parts.crowd, parts.crowd_labels, CROWD_COLUMNS)
    scenes = None
    if parts.scenes:
        table = pa.concat_tables(parts.scenes, promote_options="default")
        scenes = table.drop_columns(list(LABEL_COLUMNS)).to_pandas()
        n_scenes = [t.num_rows for t in parts.scenes]
        for i, col in enumerate(LABEL_COLUMNS):
            labels = [_labels(t.column(col)) for t in parts.scenes]
            scenes.insert(i, col, _stacked_categorical(labels, n_scenes))
    _typed_columns(images, persons, scenes)
    return images, persons, crowd_regions, scenes


def _stacked_frame(
    parts: list[dict[str, np.ndarray]], labels: list[dict[str, Labels]], columns: list[str]
) -> pd.DataFrame:
    """One frame of ``columns`` from every split's arrays and labels, in split order."""
    lengths = [len(part["image_index"]) for part in parts]
    data: dict[str, Any] = {}
    for col in columns:
        if col in LABEL_COLUMNS:
            data[col] = _stacked_categorical([split[col] for split in labels], lengths)
        else:
            data[col] = np.concatenate([part[col] for part in parts])
    return pd.DataFrame(data, copy=False)  # no consolidation: each column is one fresh array already


def _empty_frames() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, None]:
    """The frames when no split loaded: no rows, the loaded frames' columns."""
    images = pd.DataFrame({c: pd.Series(dtype=object) for c in cache_mod.IMAGE_COLUMNS})
    images["key"] = pd.Series(dtype=object)
    persons = pd.DataFrame({c: pd.Series(dtype=float) for c in KEEP_PERSON_COLUMNS})
    persons["instance_row"] = pd.Series(dtype=np.int64)
    persons["image_index"] = pd.Series(dtype=np.int64)
    crowd_regions = pd.DataFrame({c: pd.Series(dtype=float) for c in CROWD_COLUMNS})
    _typed_columns(images, persons, None)
    for frame, columns in (
        (images, ["dataset", "split", "source", "key"]),
        (persons, LABEL_COLUMNS),
        (crowd_regions, LABEL_COLUMNS),
    ):
        for col in columns:
            frame[col] = frame[col].astype("category")
    return images, persons, crowd_regions, None


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


def _top1_ids(column: pa.ChunkedArray) -> np.ndarray | None:
    """Each scenes row's top-1 class (``top5_ids[0]``), read once per load in Arrow so that no
    rerun walks the per-row lists; None when a row has no class (then views read the lists)."""
    column = column.combine_chunks()
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
