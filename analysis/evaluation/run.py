"""Evaluate a results file against a built cache and store the result beside it.

Steps: check the annotation file still matches the cache's fingerprint; resolve
the definitions; reuse the stored evaluation when the predictions file and the
matching definitions are unchanged (re-slicing it if only the slicing changed);
otherwise read and validate the predictions, keep the person detections (20 best
per image), compute every same-image OKS pair once, the detections' own density,
every slice, and store it all atomically.
"""

from __future__ import annotations

import datetime as dt
import os
import stat as stat_module
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import msgspec
import numpy as np

from analysis.cache import contract as cache
from analysis.cache.columns import Columns, read_columns
from analysis.cache.fingerprint import FileFingerprint
from analysis.cache.split import CachedSplit, check_unchanged, open_cached_split
from analysis.errors import AnnotationError, PoseAtlasError
from analysis.evaluation import store
from analysis.evaluation.compute import compute_evaluation, gt_keypoints
from analysis.evaluation.context import (
    EvaluationRequest,
    person_categories,
    resolve_definitions,
)
from analysis.evaluation.definitions import GT_COLUMNS, IMAGE_COLUMNS, EvaluationDefinitions
from analysis.evaluation.outside_images import OPTION as SPLIT_IMAGES_OPTION
from analysis.evaluation.outside_images import keep_split_images
from analysis.evaluation.predictions import Predictions, member_of, read_predictions
from analysis.evaluation.slices import STALE, EvaluationResult, evaluate_stored

__all__ = ["EvaluationOutcome", "EvaluationRequest", "evaluate_files", "evaluate_stored_models"]


@dataclass(frozen=True)
class EvaluationOutcome:
    result: EvaluationResult
    record: store.EvaluationRecord
    reused: bool  #: the stored OKS pairs were reused (the predictions were not read again)
    dropped: int = 0  #: records of images outside the split left out (``--only-split-images``)


@dataclass(frozen=True)
class _Checked:
    """A validated predictions file, ready to evaluate."""

    path: Path
    model: str
    fingerprint: FileFingerprint
    predictions: Predictions | None  #: None when the stored evaluation is reused
    reuse: store.EvaluationRecord | None
    dropped: int = 0  #: records of images outside the split left out


def evaluate_files(
    cache_root: Path,
    key: cache.CacheKey,
    files: list[Path],
    models: list[str] | None = None,
    request: EvaluationRequest | None = None,
    progress: bool = True,
    bootstrap: store.BootstrapSettings | None = None,
    only_split_images: bool = False,
) -> list[EvaluationOutcome]:
    """Evaluate results files against a built split and store each evaluation.

    ``only_split_images``: keep the records of the split's images and count the others
    (a full split's results file evaluated on a subset) instead of refusing the file.

    Every file is read and validated before anything is written: a bad file
    stores nothing, and earlier stored evaluations stay as they were.  With
    ``bootstrap``, every slice also gets image-bootstrap intervals, stored too.

    Raises:
        PoseAtlasError: a changed annotation file, an impossible definition, or a
            bad results file (naming the file, the record and the problem).
    """
    request = request or EvaluationRequest()
    models = list(models or [])
    if models and len(models) != len(files):
        raise PoseAtlasError(
            f"--model given {len(models)} time(s) for {len(files)} predictions file(s); give one per file or none"
        )
    labels = models or [Path(f).stem for f in files]
    for label in labels:
        store.check_label(label)
    slugs = [store.model_slug(m) for m in labels]
    if len(set(slugs)) != len(slugs):
        raise PoseAtlasError(f"model labels must differ (as folder names): {labels}")
    for label in labels:  # the same clash across commands: never replace another label's evaluation
        stored = store.find_record(cache_root, key, label)
        if stored is not None and str(stored.model) != label:
            raise PoseAtlasError(
                f"--model {label!r}: {key} already stores an evaluation labelled {str(stored.model)!r} under the "
                f"same folder name ({store.model_slug(label)}); give --model {str(stored.model)!r} to replace it, "
                "or a label that differs in more than case and punctuation"
            )
    facts = open_cached_split(cache_root, key)
    annotation_path = check_unchanged(facts)
    images, instances = _read_ground_truth(cache_root, key)
    definitions = resolve_definitions(request, facts, images, instances)
    categories = person_categories(facts, annotation_path)
    known_images = np.sort(images["image_id"].astype(np.int64))
    bar = _progress_bar(2 * len(files), f"evaluate {key}", progress)
    try:
        checked = []
        for f, label in zip(files, labels, strict=True):
            bar.set_postfix_str(f"read {Path(f).name}")
            checked.append(
                _check(Path(f), label, cache_root, key, facts, definitions, categories, known_images, only_split_images)
            )
            bar.update(1)
        outcomes = []
        for item in checked:
            bar.set_postfix_str(f"evaluate {item.model}")
            outcomes.append(
                _evaluate_one(item, cache_root, key, facts, definitions, categories, images, instances, bootstrap)
            )
            bar.update(1)
    finally:
        bar.close()
    return outcomes


