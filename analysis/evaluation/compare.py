"""``python -m analysis compare``: paired differences between stored evaluations of one split.

Every model is re-accumulated on the same image resamples (the seeded draws of
:mod:`analysis.evaluation.bootstrap`), so a replicate's difference is paired: the
interval of model minus reference is the percentile interval of the replicates'
differences, and ``p_better`` is the share of replicates (where the slice has a
person) in which the model's metric is strictly higher than the reference's.

Ablation groups (``--group LABEL=A,B,C``): the mean and standard deviation
(ddof 1) of the members' point metrics, and the paired interval of the group mean
minus the reference (per replicate, the mean of the members' replicate metrics).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from analysis.cache.key import DEFAULT_CACHE_DIR, CacheKey  # not analysis.cache.contract: parsing loads no pyarrow
from analysis.errors import PoseAtlasError

if TYPE_CHECKING:  # numpy loads only when a comparison runs (``python -m analysis`` starts light)
    import numpy as np

    from analysis.evaluation.slices import SliceMetrics
    from analysis.evaluation.store import BootstrapSettings

METRICS = ("AP", "AP50", "AP75", "AR")
DEFAULT_B = 1000


def add_parser(sub: argparse._SubParsersAction) -> None:
    from analysis.evaluation.cli import add_bootstrap_arguments

    p = sub.add_parser(
        "compare",
        help="paired bootstrap differences between stored evaluations, per slice",
        description=(
            "Per slice, each model's difference to the first (model minus reference) in AP, AP50, AP75 and AR, "
            "with a paired image-bootstrap percentile interval and the share of resamples the model wins. "
            "Every model must be evaluated (python -m analysis evaluate) on the split with the same definitions."
        ),
    )
    p.add_argument("--name", required=True, help="dataset name of the built cache")
    p.add_argument("--split", required=True, help="split name")
    p.add_argument("--models", nargs="+", required=True, metavar="LABEL", help="reference first, then the others")
    p.add_argument(
        "--group",
        action="append",
        default=[],
        metavar="LABEL=A,B,...",
        help="an ablation group: mean and sd over its models, and the group mean against the reference",
    )
    p.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE_DIR)
    add_bootstrap_arguments(p, default_b=DEFAULT_B)
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.add_argument("--table-csv", type=Path, default=None, metavar="FILE", help="also write the differences as CSV")
    p.add_argument("--table-latex", type=Path, default=None, metavar="FILE", help="also write a LaTeX table of ΔAP")
    p.set_defaults(run=run_compare)


@dataclass(frozen=True)
class SliceDifference:
    """One slice of model minus reference.  Fractions; None where undefined."""

    delta: dict[str, float | None]
    ci: dict[str, tuple[float, float] | None]
    p_better: dict[str, float | None]

    def to_json(self) -> dict:
        return {
            "delta": self.delta,
            "ci": {k: None if v is None else list(v) for k, v in self.ci.items()},
            "p_better": self.p_better,
        }


@dataclass(frozen=True)
class ModelDifference:
    model: str
    slices: dict[str, SliceDifference | None]  #: None: the slice has no ground truth
    members: tuple[str, ...] = ()  #: a group's models (empty for one model)
    spread: dict[str, dict[str, dict[str, float | None]]] | None = None  #: group: slice -> metric -> mean, sd

    def to_json(self) -> dict:
        slices = {k: None if v is None else v.to_json() for k, v in self.slices.items()}
        doc: dict[str, Any] = {"model": self.model, "slices": slices}
        if self.members:
            doc["members"] = list(self.members)
            doc["spread"] = self.spread
        return doc


@dataclass(frozen=True)
class Comparison:
    reference: str
    bootstrap: BootstrapSettings
    caption: str
    n_gt: dict[str, int]
    reference_metrics: dict[str, dict[str, float | None]]
    models: list[ModelDifference]
    groups: list[ModelDifference]

    def to_json(self) -> dict:
        doc = {
            "reference": self.reference,
            "bootstrap": self.bootstrap.to_json(),
            "models": [m.to_json() for m in self.models],
        }
        if self.groups:
            doc["groups"] = [g.to_json() for g in self.groups]
        return doc


def parse_groups(specs: list[str]) -> list[tuple[str, list[str]]]:
    """``LABEL=A,B,C`` -> (label, [A, B, C])."""
    groups = []
    for spec in specs:
        label, sep, members = spec.partition("=")
        names = [m.strip() for m in members.split(",") if m.strip()]
        if not sep or not label.strip() or len(names) < 2:
            raise PoseAtlasError(f"--group {spec!r}: expected LABEL=MODEL,MODEL[,...] with at least two models")
        groups.append((label.strip(), names))
    return groups


def compare_models(
    cache_root: Path,
    key: CacheKey,
    models: list[str],
    settings: BootstrapSettings,
    groups: list[tuple[str, list[str]]] | None = None,
) -> Comparison:
    """Paired differences of ``models[1:]`` (and of each group's mean) to ``models[0]``.

    Raises:
        PoseAtlasError: a model not evaluated on the split, a stale evaluation, or
            evaluations with different definitions (one line naming them).
    """
    from analysis.evaluation.slices import SLICE_NAMES

    groups = groups or []
    labels = list(dict.fromkeys([*models, *(m for _, members in groups for m in members)]))
    if len(models) < 2 and not groups:
        raise PoseAtlasError("compare needs at least two --models (the reference first), or a --group")
    _check_stored(cache_root, key, labels, models[0])
    evaluated = _evaluate_on_resamples(cache_root, key, labels, settings)
    ref = models[0]
    out_models = [
        ModelDifference(
            label,
            {
                name: _difference(evaluated, ref, evaluated.points[label], evaluated.replicates[label], name)
                for name in SLICE_NAMES
            },
        )
        for label in models[1:]
    ]
    out_groups = [_group_difference(evaluated, ref, label, members) for label, members in groups]
    return Comparison(ref, settings, evaluated.caption, evaluated.n_gt, evaluated.points[ref], out_models, out_groups)


def _check_stored(cache_root: Path, key: CacheKey, labels: list[str], reference_label: str) -> None:
    """Every model has a fresh stored evaluation of the split, all with the reference's definitions."""
    from analysis.evaluation.slices import STALE
    from analysis.evaluation.store import (
        DamagedEvaluationError,
        damaged_message,
        differing_definitions,
        evaluations_dir,
        find_record,
    )

    records = {}
    for label in labels:
        record = find_record(cache_root, key, label)
        if record is None:
            raise PoseAtlasError(f"{key}: no stored evaluation of {label!r}; run python -m analysis evaluate first")
        if record.stale:
            raise PoseAtlasError(f"{key}: the evaluation of {label!r} is {STALE}")
        if record.damaged:
            raise DamagedEvaluationError(damaged_message(evaluations_dir(cache_root, key) / record.slug, record))
        records[label] = record
    reference = records[reference_label]
    for label, record in records.items():
        differing = differing_definitions(record, reference)
        if differing:
            raise PoseAtlasError(
                f"{key}: {label!r} was evaluated with other definitions than {reference.model!r} "
                f"({', '.join(differing)}); evaluate both with the same options"
            )


@dataclass
class _Evaluated:
    """Every model's point metrics and bootstrap replicates per slice, on the same image resamples."""

    points: dict[str, dict[str, dict[str, float | None]]]  #: model -> slice -> metric
    replicates: dict[str, dict[str, np.ndarray]]  #: model -> slice -> (B, metric) array
    n_gt: dict[str, int]  #: slice -> ground-truth persons
    caption: str
    confidence: float


def _evaluate_on_resamples(
    cache_root: Path, key: CacheKey, labels: list[str], settings: BootstrapSettings
) -> _Evaluated:
    """Re-slice each stored evaluation and re-accumulate it on the seeded image resamples."""
    import numpy as np

    from analysis.cache import contract as cache
    from analysis.evaluation.bootstrap import all_replicates, image_weights
    from analysis.evaluation.definitions import GT_COLUMNS
    from analysis.evaluation.slices import slice_matches, slice_metrics
    from analysis.evaluation.store import read_evaluation

    images = cache.read_images(cache_root, key)
    instances = cache.read_instances(cache_root, key, columns=GT_COLUMNS)
    image_ids = np.sort(images["image_id"].to_numpy(np.int64))
    weights = image_weights(len(image_ids), settings)
    evaluated = _Evaluated({}, {}, {}, "", settings.confidence)
    for label in labels:
        stored = read_evaluation(cache_root, key, label)
        used, _, matches = slice_matches(stored, images, instances, stored.definitions)
        evaluated.caption = used.description
        metrics = {name: slice_metrics(m) for name, m in matches.items()}
        evaluated.points[label] = {name: _point(m) for name, m in metrics.items()}
        evaluated.n_gt = {name: m.n_gt for name, m in metrics.items()}
        evaluated.replicates[label] = all_replicates(matches, image_ids, settings, weights)
    return evaluated


def _difference(
    evaluated: _Evaluated, ref: str, point: dict, reps: dict[str, np.ndarray], name: str
) -> SliceDifference | None:
    """Slice ``name`` of (point, replicates) minus the reference's; None where the slice has no person."""
    import numpy as np

    from analysis.evaluation.bootstrap import intervals

    if evaluated.n_gt[name] == 0:
        return None
    diff = reps[name] - evaluated.replicates[ref][name]
    defined = ~np.isnan(diff[:, 0])
    share = {
        metric: (float(np.mean(diff[defined, i] > 0)) if defined.any() else None) for i, metric in enumerate(METRICS)
    }
    delta = {
        metric: None if point[name][metric] is None else point[name][metric] - evaluated.points[ref][name][metric]
        for metric in METRICS
    }
    return SliceDifference(delta, intervals(diff, evaluated.confidence), share)


def _group_difference(evaluated: _Evaluated, ref: str, label: str, members: list[str]) -> ModelDifference:
    """An ablation group: its members' mean and sd per slice, and the paired difference of the mean."""
    import numpy as np

    from analysis.evaluation.slices import SLICE_NAMES

    points, replicates = evaluated.points, evaluated.replicates
    mean_point, spread = {}, {}
    for name in SLICE_NAMES:
        values = {m: [points[x][name][m] for x in members] for m in METRICS}
        defined = {m: [v for v in vs if v is not None] for m, vs in values.items()}
        mean_point[name] = {m: (float(np.mean(v)) if len(v) == len(members) else None) for m, v in defined.items()}
        spread[name] = {
            m: {
                "mean": mean_point[name][m],
                "sd": float(np.std(v, ddof=1)) if len(v) == len(members) else None,
            }
            for m, v in defined.items()
        }
    # A replicate's group value: the members' mean on that replicate (NaN if any is undefined).
    group_reps = {name: np.mean([replicates[x][name] for x in members], axis=0) for name in SLICE_NAMES}
    slices = {name: _difference(evaluated, ref, mean_point, group_reps, name) for name in SLICE_NAMES}
    return ModelDifference(label, slices, tuple(members), spread)


def _point(metrics: SliceMetrics) -> dict[str, float | None]:
    return {"AP": metrics.ap, "AP50": metrics.ap50, "AP75": metrics.ap75, "AR": metrics.ar}


def run_compare(args: argparse.Namespace) -> int:
    import orjson

    from analysis.evaluation.cli import _write_text, bootstrap_from_args

    key = CacheKey(args.name, args.split)
    settings = bootstrap_from_args(args)
    assert settings is not None  # compare's --bootstrap defaults to DEFAULT_B
    comparison = compare_models(args.cache_dir, key, list(args.models), settings, parse_groups(args.group))
    if args.table_csv:
        _write_text(args.table_csv, comparison_csv(comparison))
    if args.table_latex:
        _write_text(args.table_latex, comparison_latex(comparison, key))
    if args.json:
        sys.stdout.write(orjson.dumps(comparison.to_json(), option=orjson.OPT_INDENT_2).decode() + "\n")
        return 0
    for line in comparison_lines(comparison, key):
        print(line)
    return 0


def settings_text(comparison: Comparison) -> str:
    b = comparison.bootstrap
    return (
        f"paired image bootstrap: B = {b.B} resamples of the split's images (seed {b.seed}), "
        f"{100 * b.confidence:g}% percentile intervals (numpy.quantile, linear)"
    )


def few_mark(n_gt: int) -> str:
    """The mark of a slice resting on few persons."""
    from analysis.evaluation.bootstrap import FEW_PERSONS

    return "†" if 0 < n_gt < FEW_PERSONS else ""


def comparison_lines(comparison: Comparison, key: CacheKey) -> list[str]:
    """The text report: per model (and group) and slice, ΔAP etc. in points with intervals and win shares."""
    from analysis.evaluation.bootstrap import FEW_PERSONS

    lines = [f"{key}: {comparison.caption}", settings_text(comparison)]
    lines.append(
        f"differences are model minus {comparison.reference!r} in AP points; "
        f"'wins' = share of resamples where the model is strictly higher; † = fewer than {FEW_PERSONS} persons"
    )
    for entry in [*comparison.models, *comparison.groups]:
        title = entry.model if not entry.members else f"{entry.model} (mean of {', '.join(entry.members)})"
        lines.append(f"\n{title} vs {comparison.reference}")
        lines.append(f"{'slice':<16} {'n_gt':>7} " + " ".join(f"{'Δ' + m:>24} {'wins':>6}" for m in METRICS))
        for name, diff in entry.slices.items():
            n = comparison.n_gt[name]
            head = f"{name:<16} {str(n) + few_mark(n):>7} "
            if diff is None:
                lines.append(head + "no ground truth")
                continue
            cells = []
            for m in METRICS:
                cells.append(f"{_interval_text(diff.delta[m], diff.ci[m]):>24} {_share_text(diff.p_better[m]):>6}")
            lines.append(head + " ".join(cells))
        all_diff = entry.slices.get("all")
        share = None if all_diff is None else all_diff.p_better["AP"]
        if all_diff is not None and all_diff.delta["AP"] is not None and share is not None:
            lines.append(_statement(entry.model, comparison, all_diff, share))
    return lines


def _statement(model: str, comparison: Comparison, diff: SliceDifference, share: float) -> str:
    """The verdict on all persons' AP; ``share``: ``diff.p_better["AP"]``, known here."""
    lo_hi = diff.ci["AP"]
    excludes = lo_hi is not None and (lo_hi[0] > 0 or lo_hi[1] < 0)
    verdict = "excludes 0" if excludes else "includes 0: not distinguishable from test-set noise at this level"
    return (
        f"all persons: ΔAP {_interval_text(diff.delta['AP'], lo_hi)} points; {model} is higher than "
        f"{comparison.reference} in {100 * share:.1f}% of {comparison.bootstrap.B} resamples; "
        f"the {100 * comparison.bootstrap.confidence:g}% interval {verdict}"
    )


def _interval_text(delta: float | None, ci: tuple[float, float] | None) -> str:
    if delta is None:
        return "-"
    text = f"{100 * delta:+.1f}"
    return text if ci is None else f"{text} [{100 * ci[0]:+.1f}, {100 * ci[1]:+.1f}]"


def _share_text(share: float | None) -> str:
    return "-" if share is None else f"{100 * share:.0f}%"


COMPARISON_COLUMNS = ["model", "members", "slice", "n_gt", "metric", "delta", "ci_lo", "ci_hi", "p_better"]


def comparison_rows(comparison: Comparison) -> list[list]:
    """One row per model (or group), slice and metric (:data:`COMPARISON_COLUMNS`); fractions, None where undefined."""
    rows = []
    for entry in [*comparison.models, *comparison.groups]:
        for name, diff in entry.slices.items():
            for m in METRICS:
                values: list = [None] * 4
                if diff is not None:
                    ci = diff.ci[m] or (None, None)
                    values = [diff.delta[m], ci[0], ci[1], diff.p_better[m]]
                rows.append([entry.model, " ".join(entry.members), name, comparison.n_gt[name], m, *values])
    return rows


def comparison_csv(comparison: Comparison) -> str:
    """Long CSV of :func:`comparison_rows`, the settings in a ``#`` first line; empty where undefined."""
    import csv
    import io

    buf = io.StringIO()
    buf.write(f"# {settings_text(comparison)}; reference {comparison.reference}; {comparison.caption}\n")
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COMPARISON_COLUMNS)
    for row in comparison_rows(comparison):
        writer.writerow([*row[:5], *(_num(v) for v in row[5:])])
    return buf.getvalue()


