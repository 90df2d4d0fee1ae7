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
import json
from dataclasses import dataclass, field
from pathlib import Path

import msgspec
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from analysis import cache
from analysis.coco_json import CocoCategory
from analysis.definitions import AreaSource, CrowdConvention, LevelEdges, SizeDefinition, density_levels, person_area
from analysis.errors import AnnotationError, PoseAtlasError
from analysis.evaluation import store
from analysis.evaluation.definitions import MAX_DETECTIONS, CrowdIndexSource, EvaluationDefinitions, SigmaSource
from analysis.evaluation.density import detection_density
from analysis.evaluation.engine import oks_pairs, same_image_pairs
from analysis.evaluation.predictions import Predictions, read_predictions
from analysis.evaluation.slices import EvaluationResult, evaluate_stored
from analysis.fingerprint import file_sha256
from analysis.loading import _keypoint_categories

_INSTANCE_COLUMNS = [
    "ann_id",
    "image_id",
    "iscrowd",
    "bbox_x",
    "bbox_y",
    "bbox_w",
    "bbox_h",
    "segm_area",
    "num_keypoints",
    "n_labelled",
    "crowding",
]


@dataclass(frozen=True)
class EvaluationRequest:
    """The user's choices, before they are resolved against a dataset.

    ``None`` means the documented default: sigmas from the keypoint schema; OKS
    area ``segm`` when every person has the file's ``area``, else ``crowdpose``;
    the stored crowdIndex when every image has one, else the computed one.
    """

    sigmas: str | None = None  #: "coco", "crowdpose" or a file of K numbers
    oks_area: AreaSource | None = None
    size: SizeDefinition = field(default_factory=SizeDefinition)
    density_edges: LevelEdges = field(default_factory=density_levels)
    crowd_convention: CrowdConvention = CrowdConvention.EVAL_CODE
    crowd_index: CrowdIndexSource | None = None


@dataclass(frozen=True)
class SplitFacts:
    """What an evaluation needs from the split's manifest (kept in one place)."""

    annotations: dict  #: path, size, mtime_ns, sha256 of the annotation file
    schema_name: str
    n_joints: int
    schema_sigmas: tuple[float, ...] | None


def split_facts(cache_root: Path, key: cache.CacheKey) -> SplitFacts:
    manifest = cache.read_manifest(cache_root, key)
    if manifest is None:
        raise PoseAtlasError(f"{key}: no cache under {cache_root}; build it first (python -m analysis build)")
    schema = manifest["keypoint_schema"]
    sigmas = schema.get("sigmas")
    return SplitFacts(
        manifest["inputs"]["annotations"],
        schema["name"],
        len(schema["joint_names"]),
        tuple(sigmas) if sigmas else None,
    )


def check_annotations_unchanged(facts: SplitFacts, key: cache.CacheKey) -> Path:
    """The annotation file the cache was built from, unchanged since; else a clear error."""
    recorded = facts.annotations
    path = Path(recorded["path"])
    rebuild = (
        f"rebuild the cache first (python -m analysis build --only {key.dataset}/{key.split}, or the ad hoc build)"
    )
    try:
        stat = path.stat()
    except OSError:
        raise PoseAtlasError(f"{path}: the annotation file {key} was built from is missing; {rebuild}") from None
    unchanged = stat.st_size == recorded.get("size") and (
        stat.st_mtime_ns == recorded.get("mtime_ns") or file_sha256(path) == recorded.get("sha256")
    )
    if not unchanged:
        raise PoseAtlasError(f"{path}: the annotation file changed since {key} was built; {rebuild}")
    return path


def person_categories(annotation_path: Path) -> list[int]:
    """Ids of the categories whose annotations are persons (as the build chose them)."""

    class _Categories(msgspec.Struct):
        categories: list[CocoCategory]

    decoded = msgspec.json.decode(annotation_path.read_bytes(), type=_Categories)
    return [c.id for c in _keypoint_categories(annotation_path, decoded)]


