"""Typed decoding of COCO-format keypoint files, within about the file's size in memory.

msgspec decodes straight into typed structs and skips every field we do not
declare (segmentation polygons, RLE counts, URLs) without building Python objects
for them.  Annotations are decoded in two steps: the whole file once with each
annotation kept as a zero-copy :class:`msgspec.Raw` view of its bytes, then the
annotations in chunks of :data:`CHUNK_RECORDS` records, which the loader turns
into numpy columns before decoding the next chunk.  So the millions of small
Python objects a keypoint list becomes exist for one chunk at a time, not for
the whole file (a 1.5 GB file peaked at 3.3x its size when decoded at once).
Files up to :data:`ONE_PASS_MAX_BYTES` are small enough to decode at once, which is
faster (one parse, not two): their annotations are typed in the first pass and the
chunks are slices of that list.  Both paths give the same records and the same errors.

Non-standard JSON is handled without the standard-library parser (which needs
about 2x the memory of ours):

- ``NaN``, ``Infinity`` and ``-Infinity`` tokens are rewritten in place into
  same-length JSON strings (``"N"``, ``"\\u221e"``, ``"-\\u221e"``), so a token in
  an ignored field costs nothing, and one in a field we read is a type error
  that names the record and says it was NaN / Infinity;
- a gzip-compressed file (``.json.gz``) is decompressed first.

Every problem becomes one :class:`AnnotationError` naming the file, the record
(by its id where the file gives one) and the problem.
"""

from __future__ import annotations

import codecs
import difflib
import re
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import GenericAlias
from typing import Annotated, Any, Literal, overload

import msgspec
import numpy as np

from analysis.build.json_input import unwrap_json_bytes
from analysis.errors import AnnotationError

#: Ids and counts must fit the int64 columns they end up in.
Int64 = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]
#: Annotations decoded (and columnised) at a time.
CHUNK_RECORDS = 1 << 16
#: Files up to this size decode their annotations in the same pass as the rest of the
#: file: one parse instead of two, at the cost of every record's Python objects at once
#: (about 3x the file's size in all).  Larger files decode their annotations in chunks.
ONE_PASS_MAX_BYTES = 64 << 20


class CocoImage(msgspec.Struct, frozen=True, gc=False):
    id: Int64
    file_name: str = ""
    width: float | None = None
    height: float | None = None
    # CrowdPose ships a per-image crowdIndex; kept to compare with ours.
    crowdIndex: float | None = None


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


class CocoAnnotationRawKeypoints(msgspec.Struct, frozen=True, gc=False):
    """:class:`CocoAnnotation` with its keypoints kept as a zero-copy view of their JSON
    text (empty when absent), which :func:`analysis.build.number_arrays.parse_number_arrays`
    reads straight into numpy: no Python object per value.  The other fields are typed as
    in ``CocoAnnotation``, so a record decodes as one exactly when its other fields would."""

    id: Int64
    image_id: Int64
    category_id: Int64 = 1
    bbox: list[float] | None = None
    keypoints: msgspec.Raw = msgspec.Raw()
    iscrowd: Any = 0
    num_keypoints: Int64 | None = None
    area: float | None = None


#: Decode annotations as :class:`CocoAnnotationRawKeypoints` (keypoints parsed by numpy);
#: False decodes every keypoint list into Python objects, the exact path that the fast
#: one falls back to (tests compare the two).
RAW_KEYPOINTS = True


class CocoCategory(msgspec.Struct, frozen=True, gc=False):
    id: Int64
    name: str = ""
    keypoints: list[str] | None = None
    skeleton: list[list[int]] | None = None


REQUIRED_KEYS = ("images", "annotations", "categories")
_PATH_RE = re.compile(r"\$(?:\.(images|annotations|categories))?\[(\d+)\](.*)")
_BYTE_RE = re.compile(r"\(byte (\d+)\)")
#: A bare non-standard number token: after '[', ':' or ',' and before ',', ']' or '}'.
_NON_FINITE_RE = re.compile(rb"(?<=[\[:,])(\s*)(NaN|-Infinity|Infinity)(?=\s*[,\]}])")
_NON_FINITE_SENTINEL = {b"NaN": b'"N"', b"Infinity": b'"\\u221e"', b"-Infinity": b'"-\\u221e"'}
_SENTINEL_NAME = {"N": "NaN", "\u221e": "Infinity", "-\u221e": "-Infinity"}
_DEEP_RE = re.compile(rb"[\[{](?:\s*[\[{]){200,}")
_QUOTE_OR_ESCAPE_RE = re.compile(rb'\\.|"', re.DOTALL)


