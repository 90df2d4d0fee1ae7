"""An annotation file's records as their original JSON text, for copying them unchanged.

msgspec decodes the file into ``msgspec.Raw`` slices: each image and annotation record
keeps the exact bytes it has in the file (field order, number formatting, polygons), and
only ``id`` / ``image_id`` are parsed.  Nothing else becomes a Python object, so a
200 MB file costs ~0.6 s and little memory beside its own bytes, where a full
``orjson.loads`` takes several seconds and gigabytes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path
from typing import BinaryIO

import msgspec
import numpy as np
import numpy.typing as npt

from analysis.build.coco_json import Int64
from analysis.errors import AnnotationError


class _Id(msgspec.Struct, gc=False):
    id: Int64


class _AnnotationRef(msgspec.Struct, gc=False):
    id: Int64
    image_id: Int64


@dataclass(frozen=True)
class RawCocoFile:
    """One annotation file, record by record, as raw JSON text.

    Attributes:
        path: the file (named in errors).
        top: every top-level key in file order, its value's raw text.
        images: (M,) raw image records in file order.
        image_ids: (M,) their ``id``.
        annotations: (N,) raw annotation records in file order.
        annotation_ids: (N,) their ``id``.
        annotation_image_ids: (N,) their ``image_id``.
    """

    path: Path
    top: dict[str, msgspec.Raw]
    images: list[msgspec.Raw]
    image_ids: npt.NDArray[np.int64]
    annotations: list[msgspec.Raw]
    annotation_ids: npt.NDArray[np.int64]
    annotation_image_ids: npt.NDArray[np.int64]


def read_raw_coco(path: Path, data: bytes | None = None) -> RawCocoFile:
    """Split a COCO file into raw records (the bytes stay referenced, not copied).

    Raises:
        AnnotationError: not JSON, no ``images`` / ``annotations`` list, or a record
            without an integer ``id`` (``image_id``).
    """
    path = Path(path)
    if data is None:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise AnnotationError(path, None, f"cannot read annotation file: {exc.strerror or exc}") from None
    try:
        top = msgspec.json.decode(data, type=dict[str, msgspec.Raw])
        for key in ("images", "annotations"):
            if key not in top:
                raise AnnotationError(path, None, f"missing top-level key '{key}'")
        images = msgspec.json.decode(top["images"], type=list[msgspec.Raw])
        image_ids = [r.id for r in msgspec.json.decode(top["images"], type=list[_Id])]
        annotations = msgspec.json.decode(top["annotations"], type=list[msgspec.Raw])
        refs = msgspec.json.decode(top["annotations"], type=list[_AnnotationRef])
    except msgspec.DecodeError as exc:
        raise AnnotationError(path, None, f"not a COCO annotation file ({exc})") from None
    return RawCocoFile(
        path=path,
        top=top,
        images=images,
        image_ids=np.asarray(image_ids, dtype=np.int64),
        annotations=annotations,
        annotation_ids=np.fromiter((r.id for r in refs), dtype=np.int64, count=len(refs)),
        annotation_image_ids=np.fromiter((r.image_id for r in refs), dtype=np.int64, count=len(refs)),
    )


def take(records: list[msgspec.Raw], rows: npt.NDArray[np.int64]) -> list[msgspec.Raw]:
    """The records at ``rows`` (in that order)."""
    if len(rows) == 0:
        return []
    picked = itemgetter(*rows.tolist())(records)
    return list(picked) if len(rows) > 1 else [picked]


def write_subset(raw: RawCocoFile, image_ids: npt.NDArray[np.int64], out: BinaryIO) -> None:
    """Write the file restricted to the images ``image_ids`` and every annotation of theirs.

    Records are copied byte for byte and stay in file order; every other top-level key
    (``info``, ``licenses``, ``categories`` ...) is copied unchanged, keys in file order.
    """
    image_rows = np.flatnonzero(np.isin(raw.image_ids, image_ids))
    annotation_rows = np.flatnonzero(np.isin(raw.annotation_image_ids, image_ids))
    replaced = {
        "images": take(raw.images, image_rows),
        "annotations": take(raw.annotations, annotation_rows),
    }
    write_document(raw.top, replaced, out)


def write_document(
    top: Mapping[str, bytes | msgspec.Raw], lists: Mapping[str, list[bytes] | list[msgspec.Raw]], out: BinaryIO
) -> None:
    """Write a JSON object with ``top``'s keys in order; the keys in ``lists`` get arrays of those records.

    Compact (no whitespace between records), ending in a newline; written piece by
    piece so that a large document is never assembled in memory.
    """
    out.write(b"{")
    for index, (key, value) in enumerate(top.items()):
        out.write((b"," if index else b"") + msgspec.json.encode(key) + b":")
        if key in lists:
            out.write(b"[")
            out.write(b",".join(lists[key]))
            out.write(b"]")
        else:
            out.write(value)
    out.write(b"}\n")
