"""Command-line adapters for scenes; the top-level CLI (``python -m analysis``) wires them.

- ``add_scenes_parser(subparsers)`` / ``run_scenes(args)``: the ``scenes`` subcommand.
- ``add_fetch_places365_arguments(parser)`` / ``run_fetch_places365(args)``:
  ``fetch places365``.
- ``compute_scenes_for_cache(cache_root, dataset, split, options)``: for
  ``build --scenes``.

Errors are raised as :class:`~analysis.errors.PoseAtlasError`; the caller prints
them as one line and exits 2.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from analysis.cache.key import DEFAULT_CACHE_DIR, CacheKey
from analysis.errors import PoseAtlasError
from analysis.scenes.entropy import entropy_base_problem
from analysis.scenes.fetch import CHECKPOINTS, fetch_places365
from analysis.scenes.labels import DEFAULT_MODELS_DIR
from analysis.scenes.options import DEFAULTS, SUPPORTED_ARCHS, SceneOptions

# torch (about 1.5 s and 700 MB to import) is imported inside the functions that
# run a model, so that building parsers here costs every other command nothing.


def _base(text: str) -> float | None:
    if text.lower() in ("e", "nat", "nats"):
        return None
    if text.lower() in ("bits", "bit"):
        return 2.0
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r} (use e, 2, 10, ...)") from None
    problem = entropy_base_problem(value)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return None if math.isclose(value, math.e) else value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text}")
    return value


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be at least 0, got {text}")
    return value


def add_scene_model_arguments(parser: argparse._ActionsContainer) -> None:
    """The model/runtime flags shared by ``scenes`` and ``build --scenes`` (``parser``: a parser or an
    argument group, whose common base argparse's _ActionsContainer is)."""
    parser.add_argument(
        "--weights",
        type=Path,
        default=DEFAULTS.weights,
        help="Places365 checkpoint (default: data/models/<arch>_places365.pth.tar); "
        "label files are looked up beside it, then in --models-dir",
    )
    parser.add_argument(
        "--arch",
        choices=SUPPORTED_ARCHS,
        default=DEFAULTS.arch,
        help="architecture (default: read from the checkpoint; resnet18 for the default file)",
    )
    parser.add_argument(
        "--models-dir",
        type=Path,
        default=DEFAULTS.models_dir,
        help=f"where `fetch places365` put the files (default: {DEFAULTS.models_dir})",
    )
    parser.add_argument("--device", default=DEFAULTS.device, help="auto (CUDA when available) | cpu | cuda")
    parser.add_argument("--batch-size", type=_positive, default=DEFAULTS.batch_size)
    parser.add_argument(
        "--workers",
        type=_non_negative,
        default=DEFAULTS.workers,
        help="image-decoding worker processes (default: cores - 1)",
    )
    parser.add_argument(
        "--threads", type=_positive, default=DEFAULTS.threads, help="torch threads for CPU inference (default: torch's)"
    )
    parser.add_argument(
        "--entropy-base",
        type=_base,
        default=DEFAULTS.entropy_base,
        help="logarithm base of the entropy: e (default, nats), 2 (bits), ...",
    )
    parser.add_argument(
        "--backend",
        choices=("local", "ray"),
        default=DEFAULTS.backend,
        help="local (this machine) or ray (a Ray cluster, needs requirements-cluster.txt)",
    )
    parser.add_argument("--address", default=DEFAULTS.address, help="Ray cluster address (backend ray)")
    parser.add_argument(
        "--shard-size",
        type=_positive,
        default=DEFAULTS.shard_size,
        help="images per flushed result shard (resume granularity)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def add_scenes_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``scenes`` subcommand to the top-level parser's subparsers."""
    p = subparsers.add_parser(
        "scenes",
        help="Places365 scene entropy of a cached dataset's images (writes scenes.parquet)",
        description="Classify every image of a cached split with a Places365 ResNet and write "
        "scenes.parquet (entropy, top-5 categories, p_indoor). Interrupted runs "
        "resume; failed images are listed in manifest.json.",
    )
    p.add_argument("--name", required=True, help="dataset name (as in the cache)")
    p.add_argument("--split", required=True)
    p.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE_DIR)
    p.add_argument("--force", action="store_true", help="recompute even when up to date")
    add_scene_model_arguments(p)
    p.set_defaults(func=run_scenes, run=run_scenes)
    return p


def options_from_args(args: argparse.Namespace) -> SceneOptions:
    """SceneOptions from parsed ``scenes`` / ``build --scenes`` arguments.

    Both parsers have every flag of :func:`add_scene_model_arguments` and ``--force``.
    """
    return SceneOptions(
        weights=args.weights,
        arch=args.arch,
        models_dir=Path(args.models_dir),
        device=args.device,
        batch_size=args.batch_size,
        workers=args.workers,
        threads=args.threads,
        entropy_base=args.entropy_base,
        backend=args.backend,
        address=args.address,
        shard_size=args.shard_size,
        force=args.force,
        progress=not args.no_progress,
    )


def compute_scenes_for_cache(cache_root: Path, dataset: str, split: str, options: SceneOptions) -> Path:
    """scenes.parquet for ``<cache_root>/<dataset>/<split>`` (used by ``build --scenes``)."""
    from analysis.names import validate_name
    from analysis.scenes.runner import compute_scenes

    validate_name(dataset, "dataset name")
    validate_name(split, "split name")
    cache_dir = CacheKey(dataset, split).directory(Path(cache_root))
    return compute_scenes(cache_dir, options, dataset=dataset, split=split)


def run_scenes(args: argparse.Namespace) -> int:
    options = options_from_args(args)
    path = compute_scenes_for_cache(args.cache_dir, args.name, args.split, options)
    from analysis.cache.manifest import read_manifest

    manifest = read_manifest(CacheKey(args.name, args.split).directory(Path(args.cache_dir)))
    facts = manifest.scenes if manifest is not None else None
    if facts is None:  # the run records its facts before it returns; this cannot happen
        raise PoseAtlasError(f"scenes: {path} written but its manifest records no scene run")
    rate = facts.images_per_s
    print(
        f"scenes: {path} ({facts.n_ok} images, {facts.n_failed} failed"
        + (f", {rate} images/s" if rate else "")
        + f"; model {facts.model})"
    )
    for failure in facts.failures[:10]:
        print(f"  skipped {failure.file_name}: {failure.reason}", file=sys.stderr)
    if facts.n_failed > 10:
        print(f"  ... and {facts.n_failed - 10} more (see manifest.json)", file=sys.stderr)
    return 0


def add_fetch_places365_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``fetch places365``."""
    parser.add_argument("--arch", choices=tuple(CHECKPOINTS), default="resnet18")
    parser.add_argument("--models-dir", type=Path, default=DEFAULT_MODELS_DIR)
    parser.add_argument(
        "--base-url", default=None, help="fetch all files from this URL instead of the official hosts (tests, mirrors)"
    )
    parser.add_argument("--force", action="store_true", help="download again even if present")
    parser.add_argument("--no-progress", action="store_true")


def run_fetch_places365(args: argparse.Namespace) -> int:
    from analysis.scenes.checkpoint import load_checkpoint

    paths = fetch_places365(
        args.arch,
        Path(args.models_dir),
        base_url=args.base_url,
        progress=not args.no_progress,
        force=args.force,
    )
    ckpt = paths[CHECKPOINTS[args.arch]]
    try:
        loaded = load_checkpoint(ckpt, args.arch)
    except PoseAtlasError as exc:
        again = "it was downloaded again and still" if args.force else "run again with --force to download it again; it"
        raise PoseAtlasError(
            f"{ckpt} does not load ({again} may be damaged or not a Places365 checkpoint): {exc}"
        ) from None
    for name, path in paths.items():
        print(f"{name}: {path}")
    print(f"model id: {loaded.model_id}")
    return 0