@dataclass
class DecodedFile:
    """A decoded file: images and categories typed, annotations as raw views decoded in chunks.

    Attributes:
        images: every image record, in file order.
        categories: every category record.
        extras: per image, the extra fields asked for (None when none were).
        n_non_finite: NaN / Infinity tokens rewritten (all in fields nobody reads
            when decoding succeeded).
    """

    path: Path
    images: list[CocoImage]
    categories: list[CocoCategory]
    extras: list[dict] | None
    annotation_records: list[msgspec.Raw]
    buffer: bytes | bytearray = b""  #: the decoded bytes, which the records are views of
    n_non_finite: int = 0
    #: every annotation, typed, when the file was decoded in one pass (then no records
    #: until :meth:`typed_chunk` or :meth:`annotation` needs them)
    annotations: list[CocoAnnotation] | list[CocoAnnotationRawKeypoints] | None = None
    image_fields: tuple[str, ...] = ()

    @property
    def n_annotations(self) -> int:
        return len(self.annotations) if self.annotations is not None else len(self.annotation_records)

    def annotation_chunks(
        self, size: int | None = None
    ) -> Iterator[tuple[int, list[CocoAnnotation] | list[CocoAnnotationRawKeypoints]]]:
        """(index of the chunk's first record, its decoded annotations), in file order.

        The annotations are :class:`CocoAnnotationRawKeypoints` when :data:`RAW_KEYPOINTS`
        is set; a chunk that does not decode so is decoded by :meth:`typed_chunk`, which
        raises the error naming its first bad record (or yields :class:`CocoAnnotation`).
        A chunk's records are contiguous in the file: their bytes are one slice of
        the buffer (found from the first and last record's views), decoded as one
        JSON array; joining the records one by one would cost more than decoding.
        A file decoded in one pass yields slices of its typed annotations.
        ``size``: records per chunk, :data:`CHUNK_RECORDS` (read at the call) by default.
        """
        size = size or CHUNK_RECORDS
        if self.annotations is not None:
            for start in range(0, len(self.annotations), size):
                yield start, self.annotations[start : start + size]
            return
        decoder = msgspec.json.Decoder(GenericAlias(list, (_annotation_type(),)))
        for start in range(0, self.n_annotations, size):
            chunk = self.annotation_records[start : start + size]
            try:
                yield start, self._decode_chunk(decoder, chunk)
            except msgspec.ValidationError:
                yield start, self.typed_chunk(start, len(chunk))
            except UnicodeDecodeError:  # a string value (kept raw by the first pass) that is not UTF-8
                raise AnnotationError(
                    self.path, f"annotations[{start}:{start + len(chunk)}]", _utf8_problem(self.buffer)
                ) from None

    def typed_chunk(self, start: int, size: int) -> list[CocoAnnotation]:
        """Records ``start`` to ``start + size`` decoded with every keypoint typed, as
        :class:`CocoAnnotation` (the exact decode, and the one whose errors are reported).

        Raises:
            AnnotationError: naming the first record in the chunk that does not decode.
        """
        records = self._records()
        chunk = records[start : start + size]
        try:
            return self._decode_chunk(msgspec.json.Decoder(list[CocoAnnotation]), chunk)
        except msgspec.ValidationError as exc:
            raise _record_error(self.path, "annotations", str(exc), records, start) from None
        except UnicodeDecodeError:
            raise AnnotationError(
                self.path, f"annotations[{start}:{start + len(chunk)}]", _utf8_problem(self.buffer)
            ) from None

    def _records(self) -> list[msgspec.Raw]:
        """Every annotation as a raw view (a file decoded in one pass is decoded again, raw)."""
        if not self.annotation_records and self.annotations:
            decoded: Any = msgspec.json.decode(self.buffer, type=_file_type(self.image_fields))
            self.annotation_records = decoded.annotations
        return self.annotation_records

    def _decode_chunk(self, decoder: msgspec.json.Decoder, chunk: list[msgspec.Raw]) -> list[CocoAnnotation]:
        """Decode consecutive records as one JSON array, without copying their bytes.

        In the file, the records of the ``annotations`` array are separated by
        ``,`` (and whitespace) and enclosed in ``[`` ``]``.  The separator just
        before the chunk's first record and the one just after its last are set to
        ``[`` and ``]`` for the decode and put back afterwards: the chunk is then
        decoded straight from the buffer (copying 200 MB of slices cost 8 % of a build).
        """
        buffer = self.buffer
        first, last = _offset_in(buffer, chunk[0]), _offset_in(buffer, chunk[-1])
        if first is None or last is None or not isinstance(buffer, bytearray):
            return decoder.decode(b"[" + b",".join(chunk) + b"]")  # views of another buffer: join them
        opening, closing = first - 1, last + len(chunk[-1])
        while buffer[opening] in _JSON_WHITESPACE:
            opening -= 1
        while buffer[closing] in _JSON_WHITESPACE:
            closing += 1
        saved = buffer[opening], buffer[closing]
        buffer[opening], buffer[closing] = ord("["), ord("]")
        try:
            with memoryview(buffer) as view:
                return decoder.decode(view[opening : closing + 1])
        finally:
            buffer[opening], buffer[closing] = saved

    def annotation(self, index: int) -> CocoAnnotation:
        """One annotation record, decoded on its own (error paths), keypoints typed."""
        return msgspec.json.decode(self._records()[index], type=CocoAnnotation)

    def release(self) -> None:
        """Drop every reference to the file's bytes."""
        self.annotation_records = []
        self.annotations = None
        self.buffer = b""


