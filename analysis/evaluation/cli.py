"""``python -m analysis evaluate``: evaluate results files against a built cache."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from analysis.cache_key import DEFAULT_CACHE_DIR, CacheKey
from analysis.definitions import AreaSource, SizeDefinition
from analysis.errors import PoseAtlasError
from analysis.evaluation.definitions import (
    CROWD_LEVEL_NAMES,
    CrowdIndexSource,
    level_edges_from_text,
    size_edges_from_sides,
)


def add_evaluate_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate",
        help="AP by person size, keypoint density and crowding for COCO keypoint results files",
        description=(
            "Evaluate COCO keypoint results files (a JSON list of {image_id, category_id, keypoints, score}) "
            "against a built cache; store the result beside it and print the Table 5 layout."
        ),
    )
    p.add_argument("--name", required=True, help="dataset name of the built cache")
    p.add_argument("--split", required=True, help="split name")
    p.add_argument("--predictions", required=True, nargs="+", type=Path, metavar="FILE", help="results file(s)")
    p.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="LABEL",
        help="model label, once per file in order (default: each file's name without extension)",
    )
    p.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE_DIR)
    p.add_argument("--json", action="store_true", help="print one JSON document (a list with several files)")
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
    p.add_argument("--edges", default="32,96", metavar="LO,HI", help="size bucket side lengths (default: 32,96)")
    p.add_argument(
        "--density-edges", default="0.1,0.8", metavar="LO,HI", help="sparse/moderate/dense edges (default: 0.1,0.8)"
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
    p.add_argument("--table-csv", type=Path, default=None, metavar="FILE", help="also write the Table 5 layout as CSV")
    p.add_argument(
        "--table-latex", type=Path, default=None, metavar="FILE", help="also write it as a LaTeX (booktabs) table"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(run=run_evaluate)


def request_from_args(args: argparse.Namespace):
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
    )


def run_evaluate(args: argparse.Namespace) -> int:
    import orjson

    from analysis.evaluation.run import evaluate_files
    from analysis.evaluation.table5 import table5_csv, table5_frame, table5_latex

    key = CacheKey(args.name, args.split)
    request = request_from_args(args)
    outcomes = evaluate_files(
        args.cache_dir, key, list(args.predictions), args.model or None, request, progress=not args.quiet
    )
    frame = table5_frame([(o.result.model, o.result) for o in outcomes])
    caption = f"{key}: " + outcomes[0].result.definitions.description
    if args.table_csv:
        _write_text(args.table_csv, f"# {caption}\n" + table5_csv(frame))
    if args.table_latex:
        _write_text(args.table_latex, table5_latex(frame, caption))
    notes = [_note(o) for o in outcomes]
    if args.json:
        docs = [o.result.to_json() for o in outcomes]
        doc = docs[0] if len(docs) == 1 else docs
        sys.stdout.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n")
        for note in notes:
            print(note, file=sys.stderr)
        return 0
    print(caption)
    for line in format_table(outcomes):
        print(line)
    for note in notes:
        print(note)
    return 0


def _write_text(path: Path, text: str) -> None:
    from analysis import cache

    with cache.atomic_path(Path(path)) as tmp:
        tmp.write_text(text, encoding="utf-8")


def _note(outcome) -> str:
    counts = outcome.record.counts
    parts = [f"{outcome.record.model}: {counts.kept} detections evaluated of {counts.records} records"]
    if counts.other_category:
        parts.append(f"{counts.other_category} of other categories not evaluated")
    if counts.over_max_per_image:
        parts.append(f"{counts.over_max_per_image} beyond the 20 best of their image cut")
    parts.append("stored result reused (predictions unchanged)" if outcome.reused else "stored")
    return "; ".join(parts)


def format_table(outcomes) -> list[str]:
    """One row per model; per slice a column group AP, AP50, AP75, AR (percent), headed by n_gt."""
    from analysis.evaluation.slices import SLICE_NAMES

    first = outcomes[0].result
    width = max(12, *(len(o.result.model) for o in outcomes))
    group = "{:>6} {:>6} {:>6} {:>6}"
    top = (
        " " * width + " | " + " | ".join(f"{name} (n_gt {first.slices[name].n_gt})".center(27) for name in SLICE_NAMES)
    )
    sub = f"{'model':<{width}}" + " | " + " | ".join(group.format("AP", "AP50", "AP75", "AR") for _ in SLICE_NAMES)
    lines = [top, sub]
    for o in outcomes:
        cells = []
        for name in SLICE_NAMES:
            m = o.result.slices[name]
            cells.append(group.format(*(_pct(v) for v in (m.ap, m.ap50, m.ap75, m.ar))))
        lines.append(f"{o.result.model:<{width}}" + " | " + " | ".join(cells))
    return lines


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"
