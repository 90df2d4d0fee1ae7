"""Decoded COCO records -> validated, columnar numpy arrays.

All per-record work is done by numpy over whole columns; Python loops run only on
error paths, to name the offending record.
"""

from __future__ import annotations

import gc
import re
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import chain
from operator import attrgetter
from pathlib import Path

import numpy as np
import numpy.typing as npt

from analysis.coco_json import CocoAnnotation, CocoFile, CocoImage, decode_coco
from analysis.errors import AnnotationError
from analysis.schema import KeypointSchema, schema_from_category

#: How many skipped records are listed one by one in the manifest (all are counted).
MAX_LISTED_SKIPS = 1000


@dataclass(frozen=True)
class SourceRule:
    """Derives an image's ``source`` sub-dataset from one of its fields.

    ``pattern`` is a regular expression searched in the field's text; its group
    named ``source`` (else its first group, else the whole match) is the source.
    E.g. SmallPose: ``SourceRule("file_name", r"^(?P<source>[^/]+)/")``.
    """

    field: str = "file_name"
    pattern: str = r"^(?P<source>[^/]+)/"

    def __post_init__(self) -> None:
        try:
            re.compile(self.pattern)
        except re.error as exc:
            raise ValueError(f"invalid source pattern {self.pattern!r}: {exc}") from None

    def apply(self, values: list[object]) -> list[str | None]:
        """(N,) source per image; None where the field is missing or does not match."""
        compiled = re.compile(self.pattern)
        group = "source" if "source" in compiled.groupindex else (1 if compiled.groups else 0)
        matches = (compiled.search(str(v)) if v is not None else None for v in values)
        return [m.group(group) if m else None for m in matches]


@dataclass(frozen=True)
class LoadOptions:
    """How to read one annotation file."""

    keypoint_schema: KeypointSchema | None = None  #: override of the category's schema
    source_rule: SourceRule | None = None


@dataclass
class SkipLog:
    """Every record not taken over as-is, with the reason; counted and listed."""

    counts: dict[str, int] = field(default_factory=dict)
    listed: list[dict[str, str]] = field(default_factory=list)

    def add(self, reason: str, records: list[str]) -> None:
        if not records:
            return
        self.counts[reason] = self.counts.get(reason, 0) + len(records)
        room = MAX_LISTED_SKIPS - len(self.listed)
        self.listed.extend({"record": r, "reason": reason} for r in records[: max(room, 0)])


@dataclass(frozen=True)
class ImageColumns:
    """Per-image columns, (M,) each, in file order with duplicates merged."""

    image_id: npt.NDArray[np.int64]
    file_name: list[str]
    width: npt.NDArray[np.float64]  #: NaN when absent
    height: npt.NDArray[np.float64]
    crowd_index_stored: npt.NDArray[np.float64]  #: NaN when the file has none
    source: list[str | None]  #: None when unknown


@dataclass(frozen=True)
class InstanceColumns:
    """Per-annotation columns, (N,) each; ``keypoints`` is (N, K, 3)."""

    ann_id: npt.NDArray[np.int64]
    image_index: npt.NDArray[np.int64]  #: row of the annotation's image in ImageColumns
    iscrowd: npt.NDArray[np.bool_]
    bbox: npt.NDArray[np.float64]  #: (N, 4) x, y, w, h
    segm_area: npt.NDArray[np.float64]  #: NaN when absent
    num_keypoints: npt.NDArray[np.int64]  #: stored value, -1 when absent
    keypoints: npt.NDArray[np.float64]  #: (N, K, 3) x, y, v


@dataclass(frozen=True)
class PoseDataset:
    """One validated annotation file, columnar."""

    images: ImageColumns
    instances: InstanceColumns
    schema: KeypointSchema
    visibility: str  #: "coco" (2 = visible) or "binary" (the file uses only 0/1)
    skipped: SkipLog
    warnings: list[str]