_JSON_WHITESPACE = b" \t\r\n"


def _offset_in(buffer: bytes | bytearray, view: msgspec.Raw) -> int | None:
    """Where a zero-copy ``view`` starts inside ``buffer`` (None when it is not a view of it)."""
    base = np.frombuffer(buffer, np.uint8).ctypes.data
    offset = np.frombuffer(view, np.uint8).ctypes.data - base
    if 0 <= offset <= len(buffer) - len(view) and buffer[offset : offset + len(view)] == view:
        return offset
    return None


def annotation_file_problem(path: Path) -> str | None:
    """Why ``path`` cannot be read as an annotation file (None when it is a regular file)."""
    try:
        mode = Path(path).stat().st_mode
    except FileNotFoundError:
        return "annotation file not found"
    except OSError as exc:
        return f"cannot read annotation file: {exc.strerror or exc}"
    if stat.S_ISDIR(mode):
        return "is a directory, not an annotation file"
    if not stat.S_ISREG(mode):
        kind = "a FIFO" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else "a device"
        return f"is {kind}, not a regular annotation file"
    return None


def read_annotation_bytes(path: Path) -> bytearray:
    """The file's bytes, in a mutable buffer (non-standard tokens are rewritten in place)."""
    problem = annotation_file_problem(path)
    if problem:
        raise AnnotationError(path, None, problem)
    try:
        with open(path, "rb") as fh:
            size = Path(path).stat().st_size
            data = bytearray(size)
            view = memoryview(data)
            filled = 0
            while filled < size:
                n = fh.readinto(view[filled:])
                if not n:
                    break
                filled += n
            view.release()
            del data[filled:]
            return data
    except OSError as exc:
        raise AnnotationError(path, None, f"cannot read annotation file: {exc.strerror or exc}") from None


def decode_coco(
    path: Path,
    data: bytes | bytearray | None = None,
    image_fields: tuple[str, ...] = (),
    before_rewrite: Callable[[], object] | None = None,
) -> DecodedFile:
    """Decode a COCO keypoint file (annotations are decoded later, in chunks).

    Args:
        path: the file (named in errors).
        data: its bytes when already read (a ``bytearray`` lets non-standard
            tokens be rewritten without a copy).
        image_fields: extra image-record fields to keep (e.g. the field a
            ``source`` rule reads); returned as dicts aligned with ``images``.
        before_rewrite: called before non-standard tokens are rewritten in
            ``data`` (e.g. to let a concurrent hash of the bytes finish first).

    Raises:
        AnnotationError: empty, not JSON, truncated, gzip that does not
            decompress, not an object, missing a required list, a record whose
            fields have the wrong type, nesting too deep, not UTF-8.
    """
    path = Path(path)
    if data is None:
        data = read_annotation_bytes(path)
    data = unwrap_json_bytes(path, data)
    if len(data) <= ONE_PASS_MAX_BYTES:
        whole = _decode_one_pass(path, data, image_fields)
        if whole is not None:
            return whole
    return _decode_two_pass(path, data, image_fields, before_rewrite)


