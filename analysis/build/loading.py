"""Decoded COCO records -> validated, columnar numpy arrays.

All per-record work is done by numpy over whole columns; Python loops run only on
error paths, to name the offending record.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import chain
from operator import attrgetter
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from analysis.build.coco_json import (
    CocoAnnotation,
    CocoAnnotationRawKeypoints,
    CocoCategory,
    CocoImage,
    DecodedFile,
    decode_coco,
)
from analysis.build.json_input import MAX_COORDINATE, gc_paused
from analysis.build.number_arrays import parse_number_arrays
from analysis.errors import AnnotationError
from analysis.schema import KeypointSchema, schema_from_category

#: How many skipped records are listed one by one in the manifest (all are counted).
MAX_LISTED_SKIPS = 1000


def checked_pattern(pattern: str) -> re.Pattern[str]:
    """``pattern`` compiled, refused (``ValueError``) when it cannot be compiled or when a
    repeated part itself holds a repeat or an alternation (``(a+)*``, ``(a|ab)*``): such
    patterns can backtrack for exponential time on one file name, so the matching of a
    registry ``source`` or a compose ``group`` rule stays linear in the text."""
    try:
        compiled = re.compile(pattern)
        # the parse re.compile just did (no public API; typeshed has no re._parser)
        parsed = re._parser.parse(pattern)  # type: ignore[attr-defined]
    except re.error as exc:
        raise ValueError(f"not a regular expression ({exc})") from None
    if _nested_repeat(parsed, inside_repeat=False):
        raise ValueError(
            "a repeated group holds another repeat or an alternation (like (a+)* or (a|b)+), which can take "
            "exponential time to match; rewrite it without the nesting (e.g. [a-z:/.]* instead of ([a-z:/.]+)*)"
        )
    return compiled


def _nested_repeat(items: Iterable[tuple[Any, Any]], inside_repeat: bool) -> bool:
    """Whether a parsed pattern repeats (more than once) a part holding a repeat or an alternation
    (``items``: a ``re._parser.SubPattern``, (opcode, argument) pairs)."""
    c = re._constants  # type: ignore[attr-defined]  # typeshed has no re._constants
    for op, av in items:
        if op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT):
            low, high, body = av
            varies = high > 1 and low != high  # x{2} repeats nothing ambiguously
            if (varies and inside_repeat) or _nested_repeat(body, inside_repeat or high > 1):
                return True
        elif op is c.BRANCH:
            if (inside_repeat and len(av[1]) > 1) or any(_nested_repeat(b, inside_repeat) for b in av[1]):
                return True
        elif op in (c.SUBPATTERN, c.ASSERT, c.ASSERT_NOT) and _nested_repeat(av[-1], inside_repeat):
            return True
    return False


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
            checked_pattern(self.pattern)
        except ValueError as exc:
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
    category_id: int | None = None  #: the category whose annotations are the persons (and give the schema)


def load_pose_dataset(
    path: Path,
    options: LoadOptions = LoadOptions(),
    data: bytes | bytearray | None = None,
    before_rewrite: Callable[[], object] | None = None,
) -> PoseDataset:
    """Read, validate and columnise a COCO-format keypoint file.

    Annotations are decoded and columnised a chunk at a time (see
    :mod:`analysis.build.coco_json`), so memory stays near the file's size.
    ``before_rewrite``: see :func:`analysis.build.coco_json.decode_coco`.

    Raises:
        AnnotationError: naming the file, the record and the problem, for any
            input that cannot be read faithfully.
    """
    path = Path(path)
    extra_fields = (options.source_rule.field,) if options.source_rule else ()
    with gc_paused():
        decoded = decode_coco(path, data, extra_fields, before_rewrite)
        data = None  # only ``decoded`` holds the bytes now, and releases them when done
        try:
            return _columnise(path, decoded, options)
        finally:
            decoded.release()


#: Rows checked at a time (the checks' temporaries stay small).
CHECK_ROWS = 1 << 16
#: Visibility flags COCO defines (0 unlabelled, 1 labelled but hidden, 2 visible).
VISIBILITY_VALUES = (0.0, 1.0, 2.0)
_INT32_MAX = 2**31 - 1


def _columnise(path: Path, decoded: DecodedFile, options: LoadOptions) -> PoseDataset:
    """Validated columns of a decoded file."""
    skipped = SkipLog()
    warnings: list[str] = []
    if decoded.n_non_finite:
        warnings.append(f"{decoded.n_non_finite} NaN/Infinity token(s) in fields PoseAtlas does not read (ignored)")

    image_ids = np.fromiter(map(attrgetter("id"), decoded.images), np.int64, len(decoded.images))
    keep_images = _dedupe(path, image_ids, "image", decoded.images.__getitem__, skipped, warnings)
    images = decoded.images if keep_images.all() else [decoded.images[i] for i in np.flatnonzero(keep_images)]
    extras = decoded.extras
    if extras is not None and not keep_images.all():
        extras = [extras[i] for i in np.flatnonzero(keep_images)]
    image_cols = _image_columns(path, images, extras, options.source_rule, skipped, warnings)

    candidates = _keypoint_categories(path, decoded.categories)
    parts = _annotation_parts(path, decoded, {c.id for c in candidates}, skipped)
    keep = _dedupe(
        path, parts.ann_id, "annotation", lambda i: decoded.annotation(int(parts.raw_index[i])), skipped, warnings
    )
    decoded.release()  # the file's bytes are not needed any more: free them before assembling
    category = _schema_category(
        candidates, parts.category_id[keep], parts.ann_id, parts.category_id, keep, skipped, warnings
    )
    keep &= parts.category_id == category.id
    lengths = parts.kp_lengths[keep]
    ann_id = parts.ann_id[keep]
    schema = _resolve_schema(path, ann_id, lengths, category, options.keypoint_schema, warnings)
    keypoints = _assemble_keypoints(path, parts, keep, schema.n_joints, skipped)
    odd_visibility = _visibility_warning(keypoints, ann_id)
    if odd_visibility:
        warnings.append(odd_visibility)
    instance_cols = _instance_columns(path, parts, keep, keypoints, image_cols.image_id)
    visibility = _visibility_convention(instance_cols.keypoints)
    return PoseDataset(image_cols, instance_cols, schema, visibility, skipped, warnings, category.id)


def _first_occurrence_mask(ids: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    _, first = np.unique(ids, return_index=True)
    mask = np.zeros(len(ids), dtype=bool)
    mask[first] = True
    return mask


def _dedupe(
    path: Path,
    ids: npt.NDArray[np.int64],
    kind: str,
    record: Callable[[int], CocoImage | CocoAnnotation],
    skipped: SkipLog,
    warnings: list[str],
) -> npt.NDArray[np.bool_]:
    """(N,) mask of the records to keep: identical repeats merged, a conflicting repeat is an error.

    ``record(i)`` returns the i-th record (decoded on demand), compared only for repeats.
    """
    keep = _first_occurrence_mask(ids)
    if keep.all():
        return keep
    first_index = {int(ids[i]): int(i) for i in np.flatnonzero(keep)}
    repeats = np.flatnonzero(~keep)
    for i in repeats:
        first, again = record(first_index[int(ids[i])]), record(int(i))
        if again != first:
            raise AnnotationError(
                path,
                f"{kind} id={ids[i]}",
                f"duplicate {kind} id with conflicting content (first: {_brief(first)}; repeat: {_brief(again)})",
            )
    skipped.add(f"identical duplicate {kind} record merged", [f"{kind} id={ids[i]}" for i in repeats])
    warnings.append(f"{len(repeats)} identical duplicate {kind} record(s) merged")
    return keep


def _brief(record: CocoImage | CocoAnnotation) -> str:
    text = repr(record)
    return text if len(text) <= 160 else text[:157] + "..."


def _keypoint_categories(path: Path, categories: list[CocoCategory]) -> list[CocoCategory]:
    """The categories whose annotations may be persons with keypoints."""
    with_names = [c for c in categories if c.keypoints]
    if with_names:
        return with_names
    persons = [c for c in categories if c.name == "person"]
    if persons:
        return persons
    if len(categories) == 1:
        return list(categories)
    raise AnnotationError(path, "categories", "no category with keypoints and none named 'person'")


def _schema_category(
    candidates: list[CocoCategory],
    used: npt.NDArray[np.int64],
    ann_id: npt.NDArray[np.int64],
    category_id: npt.NDArray[np.int64],
    keep: npt.NDArray[np.bool_],
    skipped: SkipLog,
    warnings: list[str],
) -> CocoCategory:
    """The keypoint category the annotations use most (the first listed on a tie, or with none).

    Annotations of the other keypoint categories (a ``hand`` category beside
    ``person``) are counted and listed, not mixed into the person schema.
    """
    ids, counts = np.unique(used, return_counts=True)
    count = dict(zip(ids.tolist(), counts.tolist(), strict=True))
    chosen = max(candidates, key=lambda c: count.get(c.id, 0))  # max keeps the first of equals
    for other in candidates:
        n = count.get(other.id, 0)
        if other is chosen or not n:
            continue
        reason = f"annotation of keypoint category '{other.name}' (id={other.id}), not the schema's '{chosen.name}'"
        skipped.add(reason, [f"annotation id={a}" for a in ann_id[keep & (category_id == other.id)]])
        warnings.append(
            f"{n} annotation(s) of keypoint category '{other.name}' skipped "
            f"(the keypoint schema is '{chosen.name}''s, which most annotations use)"
        )
    return chosen


def _image_columns(
    path: Path,
    images: list[CocoImage],
    extras: list[dict] | None,
    rule: SourceRule | None,
    skipped: SkipLog,
    warnings: list[str],
) -> ImageColumns:
    n = len(images)
    image_id = np.fromiter(map(attrgetter("id"), images), np.int64, n)

    def floats(name: str) -> npt.NDArray[np.float64]:
        values = [np.nan if v is None else v for v in map(attrgetter(name), images)]
        return np.array(values, dtype=np.float64).reshape(n)

    width, height = floats("width"), floats("height")
    for name, values in (("width", width), ("height", height)):
        bad = ~np.isnan(values) & (~np.isfinite(values) | (values < 0) | (values > MAX_COORDINATE))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise AnnotationError(
                path, f"image id={image_id[i]}", f"{name} {float(values[i])!r} is negative or out of range"
            )
    zero = (width == 0) | (height == 0)
    if zero.any():
        # Some tools write 0 for "unknown": read it as unknown, say so.
        width[zero] = height[zero] = np.nan
        skipped.add("image width or height 0 read as unknown", [f"image id={i}" for i in image_id[zero]])
        warnings.append(f"{int(zero.sum())} image(s) with width or height 0: size read as unknown")
    if rule is not None and extras is not None:
        source = rule.apply([e.get(rule.field) for e in extras])
    else:
        source = [None] * n
    return ImageColumns(
        image_id=image_id,
        file_name=list(map(attrgetter("file_name"), images)),
        width=width,
        height=height,
        crowd_index_stored=floats("crowdIndex"),
        source=source,
    )


@dataclass
class _AnnotationParts:
    """Columns of every annotation of a keypoint category, gathered chunk by chunk, (N,) each.

    ``kp_chunks`` holds each chunk's keypoint values flat (float32 where exact, else float64), ``kp_counts``
    how many records each chunk holds; they are consumed by ``_assemble_keypoints``.
    """

    ann_id: npt.NDArray[np.int64]
    raw_index: npt.NDArray[np.int64]  #: position in the file's annotation list
    image_id: npt.NDArray[np.int64]
    category_id: npt.NDArray[np.int64]
    bbox: npt.NDArray[np.float64]  #: (N, 4)
    iscrowd: npt.NDArray[np.bool_]
    segm_area: npt.NDArray[np.float64]
    num_keypoints: npt.NDArray[np.int64]
    kp_lengths: npt.NDArray[np.int64]
    kp_chunks: list[npt.NDArray[np.floating]]
    kp_counts: list[int]


def _annotation_parts(path: Path, decoded: DecodedFile, candidate_ids: set[int], skipped: SkipLog) -> _AnnotationParts:
    columns: dict[str, list[np.ndarray]] = {k: [] for k in _DTYPES}
    kp_chunks: list[np.ndarray] = []
    other_category: list[np.ndarray] = []
    wanted = np.fromiter(candidate_ids, np.int64, len(candidate_ids))
    chunk: Sequence[CocoAnnotation | CocoAnnotationRawKeypoints]
    for start, chunk in decoded.annotation_chunks():
        n = len(chunk)
        # Every record's keypoints, read before any record is left out (as the typed decode
        # reads them all); a chunk the parser cannot read exactly is decoded typed instead.
        keypoint_values = _raw_keypoint_values(chunk)
        if keypoint_values is None and n and isinstance(chunk[0], CocoAnnotationRawKeypoints):
            chunk = decoded.typed_chunk(start, n)
        ids = np.fromiter(map(attrgetter("id"), chunk), np.int64, n)
        categories = np.fromiter(map(attrgetter("category_id"), chunk), np.int64, n)
        mine = np.isin(categories, wanted)
        raw_index = start + np.arange(n, dtype=np.int64)
        if not mine.all():
            other_category.append(ids[~mine])
            chunk = [chunk[i] for i in np.flatnonzero(mine).tolist()]
            ids, categories, raw_index = ids[mine], categories[mine], raw_index[mine]
            if keypoint_values is not None:
                lengths, flat = keypoint_values
                keypoint_values = lengths[mine], flat[np.repeat(mine, lengths)]
        for name, values in _chunk_columns(path, chunk, ids, keypoint_values).items():
            if name == "kp_flat":
                kp_chunks.append(values)
            else:
                columns[name].append(values)
        columns["ann_id"].append(ids)
        columns["category_id"].append(categories)
        columns["raw_index"].append(raw_index)
        del chunk  # its records are freed here, before the next chunk is decoded
    if other_category:
        skipped.add(
            "annotation of a non-keypoint category", [f"annotation id={a}" for a in np.concatenate(other_category)]
        )
    joined = {
        k: np.concatenate(v) if v else np.zeros((0, 4) if k == "bbox" else 0, _DTYPES[k]) for k, v in columns.items()
    }
    return _AnnotationParts(**joined, kp_chunks=kp_chunks, kp_counts=[len(a) for a in columns["ann_id"]])


#: The annotation columns gathered chunk by chunk, and their dtypes when a file has none.
_DTYPES = {
    "ann_id": np.int64,
    "raw_index": np.int64,
    "image_id": np.int64,
    "category_id": np.int64,
    "bbox": np.float64,
    "iscrowd": np.bool_,
    "segm_area": np.float64,
    "num_keypoints": np.int64,
    "kp_lengths": np.int64,
}


#: Records whose keypoint text is parsed at a time (the parser's temporaries stay in cache).
PARSE_RECORDS = 4096


def _raw_keypoint_values(
    chunk: Sequence[CocoAnnotation | CocoAnnotationRawKeypoints],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]] | None:
    """(values per record, every value in order) of a chunk decoded with raw keypoints;
    None for a typed chunk, or when a record's keypoints are not plain numbers the parser reads."""
    if not chunk or not isinstance(chunk[0], CocoAnnotationRawKeypoints):
        return None
    raw = list(map(attrgetter("keypoints"), chunk))
    parts = []
    for start in range(0, len(raw), PARSE_RECORDS):
        part = parse_number_arrays(raw[start : start + PARSE_RECORDS])
        if part is None:
            return None
        parts.append(part)
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def _chunk_columns(
    path: Path,
    chunk: Sequence[CocoAnnotation | CocoAnnotationRawKeypoints],
    ann_id: npt.NDArray[np.int64],
    keypoint_values: tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]] | None = None,
) -> dict[str, np.ndarray]:
    """Columns of one chunk's annotations, validated; ``kp_flat`` every keypoint value in order.

    ``keypoint_values``: the chunk's keypoints already parsed (values per record, flat values),
    else they are read from the typed records' lists.
    """
    n = len(chunk)
    flat: npt.NDArray[np.floating]
    if keypoint_values is not None:
        lengths, flat = keypoint_values
    else:
        keypoint_lists = [k or () for k in map(attrgetter("keypoints"), chunk)]
        lengths = np.fromiter(map(len, keypoint_lists), np.int64, n)
        try:
            flat = np.fromiter(chain.from_iterable(keypoint_lists), np.float64, int(lengths.sum()))
        except OverflowError:  # an integer beyond float64
            i = next(i for i, kp in enumerate(keypoint_lists) if any(abs(v) > 1e308 for v in kp))
            raise AnnotationError(
                path, f"annotation id={ann_id[i]}", "keypoints hold a number beyond float64"
            ) from None
    areas = [np.nan if v is None else v for v in map(attrgetter("area"), chunk)]
    segm_area = np.array(areas, dtype=np.float64).reshape(n)
    bad_area = ~np.isnan(segm_area) & (~np.isfinite(segm_area) | (segm_area < 0))
    if bad_area.any():
        i = int(np.flatnonzero(bad_area)[0])
        raise AnnotationError(
            path, f"annotation id={ann_id[i]}", f"area {float(segm_area[i])!r} is negative or infinite"
        )
    num_keypoints = np.array(
        [-1 if v is None else v for v in map(attrgetter("num_keypoints"), chunk)], dtype=object
    ).reshape(n)
    stored = num_keypoints[np.array([v is not None for v in map(attrgetter("num_keypoints"), chunk)], bool)]
    if len(stored) and (min(stored) < 0 or max(stored) > _INT32_MAX):
        i = next(
            i for i, a in enumerate(chunk) if a.num_keypoints is not None and not 0 <= a.num_keypoints <= _INT32_MAX
        )
        raise AnnotationError(
            path, f"annotation id={ann_id[i]}", f"num_keypoints {chunk[i].num_keypoints} is negative or out of range"
        )
    # Kept as float32 until assembled when that is exact (integer pixel coordinates, as in
    # most files): half the memory while the file's bytes are still held.
    with np.errstate(over="ignore", invalid="ignore"):  # out-of-range values stay float64 (and fail later)
        flat32 = flat.astype(np.float32)
    if np.array_equal(flat32, flat):
        flat = flat32
    return {
        "image_id": np.fromiter(map(attrgetter("image_id"), chunk), np.int64, n),
        "bbox": _bbox_array(path, chunk, ann_id),
        "iscrowd": _iscrowd_array(path, chunk),
        "segm_area": segm_area,
        "num_keypoints": num_keypoints.astype(np.int64),
        "kp_lengths": lengths,
        "kp_flat": flat,
    }