def load_pose_dataset(path: Path, options: LoadOptions = LoadOptions(), data: bytes | None = None) -> PoseDataset:
    """Read, validate and columnise a COCO-format keypoint file.

    Raises:
        AnnotationError: naming the file, the record and the problem, for any
            input that cannot be read faithfully.
    """
    path = Path(path)
    extra_fields = (options.source_rule.field,) if options.source_rule else ()
    with gc_paused():
        decoded = [decode_coco(path, data, extra_fields)]
        try:
            return _columnise(path, *decoded[0], options)
        finally:
            _release_in_background(decoded)


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause Python's cyclic GC: decoding creates millions of containers, and the
    collections it would trigger (for no garbage) cost more than the decode itself."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _release_in_background(holder: list) -> None:
    """Drop the last reference to the decoded records on another thread.

    Freeing millions of small objects takes about 0.15 s for a COCO-train-sized
    file; on a second core it overlaps the numpy work that follows (which
    releases the GIL) instead of adding to it.
    """
    threading.Thread(target=holder.clear, name="free-decoded-json", daemon=True).start()


def _columnise(path: Path, coco: CocoFile, extras: list[dict] | None, options: LoadOptions) -> PoseDataset:
    """Validated columns of a decoded file."""
    skipped = SkipLog()
    warnings: list[str] = []

    images = _dedupe(path, coco.images, "image", skipped, warnings)
    if extras is not None and len(images) != len(coco.images):
        keep = _first_occurrence_mask(np.fromiter(map(attrgetter("id"), coco.images), np.int64, len(coco.images)))
        extras = [e for e, k in zip(extras, keep, strict=True) if k]
    annotations = _dedupe(path, coco.annotations, "annotation", skipped, warnings)
    categories = _keypoint_categories(path, coco)
    annotations = _keep_categories(annotations, categories, skipped)

    image_cols = _image_columns(images, extras, options.source_rule)
    keypoint_lists = [k or () for k in map(attrgetter("keypoints"), annotations)]
    lengths = np.fromiter(map(len, keypoint_lists), np.int64, len(keypoint_lists))
    schema = _resolve_schema(path, annotations, lengths, categories, options.keypoint_schema, warnings)
    instance_cols = _instance_columns(path, annotations, keypoint_lists, lengths, image_cols.image_id, schema.n_joints, skipped)
    visibility = _visibility_convention(instance_cols.keypoints)
    return PoseDataset(image_cols, instance_cols, schema, visibility, skipped, warnings)