def _decode_one_pass(path: Path, data: bytes | bytearray, image_fields: tuple[str, ...]) -> DecodedFile | None:
    """The whole file, annotations typed, in one decode; None when that fails (the two-pass
    decode then finds the problem and names it, or rewrites NaN tokens)."""
    try:
        whole: Any = msgspec.json.decode(data, type=_file_type(image_fields, typed_annotations=True))
    except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        return None
    return DecodedFile(
        path,
        whole.images,
        whole.categories,
        _extras(whole.images, image_fields),
        [],
        data,
        annotations=whole.annotations,
        image_fields=image_fields,
    )


def _decode_two_pass(
    path: Path,
    data: bytes | bytearray,
    image_fields: tuple[str, ...],
    before_rewrite: Callable[[], object] | None,
) -> DecodedFile:
    """Images and categories typed, annotations kept raw for chunked decoding; non-finite
    number tokens (NaN, Infinity) are rewritten once and the decode retried."""
    file_type = _file_type(image_fields)
    n_non_finite = 0
    for _attempt in range(2):
        try:
            decoded: Any = msgspec.json.decode(data, type=file_type)
            break
        except msgspec.ValidationError as exc:
            raise _structure_error(path, data, str(exc)) from None
        except msgspec.DecodeError as exc:
            offset = _error_offset(str(exc))
            if n_non_finite or offset is None or not _at_non_finite_token(data, offset):
                raise _syntax_error(path, data, str(exc), offset) from None
            if not isinstance(data, bytearray):
                data = bytearray(data)  # only callers passing immutable bytes pay for this copy
            elif before_rewrite is not None:
                before_rewrite()
            n_non_finite = _rewrite_non_finite(data)
        except UnicodeDecodeError:
            raise AnnotationError(path, None, _utf8_problem(data)) from None
        except RecursionError:
            raise AnnotationError(path, None, _depth_problem(data)) from None
    return DecodedFile(
        path,
        decoded.images,
        decoded.categories,
        _extras(decoded.images, image_fields),
        decoded.annotations,
        data,
        n_non_finite,
        image_fields=image_fields,
    )


def _extras(images: list[CocoImage], image_fields: tuple[str, ...]) -> list[dict] | None:
    if not image_fields:
        return None
    return [{f: getattr(img, f, None) for f in image_fields} for img in images]


def _file_type(image_fields: tuple[str, ...], typed_annotations: bool = False) -> type:
    extra = [f for f in image_fields if f not in CocoImage.__struct_fields__]
    image_type: type = CocoImage
    if extra:
        image_type = msgspec.defstruct(
            "CocoImageExtra", [(f, Any, None) for f in extra], bases=(CocoImage,), frozen=True, gc=False
        )
    annotation_type = _annotation_type() if typed_annotations else msgspec.Raw
    return msgspec.defstruct(
        "CocoFileTyped" if typed_annotations else "CocoFileRaw",
        # GenericAlias(list, (t,)) is list[t], spelt so that a type checker accepts a runtime type
        [
            ("images", GenericAlias(list, (image_type,))),
            ("annotations", GenericAlias(list, (annotation_type,))),
            ("categories", list[CocoCategory]),
        ],
        gc=False,
    )


def _annotation_type() -> type:
    return CocoAnnotationRawKeypoints if RAW_KEYPOINTS else CocoAnnotation


def _rewrite_non_finite(data: bytearray) -> int:
    """Rewrite every bare NaN / Infinity / -Infinity token in place; returns how many.

    Candidates inside strings (a file name ``"x, NaN].jpg"``) are left alone: whether
    a candidate is inside a string follows from the parity of the unescaped quotes
    before it, counted segment by segment between candidates.
    """
    n = 0
    inside = False
    counted_to = 0
    for match in _non_finite_candidates(data):
        start, end = match.span(2)
        inside ^= _odd_quotes(data, counted_to, start)
        counted_to = start
        if inside:
            continue
        data[start:end] = _NON_FINITE_SENTINEL[match.group(2)]  # same length: in place
        counted_to = end  # the sentinel's own quotes are balanced
        n += 1
    return n


