"""python -m analysis: build, fetch, info, demo, scenes, evaluate, compare, diagnose, subset, compose and convert.

Errors the user can fix are printed as one line on stderr with exit status 2;
no traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from analysis.cache.key import DEFAULT_CACHE_DIR, CacheKey  # not analysis.cache.contract: parsing loads no pyarrow
from analysis.errors import EXIT_USER_ERROR, PoseAtlasError, run_reporting_errors

if TYPE_CHECKING:  # loaded only by the commands that use them
    from analysis.build.run import BuildResult
    from analysis.definitions import PersonPopulation
    from analysis.registry import DatasetSpec

_Subparsers = argparse._SubParsersAction


def main(argv: list[str] | None = None, prog: str = "python -m analysis") -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = _parser(prog, command_named(argv)).parse_args(argv)
    return run_reporting_errors(lambda: args.run(args))


def command_named(argv: Sequence[str]) -> str | None:
    """The subcommand ``argv`` runs (its first word that is not an option), or None when it
    names none of them (then every parser is built, for the top-level help or the error)."""
    word = next((a for a in argv if not a.startswith("-")), None)
    return word if word in COMMANDS else None


def _parser(prog: str = "python -m analysis", command: str | None = None) -> argparse.ArgumentParser:
    """The whole command line; with ``command``, only that subcommand's parser is built in full
    (and only its module imported): the others are listed by name and help line, so the
    top-level help reads the same (tests/test_cli_help.py compares both builds)."""
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (help_line, add_parser) in COMMANDS.items():
        if command is None or name == command:
            add_parser(sub)
        else:
            sub.add_parser(name, help=help_line)
    return parser


def _add_scenes_parser(sub: _Subparsers) -> None:
    from analysis.scenes import cli as scenes_cli  # torch-free: it imports torch only to run a model

    scenes_cli.add_scenes_parser(sub)


def _add_evaluate_parser(sub: _Subparsers) -> None:
    from analysis.evaluation import cli as evaluation_cli  # light: numpy and pyarrow load only when it runs

    evaluation_cli.add_evaluate_parser(sub)


def _add_compare_parser(sub: _Subparsers) -> None:
    from analysis.evaluation import compare as evaluation_compare

    evaluation_compare.add_parser(sub)


def _add_diagnose_parser(sub: _Subparsers) -> None:
    from analysis.evaluation import diagnose_cli

    diagnose_cli.add_parser(sub)


def _add_convert_parser(sub: _Subparsers) -> None:
    from analysis.datasets import convert

    convert.add_parser(sub)


def _add_build_parser(sub: _Subparsers) -> None:
    """``build``: registered splits, or one ad hoc file with its identity options; optionally scenes."""
    from analysis.registry import DEFAULT_REGISTRY
    from analysis.scenes import cli as scenes_cli

    build = sub.add_parser("build", help=COMMANDS["build"][0])
    build.add_argument("--name", help="dataset name (ad hoc build; needs --split and --annotations)")
    build.add_argument("--split", help="split name")
    build.add_argument("--annotations", type=Path, help="COCO-format keypoint annotation file")
    build.add_argument("--images", type=Path, help="image folder: checks every file exists")
    build.add_argument(
        "--keypoint-schema",
        metavar="coco17|crowdpose14",
        help="override the joint list: coco17 or crowdpose14 (a registry entry also takes a list "
        'of joint names, keypoint_schema = ["nose", ...])',
    )
    build.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE_DIR)
    look = build.add_argument_group(
        "identity", "ad hoc builds: how the dataset looks in figures (else derived from its name)"
    )
    look.add_argument("--display-name", help="name in legends, captions and tables")
    look.add_argument("--color", help="colour as #RRGGBB")
    look.add_argument("--hatch", help="bar pattern: '', '/', '.', 'x', '\\', '+', '-' or '|'")
    look.add_argument("--order", type=int, help="position among datasets (ascending)")
    look.add_argument("--paper-name", help="key of the SmallPose paper's reported values: COCO, CrowdPose or SmallPose")
    build.add_argument("--registry", type=Path, default=DEFAULT_REGISTRY)
    build.add_argument(
        "--only", action="append", default=[], metavar="NAME[/SPLIT]", help="registered builds only for these"
    )
    build.add_argument("--force", action="store_true", help="rebuild even when inputs are unchanged")
    build.add_argument("--quiet", action="store_true", help="no progress bars")
    build.set_defaults(run=_run_build)
    scenes = build.add_argument_group(
        "scenes", "with --scenes: Places365 scene entropy of every built split with images"
    )
    scenes.add_argument("--scenes", action="store_true", help="also compute scenes.parquet")
    scenes_cli.add_scene_model_arguments(scenes)


def _add_fetch_parser(sub: _Subparsers) -> None:
    """``fetch coco-2017`` and ``fetch places365``."""
    from analysis.registry import DEFAULT_REGISTRY
    from analysis.scenes import cli as scenes_cli

    fetch = sub.add_parser("fetch", help=COMMANDS["fetch"][0])
    fetch_sub = fetch.add_subparsers(dest="what", required=True)
    coco = fetch_sub.add_parser("coco-2017", help="COCO 2017 person keypoint annotations (val and train)")
    coco.add_argument("--data-dir", type=Path, default=Path("data"))
    coco.add_argument("--url", default=None, help="annotation zip URL (default: the official one)")
    coco.add_argument("--registry", type=Path, default=DEFAULT_REGISTRY)
    coco.set_defaults(run=_run_fetch_coco)
    places = fetch_sub.add_parser("places365", help="the CSAIL Places365 checkpoint and label files")
    scenes_cli.add_fetch_places365_arguments(places)
    places.set_defaults(run=scenes_cli.run_fetch_places365)


def _add_info_parser(sub: _Subparsers) -> None:
    """``info``: what is registered and cached."""
    from analysis.registry import DEFAULT_REGISTRY

    info = sub.add_parser("info", help=COMMANDS["info"][0])
    info.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE_DIR)
    info.add_argument("--registry", type=Path, default=DEFAULT_REGISTRY)
    info.add_argument("--json", action="store_true", help="machine-readable output")
    info.set_defaults(run=_run_info)


def _add_demo_parser(sub: _Subparsers) -> None:
    """``demo``: the synthetic demo datasets."""
    demo = sub.add_parser("demo", help=COMMANDS["demo"][0])
    demo.add_argument("--data-dir", type=Path, default=Path("data/demo"), help="where the demo's raw files go")
    demo.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE_DIR)
    demo.add_argument("--force", action="store_true")
    demo.add_argument("--quiet", action="store_true")
    demo.add_argument("--no-scenes", action="store_true", help="skip the synthetic scene results")
    demo.set_defaults(run=_run_demo)


# --- dataset makers: subset and compose ------------------------------------------------


def _add_subset_parser(sub: _Subparsers) -> None:
    from analysis.definitions import AreaSource
    from analysis.registry import DEFAULT_REGISTRY

    subset = sub.add_parser("subset", help=COMMANDS["subset"][0])
    subset.add_argument("--name", required=True, help="dataset name of the built split")
    subset.add_argument("--split", required=True, help="split name")
    subset.add_argument("--persons", type=int, required=True, metavar="N", help="persons (non-crowd) per subset")
    subset.add_argument("--count", type=int, default=1, metavar="K", help="number of subsets (default 1)")
    subset.add_argument("--seed", type=int, default=0, metavar="S", help="subset k uses seed S + k - 1 (default 0)")
    subset.add_argument(
        "--area-source",
        choices=[s.value for s in AreaSource],
        default=AreaSource.BBOX.value,
        help="the person area whose distribution is kept (default bbox)",
    )
    subset.add_argument(
        "--population",
        default="keypoints",
        metavar="POP",
        help="who is a person: all, keypoints (default: stored num_keypoints > 0), labelled or minN",
    )
    subset.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE_DIR)
    subset.add_argument(
        "--out", type=Path, required=True, metavar="DIR", help="writes DIR/subset-k.json and DIR/report.json"
    )
    subset.add_argument(
        "--register",
        action="store_true",
        help="register subset k as dataset NAME-subset-k, split SPLIT (else the entries are printed)",
    )
    subset.add_argument("--registry", type=Path, default=DEFAULT_REGISTRY)
    subset.add_argument("--quiet", action="store_true", help="no progress bars")
    subset.set_defaults(run=_run_subset)


def _add_compose_parser(sub: _Subparsers) -> None:
    from analysis.registry import DEFAULT_REGISTRY

    compose = sub.add_parser("compose", help=COMMANDS["compose"][0])
    compose.add_argument(
        "--config", type=Path, required=True, metavar="FILE.toml", help="the composition (docs/guides/compose.md)"
    )
    compose.add_argument(
        "--out", type=Path, required=True, metavar="DIR", help="writes DIR/train.json, val.json, report.json"
    )
    compose.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE_DIR)
    compose.add_argument("--registry", type=Path, default=DEFAULT_REGISTRY)
    compose.add_argument("--quiet", action="store_true", help="no progress bars")
    compose.set_defaults(run=_run_compose)


def _run_subset(args: argparse.Namespace) -> int:
    from analysis.datasets.sampling import SubsetSpec
    from analysis.datasets.subset import SubsetJob, make_subsets, subset_table
    from analysis.datasets.subset_registry import check_registrable, register_subsets, registry_entries
    from analysis.definitions import AreaSource

    job = SubsetJob(
        key=CacheKey.checked(args.name, args.split),
        spec=SubsetSpec(persons=args.persons, count=args.count, seed=args.seed),
        out_dir=args.out,
        cache_root=args.cache_dir,
        area_source=AreaSource(args.area_source),
        population=_population(args.population),
        registry=args.registry,
    )
    job.check_outputs()
    entries = registry_entries(job, args.registry)
    if args.register:
        check_registrable(entries, args.registry)  # before anything is written
    report = make_subsets(job, progress=not args.quiet)
    for line in subset_table(report):
        print(line)
    if args.register:
        added = register_subsets(entries, args.registry)
        print(
            f"registered {len(added)} new subset(s) in {args.registry}; build them with: "
            f"python -m analysis build --registry {args.registry} " + " ".join(f"--only {k}" for k in added)
        )
    else:
        print(f"to compare them in the dashboard, add to {args.registry} (or rerun with --register):")
        print("".join(entry.toml() for entry in entries), end="")
    return 0


def _population(text: str) -> PersonPopulation:
    from analysis.definitions import PersonPopulation

    try:
        return PersonPopulation.parse(text)
    except ValueError as exc:
        raise PoseAtlasError(f"--population: {exc}") from None


def _run_compose(args: argparse.Namespace) -> int:
    from analysis.datasets.compose import ComposeJob, compose, compose_lines

    report = compose(ComposeJob(args.config, args.out, args.cache_dir, args.registry), progress=not args.quiet)
    for line in compose_lines(report):
        print(line)
    return 0


def _run_build(args: argparse.Namespace) -> int:
    from analysis.registry import load_registry

    ad_hoc = [args.name, args.split, args.annotations]
    if any(v is not None for v in ad_hoc):
        if not all(v is not None for v in ad_hoc):
            raise PoseAtlasError("an ad hoc build needs --name, --split and --annotations together")
        specs = [_ad_hoc_spec(args)]
    else:
        specs = _selected(load_registry(args.registry), args.only)
        if not specs:
            raise PoseAtlasError(
                f"nothing to build: {args.registry} registers no dataset "
                "(docs/guides/datasets.md: register one, or use --name/--split/--annotations)"
            )
    failures = sum(not _build_one(args, spec) for spec in specs)
    return EXIT_USER_ERROR if failures else 0


def _ad_hoc_spec(args: argparse.Namespace) -> DatasetSpec:
    """The one split of an ad hoc build (--name, --split, --annotations ...), its inputs checked."""
    from analysis.build.coco_json import annotation_file_problem
    from analysis.build.image_paths import check_image_root
    from analysis.identity import DatasetIdentity
    from analysis.registry import DatasetSpec, validate_name

    problem = annotation_file_problem(args.annotations)
    if problem:
        raise PoseAtlasError(f"{args.annotations}: {problem}")
    if args.images is not None and not args.images.is_dir():
        raise PoseAtlasError(f"{args.images}: image folder not found")
    if args.images is not None:
        check_image_root(args.images, "--images")

    try:
        identity = DatasetIdentity(args.display_name, args.color, args.hatch, args.order, args.paper_name)
    except ValueError as exc:
        raise PoseAtlasError(f"build: {exc}") from None
    spec = DatasetSpec(
        validate_name(args.name, "dataset name"),
        validate_name(args.split, "split name"),
        args.annotations,
        args.images,
        args.keypoint_schema,
        identity=identity,
    )
    if args.keypoint_schema:
        try:
            spec.load_options()
        except ValueError as exc:
            raise PoseAtlasError(f"--keypoint-schema: {exc}") from None
    return spec


def _build_one(args: argparse.Namespace, spec: DatasetSpec) -> bool:
    """Build one split (and its scenes with --scenes) and print its line; False (error printed) when it fails."""
    from analysis.build.coco_json import annotation_file_problem
    from analysis.build.run import build_split

    problem = annotation_file_problem(spec.annotations)
    if problem:
        print(f"error: {spec.name}/{spec.split}: {problem}: {spec.annotations}", file=sys.stderr)
        return False
    try:
        result = build_split(spec, args.cache_dir, force=args.force, progress=not args.quiet)
    except PoseAtlasError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return False
    print(_build_line(result))
    if args.scenes:
        _build_scenes(args, spec)
    return True


def _selected(specs: list[DatasetSpec], only: list[str]) -> list[DatasetSpec]:
    if not only:
        return specs
    wanted = [o.split("/", 1) for o in only]
    chosen = [s for s in specs if any(w[0] == s.name and (len(w) == 1 or w[1] == s.split) for w in wanted)]
    if not chosen:
        raise PoseAtlasError(f"--only {', '.join(only)} matches no registered dataset")
    return chosen


def _build_line(result: BuildResult) -> str:
    manifest = result.manifest
    counts = manifest.counts
    line = (
        f"{result.key}: {result.status} - {counts.images} images, {counts.persons} persons, "
        f"{counts.crowd_regions} crowd regions"
    )
    missing = manifest.inputs.images.n_missing
    if missing:
        line += f", {missing} image files missing"
    if counts.skipped:
        line += f", {counts.skipped} records skipped or merged (see manifest)"
    if result.status == "built":
        line += f" [{manifest.timings.get('total', 0):.2f} s]"
    for warning in manifest.warnings if result.status == "built" else []:
        line += f"\n  warning: {warning}"
    return line


def _build_scenes(args: argparse.Namespace, spec: DatasetSpec) -> None:
    if spec.images is None:
        print(f"  scenes: skipped for {spec.name}/{spec.split} (no image folder registered)")
        return
    from analysis.scenes import cli as scenes_cli

    options = scenes_cli.options_from_args(args)
    path = scenes_cli.compute_scenes_for_cache(args.cache_dir, spec.name, spec.split, options)
    print(f"  scenes: {path}")


def _run_fetch_coco(args: argparse.Namespace) -> int:
    from analysis.fetch_coco import fetch_coco_2017

    for line in fetch_coco_2017(args.data_dir, args.registry, url=args.url):
        print(line)
    return 0


def _run_info(args: argparse.Namespace) -> int:
    from analysis.info import info_json, info_lines

    if args.json:
        sys.stdout.buffer.write(info_json(args.registry, args.cache_dir))
    else:
        for line in info_lines(args.registry, args.cache_dir):
            print(line)
    return 0


def _run_demo(args: argparse.Namespace) -> int:
    from analysis.demo import build_demo

    for result in build_demo(
        args.data_dir, args.cache_dir, force=args.force, progress=not args.quiet, scenes=not args.no_scenes
    ):
        print(_build_line(result))
    from analysis.demo_predictions import evaluate_synthetic_models

    for line in evaluate_synthetic_models(args.data_dir, args.cache_dir, progress=not args.quiet):
        print(line)
    return 0


#: Every subcommand, in the order of the top-level help: its help line there, and what adds its
#: whole parser (importing its module).  The help lines of the commands defined in other modules
#: repeat theirs; tests/test_cli_help.py checks both builds print the same help.
COMMANDS: dict[str, tuple[str, Callable[[_Subparsers], None]]] = {
    "build": ("build caches: every registered split that changed, or one ad hoc file", _add_build_parser),
    "fetch": ("download a dataset's annotations or the Places365 model", _add_fetch_parser),
    "info": ("what is registered and cached, with counts and definitions", _add_info_parser),
    "demo": ("write and build the three synthetic demo datasets", _add_demo_parser),
    "scenes": ("Places365 scene entropy of a cached dataset's images (writes scenes.parquet)", _add_scenes_parser),
    "evaluate": (
        "AP by person size, keypoint density and crowding for COCO keypoint results files",
        _add_evaluate_parser,
    ),
    "compare": ("paired bootstrap differences between stored evaluations, per slice", _add_compare_parser),
    "diagnose": (
        "why detections fail: good/jitter/inversion/swap/miss joints and the AP each error type costs",
        _add_diagnose_parser,
    ),
    "subset": ("scale-ablation subsets of a built split that keep its area distribution", _add_subset_parser),
    "compose": ("compose a benchmark from registered splits by a size criterion", _add_compose_parser),
    "convert": ("AIC, MPII, PoseTrack or HiEve annotations (native formats) -> COCO", _add_convert_parser),
}
