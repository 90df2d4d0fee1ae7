"""Typed decoding of COCO-format keypoint files.

msgspec decodes straight into typed structs and skips every field we do not
declare (segmentation polygons, RLE counts, URLs) without building Python objects
for them, which makes it roughly twice as fast as a generic JSON parse.
Structure errors become :class:`AnnotationError` naming the file, the record
(by its id where the file gives one) and the problem.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any

import msgspec

from analysis.errors import AnnotationError


#: Ids and counts must fit the int64 columns they end up in.
Int64 = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]


class CocoImage(msgspec.Struct, frozen=True, gc=False):
    id: Int64
    file_name: str = ""
    width: float | None = None
    height: float | None = None
    # CrowdPose ships a per-image crowdIndex; kept to compare with ours.
    crowdIndex: float | None = None  # noqa: N815 (the file's own key)


class CocoAnnotation(msgspec.Struct, frozen=True, gc=False):
    id: Int64
    image_id: Int64
    category_id: Int64 = 1
    bbox: list[float] | None = None
    # ints and floats both occur; ints in -5..256 are interned, which makes the
    # mostly-integer keypoint lists of real files cheaper to decode than floats.
    keypoints: list[int | float] | None = None
    # PoseTrack writes true/false; JHMDB omits it.  Typed as Any because a
    # `bool | int` union costs msgspec more than the rest of the record; the
    # loader checks the type.
    iscrowd: Any = 0
    num_keypoints: Int64 | None = None
    area: float | None = None


class CocoCategory(msgspec.Struct, frozen=True, gc=False):
    id: Int64
    name: str = ""
    keypoints: list[str] | None = None
    skeleton: list[list[int]] | None = None


class CocoFile(msgspec.Struct, gc=False):
    images: list[CocoImage]
    annotations: list[CocoAnnotation]
    categories: list[CocoCategory]


REQUIRED_KEYS = ("images", "annotations", "categories")
_PATH_RE = re.compile(r"\$\.(images|annotations|categories)\[(\d+)\](.*)")


def decode_coco(path: Path, data: bytes | None = None, image_fields: tuple[str, ...] = ()) -> tuple[CocoFile, list[dict] | None]:
    """Decode a COCO keypoint file.

    Args:
        path: the file (named in errors).
        data: its bytes when already read.
        image_fields: extra image-record fields to keep (e.g. the field a
            ``source`` rule reads); returned as dicts aligned with ``images``.

    Returns:
        The decoded file and, when ``image_fields`` is given, one dict of those
        fields per image record (else None).

    Raises:
        AnnotationError: not JSON, truncated, not an object, missing a required
            list, or a record whose fields have the wrong type.
    """
    path = Path(path)
    if data is None:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise AnnotationError(path, None, f"cannot read file: {exc.strerror or exc}") from None
    file_type = _file_type(image_fields)
    try:
        decoded = msgspec.json.decode(data, type=file_type)
    except msgspec.ValidationError as exc:
        # Either the structure is wrong or the file holds NaN/Infinity tokens,
        # which msgspec (strict JSON) rejects; the slow path below tells which.
        decoded = _decode_slow(path, data, file_type, exc)
    except msgspec.DecodeError as exc:
        decoded = _decode_slow(path, data, file_type, exc)
    extras = None
    if image_fields:
        extras = [{f: getattr(img, f, None) for f in image_fields} for img in decoded.images]
    return decoded, extras


def _file_type(image_fields: tuple[str, ...]) -> type:
    extra = [f for f in image_fields if f not in CocoImage.__struct_fields__]
    if not extra:
        return CocoFile
    image_type = msgspec.defstruct(
        "CocoImageExtra", [(f, Any, None) for f in extra], bases=(CocoImage,), frozen=True, gc=False
    )
    return msgspec.defstruct(
        "CocoFileExtra",
        [("images", list[image_type]), ("annotations", list[CocoAnnotation]),
         ("categories", list[CocoCategory])],
        gc=False,
    )


def _decode_slow(path: Path, data: bytes, file_type: type, first_error: Exception) -> Any:
    """Error path: the standard library parser, which accepts NaN, then typed conversion."""
    try:
        raw = json.loads(data)
    except UnicodeDecodeError as exc:
        raise AnnotationError(path, None, f"not UTF-8 text ({exc.reason})") from None
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}"
        problem = "truncated JSON" if exc.pos >= len(data.rstrip()) else "not valid JSON"
        raise AnnotationError(path, None, f"{problem} ({exc.msg} at {where})") from None
    if not isinstance(raw, dict):
        raise AnnotationError(path, None, f"top level is a JSON {type(raw).__name__}, not an object with images/annotations/categories")
    missing = [k for k in REQUIRED_KEYS if k not in raw]
    if missing:
        raise AnnotationError(path, None, f"missing required key(s): {', '.join(missing)}")
    for key in REQUIRED_KEYS:
        if not isinstance(raw[key], list):
            raise AnnotationError(path, key, f"expected a list, got {type(raw[key]).__name__}")
    try:
        return msgspec.convert(raw, type=file_type, strict=False)
    except msgspec.ValidationError as exc:
        raise AnnotationError(path, *_locate(raw, str(exc))) from None


def _locate(raw: dict, message: str) -> tuple[str | None, str]:
    """Turn msgspec's ``... - at `$.annotations[5].bbox[2]``` into (record, problem)."""
    problem, _, where = message.partition(" - at `")
    where = where.rstrip("`")
    match = _PATH_RE.match(where)
    if not match:
        return None, f"{problem} at {where}" if where else problem
    section, index, field = match.group(1), int(match.group(2)), match.group(3).lstrip(".")
    record = raw[section][index]
    record_id = record.get("id") if isinstance(record, dict) else None
    kind = section[:-1]
    name = f"{kind} id={record_id} ({section}[{index}])" if record_id is not None else f"{section}[{index}]"
    return name, f"{problem.rstrip('.')}" + (f" in field '{field}'" if field else "")