def _non_finite_candidates(data: bytearray) -> Iterator[re.Match]:
    """The bare-token matches of :data:`_NON_FINITE_RE`, in order, found with ``bytearray.find``
    (memchr speed) and confirmed by the regex at each hit: scanning a 1.5 GB file with the
    regex alone takes seconds."""
    hits: list[int] = []
    for token in (b"NaN", b"Infinity"):
        pos = data.find(token)
        while pos != -1:
            hits.append(pos - 1 if token == b"Infinity" and pos and data[pos - 1 : pos] == b"-" else pos)
            pos = data.find(token, pos + 1)
    for pos in sorted(set(hits)):
        back = pos
        while back > 0 and data[back - 1 : back] in (b" ", b"\t", b"\r", b"\n"):
            back -= 1
        match = _NON_FINITE_RE.match(data, back)
        if match and match.start(2) == pos:
            yield match


def _odd_quotes(data: bytearray, start: int, end: int) -> bool:
    """Whether ``data[start:end]`` holds an odd number of unescaped double quotes."""
    if data.find(b"\\", start, end) == -1:
        return bool(data.count(b'"', start, end) & 1)
    quotes = sum(1 for m in _QUOTE_OR_ESCAPE_RE.finditer(data, start, end) if m.group() == b'"')
    return bool(quotes & 1)


def _at_non_finite_token(data: bytes | bytearray, offset: int) -> bool:
    """Whether msgspec's error offset points at (or just into) NaN / Infinity / -Infinity."""
    window = bytes(data[max(offset - 1, 0) : offset + 9])
    return any(token in window for token in _NON_FINITE_SENTINEL)


def _error_offset(message: str) -> int | None:
    match = _BYTE_RE.search(message)
    return int(match.group(1)) if match else None


def _line_col(data: bytes | bytearray, offset: int) -> str:
    line = data.count(b"\n", 0, offset) + 1
    col = offset - (data.rfind(b"\n", 0, offset) + 1) + 1
    return f"line {line} column {col}"


def _syntax_error(path: Path, data: bytes | bytearray, message: str, offset: int | None) -> AnnotationError:
    if "truncated" in message:
        return AnnotationError(path, None, "truncated JSON (the file ends in the middle of a value)")
    head = bytes(data[:16])
    if head.startswith(b"MATLAB"):
        return AnnotationError(
            path,
            None,
            "a MATLAB .mat file (MPII's native format?), not COCO JSON: convert it to COCO keypoint format first",
        )
    if head.startswith(b"PK\x03\x04"):
        return AnnotationError(path, None, "a zip archive, not JSON: unpack it first")
    where = f" at {_line_col(data, offset)}" if offset is not None else ""
    problem = message.removeprefix("JSON is malformed: ")
    problem = _BYTE_RE.sub("", problem).strip()
    return AnnotationError(path, None, f"not valid JSON ({problem}{where})")