def _resolve_schema(
    path: Path,
    ann_id: npt.NDArray[np.int64],
    keypoint_lengths: npt.NDArray[np.int64],
    category: CocoCategory,
    override: KeypointSchema | None,
    warnings: list[str],
) -> KeypointSchema:
    """Joint count and names: the override, else the category, checked against the data.

    ``keypoint_lengths``: (N,) values per annotation's keypoint list (0 when absent).
    """
    if override is not None:
        return override
    values, counts = np.unique(keypoint_lengths[keypoint_lengths > 0], return_counts=True)
    lengths = Counter(dict(zip(values.tolist(), counts.tolist(), strict=True)))
    names = list(category.keypoints or [])
    if not lengths:
        return schema_from_category(names, category.skeleton or [], len(names))
    if len(lengths) == 1:
        (stored,) = lengths
        if stored % 3:
            first = ann_id[int(np.flatnonzero(keypoint_lengths > 0)[0])]
            raise AnnotationError(path, f"annotation id={first}", f"keypoints length {stored} is not a multiple of 3")
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


def _assemble_keypoints(
    path: Path,
    parts: _AnnotationParts,
    keep: npt.NDArray[np.bool_],
    n_joints: int,
    skipped: SkipLog,
) -> npt.NDArray[np.float64]:
    """(N, K, 3) keypoints of the kept annotations, filled chunk by chunk.

    Each chunk's flat values are released as soon as they are copied, so the
    values exist about once, not twice.  Annotations without keypoints read as
    all joints unlabelled (counted).
    """
    width = 3 * n_joints
    lengths = parts.kp_lengths
    empty = lengths == 0
    wrong = keep & ~empty & (lengths != width)
    if wrong.any():
        i = int(np.flatnonzero(wrong)[0])
        raise AnnotationError(
            path,
            f"annotation id={parts.ann_id[i]}",
            f"keypoints has {lengths[i]} values, expected {width} (3 x {n_joints} joints)",
        )
    if (keep & empty).any():
        skipped.add(
            "annotation without keypoints read as all joints unlabelled",
            [f"annotation id={a}" for a in parts.ann_id[keep & empty]],
        )
    out = np.zeros((int(keep.sum()), width), dtype=np.float64)
    row = record = 0
    while parts.kp_chunks:
        flat = parts.kp_chunks.pop(0)
        m = parts.kp_counts.pop(0)
        chunk_lengths, chunk_keep = lengths[record : record + m], keep[record : record + m]
        n_kept = int(chunk_keep.sum())
        if n_kept == m and (chunk_lengths == width).all():
            out[row : row + m] = flat.reshape(m, width)
        else:
            with_values = chunk_keep & (chunk_lengths > 0)
            values = flat[np.repeat(with_values, chunk_lengths)].reshape(-1, width)
            out[row + np.flatnonzero(with_values[chunk_keep])] = values
        del flat
        row += n_kept
        record += m
    keypoints = out.reshape(-1, n_joints, 3)
    kept_ids = parts.ann_id[keep]
    for start in range(0, len(keypoints), CHECK_ROWS):  # bounded temporaries
        _check_keypoint_values(path, keypoints[start : start + CHECK_ROWS], kept_ids[start : start + CHECK_ROWS])
    return keypoints