def _first_occurrence_mask(ids: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    _, first = np.unique(ids, return_index=True)
    mask = np.zeros(len(ids), dtype=bool)
    mask[first] = True
    return mask


def _dedupe(path: Path, records: list, kind: str, skipped: SkipLog, warnings: list[str]) -> list:
    """Merge identical repeated records; a repeated id with different content is an error."""
    ids = np.fromiter(map(attrgetter("id"), records), np.int64, len(records))
    keep = _first_occurrence_mask(ids)
    if keep.all():
        return records
    first_by_id = {records[i].id: records[i] for i in np.flatnonzero(keep)}
    repeats = [records[i] for i in np.flatnonzero(~keep)]
    for record in repeats:
        if record != first_by_id[record.id]:
            raise AnnotationError(
                path, f"{kind} id={record.id}",
                f"duplicate {kind} id with conflicting content (first: {_brief(first_by_id[record.id])}; "
                f"repeat: {_brief(record)})",
            )
    skipped.add(f"identical duplicate {kind} record merged", [f"{kind} id={r.id}" for r in repeats])
    warnings.append(f"{len(repeats)} identical duplicate {kind} record(s) merged")
    return [records[i] for i in np.flatnonzero(keep)]


def _brief(record: CocoImage | CocoAnnotation) -> str:
    text = repr(record)
    return text if len(text) <= 160 else text[:157] + "..."


def _keypoint_categories(path: Path, coco: CocoFile) -> list:
    """The categories whose annotations are persons with keypoints."""
    with_names = [c for c in coco.categories if c.keypoints]
    if with_names:
        return with_names
    persons = [c for c in coco.categories if c.name == "person"]
    if persons:
        return persons
    if len(coco.categories) == 1:
        return list(coco.categories)
    raise AnnotationError(path, "categories", "no category with keypoints and none named 'person'")


def _keep_categories(annotations: list, categories: list, skipped: SkipLog) -> list:
    ids = {c.id for c in categories}
    kept = [a for a in annotations if a.category_id in ids]
    if len(kept) != len(annotations):
        skipped.add(
            "annotation of a non-keypoint category",
            [f"annotation id={a.id}" for a in annotations if a.category_id not in ids],
        )
    return kept


def _image_columns(images: list[CocoImage], extras: list[dict] | None, rule: SourceRule | None) -> ImageColumns:
    n = len(images)
    def floats(name: str) -> npt.NDArray[np.float64]:
        return np.array([np.nan if v is None else v for v in map(attrgetter(name), images)], dtype=np.float64).reshape(n)

    if rule is not None and extras is not None:
        source = rule.apply([e.get(rule.field) for e in extras])
    else:
        source = [None] * n
    return ImageColumns(
        image_id=np.fromiter(map(attrgetter("id"), images), np.int64, n),
        file_name=list(map(attrgetter("file_name"), images)),
        width=floats("width"),
        height=floats("height"),
        crowd_index_stored=floats("crowdIndex"),
        source=source,
    )


def _resolve_schema(
    path: Path, annotations: list, keypoint_lengths: npt.NDArray[np.int64], categories: list,
    override: KeypointSchema | None, warnings: list[str],
) -> KeypointSchema:
    """Joint count and names: the override, else the category, checked against the data.

    ``keypoint_lengths``: (N,) values per annotation's keypoint list (0 when absent).
    """
    if override is not None:
        return override
    values, counts = np.unique(keypoint_lengths[keypoint_lengths > 0], return_counts=True)
    lengths = Counter(dict(zip(values.tolist(), counts.tolist(), strict=True)))
    category = categories[0]
    names = list(category.keypoints or [])
    if not lengths:
        return schema_from_category(names, category.skeleton or [], len(names))
    if len(lengths) == 1:
        (stored,) = lengths
        if stored % 3:
            first = next(a for a in annotations if a.keypoints)
            raise AnnotationError(path, f"annotation id={first.id}", f"keypoints length {stored} is not a multiple of 3")
        n_joints = stored // 3
        if names and n_joints != len(names):
            # Human-Art lists 21 names but stores 17 joints; Halpe lists none.
            warnings.append(
                f"category lists {len(names)} joint names but every annotation stores {n_joints} joints; "
                f"using {n_joints} joints"
            )
        return schema_from_category(names, category.skeleton or [], n_joints)
    # Lengths disagree: the category's list (else the commonest length) is the schema,
    # and the loader names the first annotation that breaks it.
    n_joints = len(names) if names else lengths.most_common(1)[0][0] // 3
    return schema_from_category(names, category.skeleton or [], n_joints)


def _instance_columns(
    path: Path, annotations: list[CocoAnnotation], keypoint_lists: list, keypoint_lengths: npt.NDArray[np.int64],
    image_ids: npt.NDArray[np.int64], n_joints: int, skipped: SkipLog,
) -> InstanceColumns:
    n = len(annotations)
    ann_id = np.fromiter(map(attrgetter("id"), annotations), np.int64, n)
    ann_image_id = np.fromiter(map(attrgetter("image_id"), annotations), np.int64, n)

    order = np.argsort(image_ids, kind="stable")
    pos = np.searchsorted(image_ids, ann_image_id, sorter=order)
    pos = np.minimum(pos, max(len(image_ids) - 1, 0))
    image_index = order[pos] if len(image_ids) else np.zeros(n, dtype=np.int64)
    orphan = (image_ids[image_index] != ann_image_id) if len(image_ids) else np.ones(n, dtype=bool)
    if orphan.any():
        i = int(np.flatnonzero(orphan)[0])
        raise AnnotationError(
            path, f"annotation id={ann_id[i]}",
            f"image_id {ann_image_id[i]} has no image record ({int(orphan.sum())} such annotation(s))",
        )

    bbox = _bbox_array(path, annotations, ann_id)
    keypoints = _keypoint_array(path, keypoint_lists, keypoint_lengths, ann_id, n_joints, skipped)
    segm_area = np.array([np.nan if v is None else v for v in map(attrgetter("area"), annotations)], dtype=np.float64).reshape(n)
    num_keypoints = np.array([-1 if v is None else v for v in map(attrgetter("num_keypoints"), annotations)], dtype=np.int64).reshape(n)
    iscrowd = _iscrowd_array(path, annotations)
    return InstanceColumns(ann_id, image_index.astype(np.int64), iscrowd, bbox, segm_area, num_keypoints, keypoints)


def _iscrowd_array(path: Path, annotations: list[CocoAnnotation]) -> npt.NDArray[np.bool_]:
    values = list(map(attrgetter("iscrowd"), annotations))
    if not set(map(type, values)) <= {int, bool}:
        bad = next(a for a in annotations if type(a.iscrowd) not in (int, bool))
        raise AnnotationError(path, f"annotation id={bad.id}", f"iscrowd must be 0/1 or true/false, got {bad.iscrowd!r}")
    return np.fromiter(map(bool, values), bool, len(values))


def _bbox_array(path: Path, annotations: list[CocoAnnotation], ann_id: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    boxes = list(map(attrgetter("bbox"), annotations))
    try:
        lengths = np.fromiter(map(len, boxes), np.int64, len(boxes))
    except TypeError:  # len(None)
        i = next(i for i, box in enumerate(boxes) if box is None)
        raise AnnotationError(path, f"annotation id={ann_id[i]}", "missing bbox") from None
    wrong = lengths != 4
    if wrong.any():
        i = int(np.flatnonzero(wrong)[0])
        raise AnnotationError(path, f"annotation id={ann_id[i]}", f"bbox has {lengths[i]} values, expected 4 (x, y, w, h)")
    # Flattening beats np.array on a list of lists by about 3x.
    bbox = np.fromiter(chain.from_iterable(boxes), np.float64, 4 * len(boxes)).reshape(len(boxes), 4)
    bad = ~np.isfinite(bbox).all(axis=1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise AnnotationError(path, f"annotation id={ann_id[i]}", f"bbox {bbox[i].tolist()} has a NaN or infinite value")
    negative = (bbox[:, 2:] < 0).any(axis=1)
    if negative.any():
        i = int(np.flatnonzero(negative)[0])
        raise AnnotationError(path, f"annotation id={ann_id[i]}", f"bbox {bbox[i].tolist()} has a negative width or height")
    return bbox


def _keypoint_array(
    path: Path, lists: list, lengths: npt.NDArray[np.int64], ann_id: npt.NDArray[np.int64], n_joints: int,
    skipped: SkipLog,
) -> npt.NDArray[np.float64]:
    """(N, K, 3) keypoints from the decoded lists; ``lengths`` (N,) their sizes."""
    n = len(lists)
    width = 3 * n_joints
    empty = lengths == 0
    wrong = ~empty & (lengths != width)
    if wrong.any():
        i = int(np.flatnonzero(wrong)[0])
        raise AnnotationError(
            path, f"annotation id={ann_id[i]}",
            f"keypoints has {lengths[i]} values, expected {width} (3 x {n_joints} joints)",
        )
    flat = np.fromiter(chain.from_iterable(lists), np.float64, int(lengths.sum()))
    if empty.any():
        # Annotations without keypoints (some crowd regions) count as all joints unlabelled.
        skipped.add("annotation without keypoints read as all joints unlabelled", [f"annotation id={a}" for a in ann_id[empty]])
        full = np.zeros((n, width), dtype=np.float64)
        full[~empty] = flat.reshape(-1, width)
        flat = full.reshape(-1)
    keypoints = flat.reshape(n, n_joints, 3)
    bad = ~np.isfinite(keypoints).all(axis=(1, 2))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise AnnotationError(path, f"annotation id={ann_id[i]}", "keypoints contain a NaN or infinite value")
    return keypoints


def _visibility_convention(keypoints: npt.NDArray[np.float64]) -> str:
    """PoseTrack-style files use only 0/1; there 1 means labelled and visible."""
    v = keypoints[..., 2]
    return "coco" if v.size and float(v.max()) > 1.0 else "binary"