@overload
def _utf8_problem(data: bytes | bytearray, only_if_invalid: Literal[False] = False) -> str: ...
@overload
def _utf8_problem(data: bytes | bytearray, only_if_invalid: bool) -> str | None: ...
def _utf8_problem(data: bytes | bytearray, only_if_invalid: bool = False) -> str | None:
    """Where the first byte that is not UTF-8 is, scanning in blocks (no copy of the file)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    block = 1 << 24
    view = memoryview(data)
    try:
        for start in range(0, len(data), block):
            try:
                decoder.decode(view[start : start + block], final=start + block >= len(data))
            except UnicodeDecodeError as exc:
                offset = start + exc.start - len(decoder.getstate()[0])
                offset = max(offset, 0)
                return (
                    f"not UTF-8 text: byte 0x{data[offset]:02x} at {_line_col(data, offset)} "
                    "(Latin-1 or another encoding?); re-encode the file as UTF-8"
                )
    finally:
        view.release()
    return None if only_if_invalid else "not UTF-8 text; re-encode the file as UTF-8"


def _depth_problem(data: bytes | bytearray) -> str:
    match = _DEEP_RE.search(data)
    where = f" at {_line_col(data, match.start())}" if match else ""
    return f"JSON nested too deeply to decode{where} (hundreds of levels of arrays or objects)"


def _structure_error(path: Path, data: bytes | bytearray, message: str) -> AnnotationError:
    """A msgspec ValidationError of the whole-file decode -> the record and problem, in words."""
    encoding = _utf8_problem(data, only_if_invalid=True)
    if encoding:  # skipped values are not checked for UTF-8 by the decoder: say this first
        return AnnotationError(path, None, encoding)
    try:
        top = msgspec.json.decode(data, type=dict[str, msgspec.Raw])
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        return AnnotationError(path, None, _not_an_object(data))
    missing = [k for k in REQUIRED_KEYS if k not in top]
    if missing:
        hints = []
        for key in missing:
            close = difflib.get_close_matches(key, [k for k in top if k not in REQUIRED_KEYS], n=1, cutoff=0.75)
            if close:
                hints.append(f"'{close[0]}' instead of '{key}'?")
        hint = f" (found {', '.join(hints)})" if hints else ""
        return AnnotationError(path, None, f"missing required key(s): {', '.join(missing)}{hint}")
    for key in REQUIRED_KEYS:
        if bytes(top[key])[:1] != b"[":
            value = msgspec.json.decode(top[key])
            return AnnotationError(path, key, f"expected a list, got {_json_type(value)}")
    match = _PATH_RE.match(message.partition(" - at `")[2].rstrip("`"))
    if match and match.group(1):
        records = msgspec.json.decode(top[match.group(1)], type=list[msgspec.Raw])
        return _record_error(path, match.group(1), message, records, 0, section_in_path=True)
    return AnnotationError(path, None, message)


def _not_an_object(data: bytes | bytearray) -> str:
    try:
        items = msgspec.json.decode(data, type=list[msgspec.Raw])
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        items = None
    if items is not None:
        try:
            first = msgspec.json.decode(items[0]) if items else None
        except (msgspec.DecodeError, RecursionError):
            first = None
        keys = set(first) if isinstance(first, dict) else set()
        if {"keypoint_annotations", "human_annotations"} & keys:
            return (
                "top level is a JSON array of AI Challenger records (keypoint_annotations / "
                "human_annotations): AIC's native format, not COCO; convert it to COCO keypoint format first "
                "(python -m analysis convert --format aic FILE --out OUT.json)"
            )
        if {"joints", "joints_vis"} & keys:
            return (
                "top level is a JSON array of MPII-style records (joints / joints_vis): not COCO; "
                "convert it to COCO keypoint format first "
                "(python -m analysis convert --format mpii FILE --out OUT.json)"
            )
        return "top level is a JSON array, not an object with images/annotations/categories"
    try:
        top = msgspec.json.decode(data)
    except (msgspec.DecodeError, RecursionError):
        top = None
    return f"top level is {_json_type(top)}, not an object with images/annotations/categories"


def _json_type(value: Any) -> str:
    names = {
        dict: "an object",
        list: "an array",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
        type(None): "null",
    }
    return f"a JSON {names.get(type(value), type(value).__name__)}".replace("a JSON an ", "a JSON ")


def _record_error(
    path: Path,
    section: str,
    message: str,
    records: list[msgspec.Raw],
    start: int,
    section_in_path: bool = False,
) -> AnnotationError:
    """Turn msgspec's ``... - at `$[5].bbox[2]``` into (record by id, problem in words)."""
    problem, _, where = message.partition(" - at `")
    match = _PATH_RE.match(where.rstrip("`"))
    if not match or (section_in_path and not match.group(1)):
        return AnnotationError(path, section, message)
    index = start + int(match.group(2))
    field = match.group(3).lstrip(".")
    try:
        record = msgspec.json.decode(records[index])
    except (msgspec.DecodeError, IndexError):
        record = None
    record_id = record.get("id") if isinstance(record, dict) else None
    kind = section[:-1]
    # a non-integer id is quoted (repr): an id such as "\n" must not break the one-line message
    shown_id = record_id if type(record_id) is int else repr(record_id)
    name = f"{kind} id={shown_id} ({section}[{index}])" if record_id is not None else f"{section}[{index}]"
    value = _value_at(record, field) if field else None
    problem = problem.rstrip(".")
    if isinstance(value, str) and problem.startswith("Expected `"):
        if value in _SENTINEL_NAME:
            problem = f"{_SENTINEL_NAME[value]} is not a number JSON allows"
        elif _is_number_text(value):
            problem = f"the string {value!r} where a number is expected (numbers must not be quoted)"
    return AnnotationError(path, name, problem + (f" in field '{field}'" if field else ""))


def _value_at(record: Any, field: str) -> Any:
    """The value at a msgspec field path like ``bbox[2]`` or ``keypoints[10]``."""
    value = record
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", field):
        try:
            value = value[int(part[1:-1])] if part.startswith("[") else value[part]
        except (KeyError, IndexError, TypeError, ValueError):
            return None
    return value


def _is_number_text(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
