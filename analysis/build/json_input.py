"""What every reader of a JSON input file shares, light to import.

The annotation build (:mod:`analysis.build.coco_json`, :mod:`analysis.build.loading`)
and the results reader of ``evaluate`` (:mod:`analysis.evaluation.predictions`) use
these; living here, they do not make ``evaluate`` import the build's decoder and
checks (difflib, gzip, ~10 ms of its start-up).  gzip is imported only to
decompress a gzip-compressed file.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from analysis.errors import AnnotationError

#: No image is this large: coordinates beyond it are errors (they would overflow the
#: float32 keypoint column and the box areas).
MAX_COORDINATE = 1e9

GZIP_MAGIC = b"\x1f\x8b"
UTF8_BOM = b"\xef\xbb\xbf"
#: Byte-order marks of encodings JSON files are sometimes saved in by editors.
_OTHER_BOMS = {
    b"\xff\xfe\x00\x00": "UTF-32",
    b"\x00\x00\xfe\xff": "UTF-32",
    b"\xff\xfe": "UTF-16",
    b"\xfe\xff": "UTF-16",
}
_BLANK_RE = re.compile(rb"[ \t\r\n]*\Z")


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


def unwrap_json_bytes(path: Path, data: bytes | bytearray) -> bytes | bytearray:
    """The JSON text of a file's bytes: gzip decompressed, a UTF-8 byte-order mark dropped.

    Raises:
        AnnotationError: empty, gzip that does not decompress, or UTF-16 / UTF-32 text
            (naming the encoding to convert from).
    """
    if data[:2] == GZIP_MAGIC:
        data = _gunzip(path, data)
    if data[:3] == UTF8_BOM:
        if isinstance(data, bytearray):
            del data[:3]  # in place: no copy of a large file
        else:
            data = data[3:]
    for bom, encoding in _OTHER_BOMS.items():
        if data[: len(bom)] == bom or (encoding == "UTF-16" and len(data) > 1 and data[:2].count(0) == 1):
            raise AnnotationError(
                path,
                None,
                f"{encoding} text, not UTF-8: convert it first, e.g. "
                f"iconv -f {encoding} -t UTF-8 {path} > converted.json",
            )
    if _BLANK_RE.match(data):  # (not data.strip(): that would copy the whole file)
        raise AnnotationError(path, None, "empty file" if not data else "empty file (only whitespace)")
    return data


def _gunzip(path: Path, data: bytes | bytearray) -> bytearray:
    import gzip
    import zlib

    try:
        return bytearray(gzip.decompress(data))
    except (OSError, EOFError, zlib.error) as exc:
        raise AnnotationError(path, None, f"gzip-compressed but does not decompress ({exc})") from None
