"""``python -m analysis evaluate``: evaluate results files against a built cache."""

from __future__ import annotations

import argparse
import itertools
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from analysis.cache.key import DEFAULT_CACHE_DIR, CacheKey
from analysis.definitions import (
    COCO_SIZE_SIDES,
    DENSITY_EDGES,
    AreaSource,
    CrowdIndexSource,
    SizeDefinition,
    edges_text,
)
from analysis.errors import PoseAtlasError
from analysis.evaluation import diagnose_cli
from analysis.evaluation.definitions import (
    CROWD_LEVEL_NAMES,
    MAX_DETECTIONS,
    DetectionArea,
    level_edges_from_text,
    size_edges_from_sides,
)

if TYPE_CHECKING:  # pandas and numpy load only when an evaluation runs
    from analysis.evaluation.run import EvaluationOutcome, EvaluationRequest
    from analysis.evaluation.slices import EvaluationResult
    from analysis.evaluation.store import BootstrapSettings


def add_evaluate_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate",
        help="AP by person size, keypoint density and crowding for COCO keypoint results files",
        description=(
            "Evaluate COCO keypoint results files (a JSON list of {image_id, category_id, keypoints, score}) "
            "against a built cache; store the result beside it and print the Table 5 layout."
        ),
    )
    _add_input_options(p)
    _add_definition_options(p)
    _add_table_options(p)
    _add_composed_options(p)
    p.add_argument(
        "--diagnose",
        action="store_true",
        help="also diagnose each model (as python -m analysis diagnose; JSON key 'diagnosis')",
    )
    diagnose_cli.add_diagnosis_options(p)
    p.set_defaults(run=run_evaluate)


def _add_input_options(p: argparse.ArgumentParser) -> None:
    """The split, the results files and their model labels, the cache and the output form."""
    p.add_argument("--name", required=True, help="dataset name of the built cache")
    p.add_argument("--split", required=True, help="split name")
    p.add_argument(
        "--predictions",
        nargs="+",
        type=Path,
        default=[],
        metavar="FILE",
        help="results file(s); without it (and without --source-predictions), --model names stored evaluations to "
        "re-slice (e.g. with --bootstrap)",
    )
    p.add_argument(
        "--only-split-images",
        action="store_true",
        help="keep the predictions of the split's images and report how many records were dropped (a results "
        "file of a larger split, e.g. the full split of a subset); without it such a record is an error",
    )
    p.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="LABEL",
        help="model label, once per file in order (default: each file's name without extension)",
    )
    p.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE_DIR)
    p.add_argument("--json", action="store_true", help="print one JSON document (a list with several files)")


def _add_definition_options(p: argparse.ArgumentParser) -> None:
    """The evaluation's definitions: OKS sigmas and scale, size, density and crowd slices."""
    p.add_argument(
        "--sigmas",
        default=None,
        metavar="coco|crowdpose|FILE",
        help="OKS sigmas (default: the keypoint schema's; FILE: K numbers, JSON list or whitespace separated)",
    )
    p.add_argument(
        "--oks-area",
        choices=[s.value for s in AreaSource],
        default=None,
        help="the OKS scale (default: segm where every person has 'area', else crowdpose = 0.53*w*h)",
    )
    p.add_argument(
        "--size-area",
        choices=[s.value for s in AreaSource],
        default=AreaSource.BBOX.value,
        help="the area that buckets persons (default: bbox)",
    )
    p.add_argument(
        "--detection-area",
        choices=["keypoint-box", "scaled"],  # definitions.DetectionArea (not imported: the CLI starts light)
        default="keypoint-box",
        help="what sizes an unmatched detection: its keypoint box w*h, unscaled, as pycocotools and xtcocotools "
        "(default), or that box scaled like persons (0.53*w*h under --size-area crowdpose)",
    )
    sides, density = edges_text(COCO_SIZE_SIDES), edges_text(DENSITY_EDGES)
    p.add_argument("--edges", default=sides, metavar="LO,HI", help=f"size bucket side lengths (default: {sides})")
    p.add_argument(
        "--density-edges", default=density, metavar="LO,HI", help=f"sparse/moderate/dense edges (default: {density})"
    )
    p.add_argument(
        "--crowd-levels",
        choices=list(CROWD_LEVEL_NAMES),
        default="code",
        help="easy/medium/hard edges: code = 0.2/0.8 (CrowdPose's evaluation code, default), paper = 0.1/0.8",
    )
    p.add_argument(
        "--crowd-index",
        choices=[s.value for s in CrowdIndexSource],
        default=None,
        help="the CrowdIndex of the crowd levels (default: stored where every image has one, else computed)",
    )


