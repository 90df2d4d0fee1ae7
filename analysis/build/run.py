"""Build one dataset split's cache: load, compute, write atomically, record a manifest."""

from __future__ import annotations

import ast
import datetime as dt
import functools
import hashlib
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec
import numpy as np
from tqdm import tqdm

import analysis
from analysis.build.coco_json import read_annotation_bytes
from analysis.build.crowding import Crowding, compute_crowding
from analysis.build.image_paths import present_files
from analysis.build.loading import PoseDataset, load_pose_dataset
from analysis.build.tables import images_table, instances_table
from analysis.cache import contract as cache
from analysis.cache.fingerprint import FileFingerprint
from analysis.cache.manifest import (
    BuildOptions,
    Counts,
    Definitions,
    IdentityRecord,
    ImageCheck,
    Inputs,
    KeypointSchemaRecord,
    Manifest,
    ManifestError,
    SkippedRecord,
    VisibilityConvention,
    carried_scenes,
    read_manifest,
    table_file,
    table_problems,
    write_manifest,
)
from analysis.definitions import CROWD_INDEX_DEFINITION, AreaSource, CrowdConvention, SizeEdges, density_levels
from analysis.errors import PoseAtlasError
from analysis.registry import DatasetSpec

if TYPE_CHECKING:
    import pyarrow as pa

MAX_LISTED_MISSING = 1000
#: The tables a build writes; the manifest vouches for their size and row count.
BUILT_TABLES = (cache.IMAGES_FILE, cache.INSTANCES_FILE)


@dataclass(frozen=True)
class BuildResult:
    key: cache.CacheKey
    status: str  #: "built" or "up-to-date"
    manifest: Manifest


