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
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from analysis import cache
from analysis.errors import AnnotationError, PoseAtlasError
from analysis.evaluation import store
from analysis.evaluation.compute import compute_evaluation, gt_keypoints
from analysis.evaluation.context import (
    INSTANCE_COLUMNS,
    EvaluationRequest,
    SplitFacts,
    check_annotations_unchanged,
    person_categories,
    resolve_definitions,
    split_facts,
)
from analysis.evaluation.definitions import EvaluationDefinitions
from analysis.evaluation.predictions import Predictions, read_predictions
from analysis.evaluation.slices import EvaluationResult, evaluate_stored
from analysis.fingerprint import file_sha256

__all__ = ["EvaluationOutcome", "EvaluationRequest", "evaluate_files"]


@dataclass(frozen=True)
class EvaluationOutcome:
    result: EvaluationResult
    record: store.EvaluationRecord
    reused: bool  #: the stored OKS pairs were reused (the predictions were not read again)


@dataclass(frozen=True)
class _Checked:
    """A validated predictions file, ready to evaluate."""

    path: Path
    model: str
    fingerprint: store.FileFingerprint
    predictions: Predictions | None  #: None when the stored evaluation is reused
    reuse: store.EvaluationRecord | None


def evaluate_files(
    cache_root: Path,
    key: cache.CacheKey,
    files: list[Path],
    models: list[str] | None = None,
    request: EvaluationRequest | None = None,
    progress: bool = True,
) -> list[EvaluationOutcome]:
    """Evaluate results files against a built split and store each evaluation.

    Every file is read and validated before anything is written: a bad file
    stores nothing, and earlier stored evaluations stay as they were.

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
    facts = split_facts(cache_root, key)
    annotation_path = check_annotations_unchanged(facts, key)
    images = cache.read_images(cache_root, key)
    instances = cache.read_instances(cache_root, key, columns=INSTANCE_COLUMNS)
    definitions = resolve_definitions(request, facts, images, instances)
    categories = person_categories(facts, annotation_path)
    known_images = np.sort(images["image_id"].to_numpy(np.int64))

    # disable=None: a bar on a terminal, none in logs and pipes.
    bar = tqdm(
        total=2 * len(files), desc=f"evaluate {key}", unit="step", disable=None if progress else True, leave=False
    )
    try:
        checked = []
        for f, label in zip(files, labels, strict=True):
            bar.set_postfix_str(f"read {Path(f).name}")
            checked.append(_check(Path(f), label, cache_root, key, facts, definitions, categories, known_images))
            bar.update(1)
        outcomes = []
        for item in checked:
            bar.set_postfix_str(f"evaluate {item.model}")
            outcomes.append(_evaluate_one(item, cache_root, key, facts, definitions, categories, images, instances))
            bar.update(1)
    finally:
        bar.close()
    return outcomes


def _fingerprint(path: Path, previous: store.FileFingerprint | None) -> store.FileFingerprint:
    try:
        stat = path.stat()
    except OSError:
        raise PoseAtlasError(f"{path}: predictions file not found") from None
    if (
        previous
        and previous.size == stat.st_size
        and previous.mtime_ns == stat.st_mtime_ns
        and previous.path == str(path.resolve())
    ):
        return previous
    return store.FileFingerprint(str(path.resolve()), stat.st_size, file_sha256(path), stat.st_mtime_ns)


def _check(
    path: Path,
    model: str,
    cache_root: Path,
    key: cache.CacheKey,
    facts: SplitFacts,
    definitions: EvaluationDefinitions,
    categories: list[int],
    known_images: np.ndarray,
) -> _Checked:
    previous = store.find_record(cache_root, key, model)
    fingerprint = _fingerprint(path, previous.predictions if previous else None)
    reusable = (
        previous is not None
        and not previous.stale
        and previous.format_version == store.FORMAT_VERSION
        and previous.predictions.sha256 == fingerprint.sha256
        and previous.predictions.size == fingerprint.size
        and EvaluationDefinitions.from_json(previous.definitions).same_matching(definitions)
    )
    if reusable:
        return _Checked(path, model, fingerprint, None, previous)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PoseAtlasError(f"{path}: cannot read predictions file: {exc.strerror or exc}") from None
    predictions = read_predictions(path, data, facts.n_joints, categories[0])
    persons = np.isin(predictions.category_id, categories)
    if not persons.any():
        found = sorted(set(predictions.category_id.tolist()))[:10]
        raise AnnotationError(
            path, None, f"no prediction has a person category id {categories} (found category ids {found})"
        )
    unknown = ~np.isin(predictions.image_id, known_images)
    if unknown.any():
        first = int(np.flatnonzero(unknown)[0])
        raise AnnotationError(
            path,
            f"record {first} (image_id={int(predictions.image_id[first])})",
            f"image_id not in {key} ({int(unknown.sum())} record(s) name images the dataset does not have)",
        )
    return _Checked(path, model, fingerprint, predictions, None)


def _evaluate_one(
    item: _Checked,
    cache_root: Path,
    key: cache.CacheKey,
    facts: SplitFacts,
    definitions: EvaluationDefinitions,
    categories: list[int],
    images: pd.DataFrame,
    instances: pd.DataFrame,
) -> EvaluationOutcome:
    if item.reuse is not None:
        # Unchanged predictions and OKS: re-slice the stored pairs (milliseconds), so the
        # result carries its PR curves; the record is rewritten only when the slicing changed.
        stored = store.read_evaluation(cache_root, key, item.model)
        result = evaluate_stored(stored, images, instances, definitions)
        record = item.reuse
        if EvaluationDefinitions.from_json(item.reuse.definitions) != definitions:
            record = _record(item, key, facts, definitions, item.reuse.counts, result)
            store.replace_record(cache_root, key, record)
        return EvaluationOutcome(result, record, True)

    assert item.predictions is not None
    keypoints = gt_keypoints(cache_root, key, len(instances), facts.n_joints)
    computed = compute_evaluation(item.predictions, categories, instances, keypoints, definitions)
    draft = _record(item, key, facts, definitions, computed.counts, None)
    stored = store.StoredEvaluation(
        draft, computed.detections.drop(["keypoints"]).to_pandas(), computed.oks.to_pandas()
    )
    result = evaluate_stored(stored, images, instances, definitions)
    record = _record(item, key, facts, definitions, computed.counts, result)
    store.write_evaluation(cache_root, key, record, computed.detections, computed.oks)
    return EvaluationOutcome(result, record, False)


def _record(
    item: _Checked,
    key: cache.CacheKey,
    facts: SplitFacts,
    definitions: EvaluationDefinitions,
    counts: store.DetectionCounts,
    result: EvaluationResult | None,
) -> store.EvaluationRecord:
    slices = (
        {}
        if result is None
        else {name: store.SliceSummary(m.ap, m.ap50, m.ap75, m.ar, m.n_gt) for name, m in result.slices.items()}
    )
    return store.EvaluationRecord(
        format_version=store.FORMAT_VERSION,
        model=item.model,
        slug=store.model_slug(item.model),
        dataset=key.dataset,
        split=key.split,
        predictions=item.fingerprint,
        annotations_sha256=facts.annotations.sha256 or "",
        definitions=definitions.to_json(),
        counts=counts,
        slices=slices,
        evaluated_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    )