def _add_table_options(p: argparse.ArgumentParser) -> None:
    """The Table 5 files and columns, bootstrap intervals and how tables show them; progress bars."""
    p.add_argument("--table-csv", type=Path, default=None, metavar="FILE", help="also write the Table 5 layout as CSV")
    p.add_argument(
        "--table-latex", type=Path, default=None, metavar="FILE", help="also write it as a LaTeX (booktabs) table"
    )
    p.add_argument(
        "--columns",
        default=None,
        metavar="AP,APS,...",
        help="the Table 5 columns of --table-csv/--table-latex, in order, from AP, APS, APM, APL, APS_Sp, APS_Mo, "
        "APS_De, APE, APM_crowd, APH (default: the SmallPose paper's AP,APS,APM,APL,APS_Sp,APS_Mo,APS_De)",
    )
    add_bootstrap_arguments(p)
    p.add_argument(
        "--interval-style",
        choices=["bracket", "pm", "none"],  # table5.IntervalStyle (not imported: the CLI starts light)
        default="bracket",
        help="how --table-latex shows intervals: 67.1 [66.4, 67.8] (bracket, default), 67.1 ± 0.7 (pm), or none",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def _add_composed_options(p: argparse.ArgumentParser) -> None:
    """Composed benchmarks: slices per source part, predictions made on the sources' own files."""
    by = p.add_argument_group("composed benchmarks", "per source part, and predictions made on the sources' files")
    by.add_argument(
        "--by",
        choices=["source"],
        default=None,
        help="also every slice per source (the images' source column: the registry's source rule)",
    )
    by.add_argument(
        "--source-predictions",
        action="append",
        default=[],
        metavar="SOURCE=FILE",
        help="a results file made on SOURCE's original file: its image ids are mapped through the "
        "composed file's source and original_image_id (repeat per source: one model)",
    )
    by.add_argument(
        "--mapped-out",
        type=Path,
        default=None,
        metavar="FILE",
        help="where the mapped results file is written (needed with --source-predictions)",
    )


def add_bootstrap_arguments(p: argparse.ArgumentParser, default_b: int | None = None) -> None:
    """--bootstrap B, --bootstrap-seed S, --confidence C (shared with ``compare``)."""
    p.add_argument(
        "--bootstrap",
        type=int,
        default=default_b,
        metavar="B",
        help="image-bootstrap percentile intervals for every slice from B resamples of the split's images"
        + (f" (default: {default_b})" if default_b else ""),
    )
    p.add_argument("--bootstrap-seed", type=int, default=0, metavar="S", help="numpy Generator seed (default: 0)")
    p.add_argument("--confidence", type=float, default=0.95, metavar="C", help="interval level (default: 0.95)")


def bootstrap_from_args(args: argparse.Namespace) -> BootstrapSettings | None:
    """The BootstrapSettings asked for, or None."""
    if args.bootstrap is None:
        return None
    from analysis.evaluation.bootstrap import check_settings
    from analysis.evaluation.store import BootstrapSettings

    try:
        check_settings(args.bootstrap, args.confidence)
    except ValueError as exc:
        raise PoseAtlasError(str(exc)) from None
    return BootstrapSettings(args.bootstrap, args.bootstrap_seed, args.confidence)


def request_from_args(args: argparse.Namespace) -> EvaluationRequest:
    from analysis.evaluation.run import EvaluationRequest

    try:
        size = SizeDefinition(AreaSource(args.size_area), size_edges_from_sides(args.edges))
        density = level_edges_from_text(args.density_edges)
    except ValueError as exc:
        raise PoseAtlasError(str(exc)) from None
    return EvaluationRequest(
        sigmas=args.sigmas,
        oks_area=AreaSource(args.oks_area) if args.oks_area else None,
        size=size,
        density_edges=density,
        crowd_convention=CROWD_LEVEL_NAMES[args.crowd_levels],
        crowd_index=CrowdIndexSource(args.crowd_index) if args.crowd_index else None,
        # diagnose's own parser has no --detection-area: the reference's
        detection_area=DetectionArea(getattr(args, "detection_area", DetectionArea.KEYPOINT_BOX.value)),
    )


def run_evaluate(args: argparse.Namespace) -> int:
    key = CacheKey.checked(args.name, args.split)
    request = request_from_args(args)
    columns = _table_columns(args)
    _check_table_outputs(args)
    bootstrap = bootstrap_from_args(args)
    predictions, mapping_notes = _with_mapped_predictions(args, key)
    outcomes = _evaluate(args, key, predictions, request, bootstrap)
    by_part = _by_part(args, key, outcomes)
    test_set = f"{_display_name(args.cache_dir, key)}/{key.split}"
    caption = f"{test_set}: " + outcomes[0].result.definitions.description
    if bootstrap is not None:
        caption += "; " + bootstrap_caption(bootstrap)
    _write_tables(args, key, outcomes, by_part, test_set, caption, columns)
    notes = mapping_notes + [_note(o) for o in outcomes]
    models = [o.result.model for o in outcomes]
    diagnoses = diagnose_cli.diagnose_models(args.cache_dir, key, models, args) if args.diagnose else []
    if args.json:
        _print_json(args, outcomes, by_part, diagnoses, notes)
    else:
        _print_text(args, caption, outcomes, by_part, diagnoses, notes)
    return 0


def _table_columns(args: argparse.Namespace) -> tuple[str, ...]:
    """The Table 5 columns of --columns (default: the SmallPose paper's)."""
    from analysis.evaluation.table5 import PAPER_COLUMNS, parse_columns

    try:
        return parse_columns(args.columns) if args.columns is not None else PAPER_COLUMNS
    except ValueError as exc:
        raise PoseAtlasError(f"--columns: {exc}") from None


def _evaluate(
    args: argparse.Namespace,
    key: CacheKey,
    predictions: list[Path],
    request: EvaluationRequest,
    bootstrap: BootstrapSettings | None,
) -> list[EvaluationOutcome]:
    """Evaluate the results files, or re-slice the stored evaluations --model names."""
    from analysis.evaluation.run import evaluate_files, evaluate_stored_models

    if predictions:
        return evaluate_files(
            args.cache_dir,
            key,
            predictions,
            args.model or None,
            request,
            not args.quiet,
            bootstrap,
            only_split_images=args.only_split_images,
        )
    # stored evaluations named by --model (_with_mapped_predictions checked one is given)
    return evaluate_stored_models(args.cache_dir, key, args.model, request, bootstrap)


def _write_tables(
    args: argparse.Namespace,
    key: CacheKey,
    outcomes: list[EvaluationOutcome],
    by_part: tuple[dict[str, dict[str, EvaluationResult]], dict[str, int]] | None,
    test_set: str,
    caption: str,
    columns: tuple[str, ...],
) -> None:
    """--table-csv and --table-latex: one row per model, then (with --by) each model per part,
    labelled "MODEL (source S)", a group per part."""
    if not args.table_csv and not args.table_latex:
        return
    from analysis.evaluation.table5 import select_columns, table5_csv, table5_frame, table5_latex

    rows = [(o.result.model, o.result) for o in outcomes]
    test_sets = [test_set] * len(rows)
    if by_part is not None:
        parts = [(model, part, result) for model, by_model in by_part[0].items() for part, result in by_model.items()]
        parts.sort(key=lambda p: p[1])
        rows += [(f"{model} ({args.by} {part})", result) for model, part, result in parts]
        test_sets += [f"{test_set}, {args.by} {part}" for _, part, _ in parts]
    frame = select_columns(table5_frame(rows), columns)
    if args.table_csv:
        _write_text(args.table_csv, f"# {caption}\n" + table5_csv(frame))
    if args.table_latex:
        _write_text(
            args.table_latex,
            table5_latex(
                frame,
                caption,
                args.interval_style,
                columns=columns,
                test_sets=test_sets,
                label=f"tab:table5-{key.dataset}-{key.split}",
            ),
        )


def _print_json(
    args: argparse.Namespace,
    outcomes: list[EvaluationOutcome],
    by_part: tuple[dict[str, dict[str, EvaluationResult]], dict[str, int]] | None,
    diagnoses: list,
    notes: list[str],
) -> None:
    """--json: one document per model (a list with several) on stdout, the notes on stderr."""
    import orjson

    docs = [o.result.to_json() for o in outcomes]
    if by_part is not None:
        results, counts = by_part
        for doc, o in zip(docs, outcomes, strict=True):
            doc[f"by_{args.by}"] = {
                part: {"images": counts.get(part, 0), "slices": r.to_json()["slices"]}
                for part, r in results[o.result.model].items()
            }
    for doc, diagnosis in zip(docs, diagnoses, strict=False):
        doc["diagnosis"] = diagnosis.to_json()
    printed = docs[0] if len(docs) == 1 else docs
    sys.stdout.write(orjson.dumps(printed, option=orjson.OPT_INDENT_2).decode() + "\n")
    for note in notes:
        print(note, file=sys.stderr)


def _print_text(
    args: argparse.Namespace,
    caption: str,
    outcomes: list[EvaluationOutcome],
    by_part: tuple[dict[str, dict[str, EvaluationResult]], dict[str, int]] | None,
    diagnoses: list,
    notes: list[str],
) -> None:
    """The caption, the table (and one per part with --by), the notes and the diagnoses."""
    print(caption)
    for line in format_table(outcomes):
        print(line)
    if by_part is not None:
        results, counts = by_part
        for part in sorted({p for r in results.values() for p in r}):
            print(f"\n{args.by} {part} ({counts.get(part, 0)} images):")
            for line in results_table([results[o.result.model][part] for o in outcomes]):
                print(line)
        if counts.get(""):
            print(f"({counts['']} images have no {args.by}: in the full table only)")
    for note in notes:
        print(note)
    for line in diagnose_cli.format_diagnoses(diagnoses) if diagnoses else []:
        print(line)


def _with_mapped_predictions(args: argparse.Namespace, key: CacheKey) -> tuple[list[Path], list[str]]:
    """--predictions, plus the mapped file of --source-predictions (written first)."""
    predictions = list(args.predictions)
    if not args.source_predictions:
        if args.mapped_out is not None:
            raise PoseAtlasError("--mapped-out is for --source-predictions")
        if not predictions and not args.model:
            raise PoseAtlasError(
                "evaluate needs --predictions FILE ..., --source-predictions SOURCE=FILE ... or, for stored "
                "evaluations, --model LABEL ..."
            )
        return predictions, []
    from analysis.cache.split import check_unchanged, open_cached_split
    from analysis.evaluation.by_source import map_source_predictions, mapping_lines, parse_source_predictions

    if args.mapped_out is None:
        raise PoseAtlasError("--source-predictions needs --mapped-out FILE (where the mapped results file goes)")
    pairs = parse_source_predictions(args.source_predictions)
    report = map_source_predictions(check_unchanged(open_cached_split(args.cache_dir, key)), pairs, args.mapped_out)
    return [*predictions, args.mapped_out], mapping_lines(report)


def _display_name(cache_dir: Path, key: CacheKey) -> str:
    """The dataset's display name recorded in the split's manifest (its name when none is set)."""
    from analysis.cache.manifest import ManifestError, read_manifest

    try:
        manifest = read_manifest(key.directory(cache_dir))
    except ManifestError:
        return key.dataset
    return (manifest.identity.display_name if manifest is not None else None) or key.dataset


def _by_part(
    args: argparse.Namespace, key: CacheKey, outcomes: list[EvaluationOutcome]
) -> tuple[dict[str, dict[str, EvaluationResult]], dict[str, int]] | None:
    if args.by is None:
        return None
    from analysis.evaluation.by_source import results_by_part

    definitions = outcomes[0].result.definitions
    return results_by_part(args.cache_dir, key, [o.result.model for o in outcomes], definitions, args.by)


def _check_table_outputs(args: argparse.Namespace) -> None:
    """Before any work: the table files must not replace an input (annotation file,
    predictions file, anything in the cache root) and must be writable."""
    outputs = [
        (path, flag)
        for path, flag in (
            (args.table_csv, "--table-csv"),
            (args.table_latex, "--table-latex"),
            (args.mapped_out, "--mapped-out"),
        )
        if path is not None
    ]
    if not outputs:
        return
    from analysis.output_paths import ProtectedInputs, check_output_file
    from analysis.registry import DEFAULT_REGISTRY  # its module (TOML reader and all) only when a file is written

    inputs = [(Path(p), "a predictions file of this run") for p in args.predictions]
    inputs += [
        (Path(pair.partition("=")[2]), "a source predictions file of this run")
        for pair in args.source_predictions
        if "=" in pair
    ]
    protected = ProtectedInputs.gather(args.cache_dir, DEFAULT_REGISTRY, inputs)
    for path, flag in outputs:
        check_output_file(path, protected, flag)
    for (first, first_flag), (second, second_flag) in itertools.combinations(outputs, 2):
        if Path(first).resolve() == Path(second).resolve():
            raise PoseAtlasError(f"{first_flag} and {second_flag} name the same file {first}; give two files")


def _write_text(path: Path, text: str) -> None:
    from analysis.cache import contract as cache

    with cache.atomic_path(Path(path)) as tmp:
        tmp.write_text(text, encoding="utf-8")


def _note(outcome: EvaluationOutcome) -> str:
    counts = outcome.record.counts
    parts = [f"{outcome.record.model}: {counts.kept} detections evaluated of {counts.records} records"]
    if outcome.dropped:
        parts.append(f"{outcome.dropped} records of images outside the split dropped (--only-split-images)")
    if counts.other_category:
        parts.append(f"{counts.other_category} of other categories not evaluated")
    if counts.over_max_per_image:
        parts.append(f"{counts.over_max_per_image} beyond the {MAX_DETECTIONS} best of their image cut")
    parts.append("stored result reused (predictions unchanged)" if outcome.reused else "stored")
    return "; ".join(parts)


def bootstrap_caption(settings: BootstrapSettings) -> str:
    """The bootstrap settings, as every caption of intervals states them."""
    return (
        f"intervals: {100 * settings.confidence:g}% percentile (numpy.quantile, linear) of B = {settings.B} "
        f"resamples of the split's images with replacement (seed {settings.seed})"
    )


def format_table(outcomes: Sequence[EvaluationOutcome]) -> list[str]:
    """One row per model; per slice a column group AP, AP50, AP75, AR (percent), headed by n_gt
    (a dagger marks a slice with few persons); with a bootstrap, a second row per model gives
    each slice's AP interval."""
    return results_table([o.result for o in outcomes])


def results_table(results: Sequence[EvaluationResult]) -> list[str]:
    """:func:`format_table` of EvaluationResults."""
    from analysis.evaluation.bootstrap import FEW_PERSONS
    from analysis.evaluation.slices import SLICE_NAMES
    from analysis.evaluation.table5 import few_persons

    first = results[0]
    width = max(12, *(len(r.model) for r in results))
    group = "{:>6} {:>6} {:>6} {:>6}"

    def head(name: str) -> str:
        n = first.slices[name].n_gt
        return f"{name} (n_gt {n}{'†' if few_persons(n) else ''})".center(27)

    top = " " * width + " | " + " | ".join(head(name) for name in SLICE_NAMES)
    sub = f"{'model':<{width}}" + " | " + " | ".join(group.format("AP", "AP50", "AP75", "AR") for _ in SLICE_NAMES)
    lines = [top, sub]
    for result in results:
        cells = []
        for name in SLICE_NAMES:
            m = result.slices[name]
            cells.append(group.format(*(_pct(v) for v in (m.ap, m.ap50, m.ap75, m.ar))))
        lines.append(f"{result.model:<{width}}" + " | " + " | ".join(cells))
        if result.bootstrap is not None:
            intervals = [_ap_interval(result.slices[name].ci).center(27) for name in SLICE_NAMES]
            label = f"  AP {100 * result.bootstrap.confidence:g}% CI"
            lines.append(f"{label:<{width}}" + " | " + " | ".join(intervals))
    if any(few_persons(first.slices[name].n_gt) for name in SLICE_NAMES):
        lines.append(f"† fewer than {FEW_PERSONS} persons: the slice's numbers rest on few persons")
    if first.bootstrap is not None:
        lines.append(bootstrap_caption(first.bootstrap))
    return lines


def _ap_interval(ci: dict[str, tuple[float, float] | None] | None) -> str:
    bounds = (ci or {}).get("AP")
    return "-" if bounds is None else f"AP [{100 * bounds[0]:.1f}, {100 * bounds[1]:.1f}]"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"
