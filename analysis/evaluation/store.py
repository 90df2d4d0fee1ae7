"""Stored evaluations, beside the split's cache.

Layout::

    <root>/<dataset>/<split>/evaluations/<model-slug>/evaluation.json
                                                      detections.parquet
                                                      oks.parquet

- ``evaluation.json`` (:class:`EvaluationRecord`): model label, the predictions
  file's fingerprint, the annotations' fingerprint it was evaluated against, the
  definitions, counts of kept and skipped detections, and every slice's metrics;
- ``detections.parquet``: one row per kept detection (``det_id`` = 1-based
  position in the results file, as pycocotools' ``loadRes`` numbers them;
  ``image_id``; ``category_id``; ``score``; ``keypoints`` 3K float32; the box
  around its predicted keypoints ``box_x, box_y, box_w, box_h`` and its area
  ``area`` = w*h (pycocotools' ``loadRes`` rule); ``density``, the
  detection's own crowding ratio (README, Evaluation));
- ``oks.parquet``: ``det_id, ann_id, oks`` for every (detection, annotation)
  pair of the same image, crowd regions included, with the record's sigmas and
  OKS area.

A model's folder is written in a staging folder and swapped in, so an
interrupted or failed evaluation never leaves a partial one and never destroys
the previous good one.  ``evaluation.json`` records each table file's size and
row count; a folder whose files no longer match (truncated, missing, swapped,
an unreadable footer, other columns, or definitions that do not parse) is read
back as ``damaged`` (with the problem): listed and named, never used, and
re-evaluated by the next ``evaluate``.  A rebuild of the split carries ``evaluations/`` over;
an evaluation whose annotations fingerprint differs from the current build is
read back as ``stale``.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
import pyarrow as pa
import pyarrow.parquet as pq

from analysis.cache import contract as cache
from analysis.cache.columns import Columns, numpy_of
from analysis.cache.fingerprint import FileFingerprint
from analysis.cache.manifest import ManifestError, TableFile, read_manifest, table_file
from analysis.errors import PoseAtlasError
from analysis.evaluation.definitions import DefinitionsRecord, EvaluationDefinitions

if TYPE_CHECKING:  # pandas costs 0.2 s to import; listing evaluations never needs it
    import pandas as pd

EVALUATIONS_DIR = cache.EVALUATIONS_DIR
RECORD_FILE = "evaluation.json"
DETECTIONS_FILE = "detections.parquet"
OKS_FILE = "oks.parquet"
#: Bumped when a stored evaluation's meaning changes; older ones are re-evaluated.
FORMAT_VERSION = 1
#: The columns of each table file, in order (a file with others is damaged).
TABLE_COLUMNS = {
    DETECTIONS_FILE: (
        "det_id",
        "image_id",
        "category_id",
        "score",
        "keypoints",
        "box_x",
        "box_y",
        "box_w",
        "box_h",
        "area",
        "density",
    ),
    OKS_FILE: ("det_id", "ann_id", "oks"),
}


class DamagedEvaluationError(PoseAtlasError):
    """A stored evaluation whose files do not match its record (see the module docstring)."""


class DetectionCounts(msgspec.Struct, frozen=True):
    records: int  #: records in the results file
    kept: int  #: evaluated (person category, at most 20 per image)
    other_category: int  #: records of other category ids, not evaluated
    over_max_per_image: int  #: person detections beyond the 20 best of their image


class SliceSummary(msgspec.Struct, frozen=True):
    AP: float | None  # the --json document's keys
    AP50: float | None
    AP75: float | None
    AR: float | None
    n_gt: int
    #: With a bootstrap: [lo, hi] per metric (None where no replicate defines it).
    ci: dict[str, tuple[float, float] | None] | None = None


class BootstrapSettings(msgspec.Struct, frozen=True):
    """Image bootstrap settings (README: Uncertainty).  Replicate b draws the split's
    images (sorted by id) with replacement from ``numpy.random.default_rng(seed)``."""

    B: int  #: replicates
    seed: int
    confidence: float  #: central interval, e.g. 0.95 -> quantiles 0.025 and 0.975
    unit: str = "image"

    def to_json(self) -> dict[str, Any]:
        result: dict[str, Any] = msgspec.to_builtins(self)
        return result


class EvaluationRecord(msgspec.Struct, frozen=True):
    """evaluation.json.  ``stale`` and ``damaged`` are not stored: they are set when
    read; ``stale`` is True when the annotations fingerprint differs from the current
    build's, ``damaged`` says what is wrong with the folder's files."""

    format_version: int
    model: str
    slug: str
    dataset: str
    split: str
    predictions: FileFingerprint
    annotations_sha256: str
    #: :class:`~analysis.evaluation.definitions.DefinitionsRecord`'s JSON, decoded by
    #: ``EvaluationDefinitions.from_json``: kept raw so that a record whose definitions do
    #: not decode still reads, as ``damaged``
    definitions: msgspec.Raw
    counts: DetectionCounts
    slices: dict[str, SliceSummary]
    evaluated_at: str
    #: size and rows of each table file when written (absent in records written before it was)
    tables: dict[str, TableFile] = msgspec.field(default_factory=dict)
    stale: bool = False
    bootstrap: BootstrapSettings | None = None  #: set when the slices carry intervals
    #: not stored: what is wrong with the folder's files when read, else None
    damaged: str | None = None


@dataclass(frozen=True)
class StoredEvaluation:
    """A stored evaluation: its record, detections and OKS pairs (frames when read back;
    numpy columns, without the keypoints, inside the ``evaluate`` that computed them)."""

    record: EvaluationRecord
    detections: pd.DataFrame | Columns
    oks: pd.DataFrame | Columns

    @property
    def definitions(self) -> EvaluationDefinitions:
        return EvaluationDefinitions.from_json(self.record.definitions)


def differing_definitions(record: EvaluationRecord, other: EvaluationRecord) -> list[str]:
    """The names of the definitions two (undamaged) records differ in; [] when they agree."""
    mine, theirs = (msgspec.json.decode(r.definitions, type=DefinitionsRecord) for r in (record, other))
    return sorted(name for name in DefinitionsRecord.__struct_fields__ if getattr(mine, name) != getattr(theirs, name))


#: Longest model label: it becomes a folder name (and a legend entry).
MAX_LABEL_LENGTH = 100


def check_label(model: str) -> str:
    """``model`` when it can label a stored evaluation: at most ``MAX_LABEL_LENGTH`` characters
    with at least one letter or digit (``""`` and ``..`` would all be stored as "model")."""
    if len(model) > MAX_LABEL_LENGTH:
        raise PoseAtlasError(
            f"--model {model[:40]!r}...: a model label has at most {MAX_LABEL_LENGTH} characters (got {len(model)})"
        )
    if not re.search(r"[A-Za-z0-9]", model):
        raise PoseAtlasError(f"--model {model!r}: a model label needs at least one letter or digit")
    return model


def model_slug(model: str) -> str:
    """A folder name for a model label (lower case, runs of other characters -> '-')."""
    slug = re.sub(r"[^a-z0-9._]+", "-", model.lower()).strip("-.")
    return slug or "model"


def evaluations_dir(cache_root: Path, key: cache.CacheKey) -> Path:
    return key.directory(cache_root) / EVALUATIONS_DIR


def _annotations_sha256(cache_root: Path, key: cache.CacheKey) -> str | None:
    """The current build's annotations SHA-256; None without a readable manifest (then
    every stored evaluation reads back as stale)."""
    try:
        manifest = read_manifest(cache_root, key)
    except ManifestError:
        return None
    return manifest.inputs.annotations.sha256 if manifest is not None else None


def _read_record(folder: Path, current_sha: str | None) -> EvaluationRecord | None:
    path = folder / RECORD_FILE
    if not path.is_file():
        return None
    try:
        record = msgspec.json.decode(path.read_bytes(), type=EvaluationRecord)
    except msgspec.DecodeError:
        return None  # an older or foreign format: not listed (re-evaluating replaces it)
    except OSError:
        return None  # unreadable (permissions): names no model; re-evaluating replaces it
    return msgspec.structs.replace(
        record, stale=record.annotations_sha256 != current_sha, damaged=evaluation_problem(folder, record)
    )


def evaluation_problem(folder: Path, record: EvaluationRecord) -> str | None:
    """What is wrong with a stored evaluation's files (None: nothing).

    Checks that the definitions parse, and that each table file is present with a
    readable parquet footer, the expected columns, the recorded size and row count,
    and as many detections as the record counts.  Reads footers only.
    """
    try:
        EvaluationDefinitions.from_json(record.definitions)
    except ValueError as exc:
        return f"{RECORD_FILE}: invalid definitions ({exc})"
    for name, columns in TABLE_COLUMNS.items():
        path = folder / name
        if not path.is_file():
            return f"{name} missing"
        try:
            metadata = pq.read_metadata(path)
            names = tuple(metadata.schema.to_arrow_schema().names)
        except (OSError, pa.ArrowException) as exc:
            return f"{name} unreadable ({exc})"
        if names != columns:
            return f"{name} has columns {', '.join(names)}; expected {', '.join(columns)}"
        recorded = record.tables.get(name)
        if recorded is not None and (recorded.size, recorded.rows) != (path.stat().st_size, metadata.num_rows):
            return (
                f"{name} is {path.stat().st_size} bytes with {metadata.num_rows} rows; "
                f"{RECORD_FILE} recorded {recorded.size} bytes with {recorded.rows}"
            )
        if name == DETECTIONS_FILE and metadata.num_rows != record.counts.kept:
            return f"{name} has {metadata.num_rows} rows; {RECORD_FILE} counts {record.counts.kept} detections"
    return None


def list_evaluations(cache_root: Path, key: cache.CacheKey) -> list[EvaluationRecord]:
    """Every stored evaluation of a split, by model label; stale ones flagged ``stale``."""
    folder = evaluations_dir(cache_root, key)
    if not folder.is_dir():
        return []
    current = _annotations_sha256(cache_root, key)
    records = [
        _read_record(sub, current) for sub in sorted(folder.iterdir()) if sub.is_dir() and not sub.name.startswith(".")
    ]
    return sorted((r for r in records if r is not None), key=lambda r: r.model)


def find_record(cache_root: Path, key: cache.CacheKey, model: str) -> EvaluationRecord | None:
    """The record of ``model`` (a label or its slug), or None."""
    current = _annotations_sha256(cache_root, key)
    return _read_record(evaluations_dir(cache_root, key) / model_slug(model), current)


def read_evaluation(cache_root: Path, key: cache.CacheKey, model: str, as_numpy: bool = False) -> StoredEvaluation:
    """A stored evaluation by model label (or slug): its tables as frames, or with ``as_numpy``
    their fixed-width columns as numpy (:func:`numpy_columns`: what slicing reads, without pandas).

    Raises:
        FileNotFoundError: no such evaluation.
        DamagedEvaluationError: its files do not match its record (named; re-evaluate it).
    """
    folder = evaluations_dir(cache_root, key) / model_slug(model)
    record = _read_record(folder, _annotations_sha256(cache_root, key))
    if record is None:
        raise FileNotFoundError(f"no stored evaluation of {model!r} for {key}")
    if record.damaged:
        raise DamagedEvaluationError(damaged_message(folder, record))
    try:
        if as_numpy:  # ParquetFile.read: pq.read_table would import pyarrow.dataset
            detections, oks = (
                numpy_columns(pq.ParquetFile(folder / name).read(columns=list(_fixed_width(name))))
                for name in (DETECTIONS_FILE, OKS_FILE)
            )
        else:
            detections = pq.read_table(folder / DETECTIONS_FILE).to_pandas()
            oks = pq.read_table(folder / OKS_FILE).to_pandas()
    except (OSError, pa.ArrowException) as exc:  # damaged past the footer
        raise DamagedEvaluationError(damaged_message(folder, record, f"unreadable ({exc})")) from None
    return StoredEvaluation(record, detections, oks)


def numpy_columns(table: pa.Table) -> Columns:
    """A stored table's fixed-width columns as numpy (its keypoints lists left out)."""
    names = [f.name for f in table.schema if not pa.types.is_list(f.type)]
    return Columns({name: numpy_of(table.column(name)) for name in names}, table.num_rows)