def evaluate_stored_models(
    cache_root: Path,
    key: cache.CacheKey,
    models: list[str],
    request: EvaluationRequest | None = None,
    bootstrap: store.BootstrapSettings | None = None,
) -> list[EvaluationOutcome]:
    """Re-slice stored evaluations without their predictions files (the OKS pairs are stored).

    Raises:
        PoseAtlasError: a model without a stored evaluation, or a changed annotation file.
    """
    request = request or EvaluationRequest()
    facts = open_cached_split(cache_root, key)
    check_unchanged(facts)
    images, instances = _read_ground_truth(cache_root, key)
    definitions = resolve_definitions(request, facts, images, instances)
    records = []
    for model in models:
        record = store.find_record(cache_root, key, model)
        if record is None or record.format_version != store.FORMAT_VERSION:
            raise PoseAtlasError(f"{key}: no stored evaluation of {model!r}; evaluate it with --predictions first")
        if record.stale:
            raise PoseAtlasError(f"{key}: the evaluation of {model!r} is {STALE}")
        if record.damaged:
            raise PoseAtlasError(
                f"{key}: the stored evaluation of {model!r} is damaged ({record.damaged}); evaluate it again "
                "with --predictions"
            )
        records.append(record)
    outcomes = []
    for record in records:
        # The stored OKS pairs fix the sigmas and OKS area; only the slicing follows the request.
        used = EvaluationDefinitions.from_json(record.definitions).with_slicing(definitions)
        item = _Checked(Path(record.predictions.path), record.model, record.predictions, None, record)
        outcomes.append(_evaluate_one(item, cache_root, key, facts, used, [], images, instances, bootstrap))
    return outcomes


def _read_ground_truth(cache_root: Path, key: cache.CacheKey) -> tuple[Columns, Columns]:
    """The columns of images.parquet and instances.parquet an evaluation reads, as numpy
    (no pandas: it would cost ``evaluate`` about a third of its start-up)."""
    folder = key.directory(cache_root)
    cache.checked_schema(folder / cache.IMAGES_FILE)  # every column, as reading the whole table checked it
    return read_columns(folder / cache.IMAGES_FILE, IMAGE_COLUMNS), read_columns(
        folder / cache.INSTANCES_FILE, GT_COLUMNS
    )


class _Bar(Protocol):
    """What the evaluation calls of its progress bar (tqdm's)."""

    def set_postfix_str(self, text: str) -> None: ...

    def update(self, n: int) -> None: ...

    def close(self) -> None: ...


class _NoBar:
    """What ``--quiet`` gets in place of a progress bar: tqdm is not even imported."""

    def set_postfix_str(self, text: str) -> None:
        pass

    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def _progress_bar(total: int, description: str, progress: bool) -> _Bar:
    if not progress:
        return _NoBar()
    from tqdm import tqdm

    # disable=None: a bar on a terminal, none in logs and pipes.
    return tqdm(total=total, desc=description, unit="step", disable=None, leave=False)


def _unchanged(path: Path, previous: store.EvaluationRecord | None) -> FileFingerprint | None:
    """The stored fingerprint when the file has its size, mtime and resolved path (no need to read it)."""
    recorded = previous.predictions if previous else None
    if recorded and recorded.path == str(_regular_file(path).resolve()) and recorded.matches(path, read=False):
        return recorded
    return None


def _regular_file(path: Path) -> Path:
    """``path`` when it names a regular file (after resolving links); a FIFO, device or
    folder would block or fail the read."""
    try:
        mode = path.stat().st_mode
    except OSError:
        raise PoseAtlasError(f"{path}: predictions file not found") from None
    if stat_module.S_ISDIR(mode):
        raise PoseAtlasError(f"{path}: is a folder; give a predictions file (a JSON list)")
    if not stat_module.S_ISREG(mode):
        raise PoseAtlasError(f"{path}: not a regular file (a pipe or device); give a predictions file")
    return path


def read_predictions_bytes(path: Path) -> tuple[bytes, FileFingerprint]:
    """The file's bytes and the fingerprint of exactly those bytes (size, SHA-256 and the
    mtime of the open file), so a file changing during the run can never give one file's
    hash beside another's results."""
    _regular_file(path)
    try:
        with open(path, "rb") as fh:
            before = os.fstat(fh.fileno())
            data = fh.read()
            after = os.fstat(fh.fileno())
    except OSError as exc:
        raise PoseAtlasError(f"{path}: cannot read predictions file: {exc.strerror or exc}") from None
    if (before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns) or len(data) != after.st_size:
        raise PoseAtlasError(f"{path}: the predictions file changed while it was read; run again once it is written")
    return data, FileFingerprint.of(path, data, after)