def resolve_definitions(
    request: EvaluationRequest, facts: SplitFacts, images: pd.DataFrame, instances: pd.DataFrame
) -> EvaluationDefinitions:
    """Apply the defaults and check every choice is possible on this dataset."""
    source, sigma_file, sigmas = _resolve_sigmas(request.sigmas, facts)
    if len(sigmas) != facts.n_joints:
        raise PoseAtlasError(
            f"--sigmas {request.sigmas or 'schema'}: {len(sigmas)} sigmas for a "
            f"{facts.n_joints}-joint schema ({facts.schema_name})"
        )
    persons = ~instances["iscrowd"].to_numpy(bool)
    segm = instances["segm_area"].astype("Float64").to_numpy(dtype=np.float64, na_value=np.nan)
    n_without_area = int((np.isnan(segm) & persons).sum())
    oks_area = request.oks_area or (AreaSource.SEGM if n_without_area == 0 else AreaSource.CROWDPOSE)
    if oks_area is AreaSource.SEGM and n_without_area:
        raise PoseAtlasError(
            f"--oks-area segm: {n_without_area} person(s) have no 'area' in the annotation file; use bbox or crowdpose"
        )
    stored = images["crowd_index_stored"].astype("Float64").to_numpy(dtype=np.float64, na_value=np.nan)
    crowd_index = request.crowd_index or (
        CrowdIndexSource.STORED if len(stored) and not np.isnan(stored).any() else CrowdIndexSource.COMPUTED
    )
    if crowd_index is CrowdIndexSource.STORED and np.isnan(stored).any():
        raise PoseAtlasError(
            f"--crowd-index stored: {int(np.isnan(stored).sum())} of {len(stored)} images have no stored "
            "crowdIndex; use computed"
        )
    definitions = EvaluationDefinitions(
        sigmas,
        source,
        sigma_file,
        oks_area,
        request.size,
        request.density_edges,
        request.crowd_convention,
        crowd_index,
    )
    if request.size.area_source is AreaSource.SEGM and n_without_area:
        raise PoseAtlasError(
            f"--size-area segm: {n_without_area} person(s) have no 'area' in the annotation file; use bbox or crowdpose"
        )
    return definitions


def _resolve_sigmas(value: str | None, facts: SplitFacts) -> tuple[SigmaSource, str | None, tuple[float, ...]]:
    if value is None or value == SigmaSource.SCHEMA.value:
        if facts.schema_sigmas is None:
            raise PoseAtlasError(
                f"the {facts.schema_name} keypoint schema has no published OKS sigmas; "
                f"pass --sigmas FILE with {facts.n_joints} values"
            )
        return SigmaSource.SCHEMA, None, facts.schema_sigmas
    if value in (SigmaSource.COCO.value, SigmaSource.CROWDPOSE.value):
        source = SigmaSource(value)
        return source, None, source.builtin or ()
    path = Path(value)
    if not path.is_file():
        raise PoseAtlasError(f"--sigmas {value}: not coco, crowdpose or an existing file")
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        values = (
            json.loads(text) if text.lstrip().startswith("[") else [float(v) for v in text.replace(",", " ").split()]
        )
        sigmas = tuple(float(v) for v in values)
    except (ValueError, TypeError):
        raise PoseAtlasError(f"{path}: sigmas must be a JSON list or whitespace/comma separated numbers") from None
    if not sigmas or not all(np.isfinite(s) and s > 0 for s in sigmas):
        raise PoseAtlasError(f"{path}: sigmas must be positive finite numbers")
    return SigmaSource.FILE, str(path), sigmas


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
    facts = split_facts(cache_root, key)
    annotation_path = check_annotations_unchanged(facts, key)
    images = cache.read_images(cache_root, key)
    instances = cache.read_instances(cache_root, key, columns=_INSTANCE_COLUMNS)
    definitions = resolve_definitions(request, facts, images, instances)
    categories = person_categories(annotation_path)
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
    person_categories: list[int],
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
    gt_keypoints = _gt_keypoints(cache_root, key, len(instances), facts.n_joints)
    computed = compute_evaluation(item.predictions, person_categories, instances, gt_keypoints, definitions)
    draft = _record(item, key, facts, definitions, computed.counts, None)
    stored = store.StoredEvaluation(
        draft, computed.detections.drop(["keypoints"]).to_pandas(), computed.oks.to_pandas()
    )
    result = evaluate_stored(stored, images, instances, definitions)
    record = _record(item, key, facts, definitions, computed.counts, result)
    store.write_evaluation(cache_root, key, record, computed.detections, computed.oks)
    return EvaluationOutcome(result, record, False)


@dataclass(frozen=True)
class Computed:
    """What an evaluation stores: detections.parquet and oks.parquet as tables, and the counts."""

    detections: pa.Table
    oks: pa.Table
    counts: store.DetectionCounts