def _fixed_width(name: str) -> tuple[str, ...]:
    return tuple(column for column in TABLE_COLUMNS[name] if column != "keypoints")


def damaged_message(folder: Path, record: EvaluationRecord, problem: str | None = None) -> str:
    """One line: which stored evaluation is damaged, how, and that ``evaluate`` redoes it."""
    return (
        f"stored evaluation of {record.model!r} ({folder}) is damaged: {problem or record.damaged}; "
        "run python -m analysis evaluate on its predictions file again to replace it"
    )


def write_evaluation(
    cache_root: Path, key: cache.CacheKey, record: EvaluationRecord, detections: pa.Table, oks: pa.Table
) -> Path:
    """Write one model's evaluation folder atomically (staging folder, then swap).

    Under the split's lock: a build swapping the split meanwhile would otherwise
    carry the old ``evaluations/`` over and lose this one.
    """
    with cache.split_lock(key.directory(cache_root)):
        return _write_evaluation(cache_root, key, record, detections, oks)


def _write_evaluation(
    cache_root: Path, key: cache.CacheKey, record: EvaluationRecord, detections: pa.Table, oks: pa.Table
) -> Path:
    parent = evaluations_dir(cache_root, key)
    parent.mkdir(parents=True, exist_ok=True)
    target = parent / record.slug
    staging = parent / f".{record.slug}.writing-{os.getpid()}"
    retired = parent / f".{record.slug}.old-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        # one after the other: a thread pool would save about 5 ms of writing (COCO val) and
        # cost its import (concurrent.futures and logging, about 15 ms of evaluate's start-up).
        # No dictionaries (the columns are mostly distinct floats: building them was half the
        # write); byte-stream-split floats keep the files about as small.
        for table, name in ((detections, DETECTIONS_FILE), (oks, OKS_FILE)):
            pq.write_table(table, staging / name, compression="zstd", use_dictionary=False, use_byte_stream_split=True)
        tables = {name: table_file(staging / name) for name in TABLE_COLUMNS}
        record = msgspec.structs.replace(record, tables=tables)
        (staging / RECORD_FILE).write_bytes(_record_bytes(record))
        cache.swap_in(staging, target, retired)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def replace_record(cache_root: Path, key: cache.CacheKey, record: EvaluationRecord) -> None:
    """Rewrite only evaluation.json (after re-slicing an unchanged evaluation)."""
    target = evaluations_dir(cache_root, key) / record.slug / RECORD_FILE
    with cache.split_lock(key.directory(cache_root)), cache.atomic_path(target) as tmp:
        tmp.write_bytes(_record_bytes(record))


def _record_bytes(record: EvaluationRecord) -> bytes:
    """evaluation.json's text (``stale`` and ``damaged`` are never stored as set)."""
    clean = msgspec.structs.replace(record, stale=False, damaged=None)
    return msgspec.json.format(msgspec.json.encode(clean), indent=2) + b"\n"
