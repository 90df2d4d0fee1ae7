"""Errors exports: the keypoint error diagnosis of the stored evaluations (joint classes, the AP
each error type costs) per slice, under the state's size definition.  Pure: no streamlit.

The diagnosis re-reads each stored evaluation (with its predicted keypoints) and the split's
ground-truth keypoints; sigmas and the OKS area stay the evaluation's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from analysis.cache import contract as cache
from analysis.cache.split import open_cached_split
from analysis.definitions import SizeDefinition
from analysis.errors import PoseAtlasError
from analysis.evaluation import store
from analysis.evaluation.compute import gt_keypoints
from analysis.evaluation.definitions import GT_COLUMNS
from analysis.evaluation.diagnose import diagnose_stored
from analysis.evaluation.size_curve import SIZE_CURVE_TEXT
from dashboard import evaluations
from dashboard.evaluations import StoredModel
from dashboard.exports.items import ExportItem, FigureItem, Note, NoteLevel, TableItem
from dashboard.exports.latex import with_hints
from dashboard.exports.models import displayed, evaluated, stored_models
from dashboard.exports.state import ViewState
from dashboard.figures.errors import (
    DEFINITIONS_CAPTION,
    DiagnosedModel,
    ap_by_size_figure,
    ap_by_threshold_figure,
    ap_by_threshold_table,
    calibration_table,
    composition_figure,
    composition_table,
    delta_ap_table,
    missed_by_size_figure,
    per_joint_figure,
    per_joint_table,
    reliability_figure,
    size_bins_table,
    waterfall_figure,
)

#: Diagnoses one stored evaluation under a size definition (the page passes a cached one).
DiagnosisLoader = Callable[[StoredModel, SizeDefinition], DiagnosedModel]


def diagnose_model(root: Path, entry: StoredModel, size: SizeDefinition) -> DiagnosedModel:
    """The diagnosis of one stored evaluation, re-sliced under ``size``."""
    stored = store.read_evaluation(root, entry.key, entry.model)
    images = cache.read_images(root, entry.key)
    instances = cache.read_instances(root, entry.key, columns=GT_COLUMNS)
    facts = open_cached_split(root, entry.key)
    names = list(facts.joint_names)
    keypoints = gt_keypoints(root, entry.key, len(instances), facts.n_joints)
    definitions = evaluations.definitions_for(stored.definitions, size)
    return DiagnosedModel(str(entry.key), diagnose_stored(stored, images, instances, keypoints, names, definitions))


def diagnosed(
    state: ViewState, entries: Sequence[StoredModel], load: DiagnosisLoader | None = None
) -> tuple[list[DiagnosedModel], list[str]]:
    """(diagnoses, error lines) of the chosen stored evaluations."""
    load = load or (lambda entry, size: diagnose_model(state.root, entry, size))
    models, errors = [], []
    for entry in entries:
        try:
            model = load(entry, state.filters.size)
        except (PoseAtlasError, FileNotFoundError) as exc:
            errors.append(f"{entry.label}: {exc}")
            continue
        # legends and tables name the split by its display label (``crowdpose/val`` -> ``CrowdPose/val``)
        models.append(replace(model, key=f"{state.label(entry.key.dataset)}/{entry.key.split}"))
    return models, errors


def _note(models: Sequence[DiagnosedModel]) -> str:
    seen = dict.fromkeys(m.diagnosis.definitions.description for m in models)
    return " | ".join(seen)


def composition_item(models: Sequence[DiagnosedModel]) -> FigureItem:
    return FigureItem("error composition", composition_figure(models, caption=_note(models)))


def waterfall_item(models: Sequence[DiagnosedModel], slice_name: str = "all", at_oks: bool = False) -> FigureItem:
    suffix = " at oks" if at_oks else ""
    return FigureItem(f"delta ap {slice_name}{suffix}",
                      waterfall_figure(models, slice_name, at_oks=at_oks, caption=_note(models)))  # fmt: skip


#: What says what an errors table's row is: repeated in each of its LaTeX column blocks.
BY_SLICE = ["model", "slice"]
#: The model labels ("synthetic-coarse (Crowd (demo)/val)") wrap: more value columns per block.
BY_SLICE_HINTS: dict[str, object] = {"column_blocks": BY_SLICE, "wrap": {"model": "3.2cm"}}
#: 612 rows at 8 evaluations: blocks would pass TeX's largest dimension; the model wraps instead.
JOINT_HINTS: dict[str, object] = {"compact": True, "stack_headers": True, "wrap": {"model": "3.2cm"}}
BINS_HINTS: dict[str, object] = {
    "column_blocks": ["model", "bin"],
    "compact": True,
    "stack_headers": True,
    "wrap": {"model": "3.2cm"},
}


def delta_ap_item(models: Sequence[DiagnosedModel], at_oks: bool = False) -> TableItem:
    oks = f"OKS {models[0].diagnosis.oks:.2f}" if at_oks and models else "OKS 0.50:0.95"
    return TableItem(
        "delta ap table" + (" at oks" if at_oks else ""),
        with_hints(delta_ap_table(models, at_oks=at_oks), **BY_SLICE_HINTS),
        f"AP ({oks}, %), the AP points each cumulative oracle correction recovers (+step), and the oracle's AP, "
        f"per slice; {_note(models)}; {DEFINITIONS_CAPTION}", digits=1,
    )  # fmt: skip


def composition_table_item(models: Sequence[DiagnosedModel]) -> TableItem:
    table = composition_table(models)
    shares = tuple(c for c in table.columns if c.endswith(" share"))
    return TableItem("error composition table", with_hints(table, **BY_SLICE_HINTS, compact=True),
                     f"Joint classes of matched detections (counts and shares), matched detections, background "
                     f"false positives and false negatives per slice; {_note(models)}; {DEFINITIONS_CAPTION}",
                     shares=shares)  # fmt: skip


def per_joint_items(models: Sequence[DiagnosedModel]) -> list[ExportItem]:
    """The per-joint heatmap (first model, or the second minus the first) and the per-joint table."""
    return [FigureItem("joint accuracy", per_joint_figure(models, caption=_note(models))),
            TableItem("joint accuracy table", with_hints(per_joint_table(models), **JOINT_HINTS),
                      "Per joint and slice: labelled joints of persons matched at OKS 0.5 (n), shares with ks >= 0.5 "
                      f"and >= 0.85, mean ks; {_note(models)}", shares=("ks_0.5", "ks_0.85", "mean_ks"))]  # fmt: skip


def calibration_items(models: Sequence[DiagnosedModel], slice_name: str = "all") -> list[ExportItem]:
    """The reliability diagram of one slice and the ECE/MCE table of every slice."""
    return [FigureItem(f"reliability {slice_name}", reliability_figure(models, slice_name, caption=_note(models))),
            TableItem("calibration table", with_hints(calibration_table(models), **BY_SLICE_HINTS),
                      "ECE and MCE of detection scores against 'matched at OKS 0.5' (ten equal-width bins of "
                      f"[0, 1]) over the detections each slice counts; {_note(models)}", digits=3)]  # fmt: skip


def ap_by_threshold_items(state: ViewState, entries: Sequence[StoredModel]) -> list[ExportItem]:
    """AP vs OKS threshold (figure and table) of the stored evaluations, re-sliced under the state's size."""
    chosen = evaluated(state, entries)
    models = displayed(chosen)
    return [FigureItem("ap vs oks", ap_by_threshold_figure(models, caption=chosen.note)),
            TableItem("ap vs oks table", with_hints(ap_by_threshold_table(models), **BY_SLICE_HINTS),
                      f"AP (%) at each OKS threshold per slice; {chosen.note}", digits=1)]  # fmt: skip