def compute_evaluation(
    predictions: Predictions,
    person_categories: list[int],
    instances: pd.DataFrame,
    gt_keypoints: np.ndarray,
    definitions: EvaluationDefinitions,
) -> Computed:
    """The kept detections, every same-image OKS pair (once) and each detection's density.

    Args:
        predictions: a validated results file.
        person_categories: the category ids evaluated (others are counted, not kept).
        instances: the split's instances (annotation order), without keypoints.
        gt_keypoints: (G, K, 3) their keypoints.
        definitions: the sigmas and OKS area used.
    """
    detections, counts = _kept_detections(predictions, person_categories)
    gt = instances
    gt_bbox = gt[["bbox_x", "bbox_y", "bbox_w", "bbox_h"]].to_numpy(np.float64)
    segm = gt["segm_area"].astype("Float64").to_numpy(dtype=np.float64, na_value=np.nan)
    gt_area = person_area(gt["bbox_w"], gt["bbox_h"], segm, definitions.oks_area)
    pairs = same_image_pairs(detections["image_id"], gt["image_id"].to_numpy(np.int64))
    det_keypoints = detections["keypoints"]
    oks = oks_pairs(det_keypoints, gt_keypoints, gt_bbox, gt_area, pairs, definitions.sigma_array)
    density = detection_density(det_keypoints, gt_keypoints, gt["iscrowd"].to_numpy(bool), pairs, oks)
    oks_table = pa.table({
        "det_id": pa.array(detections["det_id"][pairs.det], pa.int64()),
        "ann_id": pa.array(gt["ann_id"].to_numpy(np.int64)[pairs.gt], pa.int64()),
        "oks": pa.array(oks, pa.float64()),
    })  # fmt: skip
    return Computed(_detections_table(detections, density), oks_table, counts)


def _gt_keypoints(cache_root: Path, key: cache.CacheKey, n_gt: int, n_joints: int) -> np.ndarray:
    """(G, K, 3) float32 ground-truth keypoints, straight from the parquet list column."""
    column = pq.read_table(key.directory(cache_root) / cache.INSTANCES_FILE, columns=["keypoints"]).column("keypoints")
    flat = column.combine_chunks().flatten().to_numpy() if n_gt else np.zeros(0, np.float32)
    return flat.reshape(n_gt, n_joints, 3)


def _kept_detections(predictions: Predictions, person_categories: list[int]) -> tuple[dict, store.DetectionCounts]:
    """Person detections, the 20 best per image (score descending, file order on ties)."""
    n = len(predictions.score)
    det_id = np.arange(1, n + 1, dtype=np.int64)  # loadRes numbers results 1..N in file order
    person = np.isin(predictions.category_id, person_categories)
    person_rows = np.flatnonzero(person)
    order = person_rows[np.lexsort((person_rows, -predictions.score[person_rows], predictions.image_id[person_rows]))]
    image_sorted = predictions.image_id[order]
    rank = np.arange(len(order)) - np.searchsorted(image_sorted, image_sorted, side="left")
    kept = np.sort(order[rank < MAX_DETECTIONS])
    keypoints = predictions.keypoints[kept]
    x, y = keypoints[:, :, 0], keypoints[:, :, 1]
    x0, x1, y0, y1 = x.min(axis=1), x.max(axis=1), y.min(axis=1), y.max(axis=1)
    counts = store.DetectionCounts(
        records=n,
        kept=len(kept),
        other_category=int(n - person.sum()),
        over_max_per_image=int((rank >= MAX_DETECTIONS).sum()),
    )
    detections = {
        "det_id": det_id[kept],
        "image_id": predictions.image_id[kept],
        "category_id": predictions.category_id[kept],
        "score": predictions.score[kept],
        "keypoints": keypoints,
        "box": np.stack([x0, y0, x1 - x0, y1 - y0], axis=1),
    }
    return detections, counts


def _detections_table(detections: dict, density: np.ndarray) -> pa.Table:
    keypoints = detections["keypoints"]
    n, k = keypoints.shape[:2]
    flat = pa.array(keypoints.astype(np.float32).reshape(-1), pa.float32())
    offsets = pa.array(np.arange(0, (n + 1) * 3 * k, 3 * k, dtype=np.int32))
    box = detections["box"]
    return pa.table(
        {
            "det_id": pa.array(detections["det_id"], pa.int64()),
            "image_id": pa.array(detections["image_id"], pa.int64()),
            "category_id": pa.array(detections["category_id"], pa.int64()),
            "score": pa.array(detections["score"], pa.float64()),
            "keypoints": pa.ListArray.from_arrays(offsets, flat),
            "box_x": pa.array(box[:, 0], pa.float64()),
            "box_y": pa.array(box[:, 1], pa.float64()),
            "box_w": pa.array(box[:, 2], pa.float64()),
            "box_h": pa.array(box[:, 3], pa.float64()),
            "area": pa.array(box[:, 2] * box[:, 3], pa.float64()),
            "density": pa.array(density, pa.float64()),
        }
    )


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
        annotations_sha256=facts.annotations.get("sha256", ""),
        definitions=definitions.to_json(),
        counts=counts,
        slices=slices,
        evaluated_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    )
