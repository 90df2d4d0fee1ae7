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

from analysis.build.coco_json import unwrap_json_bytes
from analysis.build.loading import MAX_COORDINATE, gc_paused
from analysis.errors import AnnotationError

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


@dataclass(frozen=True)
class Predictions:
    """A validated results file, columnar, in file order (N records).

    Attributes:
        image_id: (N,) int64.
        category_id: (N,) int64; records without one get ``person_category``.
        score: (N,) float64.
        keypoints: (N, K, 3) float64 x, y, score.
    """

    image_id: npt.NDArray[np.int64]
    category_id: npt.NDArray[np.int64]
    score: npt.NDArray[np.float64]
    keypoints: npt.NDArray[np.float64]


_PATH_RE = re.compile(r"at `\$\[(\d+)\](.*)`")


def read_predictions(path: Path, data: bytes, n_joints: int, person_category: int) -> Predictions:
    """Decode and validate a results file.

    Args:
        path: the file (named in errors).
        data: its bytes.
        n_joints: K, the dataset's joint count.
        person_category: the category id given to records without one.

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
    keypoints = np.empty((n, n_joints, 3), np.float64)
    for start in range(0, n, KEYPOINT_CHUNK):
        chunk = records[start:start + KEYPOINT_CHUNK]
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
        keypoints[start:start + len(chunk)] = np.array(lists, np.float64).reshape(len(chunk), n_joints, 3)
        del lists
    bad_value = np.flatnonzero(~np.isfinite(score) | ~np.isfinite(keypoints).all(axis=(1, 2)))
    if len(bad_value):
        i = int(bad_value[0])
        what = "score" if not np.isfinite(score[i]) else "keypoints"
        raise AnnotationError(
            path,
            _where(i, records[i].image_id),
            f"{what} has a NaN or infinite value ({len(bad_value)} such record(s))",
        )
    too_far = np.flatnonzero((np.abs(keypoints[:, :, :2]) > MAX_COORDINATE).any(axis=(1, 2)))
    if len(too_far):
        i = int(too_far[0])
        raise AnnotationError(
            path,
            _where(i, records[i].image_id),
            f"keypoints has a coordinate beyond +-{MAX_COORDINATE:g} px ({len(too_far)} such record(s))",
        )
    return Predictions(image_id, category, score, keypoints)


def _where(index: int, image_id: object = None) -> str:
    return f"record {index}" + (f" (image_id={image_id})" if image_id is not None else "")


def _length_problem(length: int, n_joints: int, count: int | None) -> str:
    text = f"keypoints has {length} values, expected 3 x {n_joints} joints = {3 * n_joints}"
    return text if count is None else f"{text} ({count} such record(s))"


def _precise_error(path: Path, data: bytes, n_joints: int, fast_message: str) -> AnnotationError:
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
        where = _where(i, record.get("image_id"))
        for key in ("image_id", "keypoints", "score"):
            if key not in record:
                return AnnotationError(path, where, f"missing '{key}'")
        for key in ("image_id", "category_id"):
            value = record.get(key)
            if key in record and (isinstance(value, bool) or not isinstance(value, int)):
                return AnnotationError(path, where, f"'{key}' must be an integer, got {value!r}")
            if key in record and not INT64_MIN <= value <= INT64_MAX:
                return AnnotationError(path, where, f"'{key}' {value} is beyond the 64-bit integer range")
        score = record["score"]
        if isinstance(score, bool) or not isinstance(score, int | float):
            return AnnotationError(path, where, f"'score' must be a number, got {score!r}")
        if not math.isfinite(score):
            return AnnotationError(path, where, f"score is {score} (NaN or infinite)")
        keypoints = record["keypoints"]
        if not isinstance(keypoints, list) or not all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in keypoints
        ):
            return AnnotationError(path, where, "'keypoints' must be a list of numbers")
        if len(keypoints) != 3 * n_joints:
            return AnnotationError(
                path, where, _length_problem(len(keypoints), n_joints, None)
            )
        if not all(math.isfinite(v) for v in keypoints):
            return AnnotationError(path, where, "keypoints has a NaN or infinite value")
    match = _PATH_RE.search(fast_message)
    record = _where(int(match.group(1))) if match else None
    return AnnotationError(path, record, fast_message)