def _check_keypoint_values(path: Path, keypoints: npt.NDArray[np.float64], ann_id: npt.NDArray[np.int64]) -> None:
    """Coordinates within ``MAX_COORDINATE``, every value finite (``keypoints``: (N, K, 3)).

    Reductions only: no temporary as large as the keypoints themselves.
    """
    xy = keypoints[..., :2]
    if len(keypoints):
        far = (xy.max(axis=(1, 2)) > MAX_COORDINATE) | (xy.min(axis=(1, 2)) < -MAX_COORDINATE)
        if far.any():
            i = int(np.flatnonzero(far)[0])
            value = float(np.abs(xy[i]).max())
            raise AnnotationError(
                path,
                f"annotation id={ann_id[i]}",
                f"keypoint coordinate {value:g} is out of range (|x|, |y| <= {MAX_COORDINATE:g})",
            )
    bad = ~np.isfinite(keypoints.sum(axis=(1, 2)))  # NaN anywhere (the bound above caught infinities)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise AnnotationError(path, f"annotation id={ann_id[i]}", "keypoints contain a NaN or infinite value")


def _visibility_warning(keypoints: npt.NDArray[np.float64], ann_id: npt.NDArray[np.int64]) -> str | None:
    """A warning counting annotations whose visibility flags are not 0, 1 or 2 (None when all are).

    Such files exist (COCO-WholeBody-style confidence scores in (0, 1); 3 or -1 in
    converted files); they are read by the same rule, v > 0 labelled, and counted.
    """
    rows = np.zeros(len(keypoints), dtype=bool)
    seen_parts = []
    for start in range(0, len(keypoints), CHECK_ROWS):  # bounded temporaries
        v = keypoints[start : start + CHECK_ROWS, :, 2]
        odd = ~np.isin(v, VISIBILITY_VALUES)
        rows[start : start + len(v)] = odd.any(axis=1)
        if odd.any():
            seen_parts.append(np.unique(v[odd]))
    if not rows.any():
        return None
    seen = np.unique(np.concatenate(seen_parts))
    shown = ", ".join(f"{x:g}" for x in seen[:5]) + (", ..." if len(seen) > 5 else "")
    return (
        f"{int(rows.sum())} annotation(s) with keypoint visibility other than 0, 1 or 2 (values {shown}; "
        f"first: annotation id={ann_id[int(np.flatnonzero(rows)[0])]}): read as v > 0 labelled"
    )