def _check(
    path: Path,
    model: str,
    cache_root: Path,
    key: cache.CacheKey,
    facts: CachedSplit,
    definitions: EvaluationDefinitions,
    categories: list[int],
    known_images: np.ndarray,
    only_split_images: bool = False,
) -> _Checked:
    previous = store.find_record(cache_root, key, model)
    usable = (
        previous is not None
        and not previous.stale
        and previous.damaged is None
        and previous.format_version == store.FORMAT_VERSION
        and EvaluationDefinitions.from_json(previous.definitions).same_matching(definitions)
    )
    unchanged = _unchanged(path, previous)
    if usable and unchanged is not None:
        return _Checked(path, model, unchanged, None, previous)
    data, fingerprint = read_predictions_bytes(path)
    recorded = previous.predictions if usable and previous is not None else None
    if recorded is not None and recorded.sha256 == fingerprint.sha256 and recorded.size == len(data):
        return _Checked(path, model, fingerprint, None, previous)
    # keypoints kept only for the detections the evaluation keeps: peak memory within 2x the file
    predictions = read_predictions(path, data, facts.n_joints, categories[0], categories)
    persons = member_of(predictions.category_id, categories)
    if not persons.any():
        found = sorted(set(predictions.category_id.tolist()))[:10]
        raise AnnotationError(
            path, None, f"no prediction has a person category id {categories} (found category ids {found})"
        )
    if only_split_images:
        predictions, dropped = keep_split_images(predictions, known_images)
        if not len(predictions.image_id):
            raise AnnotationError(
                path,
                None,
                f"no record names an image of {key} ({dropped} records dropped by "
                f"{SPLIT_IMAGES_OPTION}): a results file of another dataset?",
            )
        return _Checked(path, model, fingerprint, predictions, None, dropped)
    unknown = ~member_of(predictions.image_id, known_images)
    if unknown.any():
        first = int(np.flatnonzero(unknown)[0])
        raise AnnotationError(
            path,
            f"record {first} (image_id={int(predictions.image_id[first])})",
            f"image_id not in {key} ({int(unknown.sum())} record(s) name images the dataset does not have); "
            f"a results file of a larger split (e.g. the full split of this subset): pass {SPLIT_IMAGES_OPTION} "
            "to keep the predictions of this split's images",
        )
    return _Checked(path, model, fingerprint, predictions, None)


def _evaluate_one(
    item: _Checked,
    cache_root: Path,
    key: cache.CacheKey,
    facts: CachedSplit,
    definitions: EvaluationDefinitions,
    categories: list[int],
    images: Columns,
    instances: Columns,
    bootstrap: store.BootstrapSettings | None = None,
) -> EvaluationOutcome:
    if item.reuse is not None:
        # Unchanged predictions and OKS: re-slice the stored pairs (milliseconds), so the
        # result carries its PR curves; the record is rewritten only when the slicing or
        # the intervals changed.
        stored = store.read_evaluation(cache_root, key, item.model, as_numpy=True)
        result = evaluate_stored(stored, images, instances, definitions, bootstrap)
        record = item.reuse
        if EvaluationDefinitions.from_json(item.reuse.definitions) != definitions or bootstrap is not None:
            record = _record(item, key, facts, definitions, item.reuse.counts, result, item.reuse.tables)
            store.replace_record(cache_root, key, record)
        return EvaluationOutcome(result, record, True)

    assert item.predictions is not None
    keypoints = gt_keypoints(cache_root, key, len(instances), facts.n_joints)
    computed = compute_evaluation(item.predictions, categories, instances, keypoints, definitions)
    draft = _record(item, key, facts, definitions, computed.counts, None)
    stored = store.StoredEvaluation(draft, store.numpy_columns(computed.detections), store.numpy_columns(computed.oks))
    result = evaluate_stored(stored, images, instances, definitions, bootstrap)
    record = _record(item, key, facts, definitions, computed.counts, result)
    store.write_evaluation(cache_root, key, record, computed.detections, computed.oks)
    return EvaluationOutcome(result, record, False, item.dropped)


def _record(
    item: _Checked,
    key: cache.CacheKey,
    facts: CachedSplit,
    definitions: EvaluationDefinitions,
    counts: store.DetectionCounts,
    result: EvaluationResult | None,
    tables: dict | None = None,
) -> store.EvaluationRecord:
    slices = (
        {}
        if result is None
        else {name: store.SliceSummary(m.ap, m.ap50, m.ap75, m.ar, m.n_gt, m.ci) for name, m in result.slices.items()}
    )
    return store.EvaluationRecord(
        format_version=store.FORMAT_VERSION,
        model=item.model,
        slug=store.model_slug(item.model),
        dataset=key.dataset,
        split=key.split,
        predictions=item.fingerprint,
        annotations_sha256=facts.fingerprint.sha256 or "",
        definitions=msgspec.Raw(msgspec.json.encode(definitions.to_record())),
        counts=counts,
        slices=slices,
        evaluated_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        bootstrap=None if result is None else result.bootstrap,
        tables=dict(tables or {}),
    )
