"""Models: the SmallPose Table 5 layout, AP per slice and precision-recall curves.

Pure (no streamlit): evaluation results in, frames and figures out.  A model's
result is an :class:`EvaluatedModel`: its label, the dataset/split it was tested on
and its slice metrics (anything with ``ap, ap50, ap75, ar, n_gt, precision``, as
``analysis.evaluation``'s ``SliceMetrics``).  AP and AR arrive as fractions in
[0, 1] (None for a slice without ground truth) and are shown in percent with one
decimal, as papers print them; ground-truth counts stay integers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dashboard.figures.common import DASHES, OKABE_ITO, PATTERNS, empty_figure, finish

#: Every slice the evaluation computes, in the Table 5 order.
SLICES = (
    "all", "small", "medium", "large", "small/sparse", "small/moderate", "small/dense",
    "crowd/easy", "crowd/medium", "crowd/hard",
)
#: Column header per slice (the SmallPose paper's notation; crowd levels spelled out
#: because CrowdPose's AP^M would clash with the medium size bucket's).
SLICE_COLUMNS = {
    "all": "AP", "small": "AP^S", "medium": "AP^M", "large": "AP^L",
    "small/sparse": "AP^S_Sp", "small/moderate": "AP^S_Mo", "small/dense": "AP^S_De",
    "crowd/easy": "AP^easy", "crowd/medium": "AP^medium", "crowd/hard": "AP^hard",
}
#: The same headers for LaTeX (math mode).
LATEX_COLUMNS = {
    "AP": "AP", "AP^S": "AP$^{S}$", "AP^M": "AP$^{M}$", "AP^L": "AP$^{L}$",
    "AP^S_Sp": "AP$^{S}_{Sp}$", "AP^S_Mo": "AP$^{S}_{Mo}$", "AP^S_De": "AP$^{S}_{De}$",
    "AP^easy": "AP$^{\\mathrm{easy}}$", "AP^medium": "AP$^{\\mathrm{medium}}$",
    "AP^hard": "AP$^{\\mathrm{hard}}$",
}
#: Metrics of the per-slice table: attribute of a slice result -> column.
METRICS = {"ap": "AP", "ap50": "AP50", "ap75": "AP75", "ar": "AR"}
#: The OKS thresholds of the COCO protocol (rows of a slice's ``precision``).
OKS_THRESHOLDS = np.round(np.linspace(0.5, 0.95, 10), 2)
#: Recall points of the COCO protocol (columns of a slice's ``precision``).
RECALL_POINTS = np.linspace(0.0, 1.0, 101)
#: ``pr_table``'s threshold meaning "mean over the ten OKS thresholds".
MEAN_THRESHOLD = "0.50:0.95"
REPORTED_LABEL = "reported in the SmallPose paper"


@dataclass(frozen=True)
class EvaluatedModel:
    """One model's evaluation on one split.

    Attributes:
        model: the model's label.
        key: ``dataset/split`` it was tested on.
        slices: slice name (``SLICES``) -> metrics with ``ap, ap50, ap75, ar`` (fractions
            or None), ``n_gt`` (int) and ``precision`` ((10, 101) array, -1 where undefined,
            or None).
    """

    model: str
    key: str
    slices: Mapping[str, Any]


def series_names(models: Sequence[EvaluatedModel]) -> list[str]:
    """A legend name per model: the label, plus ``(dataset/split)`` when several splits are shown."""
    several = len({m.key for m in models}) > 1
    labels = [f"{m.model} ({m.key})" if several else m.model for m in models]
    seen: dict[str, int] = {}
    out = []
    for label in labels:  # the same label twice (two runs on one split): keep both apart
        seen[label] = seen.get(label, 0) + 1
        out.append(label if seen[label] == 1 else f"{label} #{seen[label]}")
    return out


def _percent(value: float | None) -> float:
    return np.nan if value is None else 100.0 * float(value)


def _style(index: int) -> dict[str, str]:
    return {"color": OKABE_ITO[index % len(OKABE_ITO)], "pattern": PATTERNS[index % len(PATTERNS)],
            "dash": DASHES[index % len(DASHES)]}


def _latex_hints(table: pd.DataFrame, best: Sequence[str]) -> pd.DataFrame:
    """Attach the LaTeX export's hints (``dashboard.export.table_latex`` reads them)."""
    table.attrs["latex"] = {"digits": 1, "bold_max": list(best),
                            "headers": {c: LATEX_COLUMNS[c] for c in table.columns if c in LATEX_COLUMNS}}
    return table


def table5_table(models: Sequence[EvaluatedModel]) -> pd.DataFrame:
    """The Table 5 layout: a row per model, AP per slice in percent (NaN: no ground truth).

    Columns: model, dataset (``dataset/split``), then ``SLICE_COLUMNS`` in ``SLICES``
    order.  The LaTeX export prints one decimal and the best value of each column in bold.
    """
    rows = [
        {"model": name, "dataset": m.key,
         **{SLICE_COLUMNS[s]: _percent(m.slices[s].ap if s in m.slices else None) for s in SLICES}}
        for name, m in zip(series_names(models), models, strict=True)
    ]
    table = pd.DataFrame(rows, columns=["model", "dataset", *SLICE_COLUMNS.values()])
    table[list(SLICE_COLUMNS.values())] = table[list(SLICE_COLUMNS.values())].astype(float)
    return _latex_hints(table, list(SLICE_COLUMNS.values()))