def build_modules() -> list[str]:
    """Every ``analysis`` module the build imports, found by walking its import statements.

    Static (the ``import`` statements of ``analysis.build.run`` and, recursively, of each
    ``analysis`` module they name, imports inside functions included), so the answer
    does not depend on what else the running process happened to import.

    Returns:
        Sorted dotted module names, ``analysis`` (the package, with ``__version__``) included.
    """
    here = Path(analysis.__file__).parent
    seen: set[str] = set()
    todo = ["analysis", "analysis.build.run"]
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        path = _module_file(here, module)
        if path is None:
            continue
        seen.add(module)
        tree = ast.parse(path.read_bytes(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                todo += [a.name for a in node.names if a.name.split(".")[0] == "analysis"]
            elif (
                isinstance(node, ast.ImportFrom)
                and node.level == 0
                and node.module
                and node.module.split(".")[0] == "analysis"
            ):
                todo.append(node.module)
                # ``from analysis import cache``: the names may be modules
                todo += [f"{node.module}.{a.name}" for a in node.names]
        parent = module.rpartition(".")[0]
        if parent:
            todo.append(parent)  # importing a.b runs a/__init__.py first
    return sorted(seen)


def _module_file(package_dir: Path, module: str) -> Path | None:
    parts = module.split(".")[1:]
    base = package_dir.joinpath(*parts)
    for candidate in (base.with_suffix(".py") if parts else None, base / "__init__.py"):
        if candidate is not None and candidate.is_file():
            return candidate
    return None


class _BuildModulesMemo(msgspec.Struct, frozen=True):
    """:func:`build_modules`' answer and the sources it was found from: every ``.py`` file of
    the package as (relative path, ``st_mtime_ns``, ``st_size``)."""

    sources: list[tuple[str, int, int]]
    modules: list[str]


#: Where :func:`memoised_build_modules` keeps its answer (beside the package's bytecode).
BUILD_MODULES_MEMO = "__pycache__/poseatlas-build-modules.json"


def _sources_stamp(package_dir: Path) -> list[tuple[str, int, int]]:
    stamp = []
    for folder, subfolders, files in os.walk(package_dir):
        subfolders[:] = sorted(d for d in subfolders if d != "__pycache__")
        for name in sorted(f for f in files if f.endswith(".py")):
            path = os.path.join(folder, name)
            info = os.stat(path)
            stamp.append((os.path.relpath(path, package_dir), info.st_mtime_ns, info.st_size))
    return stamp


def memoised_build_modules() -> list[str]:
    """:func:`build_modules`, its AST walk (a third of a second) kept on disk while no source
    file of the package changes modification time or size: the rule Python's own bytecode
    cache trusts.  Stat-ing the sources costs about a millisecond; where the memo cannot be
    written (a read-only install) every call walks."""
    here = Path(analysis.__file__).parent
    memo = here / BUILD_MODULES_MEMO
    sources = _sources_stamp(here)
    try:
        kept = msgspec.json.decode(memo.read_bytes(), type=_BuildModulesMemo)
        if kept.sources == sources:
            return kept.modules
    except (OSError, msgspec.DecodeError, msgspec.ValidationError):
        pass
    modules = build_modules()
    try:
        memo.parent.mkdir(exist_ok=True)
        with cache.atomic_path(memo) as tmp:
            tmp.write_bytes(msgspec.json.encode(_BuildModulesMemo(sources, modules)))
    except OSError:
        pass
    return modules


@functools.cache
def code_version() -> str:
    """The package version plus a digest of every module the build imports (:func:`build_modules`,
    memoised on the sources' modification times: :func:`memoised_build_modules`)."""
    digest = hashlib.sha256()
    here = Path(analysis.__file__).parent
    for module in memoised_build_modules():
        path = _module_file(here, module)
        assert path is not None, module  # build_modules() lists only modules with a file
        digest.update(module.encode() + b"\0" + path.read_bytes() + b"\0")
    return f"{analysis.__version__}+{digest.hexdigest()[:12]}"


def is_up_to_date(manifest: Manifest | None, spec: DatasetSpec, split_dir: Path | None = None) -> bool:
    """Whether the cached split was built from these inputs, options and code.

    With ``split_dir``, also whether the table files are the ones the manifest
    vouches for (size, readable footer, row count).
    """
    if manifest is None:
        return False
    same_build = (
        manifest.schema_version == cache.SCHEMA_VERSION
        and manifest.code_version == code_version()
        and msgspec.to_builtins(manifest.options) == spec.options_fingerprint()
    )
    if not same_build:
        return False
    if split_dir is not None and table_problems(split_dir, manifest, BUILT_TABLES):
        return False
    try:
        return manifest.inputs.annotations.matches(spec.annotations)
    except OSError:
        return False


def build_split(
    spec: DatasetSpec,
    cache_root: Path,
    *,
    force: bool = False,
    progress: bool = True,
    synthetic: bool = False,
) -> BuildResult:
    """Build (or confirm up to date) the cache of one split.

    Raises:
        AnnotationError: bad input; nothing is written and an earlier cache stays.
    """
    key = cache.CacheKey(spec.name, spec.split)
    target = key.directory(cache_root)
    check_cache_target(target)
    # One build of a split at a time: the up-to-date check, the swap and the manifest
    # always describe the same input.
    with cache.split_lock(target):
        cache.remove_stale_staging(target)
        _recover_interrupted_swap(target)
        try:
            previous = read_manifest(target)
        except ManifestError:  # unreadable or of another format: as if there were no cache
            previous = None
        if not force and previous is not None and is_up_to_date(previous, spec, target):
            return BuildResult(key, "up-to-date", _with_identity(previous, spec, target))

        stages = ("read", "decode+validate", "crowding", "tables", "images", "write")
        # disable=None: a bar on a terminal, none in logs and pipes.
        bar = tqdm(total=len(stages), desc=str(key), unit="stage", disable=None if progress else True, leave=False)
        try:
            return _build(spec, key, target, previous, synthetic, bar)
        finally:
            bar.close()


def _build(
    spec: DatasetSpec,
    key: cache.CacheKey,
    target: Path,
    previous: Manifest | None,
    synthetic: bool,
    bar: tqdm,
) -> BuildResult:
    """Read, decode, compute, check the images, then write the split and its manifest, timing
    each stage.  The annotation bytes are held by one list only: the loader frees them."""
    timings: dict[str, float] = {}

    def stage(name: str, t0: float) -> float:
        timings[name] = round(time.perf_counter() - t0, 4)
        bar.set_postfix_str(name)
        bar.update(1)
        return time.perf_counter()

    t = t_start = time.perf_counter()
    held = [read_annotation_bytes(spec.annotations)]  # mutable: see analysis.build.coco_json
    t = stage("read", t)
    dataset, fingerprint = _decode_and_fingerprint(spec, held)
    t = stage("decode+validate", t)
    inst = dataset.instances
    crowding = compute_crowding(
        inst.keypoints, inst.bbox, inst.image_index, inst.iscrowd, inst.num_keypoints, len(dataset.images.image_id)
    )
    t = stage("crowding", t)
    images = images_table(spec.name, spec.split, dataset, crowding)
    instances = instances_table(spec.name, spec.split, dataset, crowding)
    t = stage("tables", t)
    image_check = check_image_files(spec.images, dataset.images.file_name)
    t = stage("images", t)
    manifest = Manifest(
        dataset=spec.name,
        split=spec.split,
        synthetic=synthetic,
        identity=msgspec.convert(spec.identity, IdentityRecord, from_attributes=True),
        schema_version=cache.SCHEMA_VERSION,
        code_version=code_version(),
        built_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        options=msgspec.convert(spec.options_fingerprint(), BuildOptions),
        inputs=Inputs(annotations=fingerprint, images=image_check),
        keypoint_schema=msgspec.structs.replace(
            msgspec.convert(dataset.schema, KeypointSchemaRecord, from_attributes=True), category_id=dataset.category_id
        ),
        definitions=_definitions(dataset),
        counts=_counts(dataset, images.num_rows, crowding),
        tables={},
        warnings=_build_warnings(spec, dataset, crowding, image_check),
        skipped_counts=dict(dataset.skipped.counts),
        skipped=[SkippedRecord(**r) for r in dataset.skipped.listed],
        timings=timings,
    )
    try:
        _write_split(target, images, instances, manifest, previous, lambda: stage("write", t), t_start)
    except OSError as exc:  # a full disk, a folder made read-only meanwhile: one line
        raise PoseAtlasError(f"cannot write the cache {target}: {_os_reason(exc)}") from None
    return BuildResult(key, "built", manifest)


def _decode_and_fingerprint(spec: DatasetSpec, held: list[bytearray]) -> tuple[PoseDataset, FileFingerprint]:
    """Decode the annotation file's bytes (``held``'s one item, taken out) while hashing them.

    hashlib releases the GIL: the fingerprint costs nothing beside the decode.  NaN/Infinity
    tokens are rewritten in place, so the hash must have read the bytes first.  The loader
    gets the only reference (besides the hash, until it is done): it frees the bytes as soon
    as the annotations are decoded."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        fingerprint_job = pool.submit(FileFingerprint.of, spec.annotations, held[0])
        dataset = load_pose_dataset(spec.annotations, spec.load_options(), held.pop(), fingerprint_job.result)
        return dataset, fingerprint_job.result()


def _build_warnings(spec: DatasetSpec, dataset: PoseDataset, crowding: Crowding, image_check: ImageCheck) -> list[str]:
    """The loader's warnings, then persons left out of CrowdIndex and missing image files."""
    warnings = list(dataset.warnings)
    if crowding.n_unusable_references:
        warnings.append(
            f"{crowding.n_unusable_references} person(s) with stored num_keypoints >= 4 but no labelled "
            "joint left out of CrowdIndex"
        )
    if image_check.n_missing:
        warnings.append(f"{image_check.n_missing} image file(s) missing under {spec.images}")
    return warnings


def check_cache_target(target: Path) -> None:
    """Fail before the work when the split's cache folder cannot be written.

    Creates the missing parent folders (the split's lock lives there anyway) and a
    probe folder named like the build's staging folder (so a name too long for the
    file system fails here too), then removes the probe.

    Raises:
        PoseAtlasError: one line: not a folder, read-only, permission denied,
            no space, name too long ...
    """
    try:
        if target.exists() and not target.is_dir():
            raise PoseAtlasError(f"cannot write the cache {target}: it exists and is not a folder")
        target.parent.mkdir(parents=True, exist_ok=True)
        os.rmdir(tempfile.mkdtemp(prefix=f".{target.name}.building-probe-", dir=target.parent))
    except OSError as exc:
        raise PoseAtlasError(f"cannot write the cache {target}: {_os_reason(exc)}") from None


def _os_reason(exc: OSError) -> str:
    """The OS's own words for an error, plus the path it concerns when that is not the target."""
    reason = exc.strerror or str(exc)
    if isinstance(exc, FileExistsError | NotADirectoryError) and exc.filename:
        reason += f" ({exc.filename} is a file, not a folder)"
    return reason


def _with_identity(manifest: Manifest, spec: DatasetSpec, target: Path) -> Manifest:
    """An up-to-date cache whose identity changed: rewrite the manifest only (no rebuild).
    Called under the split's lock."""
    identity = msgspec.convert(spec.identity, IdentityRecord, from_attributes=True)
    if manifest.identity != identity:
        manifest = msgspec.structs.replace(manifest, identity=identity)
        write_manifest(manifest, target)
    return manifest


def check_image_files(image_root: Path | None, file_names: list[str]) -> ImageCheck:
    """Which image files exist under ``image_root`` (a count and a list, never an error).

    A name with ``..`` or an absolute name, or a symlink leading outside the folder,
    counts as missing (:mod:`analysis.build.image_paths`).
    """
    if image_root is None:
        return ImageCheck()
    root = Path(image_root).resolve()
    # the rule Browse and scenes use: symlinks leaving the folder do not count as present
    present = present_files(root) if root.is_dir() else set()
    names = np.asarray(file_names, dtype=object)
    present_names = np.fromiter(present, dtype=object, count=len(present))
    missing_mask = ~np.isin(names, present_names) if len(names) else np.zeros(0, bool)
    missing = names[missing_mask]
    return ImageCheck(
        path=str(root),
        exists=root.is_dir(),
        n_missing=int(missing_mask.sum()),
        missing=missing[:MAX_LISTED_MISSING].tolist(),
    )


def _definitions(dataset: PoseDataset) -> Definitions:
    has_segm = bool(np.isfinite(dataset.instances.segm_area).any())
    visibility = VisibilityConvention(dataset.visibility)
    return Definitions(
        crowd_index=CROWD_INDEX_DEFINITION,
        crowding="per person N_b/N_a; NaN for iscrowd regions and when N_a == 0",
        visibility=visibility,
        visibility_rule=visibility.rule,
        area_sources=[s for s in AreaSource if s is not AreaSource.SEGM or has_segm],
        default_size=SizeEdges().description,
        crowd_levels=[c.levels().description for c in CrowdConvention],
        density_levels=density_levels().description,
    )


def _counts(dataset: PoseDataset, n_images: int, crowding: Crowding) -> Counts:
    inst = dataset.instances
    persons = ~inst.iscrowd
    return Counts(
        images=int(n_images),
        annotations=len(inst.ann_id),
        persons=int(persons.sum()),
        crowd_regions=int(inst.iscrowd.sum()),
        images_without_persons=int(n_images - len(np.unique(inst.image_index[persons]))),
        reference_persons=int(crowding.is_reference.sum()),
        images_with_stored_crowd_index=int(np.isfinite(dataset.images.crowd_index_stored).sum()),
        joints=dataset.schema.n_joints,
        skipped=int(sum(dataset.skipped.counts.values())),
    )


def _write_split(
    target: Path,
    images: pa.Table,
    instances: pa.Table,
    manifest: Manifest,
    previous: Manifest | None,
    written: Callable[[], object],
    t_start: float,
) -> None:
    """Write into a fresh sibling folder, then swap it in; the old cache survives any failure.

    The final manifest (table sizes and row counts, timings) is written inside the
    staging folder, so the swap publishes tables and manifest together.  Scene results
    depend on the image files, not the annotations, so scenes.parquet, an unfinished
    scene run's shards and the manifest's scenes facts are carried over; so are stored
    evaluations (``evaluations/``), which read back as stale when the annotations changed.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = cache.staging_dir(target, os.getpid())
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        # pyarrow releases the GIL: write both tables at once.
        with ThreadPoolExecutor(max_workers=2) as pool:
            list(
                pool.map(
                    cache.write_table,
                    (images, instances),
                    (staging / cache.IMAGES_FILE, staging / cache.INSTANCES_FILE),
                )
            )
        tables = {name: table_file(staging / name) for name in BUILT_TABLES}
        old_scenes = target / cache.SCENES_FILE
        carried = previous.scenes if previous is not None else carried_scenes(target)
        if old_scenes.is_file() and carried is not None:
            shutil.copy2(old_scenes, staging / cache.SCENES_FILE)
            try:
                tables[cache.SCENES_FILE] = table_file(staging / cache.SCENES_FILE)
                manifest.scenes = carried
            except cache.CacheFileError:  # damaged: dropped, `scenes` computes it again
                (staging / cache.SCENES_FILE).unlink()
        partial = target / cache.SCENES_PARTIAL_DIR
        if partial.is_dir():  # an unfinished scene run resumes after the rebuild
            shutil.copytree(partial, staging / cache.SCENES_PARTIAL_DIR)
        # Stored evaluations survive a rebuild; one made against other annotations
        # reads back as stale (its annotations fingerprint differs from the manifest's).
        evaluations = target / cache.EVALUATIONS_DIR
        if evaluations.is_dir():
            shutil.copytree(evaluations, staging / cache.EVALUATIONS_DIR)
        manifest.tables = tables
        written()
        manifest.timings["total"] = round(time.perf_counter() - t_start, 4)
        write_manifest(manifest, staging)
        cache.swap_in(staging, target, target.parent / f".{target.name}.old")
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _recover_interrupted_swap(target: Path) -> None:
    """A crash between the two renames of a swap leaves only ``.<split>.old``: put it back."""
    retired = target.parent / f".{target.name}.old"
    if retired.is_dir() and not target.exists():
        os.replace(retired, target)