def _num(value: float | None) -> str:
    return "" if value is None else repr(float(value))


def comparison_latex(comparison: Comparison, key: CacheKey) -> str:
    """A booktabs table of ΔAP per Table 5 column: ``+1.2 [+0.4, +2.0]``, bootstrap settings in the caption."""
    from analysis.evaluation.bootstrap import FEW_PERSONS
    from analysis.evaluation.table5 import LATEX_HEADERS, TABLE5_COLUMNS
    from analysis.latex import latex_escape, latex_text

    columns = list(TABLE5_COLUMNS)
    caption = (
        f"{key}: AP difference to {comparison.reference} in points (model minus reference) with "
        f"{settings_text(comparison)}; share of resamples won in parentheses. {comparison.caption}"
    )
    few = f" $^\\dagger$: fewer than {FEW_PERSONS} persons in the slice."
    lines = [
        "\\begin{table}[t]",
        "\\centering",
        f"\\caption{{{latex_text(caption)}{few}}}",
        "\\begin{tabular}{l" + "c" * len(columns) + "}",
        "\\toprule",
        "Model & " + " & ".join(LATEX_HEADERS[c] for c in columns) + " \\\\",
    ]
    counts = []
    for c in columns:
        n = comparison.n_gt[TABLE5_COLUMNS[c]]
        counts.append(f"{n:,}".replace(",", "{,}") + ("$^\\dagger$" if few_mark(n) else ""))
    lines += ["$n_{gt}$ & " + " & ".join(counts) + " \\\\", "\\midrule"]
    for entry in [*comparison.models, *comparison.groups]:
        label = entry.model if not entry.members else f"{entry.model} (mean of {len(entry.members)})"
        cells = []
        for c in columns:
            diff = entry.slices[TABLE5_COLUMNS[c]]
            if diff is None or diff.delta["AP"] is None:
                cells.append("--")
                continue
            text = _interval_text(diff.delta["AP"], diff.ci["AP"]).replace("+", "$+$").replace("-", "$-$")
            share = diff.p_better["AP"]
            cells.append(f"{text} ({_share_text(share)})".replace("%", r"\%"))
        lines.append(f"{latex_escape(label)} & " + " & ".join(cells) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}", "\\end{table}"]
    return "\n".join(lines) + "\n"