def _instance_columns(
    path: Path,
    parts: _AnnotationParts,
    keep: npt.NDArray[np.bool_],
    keypoints: npt.NDArray[np.float64],
    image_ids: npt.NDArray[np.int64],
) -> InstanceColumns:
    ann_id = parts.ann_id[keep]
    ann_image_id = parts.image_id[keep]
    n = len(ann_id)
    order = np.argsort(image_ids, kind="stable")
    pos = np.searchsorted(image_ids, ann_image_id, sorter=order)
    pos = np.minimum(pos, max(len(image_ids) - 1, 0))
    image_index = order[pos] if len(image_ids) else np.zeros(n, dtype=np.int64)
    orphan = (image_ids[image_index] != ann_image_id) if len(image_ids) else np.ones(n, dtype=bool)
    if orphan.any():
        i = int(np.flatnonzero(orphan)[0])
        raise AnnotationError(
            path,
            f"annotation id={ann_id[i]}",
            f"image_id {ann_image_id[i]} has no image record ({int(orphan.sum())} such annotation(s))",
        )
    return InstanceColumns(
        ann_id,
        image_index.astype(np.int64),
        parts.iscrowd[keep],
        parts.bbox[keep],
        parts.segm_area[keep],
        parts.num_keypoints[keep],
        keypoints,
    )


