"""Reading a COCO keypoint results file: typed decoding, validation, columns.

The format is a JSON list of ``{"image_id", "category_id", "keypoints": [x, y,
score] * K, "score"}``.  msgspec decodes it straight into typed records (the fast
path); when that fails, the standard library re-reads it (it also accepts the
NaN / Infinity that Python's json writes) so the error can name the record and
the problem.  Every problem is one line naming the file, the record and the
problem (:class:`~analysis.errors.AnnotationError`).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import msgspec
import numpy as np
import numpy.typing as npt

from analysis.build.json_input import MAX_COORDINATE, gc_paused, unwrap_json_bytes
from analysis.build.number_arrays import parse_number_arrays
from analysis.errors import AnnotationError
from analysis.evaluation.definitions import MAX_DETECTIONS

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
#: Ids are stored as int64: a larger one is refused, never wrapped.
_Id = Annotated[int, msgspec.Meta(ge=INT64_MIN, le=INT64_MAX)]


class _Prediction(msgspec.Struct, gc=False):
    image_id: _Id
    #: the record's raw JSON text (a view of the file's bytes), decoded chunk by chunk into
    #: one array: as a Python float list per record, 2M detections took 8x the file's size
    keypoints: msgspec.Raw
    score: float
    category_id: _Id | None = None


#: Records whose keypoints are decoded at a time (their Python floats live only that long).
KEYPOINT_CHUNK = 1 << 14
_KEYPOINT_LISTS = msgspec.json.Decoder(list[list[float]])
#: Records whose keypoint text :func:`parse_number_arrays` reads at a time.  Its temporaries
#: (index arrays of 8 bytes per character of number text) must stay in cache: on the
#: benchmark's predictions (2-decimal numbers, ~330 bytes of keypoints a record) pieces of
#: 256-512 records made the keypoints' first read in a process ~0.65x the typed decode's,
#: 4,096 (the build's ``PARSE_RECORDS``, for shorter integer text) 1.2x it.
KEYPOINT_PARSE_RECORDS = 512


@dataclass(frozen=True)
class Predictions:
    """A validated results file, columnar, in file order (N records).

    Every record is validated; the keypoints are held only for the records an evaluation
    can use (``keypoint_rows``): with ``person_categories`` given to :func:`read_predictions`,
    the :data:`MAX_DETECTIONS` best-scored person detections of each image, as pycocotools
    keeps them.  On 2,000,000 detections (400 per image) that is 5% of the records, and
    their (N, K, 3) float64 array alone would be 1.2x the file's size.

    Attributes:
        image_id: (N,) int64.
        category_id: (N,) int64; records without one get ``person_category``.
        score: (N,) float64.
        keypoints: (M, K, 3) float64 x, y, score of the records ``keypoint_rows``.
        keypoint_rows: (M,) int64 file rows (0-based, ascending) whose keypoints are held;
            ``arange(N)`` when no cut was asked for.
    """

    image_id: npt.NDArray[np.int64]
    category_id: npt.NDArray[np.int64]
    score: npt.NDArray[np.float64]
    keypoints: npt.NDArray[np.float64]
    keypoint_rows: npt.NDArray[np.int64]

    def keypoints_of(self, rows: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
        """(len(rows), K, 3) keypoints of the file rows ``rows`` (each must be held)."""
        at = np.searchsorted(self.keypoint_rows, rows)
        if len(rows) and (at.max() >= len(self.keypoint_rows) or (self.keypoint_rows[at] != rows).any()):
            raise ValueError("keypoints asked for records that were cut before decoding")
        return self.keypoints[at]


@dataclass(frozen=True)
class KeptDetections:
    """Which person detections an evaluation keeps: the ``MAX_DETECTIONS`` best per image
    (score descending, file order on ties: pycocotools' stable sort and cut)."""

    rows: npt.NDArray[np.int64]  #: kept file rows, ascending
    person: npt.NDArray[np.bool_]  #: (N,) records of a person category
    over_max_per_image: int  #: person detections beyond the cut


def member_of(values: npt.ArrayLike, candidates: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """``np.isin(values, candidates)`` for integers, by binary search in the sorted candidates:
    ``np.isin`` goes through ``np.unique``, whose first call imports ``numpy.ma`` (about 20 ms
    of ``evaluate``'s start-up)."""
    values = np.asarray(values)
    pool = np.sort(np.asarray(candidates, dtype=values.dtype if values.dtype.kind in "iu" else None).ravel())
    if not len(pool):
        return np.zeros(values.shape, bool)
    where = np.minimum(np.searchsorted(pool, values), len(pool) - 1)
    return pool[where] == values


def kept_detections(
    image_id: npt.NDArray[np.int64],
    category_id: npt.NDArray[np.int64],
    score: npt.NDArray[np.float64],
    person_categories: list[int],
) -> KeptDetections:
    """The person detections an evaluation keeps (see :class:`KeptDetections`)."""
    person = member_of(category_id, person_categories)
    person_rows = np.flatnonzero(person)
    order = person_rows[np.lexsort((person_rows, -score[person_rows], image_id[person_rows]))]
    image_sorted = image_id[order]
    rank = np.arange(len(order)) - np.searchsorted(image_sorted, image_sorted, side="left")
    return KeptDetections(np.sort(order[rank < MAX_DETECTIONS]), person, int((rank >= MAX_DETECTIONS).sum()))


_PATH_RE = re.compile(r"at `\$\[(\d+)\](.*)`")


def read_predictions(
    path: Path,
    data: bytes | bytearray,
    n_joints: int,
    person_category: int,
    person_categories: list[int] | None = None,
) -> Predictions:
    """Decode and validate a results file.

    Args:
        path: the file (named in errors).
        data: its bytes.
        n_joints: K, the dataset's joint count.
        person_category: the category id given to records without one.
        person_categories: when given, keypoints are kept only for the detections an
            evaluation of these categories keeps (:func:`kept_detections`); every record's
            keypoints are still decoded, chunk by chunk, and validated.

    Raises:
        AnnotationError: not a JSON list, a record without image_id, keypoints or
            score, keypoints not 3*K long, a NaN or infinite value, a coordinate
            beyond ``MAX_COORDINATE`` (as the build), an id beyond int64, an empty
            list or file, UTF-16 text.  Gzip-compressed files are read (as the build).
    """
    data = unwrap_json_bytes(path, data)
    try:
        with gc_paused():  # one struct per record: collections would find no garbage
            records = msgspec.json.decode(data, type=list[_Prediction])
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise _precise_error(path, data, n_joints, str(exc)) from None
    if not records:
        raise AnnotationError(path, None, "the results list is empty (no predictions to evaluate)")
    n = len(records)
    image_id = np.fromiter((r.image_id for r in records), np.int64, n)
    category = np.fromiter((person_category if r.category_id is None else r.category_id for r in records), np.int64, n)
    score = np.fromiter((r.score for r in records), np.float64, n)
    if person_categories is None:
        held = np.arange(n, dtype=np.int64)
    else:
        held = kept_detections(image_id, category, score, person_categories).rows
    keypoints = _decode_keypoints(path, data, records, n_joints, score, held)
    return Predictions(image_id, category, score, keypoints, held)


def _decode_keypoints(
    path: Path,
    data: bytes | bytearray,
    records: list[_Prediction],
    n_joints: int,
    score: np.ndarray,
    held: np.ndarray,
) -> np.ndarray:
    """The ``held`` records' keypoints as a (len(held), K, 3) array, every record's decoded chunk
    by chunk and validated: the first record with a non-finite value or a coordinate beyond
    ``MAX_COORDINATE`` is named, with how many such records the file has."""
    keypoints = np.empty((len(held), n_joints, 3), np.float64)
    non_finite = np.flatnonzero(~np.isfinite(score)).tolist()[:1]
    n_non_finite = int((~np.isfinite(score)).sum())
    too_far: list[int] = []
    n_too_far = 0
    use_parser = True
    for start in range(0, len(records), KEYPOINT_CHUNK):
        chunk = records[start : start + KEYPOINT_CHUNK]
        values, use_parser = _chunk_keypoints(path, data, records, start, len(chunk), n_joints, use_parser)
        # a record is flagged once, however many of its values are bad (as a whole-file check would)
        bad = np.flatnonzero(~np.isfinite(values).all(axis=(1, 2)) & np.isfinite(score[start : start + len(chunk)]))
        n_non_finite += len(bad)
        non_finite += (start + bad[:1]).tolist()
        far = np.flatnonzero((np.abs(values[:, :, :2]) > MAX_COORDINATE).any(axis=(1, 2)))
        n_too_far += len(far)
        too_far += (start + far[:1]).tolist()
        lo, hi = np.searchsorted(held, [start, start + len(chunk)])
        keypoints[lo:hi] = values[held[lo:hi] - start]
    if non_finite:
        i = min(non_finite)
        what = "score" if not np.isfinite(score[i]) else "keypoints"
        raise AnnotationError(
            path, _where(i, records[i].image_id), f"{what} has a NaN or infinite value ({n_non_finite} such record(s))"
        )
    if too_far:
        i = too_far[0]
        raise AnnotationError(
            path,
            _where(i, records[i].image_id),
            f"keypoints has a coordinate beyond +-{MAX_COORDINATE:g} px ({n_too_far} such record(s))",
        )
    return keypoints


def _chunk_keypoints(
    path: Path,
    data: bytes | bytearray,
    records: list[_Prediction],
    start: int,
    size: int,
    n_joints: int,
    use_parser: bool,
) -> tuple[np.ndarray, bool]:
    """Records ``start`` .. ``start + size``'s keypoints as a (size, K, 3) array (lengths checked),
    and whether to keep trying the number parser on the next chunk.

    Each ``KEYPOINT_PARSE_RECORDS`` piece is parsed from its raw text by numpy when
    :func:`parse_number_arrays` reads it exactly and every record holds 3*K values; any other
    piece is decoded the typed way (equal values; it names any error).  After a refused piece
    the parser is not tried again: a file written with full-precision floats (which the parser
    refuses) would pay for a refused parse per piece.
    """
    keypoints = np.empty((size, n_joints, 3), np.float64)
    for lo in range(0, size, KEYPOINT_PARSE_RECORDS):
        hi = min(size, lo + KEYPOINT_PARSE_RECORDS)
        parsed = parse_number_arrays([r.keypoints for r in records[start + lo : start + hi]]) if use_parser else None
        if parsed is not None and (parsed[0] == 3 * n_joints).all():
            keypoints[lo:hi] = parsed[1].reshape(hi - lo, n_joints, 3)
        else:
            use_parser = use_parser and parsed is not None
            keypoints[lo:hi] = _typed_keypoints(path, data, records, start + lo, hi - lo, n_joints)
    return keypoints, use_parser


def _typed_keypoints(
    path: Path, data: bytes | bytearray, records: list[_Prediction], start: int, size: int, n_joints: int
) -> np.ndarray:
    """Records ``start`` .. ``start + size``'s keypoints decoded by msgspec into Python float lists."""
    chunk = records[start : start + size]
    try:
        lists = _KEYPOINT_LISTS.decode(b"[" + b",".join(r.keypoints for r in chunk) + b"]")
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise _precise_error(path, data, n_joints, str(exc)) from None
    lengths = np.fromiter(map(len, lists), np.int64, len(lists))
    bad_length = np.flatnonzero(lengths != 3 * n_joints)
    if len(bad_length):
        i = start + int(bad_length[0])
        raise AnnotationError(
            path, _where(i, records[i].image_id), _length_problem(int(lengths[i - start]), n_joints, None)
        )
    return np.array(lists, np.float64).reshape(len(chunk), n_joints, 3)


def _where(index: int, image_id: object = None) -> str:
    return f"record {index}" + (f" (image_id={image_id})" if image_id is not None else "")


def _length_problem(length: int, n_joints: int, count: int | None) -> str:
    text = f"keypoints has {length} values, expected 3 x {n_joints} joints = {3 * n_joints}"
    return text if count is None else f"{text} ({count} such record(s))"


def _precise_error(path: Path, data: bytes | bytearray, n_joints: int, fast_message: str) -> AnnotationError:
    """Re-read a file the fast decoder refused and name the first bad record."""
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError) as exc:
        return AnnotationError(path, None, f"not valid JSON ({exc})")
    if not isinstance(doc, list):
        return AnnotationError(
            path, None, f"a results file must be a JSON list of predictions, got a JSON {type(doc).__name__}"
        )
    for i, record in enumerate(doc):
        if not isinstance(record, dict):
            return AnnotationError(path, _where(i), f"a prediction must be a JSON object, got {type(record).__name__}")
        problem = _record_problem(record, n_joints)
        if problem is not None:
            return AnnotationError(path, _where(i, record.get("image_id")), problem)
    match = _PATH_RE.search(fast_message)
    record = _where(int(match.group(1))) if match else None
    return AnnotationError(path, record, fast_message)


def _record_problem(record: dict, n_joints: int) -> str | None:
    """What is wrong with one decoded prediction record (the first problem), or None."""
    for key in ("image_id", "keypoints", "score"):
        if key not in record:
            return f"missing '{key}'"
    problem = _id_problem(record)
    if problem is not None:
        return problem
    score = record["score"]
    if isinstance(score, bool) or not isinstance(score, int | float):
        return f"'score' must be a number, got {score!r}"
    if not math.isfinite(score):
        return f"score is {score} (NaN or infinite)"
    keypoints = record["keypoints"]
    if not isinstance(keypoints, list) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in keypoints
    ):
        return "'keypoints' must be a list of numbers"
    if len(keypoints) != 3 * n_joints:
        return _length_problem(len(keypoints), n_joints, None)
    if not all(math.isfinite(v) for v in keypoints):
        return "keypoints has a NaN or infinite value"
    return None


def _id_problem(record: dict) -> str | None:
    """image_id and category_id (when given) must be integers within int64."""
    for key in ("image_id", "category_id"):
        if key not in record:
            continue
        value = record[key]
        if isinstance(value, bool) or not isinstance(value, int):
            return f"'{key}' must be an integer, got {value!r}"
        if not INT64_MIN <= value <= INT64_MAX:
            return f"'{key}' {value} is beyond the 64-bit integer range"
    return None
