"""Models exports: stored evaluations as the SmallPose Table 5 layout (computed rows, and
the paper's reported rows apart), AP per slice, precision-recall curves, every metric
per slice and what each evaluation left out.  Pure: no streamlit.

The evaluations of the selected datasets (and split) are re-sliced under the state's
size definition from their stored OKS pairs; sigmas and the OKS area stay the ones the
evaluation was run with, and the captions say both.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from analysis.definitions import SizeDefinition
from analysis.errors import PoseAtlasError
from dashboard import evaluations
from dashboard.evaluations import StoredModel
from dashboard.exports.items import ExportItem, FigureItem, Note, NoteLevel, TableItem
from dashboard.exports.state import ViewState
from dashboard.figures.models import (
    MEAN_THRESHOLD,
    EvaluatedModel,
    comparison_figure,
    pr_figure,
    reported_table5_table,
    slice_ap_figure,
    slice_metrics_table,
    table5_table,
)

if TYPE_CHECKING:
    from analysis.evaluation.store import BootstrapSettings

#: Loads one stored evaluation re-sliced under a size definition (the page passes a cached one).
ModelLoader = Callable[[StoredModel, SizeDefinition], EvaluatedModel]


@dataclass(frozen=True)
class EvaluatedModels:
    """The chosen stored evaluations, re-sliced.

    Attributes:
        entries: the stored evaluations, in the order chosen.
        models: their results under the state's size definition (failed ones left out).
        errors: one line per evaluation that could not be read.
        definitions: evaluation definitions (description) -> labels of the models using them.
        resliced: one line per model whose stored size definition differs from the state's.
        labels: each evaluated split's display label (``crowdpose/val`` -> ``CrowdPose/val``,
            from the dataset's registry display name): what tables show in ``dataset``.
    """

    entries: tuple[StoredModel, ...]
    models: tuple[EvaluatedModel, ...]
    errors: tuple[str, ...] = ()
    definitions: dict[str, list[str]] = field(default_factory=dict)
    resliced: tuple[str, ...] = ()
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def note(self) -> str:
        """The evaluation definitions, per group of models, as one caption fragment."""
        return " | ".join(f"{', '.join(labels)}: {desc}" for desc, labels in self.definitions.items())


def stored_models(state: ViewState) -> list[StoredModel]:
    """Stored evaluations of the selected datasets (and split), in the caches' order."""
    split = state.filters.split
    keys = [k for k in state.caches.keys if k.dataset in state.datasets and (split is None or k.split == split)]
    return evaluations.find_models(state.root, keys)


def evaluated(state: ViewState, entries: Sequence[StoredModel], load: ModelLoader | None = None) -> EvaluatedModels:
    """Re-slice each chosen evaluation under the state's size definition."""
    size = state.filters.size
    if load is None:

        def load(entry: StoredModel, size: SizeDefinition) -> EvaluatedModel:
            return evaluations.model_result(state.root, entry, size)

    used: dict[str, list[str]] = {}  # definitions' description -> the models evaluated under them
    models, errors, resliced = [], [], []
    for entry in entries:
        try:
            model = load(entry, size)
        except PoseAtlasError as exc:
            errors.append(f"{entry.label}: {exc}")
            continue
        models.append(model)
        used.setdefault(model.result.definitions.description, []).append(entry.label)
        if evaluations.resliced(entry.definitions, size):
            resliced.append(
                f"{entry.label}: evaluated with {entry.definitions.size.description}; re-sliced "
                f"from its stored OKS pairs with {size.description}."
            )
    labels = {str(e.key): f"{state.label(e.key.dataset)}/{e.key.split}" for e in entries}
    return EvaluatedModels(tuple(entries), tuple(models), tuple(errors), used, tuple(resliced), labels)


def table5_items(chosen: EvaluatedModels, interval_style: str = "bracket", columns: str = "") -> list[ExportItem]:
    """The computed Table 5 rows (with bootstrap intervals in ``interval_style`` where the
    evaluations carry them), then the paper's reported rows as a separate table.  The
    LaTeX of the computed rows is ``evaluate --table-latex``'s (``table5_latex``): rows
    grouped by test set under its display label, ``columns`` as ``--columns`` takes them."""
    from analysis.evaluation.table5 import PAPER_COLUMNS, parse_columns, table5_frame, table5_latex

    models = list(chosen.models)
    table = table5_table(models, interval_style)
    note = ""
    settings = {m.result.bootstrap for m in models if m.result.bootstrap is not None}
    if settings:
        shown = {"bracket": "[lo, hi]", "pm": "± half the interval's width", "none": "not shown"}[str(interval_style)]
        note = (
            "; intervals "
            + shown
            + ": percentile (numpy.quantile, linear) of image-bootstrap resamples ("
            + "; ".join(sorted(f"B = {b.B}, seed {b.seed}, {100 * b.confidence:g}%" for b in settings))
            + ")"
        )
    caption = f"AP (%) per slice, OKS 0.50:0.05:0.95, and ground-truth persons per slice (n_gt); {chosen.note}{note}"
    frame = table5_frame([(m.model, m.result) for m in models])
    test_sets = [chosen.labels.get(m.key, m.key) for m in models]
    chosen_columns = parse_columns(columns) if columns else PAPER_COLUMNS

    def latex(label: str) -> str:
        return table5_latex(
            frame, caption, str(interval_style), columns=chosen_columns, test_sets=test_sets, label=label
        )

    few = "; † fewer than 30 persons in the slice" if settings else ""
    return [
        TableItem("models table5", table, caption + few, digits=1, labels=chosen.labels, latex=latex),
        TableItem(
            "smallpose reported table5",
            reported_table5_table(),
            "AP (%) reported in the SmallPose paper, Table 5 (SimpleBaseline ResNet-50 on SmallPose test)",
            digits=1,
        ),
    ]