def size_items(models: Sequence[DiagnosedModel]) -> list[ExportItem]:
    """AP vs person size on fine bins of sqrt(area), the size of missed persons, and their table."""
    return [FigureItem("ap vs size", ap_by_size_figure(models, caption=_note(models))),
            FigureItem("missed by size", missed_by_size_figure(models, caption=_note(models))),
            TableItem("size bins table", with_hints(size_bins_table(models), **BINS_HINTS),
                      f"Per bin of sqrt(area) (px): persons (n_gt), AP/AP50/AP75 (%), missed persons at OKS 0.1 "
                      f"and 0.5, their shares of all persons and of all missed, miss rates; {SIZE_CURVE_TEXT}; "
                      f"{_note(models)}",
                      shares=("persons share", "missed share", "missed@0.5 share", "miss rate", "miss rate@0.5"),
                      digits=1)]  # fmt: skip


def exports(state: ViewState) -> list[ExportItem]:
    """Every stored evaluation of the selection: error composition, the ΔAP waterfalls of all and
    of ``options.errors_slice`` (small; at OKS 0.75 with ``errors_at_oks``), the ΔAP table (OKS
    0.50:0.95 and 0.75), the composition table, per-joint accuracy, AP vs OKS, AP vs person size
    and the size of missed persons, and calibration (the reliability diagrams of all and of
    ``options.errors_slice``)."""
    entries = stored_models(state)
    if not entries:
        return [Note("No stored evaluation for the selected datasets: run `python -m analysis evaluate` "
                     "(see docs/guides/diagnosis.md).")]  # fmt: skip
    models, errors = diagnosed(state, entries)
    notes: list[ExportItem] = [Note(line, NoteLevel.ERROR) for line in errors]
    if not models:
        return notes
    chosen, at_oks = state.options.errors_slice, state.options.errors_at_oks
    waterfalls = [waterfall_item(models, "all")]
    if chosen != "all" or at_oks:
        waterfalls.append(waterfall_item(models, chosen, at_oks))
    reliability = [] if chosen == "all" else [calibration_items(models, chosen)[0]]
    return [
        *notes,
        composition_item(models),
        *waterfalls,
        delta_ap_item(models),
        delta_ap_item(models, at_oks=True),
        composition_table_item(models),
        *per_joint_items(models),
        *ap_by_threshold_items(state, entries),
        *size_items(models),
        *calibration_items(models),
        *reliability,
    ]