def _iscrowd_array(
    path: Path, annotations: Sequence[CocoAnnotation | CocoAnnotationRawKeypoints]
) -> npt.NDArray[np.bool_]:
    values = list(map(attrgetter("iscrowd"), annotations))
    if not set(map(type, values)) <= {int, bool} or not set(values) <= {0, 1}:
        bad = next(a for a in annotations if type(a.iscrowd) not in (int, bool) or a.iscrowd not in (0, 1))
        raise AnnotationError(
            path, f"annotation id={bad.id}", f"iscrowd must be 0/1 or true/false, got {bad.iscrowd!r}"
        )
    return np.fromiter(map(bool, values), bool, len(values))


def _bbox_array(
    path: Path,
    annotations: Sequence[CocoAnnotation | CocoAnnotationRawKeypoints],
    ann_id: npt.NDArray[np.int64],
) -> npt.NDArray[np.float64]:
    boxes = list(map(attrgetter("bbox"), annotations))
    try:
        lengths = np.fromiter(map(len, boxes), np.int64, len(boxes))
    except TypeError:  # len(None)
        i = next(i for i, box in enumerate(boxes) if box is None)
        raise AnnotationError(path, f"annotation id={ann_id[i]}", "missing bbox") from None
    wrong = lengths != 4
    if wrong.any():
        i = int(np.flatnonzero(wrong)[0])
        raise AnnotationError(
            path, f"annotation id={ann_id[i]}", f"bbox has {lengths[i]} values, expected 4 (x, y, w, h)"
        )
    # Flattening beats np.array on a list of lists by about 3x.
    bbox = np.fromiter(chain.from_iterable(boxes), np.float64, 4 * len(boxes)).reshape(len(boxes), 4)
    bad = ~np.isfinite(bbox).all(axis=1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise AnnotationError(
            path, f"annotation id={ann_id[i]}", f"bbox {bbox[i].tolist()} has a NaN or infinite value"
        )
    negative = (bbox[:, 2:] < 0).any(axis=1)
    if negative.any():
        i = int(np.flatnonzero(negative)[0])
        raise AnnotationError(
            path, f"annotation id={ann_id[i]}", f"bbox {bbox[i].tolist()} has a negative width or height"
        )
    far = (np.abs(bbox) > MAX_COORDINATE).any(axis=1)
    if far.any():
        i = int(np.flatnonzero(far)[0])
        raise AnnotationError(
            path,
            f"annotation id={ann_id[i]}",
            f"bbox {bbox[i].tolist()} is out of range (|values| <= {MAX_COORDINATE:g})",
        )
    return bbox


def _visibility_convention(keypoints: npt.NDArray[np.float64]) -> str:
    """PoseTrack-style files use only 0/1; there 1 means labelled and visible."""
    v = keypoints[..., 2]
    return "coco" if v.size and float(v.max()) > 1.0 else "binary"