def displayed(chosen: EvaluatedModels) -> list[EvaluatedModel]:
    """The models with each split named by its display label (``crowdpose/val`` -> ``CrowdPose/val``),
    as figure legends show them; tables relabel through ``labels`` instead."""
    return [replace(m, key=chosen.labels.get(m.key, m.key)) for m in chosen.models]


def ap_item(chosen: EvaluatedModels) -> FigureItem:
    return FigureItem("ap per slice", slice_ap_figure(displayed(chosen), caption=chosen.note))


def pr_item(chosen: EvaluatedModels, slice_name: str = "all", threshold: float | str = MEAN_THRESHOLD) -> FigureItem:
    """Precision-recall curves of one slice at one OKS threshold (or their mean)."""
    fig = pr_figure(
        displayed(chosen),
        slice_name,
        threshold,
        caption=f"{chosen.note}; 101 recall points, interpolated precision (COCO)",
    )
    return FigureItem(f"precision recall {slice_name}", fig)


def comparable(chosen: EvaluatedModels) -> list[StoredModel]:
    """The chosen evaluations on the first one's split with its definitions (a paired comparison's candidates)."""
    if not chosen.entries:
        return []
    first = chosen.entries[0]
    return [e for e in chosen.entries if e.key == first.key and e.definitions == first.definitions and not e.stale]


def comparison_items(state: ViewState, entries: Sequence[StoredModel], settings: BootstrapSettings) -> list[ExportItem]:
    """Paired differences of ``entries[1:]`` to ``entries[0]`` (one split, same definitions): a figure of
    ΔAP per slice with intervals and win shares, and the table of every metric's difference."""
    import pandas as pd

    from analysis.evaluation.compare import COMPARISON_COLUMNS, compare_models, comparison_rows

    if len(entries) < 2:
        return [Note("A paired comparison needs two models evaluated on one split with the same definitions.")]
    comparison = compare_models(state.root, entries[0].key, [e.model for e in entries], settings)
    table = pd.DataFrame(comparison_rows(comparison), columns=COMPARISON_COLUMNS)
    for column in ("delta", "ci_lo", "ci_hi", "p_better"):
        table[column] = 100 * table[column].astype(float)
    return [
        FigureItem("models comparison", comparison_figure(comparison, caption=comparison.caption)),
        TableItem(
            "models comparison table",
            table,
            f"Differences to {comparison.reference} (model minus reference) in points, paired "
            f"{100 * settings.confidence:g}% percentile intervals over B = {settings.B} image resamples "
            f"(seed {settings.seed}); p_better: % of resamples the model is strictly higher; "
            f"{comparison.caption}",
            digits=1,
        ),
    ]


def stored_item(chosen: EvaluatedModels) -> TableItem:
    return TableItem(
        "models stored evaluations",
        evaluations.stored_table(list(chosen.entries)),
        "Detections evaluated per results file: the 20 best-scored of each image "
        "(COCO's maxDets); records of other categories are counted, not evaluated; "
        f"predictions sha256: the LaTeX table prints the first {evaluations.SHA256_PRINTED} hex digits, "
        "the CSV the full hash",
        labels=chosen.labels,
    )


def metrics_item(chosen: EvaluatedModels) -> TableItem:
    return TableItem(
        "models slice metrics",
        slice_metrics_table(list(chosen.models)),
        f"AP, AP50, AP75, AR (%) and ground-truth persons per slice; {chosen.note}",
        digits=1,
        labels=chosen.labels,
    )


def exports(state: ViewState) -> list[ExportItem]:
    """Every stored evaluation of the selection: Table 5, AP per slice, the PR curves of
    all persons and of small persons (mean over OKS 0.50:0.95), the stored evaluations
    and every metric per slice."""
    entries = stored_models(state)
    if not entries:
        return [
            Note(
                "No stored evaluation for the selected datasets: run `python -m analysis evaluate` "
                "(see docs/guides/evaluate.md)."
            )
        ]
    chosen = evaluated(state, entries)
    notes: list[ExportItem] = [Note(line, NoteLevel.ERROR) for line in chosen.errors]
    notes += [
        Note(
            f"{e.label}: the annotations changed since this evaluation; its numbers are out of date", NoteLevel.WARNING
        )
        for e in entries
        if e.stale
    ]
    if not chosen.models:
        return notes
    table5 = table5_items(chosen, state.options.interval_style, state.options.table5_columns)
    items = [
        *notes,
        *table5,
        ap_item(chosen),
        pr_item(chosen, "all"),
        pr_item(chosen, "small"),
        stored_item(chosen),
        metrics_item(chosen),
    ]
    # A comparison panel when the evaluations were stored with intervals (the cost was asked for).
    paired = comparable(chosen)
    if len(paired) >= 2 and paired[0].record.bootstrap is not None:
        items += comparison_items(state, paired, paired[0].record.bootstrap)
    return items
