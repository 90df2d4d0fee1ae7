"""Build one dataset split's cache: load, compute, write atomically, record a manifest."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

import analysis
from analysis import cache
from analysis.crowding import compute_crowding
from analysis.definitions import CROWD_INDEX_DEFINITION, AreaSource, CrowdConvention, SizeEdges, density_levels
from analysis.errors import AnnotationError
from analysis.fingerprint import file_sha256
from analysis.loading import PoseDataset, load_pose_dataset
from analysis.registry import DatasetSpec
from analysis.tables import images_table, instances_table

#: Modules whose code shapes the cached columns; their bytes make the code version.
_CODE_MODULES = ("coco_json", "loading", "crowding", "tables", "schema", "build")
MAX_LISTED_MISSING = 1000


@dataclass(frozen=True)
class BuildResult:
    key: cache.CacheKey
    status: str  #: "built" or "up-to-date"
    manifest: dict[str, Any]


def code_version() -> str:
    """The package version plus a digest of the modules that shape the cache."""
    digest = hashlib.sha256()
    here = Path(analysis.__file__).parent
    for module in _CODE_MODULES:
        digest.update((here / f"{module}.py").read_bytes())
    return f"{analysis.__version__}+{digest.hexdigest()[:12]}"


def file_fingerprint(path: Path, data: bytes | None = None) -> dict[str, Any]:
    stat = path.stat()
    fingerprint = {"path": str(path.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    if data is not None:
        fingerprint["sha256"] = hashlib.sha256(data).hexdigest()
    return fingerprint


def is_up_to_date(manifest: dict[str, Any] | None, spec: DatasetSpec) -> bool:
    """Whether the cached split was built from these inputs, options and code."""
    if not manifest:
        return False
    same_build = (
        manifest.get("schema_version") == cache.SCHEMA_VERSION
        and manifest.get("code_version") == code_version()
        and manifest.get("options") == spec.options_fingerprint()
    )
    if not same_build:
        return False
    recorded = manifest.get("inputs", {}).get("annotations", {})
    try:
        stat = spec.annotations.stat()
    except OSError:
        return False
    if recorded.get("size") != stat.st_size:
        return False
    if recorded.get("mtime_ns") == stat.st_mtime_ns:
        return True
    # Touched but maybe unchanged: the content hash decides.
    return recorded.get("sha256") == file_sha256(spec.annotations)


def build_split(spec: DatasetSpec, cache_root: Path, *, force: bool = False, progress: bool = True, synthetic: bool = False) -> BuildResult:
    """Build (or confirm up to date) the cache of one split.

    Raises:
        AnnotationError: bad input; nothing is written and an earlier cache stays.
    """
    key = cache.CacheKey(spec.name, spec.split)
    target = key.directory(cache_root)
    _recover_interrupted_swap(target)
    previous = cache.read_manifest(cache_root, key)
    if not force and is_up_to_date(previous, spec):
        return BuildResult(key, "up-to-date", previous)

    stages = ("read", "decode+validate", "crowding", "tables", "images", "write")
    # disable=None: a bar on a terminal, none in logs and pipes.
    bar = tqdm(total=len(stages), desc=str(key), unit="stage", disable=None if progress else True, leave=False)
    try:
        return _build(spec, cache_root, key, target, previous, synthetic, bar)
    finally:
        bar.close()


def _build(spec: DatasetSpec, cache_root: Path, key: cache.CacheKey, target: Path, previous: dict | None, synthetic: bool, bar: tqdm) -> BuildResult:
    timings: dict[str, float] = {}

    def stage(name: str, t0: float) -> float:
        timings[name] = round(time.perf_counter() - t0, 4)
        bar.set_postfix_str(name)
        bar.update(1)
        return time.perf_counter()

    t = t_start = time.perf_counter()
    try:
        data = spec.annotations.read_bytes()
    except OSError as exc:
        raise AnnotationError(spec.annotations, None, f"cannot read annotation file: {exc.strerror or exc}") from None
    t = stage("read", t)
    with ThreadPoolExecutor(max_workers=1) as pool:
        # hashlib releases the GIL: the fingerprint costs nothing beside the decode.
        fingerprint_job = pool.submit(file_fingerprint, spec.annotations, data)
        dataset = load_pose_dataset(spec.annotations, spec.load_options(), data)
        fingerprint = fingerprint_job.result()
    del data
    t = stage("decode+validate", t)
    inst = dataset.instances
    crowding = compute_crowding(
        inst.keypoints, inst.bbox, inst.image_index, inst.iscrowd, inst.num_keypoints,
        len(dataset.images.image_id),
    )
    t = stage("crowding", t)
    images = images_table(spec.name, spec.split, dataset, crowding)
    instances = instances_table(spec.name, spec.split, dataset, crowding)
    t = stage("tables", t)
    image_check = check_image_files(spec.images, dataset.images.file_name)
    t = stage("images", t)

    warnings = list(dataset.warnings)
    if crowding.n_unusable_references:
        warnings.append(
            f"{crowding.n_unusable_references} person(s) with stored num_keypoints >= 4 but no labelled "
            "joint left out of CrowdIndex"
        )
    if image_check["n_missing"]:
        warnings.append(f"{image_check['n_missing']} image file(s) missing under {spec.images}")
    manifest = {
        "dataset": spec.name,
        "split": spec.split,
        "synthetic": synthetic,
        "schema_version": cache.SCHEMA_VERSION,
        "code_version": code_version(),
        "built_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "options": spec.options_fingerprint(),
        "inputs": {"annotations": fingerprint, "images": image_check},
        "keypoint_schema": dataset.schema.to_json(),
        "definitions": _definitions(dataset),
        "counts": _counts(dataset, images.num_rows, crowding),
        "warnings": warnings,
        "skipped_counts": dataset.skipped.counts,
        "skipped": dataset.skipped.listed,
        "timings": timings,
    }
    _write_split(target, images, instances, manifest, previous)
    stage("write", t)
    # The staged manifest made the swap complete; this rewrite only adds the final timings.
    timings["total"] = round(time.perf_counter() - t_start, 4)
    cache.write_json(manifest, target / cache.MANIFEST_FILE)
    return BuildResult(key, "built", manifest)


def check_image_files(image_root: Path | None, file_names: list[str]) -> dict[str, Any]:
    """Which image files exist under ``image_root`` (a count and a list, never an error)."""
    if image_root is None:
        return {"path": None, "n_missing": 0, "missing": []}
    root = Path(image_root).resolve()
    present: set[str] = set()
    if root.is_dir():
        for folder, _, files in os.walk(root):
            rel = os.path.relpath(folder, root)
            prefix = "" if rel == "." else rel.replace(os.sep, "/") + "/"
            present.update(prefix + f for f in files)
    names = np.asarray(file_names, dtype=object)
    missing_mask = ~np.isin(names, np.fromiter(present, dtype=object, count=len(present))) if len(names) else np.zeros(0, bool)
    missing = names[missing_mask]
    return {
        "path": str(root),
        "exists": root.is_dir(),
        "n_missing": int(missing_mask.sum()),
        "missing": missing[:MAX_LISTED_MISSING].tolist(),
    }


def _definitions(dataset: PoseDataset) -> dict[str, Any]:
    has_segm = bool(np.isfinite(dataset.instances.segm_area).any())
    edges = SizeEdges()
    return {
        "crowd_index": CROWD_INDEX_DEFINITION,
        "crowding": "per person N_b/N_a; NaN for iscrowd regions and when N_a == 0",
        "visibility": (
            "coco: v > 0 labelled, v == 2 visible" if dataset.visibility == "coco"
            else "binary (file uses only 0/1): v == 1 labelled and visible"
        ),
        "area_sources": [s.value for s in AreaSource if s is not AreaSource.SEGM or has_segm],
        "default_size": edges.description,
        "crowd_levels": [c.levels().description for c in CrowdConvention],
        "density_levels": density_levels().description,
    }


def _counts(dataset: PoseDataset, n_images: int, crowding) -> dict[str, int]:
    inst = dataset.instances
    persons = ~inst.iscrowd
    return {
        "images": n_images,
        "annotations": len(inst.ann_id),
        "persons": int(persons.sum()),
        "crowd_regions": int(inst.iscrowd.sum()),
        "images_without_persons": int(n_images - len(np.unique(inst.image_index[persons]))),
        "reference_persons": int(crowding.is_reference.sum()),
        "images_with_stored_crowd_index": int(np.isfinite(dataset.images.crowd_index_stored).sum()),
        "joints": dataset.schema.n_joints,
        "skipped": int(sum(dataset.skipped.counts.values())),
    }


def _write_split(target: Path, images, instances, manifest: dict, previous: dict | None) -> None:
    """Write into a fresh sibling folder, then swap it in; the old cache survives any failure.

    Scene results depend on the image files, not the annotations, so scenes.parquet,
    an unfinished scene run's shards and the manifest's "scenes" entry are carried over;
    so are stored evaluations (``evaluations/``), which flag themselves stale when the
    annotations changed.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.parent / f".{target.name}.building-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        # pyarrow releases the GIL: write both tables at once.
        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(cache.write_table, (images, instances),
                          (staging / cache.IMAGES_FILE, staging / cache.INSTANCES_FILE)))
        old_scenes = target / cache.SCENES_FILE
        if old_scenes.is_file():
            shutil.copy2(old_scenes, staging / cache.SCENES_FILE)
        if previous and "scenes" in previous:
            manifest["scenes"] = previous["scenes"]
        partial = target / cache.SCENES_PARTIAL_DIR
        if partial.is_dir():  # an unfinished scene run resumes after the rebuild
            shutil.copytree(partial, staging / cache.SCENES_PARTIAL_DIR)
        # Stored evaluations survive a rebuild; one made against other annotations
        # reads back as stale (its annotations fingerprint differs from the manifest's).
        evaluations = target / cache.EVALUATIONS_DIR
        if evaluations.is_dir():
            shutil.copytree(evaluations, staging / cache.EVALUATIONS_DIR)
        cache.write_json(manifest, staging / cache.MANIFEST_FILE)
        retired = target.parent / f".{target.name}.old"
        shutil.rmtree(retired, ignore_errors=True)
        if target.exists():
            os.replace(target, retired)
        os.replace(staging, target)
        shutil.rmtree(retired, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _recover_interrupted_swap(target: Path) -> None:
    """A crash between the two renames of a swap leaves only ``.<split>.old``: put it back."""
    retired = target.parent / f".{target.name}.old"
    if retired.is_dir() and not target.exists():
        os.replace(retired, target)
