"""Scenes for one cached split: resumable shards, atomic scenes.parquet, manifest.

A run over ``<cache>/<dataset>/<split>/``:

1. reads ``manifest.json`` (images at ``manifest.inputs.images.path``, see
   :func:`analysis.cache.manifest.images_root`)
   and ``images.parquet`` (``image_id``, ``file_name``);
2. loads the checkpoint and the label files; the model id ``arch@sha256-prefix``
   and the entropy base identify the run;
3. keeps its progress in ``<split>/.scenes-partial/``: every ``shard_size``
   images or ``flush_seconds`` (and on Ctrl-C or any error) the results so far are written as one
   parquet shard, atomically.  The next call with the same model, base and image
   list skips every image already in a shard: an interrupted run (Ctrl-C, killed
   process) goes on where it stopped.  A different model/base/image list, or
   ``force``, starts afresh;
4. writes ``scenes.parquet`` atomically (rows in images.parquet order, failed
   images left out), then records the run in ``manifest.scenes``
   (read-modify-write under the split's lock, atomic), then removes the partial folder.

Failed images (missing, not an image, truncated, ...) are listed in the manifest
with their file name and reason; the run goes on without them.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from analysis.build.image_paths import check_image_root, file_name_problem, resolve_image_file
from analysis.cache.contract import (
    IMAGES_FILE,
    MANIFEST_FILE,
    SCENES_FILE,
    SCENES_PARTIAL_DIR,
    CacheKey,
    read_images,
    write_json,
    write_parquet,
)
from analysis.cache.manifest import (
    Manifest,
    SceneFailure,
    ScenesFacts,
    images_root,
    read_manifest,
)
from analysis.errors import PoseAtlasError
from analysis.scenes.checkpoint import LoadedModel, load_checkpoint
from analysis.scenes.entropy import TOP_K
from analysis.scenes.labels import SceneLabels, find_labels
from analysis.scenes.options import SceneOptions
from analysis.scenes.pipeline import PREPROCESSING, BatchResult, default_workers, resolve_device
from analysis.scenes.writer import write_scenes

PARTIAL_DIR = SCENES_PARTIAL_DIR
RUN_FILE = "run.json"

SHARD_SCHEMA = pa.schema(
    [
        ("image_id", pa.int64()),
        ("entropy", pa.float64()),
        ("top5_ids", pa.list_(pa.int16())),
        ("top5_probs", pa.list_(pa.float32())),
        ("p_indoor", pa.float64()),
        ("reason", pa.string()),  # null for a good image, the failure reason otherwise
    ]
)


@dataclass
class _Progress:
    shards: list[Path] = field(default_factory=list)
    done: set[int] = field(default_factory=set)


# --------------------------------------------------------------------------- inputs


def _read_manifest(cache_dir: Path) -> Manifest:
    manifest = read_manifest(cache_dir)
    if manifest is None:
        raise PoseAtlasError(f"no cache at {cache_dir} (no {MANIFEST_FILE}); build the dataset first")
    return manifest


def _image_paths(
    root: Path,
    names: dict[int, str],
    done: set[int],
) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """(image_id, path) to classify and (image_id, reason) refused, for images not done yet.

    The rule of the build's image check and Browse (:func:`resolve_image_file`):
    ``..`` or absolute names and symlinks leading out of the image folder are refused.
    """
    todo, refused = [], []
    for image_id, name in names.items():
        if int(image_id) in done:
            continue
        path = resolve_image_file(root, str(name))
        if path is None:
            problem = file_name_problem(str(name)) or "symlink leading outside the image folder"
            refused.append((int(image_id), f"refused: {problem}"))
        else:
            todo.append((int(image_id), str(path)))
    return todo, refused


def _failures_only(failed: list[tuple[int, str]]) -> BatchResult:
    return BatchResult(
        [],
        np.zeros(0),
        np.zeros((0, 5), dtype=np.int16),
        np.zeros((0, 5), dtype=np.float32),
        np.zeros(0),
        failed=list(failed),
    )


def _images_root(manifest: Manifest, cache_dir: Path) -> Path:
    """The image folder the split was built with; an error when there is none to classify."""
    root = images_root(manifest)
    if root is None:
        raise PoseAtlasError(
            f"{cache_dir} was built without --images, so there are no images to classify; "
            f"rebuild it with `python -m analysis build ... --images DIR`"
        )
    if not root.is_dir():
        raise PoseAtlasError(f"image folder {root} (recorded in {cache_dir / MANIFEST_FILE}) not found")
    return check_image_root(root, str(cache_dir / MANIFEST_FILE))


def _image_list(cache_dir: Path) -> pd.DataFrame:
    path = cache_dir / IMAGES_FILE
    if not path.is_file():
        raise PoseAtlasError(f"{path} not found; build the dataset first")
    # The checked reader: a truncated or foreign file is one line naming it, not a pyarrow traceback.
    key = CacheKey(cache_dir.parent.name, cache_dir.name)
    df = read_images(cache_dir.parent.parent, key, columns=["image_id", "file_name"])
    return df.drop_duplicates("image_id", keep="first").reset_index(drop=True)


def _fingerprint(images: pd.DataFrame, root: Path) -> str:
    h = hashlib.sha256(str(root.resolve()).encode())
    for image_id, name in zip(images["image_id"], images["file_name"], strict=True):
        h.update(f"\n{int(image_id)}\t{name}".encode())
    return h.hexdigest()


# --------------------------------------------------------------------------- shards


def _partial_dir(cache_dir: Path) -> Path:
    return cache_dir / PARTIAL_DIR


def _open_partial(cache_dir: Path, run: dict[str, Any], force: bool) -> _Progress:
    """Shards already written for this exact run; wipes a stale partial folder."""
    folder = _partial_dir(cache_dir)
    run_file = folder / RUN_FILE
    if folder.exists():
        same = run_file.is_file() and orjson.loads(run_file.read_bytes()) == run
        if force or not same:
            shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if not run_file.is_file():
        write_json(run, run_file)
    progress = _Progress()
    for shard in sorted(folder.glob("shard-*.parquet")):
        try:
            ids = pq.read_table(shard, columns=["image_id"]).column("image_id").to_pylist()
        except Exception:
            shard.unlink(missing_ok=True)
            continue
        progress.shards.append(shard)
        progress.done.update(ids)
    return progress


def _shard_table(results: list[BatchResult]) -> pa.Table:
    ids: list[int] = []
    ent: list[float | None] = []
    tids: list[list[int] | None] = []
    tprobs: list[list[float] | None] = []
    pin: list[float | None] = []
    reasons: list[str | None] = []
    for r in results:
        ids.extend(int(i) for i in r.image_ids)
        ent.extend(np.asarray(r.entropy, dtype=np.float64).tolist())
        tids.extend(np.asarray(r.top5_ids).tolist())
        tprobs.extend(np.asarray(r.top5_probs, dtype=np.float32).tolist())
        pin.extend(np.asarray(r.p_indoor, dtype=np.float64).tolist())
        reasons.extend([None] * len(r.image_ids))
        for image_id, reason in r.failed:
            ids.append(int(image_id))
            ent.append(None)
            tids.append(None)
            tprobs.append(None)
            pin.append(None)
            reasons.append(reason)
    return pa.table([ids, ent, tids, tprobs, pin, reasons], schema=SHARD_SCHEMA)


def _flush(cache_dir: Path, progress: _Progress, pending: list[BatchResult]) -> None:
    if not pending or not sum(len(r) for r in pending):
        pending.clear()
        return
    table = _shard_table(pending)
    shard = _partial_dir(cache_dir) / f"shard-{len(progress.shards):05d}-{time.time_ns()}.parquet"
    write_parquet(table, shard)
    progress.shards.append(shard)
    progress.done.update(table.column("image_id").to_pylist())
    pending.clear()


# --------------------------------------------------------------------------- backends


def backend_results(
    items: Sequence[tuple[int, str]], loaded: LoadedModel, labels: SceneLabels, options: SceneOptions
) -> Iterator[BatchResult]:
    """Batches of results for ``items`` from the chosen backend (tests patch this)."""
    if options.backend == "local":
        from analysis.scenes.pipeline import iter_local_results

        return iter_local_results(
            items,
            loaded.model,
            labels.indoor,
            device=options.device,
            batch_size=options.batch_size,
            workers=options.workers,
            threads=options.threads,
            entropy_base=options.entropy_base,
        )
    if options.backend == "ray":
        from analysis.scenes.ray_backend import iter_ray_results

        return iter_ray_results(
            items,
            loaded.model,
            loaded.arch,
            labels.indoor,
            address=options.address,
            batch_size=options.batch_size,
            entropy_base=options.entropy_base,
        )
    raise PoseAtlasError(f"unknown scenes backend {options.backend!r}; use local or ray")


# --------------------------------------------------------------------------- run


def compute_scenes(
    cache_dir: Path,
    options: SceneOptions = SceneOptions(),  # noqa: B008  (frozen options)
    *,
    dataset: str | None = None,
    split: str | None = None,
) -> Path:
    """Compute (or resume, or reuse) scenes.parquet for the cached split in ``cache_dir``.

    ``dataset``/``split`` default to the folder names (``<root>/<dataset>/<split>``).

    Returns:
        Path of scenes.parquet.

    Raises:
        PoseAtlasError: no cache, built without images, missing weights/labels,
            bad options, Ray not installed.
    """
    cache_dir = Path(cache_dir)
    dataset = dataset or cache_dir.parent.name
    split = split or cache_dir.name
    options.validate()
    manifest = _read_manifest(cache_dir)
    root = _images_root(manifest, cache_dir)
    images = _image_list(cache_dir)
    weights = options.weights_path()
    labels = find_labels(weights, options.models_dir)
    loaded = load_checkpoint(weights, options.arch)
    if options.backend == "local":
        device = str(resolve_device(options.device))
    else:
        device = f"ray ({options.address or 'auto'})"

    run: dict[str, Any] = {
        "model": loaded.model_id,
        "entropy_base": options.entropy_base,
        "images": _fingerprint(images, root),
    }
    scenes_path = cache_dir / SCENES_FILE
    if not options.force and scenes_path.is_file() and _same_run(manifest.scenes, run):
        return scenes_path

    progress = _open_partial(cache_dir, run, options.force)
    n_resumed = len(progress.done)
    names = dict(zip(images["image_id"].astype("int64"), images["file_name"], strict=True))
    todo, refused = _image_paths(root, names, progress.done)

    t0 = time.perf_counter()
    n_new = _run_backend(
        cache_dir, progress, todo, refused, len(images), (loaded, labels, options), f"scenes {dataset}/{split}"
    )
    seconds = time.perf_counter() - t0

    df = _every_image_result(progress, images)
    facts = _scenes_facts(
        loaded, labels, options, device, run["images"], names, df, n_new=n_new, n_resumed=n_resumed, seconds=seconds
    )
    good = df[df["reason"].isna()]
    write_scenes(cache_dir, dataset, split, good, loaded.model_id, facts)
    shutil.rmtree(_partial_dir(cache_dir), ignore_errors=True)
    return scenes_path


def _scenes_facts(
    loaded: LoadedModel,
    labels: SceneLabels,
    options: SceneOptions,
    device: str,
    images_fingerprint: str,
    names: dict[int, str],
    df: pd.DataFrame,
    *,
    n_new: int,
    n_resumed: int,
    seconds: float,
) -> ScenesFacts:
    """The manifest's record of this run: model, definitions, counts, failures and speed."""
    bad = df[df["reason"].notna()]
    return ScenesFacts(
        model=loaded.model_id,
        arch=loaded.arch,
        weights=str(loaded.path),
        weights_sha256=loaded.sha256,
        entropy_base=options.entropy_base,
        entropy_unit="nats" if options.entropy_base is None else f"log base {options.entropy_base:g}",
        preprocessing=PREPROCESSING,
        top_k=TOP_K,
        images_fingerprint=images_fingerprint,
        n_images=len(df),
        n_ok=len(df) - len(bad),
        n_failed=len(bad),
        failures=[
            SceneFailure(image_id=int(i), file_name=str(names[int(i)]), reason=str(r))
            for i, r in zip(bad.index, bad["reason"], strict=True)
        ],
        n_computed_this_run=n_new,
        n_resumed=n_resumed,
        seconds=round(seconds, 3),
        images_per_s=round(n_new / seconds, 2) if seconds > 0 and n_new else None,
        device=device,
        backend=options.backend,
        batch_size=options.batch_size,
        workers=default_workers() if options.workers is None else options.workers,
        categories=list(labels.names),
        finished_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )


def _same_run(previous: ScenesFacts | None, run: dict[str, Any]) -> bool:
    """The stored scenes came from this model, entropy base and image set (so they are reused)."""
    return (
        previous is not None
        and previous.model == run["model"]
        and previous.entropy_base == run["entropy_base"]
        and previous.images_fingerprint == run["images"]
    )


def _run_backend(
    cache_dir: Path,
    progress: _Progress,
    todo: list[tuple[int, str]],
    refused: list[tuple[int, str]],
    n_images: int,
    model: tuple[LoadedModel, SceneLabels, SceneOptions],
    desc: str,
) -> int:
    """Run the backend over ``todo`` (``refused`` listed as failures, never opened), flushing a
    shard every ``shard_size`` results or ``flush_seconds``; returns the images done this run.
    Whatever stops the run (Ctrl-C, a killed worker, any error), what was computed is kept."""
    loaded, labels, options = model
    pending: list[BatchResult] = []
    n_pending = 0
    n_new = 0
    last_flush = time.monotonic()
    bar = tqdm(
        total=n_images,
        initial=n_images - len(todo),
        unit="img",
        desc=desc,
        disable=not options.progress,
        dynamic_ncols=True,
    )
    if refused:  # listed as failures like unreadable images, never opened
        pending.append(_failures_only(refused))
        n_pending += len(refused)
        n_new += len(refused)
        bar.update(len(refused))
    try:
        with bar:
            for result in backend_results(todo, loaded, labels, options):
                pending.append(result)
                n_pending += len(result)
                n_new += len(result)
                bar.update(len(result))
                if n_pending >= options.shard_size or (time.monotonic() - last_flush >= options.flush_seconds):
                    _flush(cache_dir, progress, pending)
                    n_pending = 0
                    last_flush = time.monotonic()
    finally:
        # Ctrl-C, a killed worker or any error: keep what was computed.
        _flush(cache_dir, progress, pending)
    return n_new


def _every_image_result(progress: _Progress, images: pd.DataFrame) -> pd.DataFrame:
    """Every shard's rows, the last per image, in the cache's image order (indexed by image_id)."""
    shards = (
        pa.concat_tables([pq.read_table(s, schema=SHARD_SCHEMA) for s in progress.shards])
        if progress.shards
        else SHARD_SCHEMA.empty_table()
    )
    df = shards.to_pandas().drop_duplicates("image_id", keep="last").set_index("image_id")
    order = images["image_id"].astype("int64")
    missing = [int(i) for i in order if int(i) not in df.index]
    if missing:  # should not happen: every image is either a result or a failure
        raise PoseAtlasError(f"scenes run ended with {len(missing)} images unaccounted for")
    return df.loc[order.to_numpy()]