def reported_table5_table(reported: Mapping[str, Mapping[str, float]]) -> pd.DataFrame:
    """The SmallPose paper's reported rows, kept apart from computed ones.

    Args:
        reported: row label -> {Table 5 column (``SLICE_COLUMNS`` values): AP in percent}.

    Returns:
        Columns: ``reported in the SmallPose paper`` (the row label), then the columns the
        paper reports, in ``SLICES`` order.
    """
    columns = [c for c in SLICE_COLUMNS.values() if any(c in r for r in reported.values())]
    rows = [{REPORTED_LABEL: label, **{c: float(r.get(c, np.nan)) for c in columns}}
            for label, r in reported.items()]
    table = pd.DataFrame(rows, columns=[REPORTED_LABEL, *columns])
    table.attrs["latex"] = {"digits": 1, "bold_max": [],
                            "headers": {c: LATEX_COLUMNS[c] for c in columns}}
    return table


def slice_metrics_table(models: Sequence[EvaluatedModel]) -> pd.DataFrame:
    """Every metric of every slice (long): model, dataset, slice, AP, AP50, AP75, AR (percent), n_gt."""
    rows = []
    for name, m in zip(series_names(models), models, strict=True):
        for s in SLICES:
            if s not in m.slices:
                continue
            r = m.slices[s]
            rows.append({"model": name, "dataset": m.key, "slice": s,
                         **{col: _percent(getattr(r, attr)) for attr, col in METRICS.items()},
                         "n_gt": int(r.n_gt)})
    table = pd.DataFrame(rows, columns=["model", "dataset", "slice", *METRICS.values(), "n_gt"])
    table["n_gt"] = table["n_gt"].astype(np.int64)
    table.attrs["latex"] = {"digits": 1, "bold_max": [], "headers": {}}
    return table


def slice_ap_figure(models: Sequence[EvaluatedModel], *, caption: str = "") -> go.Figure:
    """AP per slice as grouped bars: slices on x (Table 5 notation), one series per model."""
    if not models:
        return empty_figure("no evaluated model selected")
    table = table5_table(models)
    fig = go.Figure()
    columns = list(SLICE_COLUMNS.values())
    for i, row in enumerate(table.itertuples(index=False)):
        st = _style(i)
        values = np.array(row[2:], dtype=float)
        fig.add_bar(x=columns, y=values, name=row.model,
                    marker={"color": st["color"], "pattern": {"shape": st["pattern"]}},
                    hovertemplate="%{x}: %{y:.1f}<extra>%{fullData.name}</extra>")
    fig.update_layout(barmode="group", bargap=0.2)
    fig.update_yaxes(range=[0, 100])
    return finish(fig, title="AP per slice", caption=caption, x_title="slice", y_title="AP (%)")


def pr_table(models: Sequence[EvaluatedModel], slice_name: str, threshold: float | str = 0.5) -> pd.DataFrame:
    """Precision at the 101 recall points of one slice, a column per model (percent).

    Args:
        slice_name: one of ``SLICES``.
        threshold: an OKS threshold of ``OKS_THRESHOLDS`` or ``MEAN_THRESHOLD`` (the mean
            of the ten curves, whose area is the slice's AP).

    Returns:
        Index ``recall`` (0, 0.01, ..., 1); NaN for a model whose slice has no ground truth.
    """
    if threshold == MEAN_THRESHOLD:
        rows = slice(None)
    else:
        hit = np.flatnonzero(np.isclose(OKS_THRESHOLDS, float(threshold)))
        if not len(hit):
            raise ValueError(f"OKS threshold {threshold} is not one of {OKS_THRESHOLDS.tolist()}")
        rows = slice(int(hit[0]), int(hit[0]) + 1)
    data = {}
    for name, m in zip(series_names(models), models, strict=True):
        r = m.slices.get(slice_name)
        precision = None if r is None else r.precision
        curve = np.full(len(RECALL_POINTS), np.nan)
        if precision is not None:
            p = np.asarray(precision, dtype=float)[rows]
            if (p > -1).all():  # -1: pycocotools' "no ground truth" marker
                curve = 100.0 * p.mean(axis=0)
        data[name] = curve
    return pd.DataFrame(data, index=pd.Index(RECALL_POINTS, name="recall"))


def pr_figure(
    models: Sequence[EvaluatedModel], slice_name: str, threshold: float | str = 0.5, *, caption: str = "",
) -> go.Figure:
    """Precision-recall curves of one slice, one line per model."""
    if not models:
        return empty_figure("no evaluated model selected")
    table = pr_table(models, slice_name, threshold)
    if table.isna().all().all():
        return empty_figure(f"no ground truth in slice {slice_name}")
    fig = go.Figure()
    for i, name in enumerate(table.columns):
        st = _style(i)
        fig.add_scatter(x=table.index.to_numpy(), y=table[name].to_numpy(), name=name, mode="lines",
                        line={"color": st["color"], "dash": st["dash"], "width": 2})
    fig.update_xaxes(range=[0, 1])
    fig.update_yaxes(range=[0, 100])
    oks = "mean over OKS 0.50:0.05:0.95" if threshold == MEAN_THRESHOLD else f"OKS {float(threshold):.2f}"
    return finish(fig, title=f"Precision-recall: {slice_name} ({oks})", caption=caption,
                  x_title="recall", y_title="precision (%)")
