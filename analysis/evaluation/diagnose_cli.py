"""``python -m analysis diagnose``: keypoint error diagnosis of stored evaluations."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from analysis.cache.key import DEFAULT_CACHE_DIR, CacheKey  # not analysis.cache.contract: parsing loads no pyarrow
from analysis.definitions import COCO_SIZE_SIDES, DENSITY_EDGES, AreaSource, CrowdIndexSource, edges_text
from analysis.errors import PoseAtlasError
from analysis.evaluation.definitions import CROWD_LEVEL_NAMES

if TYPE_CHECKING:
    from analysis.evaluation.size_curve import SizeCurve


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "diagnose",
        help="why detections fail: good/jitter/inversion/swap/miss joints and the AP each error type costs",
        description=(
            "Diagnose stored evaluations (python -m analysis evaluate) per slice: joint classes of matched "
            "detections, background false positives, false negatives, and the AP after each cumulative oracle "
            "correction (miss, swap, inversion, jitter, score, background FP, FN)."
        ),
    )
    p.add_argument("--name", required=True, help="dataset name of the built cache")
    p.add_argument("--split", required=True, help="split name")
    p.add_argument("--model", action="append", default=[], metavar="LABEL", help="stored model (default: all)")
    p.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE_DIR)
    p.add_argument("--json", action="store_true", help="print one JSON document per model (a list for several)")
    add_diagnosis_options(p)
    p.add_argument(
        "--size-area", choices=[s.value for s in AreaSource], default=AreaSource.BBOX.value,
        help="the area that buckets persons (default: bbox)",
    )  # fmt: skip
    sides = edges_text(COCO_SIZE_SIDES)
    p.add_argument("--edges", default=sides, metavar="LO,HI", help=f"size bucket side lengths (default: {sides})")
    p.add_argument(
        "--density-edges", default=edges_text(DENSITY_EDGES), metavar="LO,HI", help="sparse/moderate/dense edges"
    )
    p.add_argument("--crowd-levels", choices=list(CROWD_LEVEL_NAMES), default="code", help="easy/medium/hard edges")
    p.add_argument("--crowd-index", choices=[s.value for s in CrowdIndexSource], default=None)
    p.set_defaults(run=run_diagnose, sigmas=None, oks_area=None)


def add_diagnosis_options(p: argparse.ArgumentParser) -> None:
    """``--oks``: shared by ``diagnose`` and ``evaluate --diagnose``."""
    p.add_argument(
        "--oks", type=float, default=0.75, help="the single OKS threshold reported beside 0.50:0.95 (default 0.75)"
    )


def run_diagnose(args: argparse.Namespace) -> int:
    from analysis.evaluation import store

    key = CacheKey(args.name, args.split)
    models = args.model or [r.model for r in store.list_evaluations(args.cache_dir, key)]
    if not models:
        raise PoseAtlasError(f"{key}: no stored evaluation; run python -m analysis evaluate first")
    return print_diagnoses(args, key, models)


def print_diagnoses(args: argparse.Namespace, key: CacheKey, models: list[str]) -> int:
    """Diagnose ``models`` and print them (JSON or tables); shared with ``evaluate --diagnose``."""
    import orjson

    diagnoses = diagnose_models(args.cache_dir, key, models, args)
    if args.json:
        docs = [d.to_json() for d in diagnoses]
        sys.stdout.write(orjson.dumps(docs[0] if len(docs) == 1 else docs, option=orjson.OPT_INDENT_2).decode() + "\n")
        return 0
    for line in format_diagnoses(diagnoses):
        print(line)
    return 0


def diagnose_models(cache_root: Path, key: CacheKey, models: list[str], args: argparse.Namespace) -> list:
    from analysis.cache import contract as cache
    from analysis.cache.split import open_cached_split
    from analysis.evaluation import store
    from analysis.evaluation.cli import request_from_args
    from analysis.evaluation.compute import gt_keypoints
    from analysis.evaluation.context import resolve_definitions
    from analysis.evaluation.definitions import GT_COLUMNS
    from analysis.evaluation.diagnose import diagnose_stored

    facts = open_cached_split(cache_root, key)
    joint_names = list(facts.joint_names)
    images = cache.read_images(cache_root, key)
    instances = cache.read_instances(cache_root, key, columns=GT_COLUMNS)
    definitions = resolve_definitions(request_from_args(args), facts, images, instances)
    keypoints = gt_keypoints(cache_root, key, len(instances), facts.n_joints)
    out = []
    for model in models:
        try:
            stored = store.read_evaluation(cache_root, key, model)
        except FileNotFoundError as exc:
            raise PoseAtlasError(str(exc)) from None
        out.append(diagnose_stored(stored, images, instances, keypoints, joint_names, definitions, args.oks))
    return out


def format_diagnoses(diagnoses: list) -> list[str]:
    """Per model, one row per slice: joint classes (counts), background FP, FN, then AP (percent) after each step."""
    from analysis.evaluation.diagnose import DEFINITIONS_TEXT, JOINT_CLASSES, STEPS
    from analysis.evaluation.slices import SLICE_NAMES

    lines = [f"Definitions: {DEFINITIONS_TEXT}"]
    for d in diagnoses:
        lines.append("")
        lines.append(f"{d.model}: AP (OKS 0.50:0.95) after each cumulative correction; [AP at OKS {d.oks:.2f}]")
        if not d.inversion:
            lines.append("  (the keypoint schema has no left_*/right_* joint pairs: no inversion class)")
        head = f"{'slice':<15} " + " ".join(f"{c:>9}" for c in JOINT_CLASSES) + f" {'bkg FP':>7} {'FN':>6} | "
        lines.append(head + " ".join(f"{s[:10]:>10}" for s in STEPS))
        for name in SLICE_NAMES:
            s = d.slices[name]
            row = f"{name:<15} " + " ".join(f"{s.joints[c]:>9}" for c in JOINT_CLASSES)
            row += f" {s.background_fp:>7} {s.false_negatives:>6} | "
            row += " ".join(f"{_pct(s.ap[k]):>10}" for k in STEPS)
            lines.append(row)
            at_oks = " ".join(f"{'[' + _pct(s.ap_at_oks[k]) + ']':>10}" for k in STEPS)
            lines.append(" " * (len(head) - 2) + "| " + at_oks)
        if d.by_size is not None:
            lines.extend(_size_lines(d.by_size))
    return lines


def _size_lines(curve: SizeCurve) -> list[str]:
    """AP (percent), persons and missed persons (OKS 0.1 / 0.5) per bin of sqrt(area)."""
    lines = [f"  AP by size, bins of sqrt({curve.area_source} area) in px: AP [n_gt, missed at OKS 0.1/0.5]"]
    cells = [f"{b.label}: {_pct(b.ap)} [{b.n_gt}, {b.missed}/{b.missed_50}]" for b in curve.bins]
    for start in range(0, len(cells), 4):
        lines.append("  " + "   ".join(f"{c:<30}" for c in cells[start : start + 4]).rstrip())
    return lines


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"
