"""Models: the SmallPose Table 5 layout, AP per slice and precision-recall curves.

Pure (no streamlit): evaluation results in, frames and figures out.  A model's
result is an :class:`EvaluatedModel`: its label, the dataset/split it was tested on
and its slice metrics (``analysis.evaluation.slices.SliceMetrics``).  AP and AR arrive as
fractions in [0, 1] (None for a slice without ground truth) and are shown in
percent with one decimal, as papers print them; ground-truth counts stay integers.
The Table 5 rows come from ``analysis.evaluation.table5`` (the one table function
the ``evaluate`` command and the dashboard share).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from analysis.evaluation.definitions import OKS_THRESHOLDS, RECALL_POINTS
from analysis.evaluation.slices import SLICE_NAMES, EvaluationResult, SliceMetrics
from analysis.evaluation.table5 import (
    LATEX_HEADERS,
    REPORTED_LABEL,
    TABLE5_COLUMNS,
    ci_columns,
    few_persons,
    interval_cell,
    n_gt_column,
    reported_table5_frame,
    table5_frame,
)
from dashboard.figures.common import DASHES, OKABE_ITO, PATTERNS, empty_figure, finish

if TYPE_CHECKING:
    from analysis.evaluation.compare import Comparison, ModelDifference

#: Every slice the evaluation computes, in the Table 5 order.
SLICES = SLICE_NAMES
#: Metrics of the per-slice table: attribute of a slice result -> column.
METRICS = {"ap": "AP", "ap50": "AP50", "ap75": "AP75", "ar": "AR"}
#: ``pr_table``'s threshold meaning "mean over the ten OKS thresholds".
MEAN_THRESHOLD = "0.50:0.95"
#: Header of the reported rows' label column.
REPORTED_COLUMN = REPORTED_LABEL


@dataclass(frozen=True)
class EvaluatedModel:
    """One model's evaluation on one split.

    Attributes:
        key: ``dataset/split`` it was tested on.
        result: its slices (``analysis.evaluation.slices.EvaluationResult``: AP / AR as fractions
            or None, ``n_gt``, and a (10 OKS thresholds, 101 recall points) ``precision``,
            NaN when the slice has no ground truth).
    """

    key: str
    result: EvaluationResult

    @property
    def model(self) -> str:
        return self.result.model

    @property
    def slices(self) -> Mapping[str, SliceMetrics]:
        return self.result.slices


def interval_whiskers(y: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> dict[str, object]:
    """Plotly error bars for percentile intervals (asymmetric: ``lo`` and ``hi`` are the
    interval's ends, ``y`` the value, all (N,)), in the house whisker style."""
    return {
        "type": "data",
        "symmetric": False,
        "array": hi - y,
        "arrayminus": y - lo,
        "color": "#333333",
        "thickness": 1.2,
        "width": 3,
    }


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
    return {
        "color": OKABE_ITO[index % len(OKABE_ITO)],
        "pattern": PATTERNS[index % len(PATTERNS)],
        "dash": DASHES[index % len(DASHES)],
    }


def table5_table(models: Sequence[EvaluatedModel], interval_style: str | None = None) -> pd.DataFrame:
    """The Table 5 layout (``analysis.evaluation.table5_frame``) with the split of each row.

    Columns: model, dataset (``dataset/split``), AP per Table 5 column in percent (NaN:
    the slice has no ground truth), then ``n_gt <column>``, the ground-truth persons
    of each column's slice (integers).  The LaTeX export prints one decimal and the
    best value of each AP column in bold.  With bootstrap intervals, ``ci_lo <column>``
    and ``ci_hi <column>`` follow; an ``interval_style`` ("bracket", "pm" or "none")
    instead writes each AP cell as text in that style (``67.1 [66.4, 67.8]``,
    ``67.1 ± 0.7`` with ± half the interval's width), a dagger marking a slice with
    fewer than 30 persons, and drops the bound columns.
    """
    frame = table5_frame([(m.model, m.result) for m in models])
    if interval_style is not None and ci_columns(next(iter(TABLE5_COLUMNS)))[0] in frame.columns:
        return _styled_table5(frame, models, interval_style)
    table = frame.reset_index()
    table.insert(1, "dataset", [m.key for m in models])
    ap_columns = list(TABLE5_COLUMNS)
    table.attrs["latex"] = {
        "digits": 1,
        "bold_max": ap_columns,
        "group_by": "dataset",
        "headers": {**LATEX_HEADERS, **{n_gt_column(c): f"$n_{{gt}}$ {LATEX_HEADERS[c]}" for c in ap_columns}},
    }
    return table


def _styled_table5(frame: pd.DataFrame, models: Sequence[EvaluatedModel], style: str) -> pd.DataFrame:
    table = frame.reset_index()
    for column in TABLE5_COLUMNS:
        lo, hi = ci_columns(column)
        counts = table[n_gt_column(column)]
        table[column] = [
            "--" if pd.isna(v) else interval_cell(v, a, b, style) + ("†" if few_persons(int(n)) else "")
            for v, a, b, n in zip(table[column], table[lo], table[hi], counts, strict=True)
        ]
        table = table.drop(columns=[lo, hi])
    table.insert(1, "dataset", [m.key for m in models])
    table.attrs["latex"] = {
        "digits": 1,
        "bold_max": [],
        "headers": {**LATEX_HEADERS, **{n_gt_column(c): f"$n_{{gt}}$ {LATEX_HEADERS[c]}" for c in TABLE5_COLUMNS}},
    }
    return table


def reported_table5_table() -> pd.DataFrame:
    """The SmallPose paper's reported rows (``REPORTED_TABLE5``), kept apart from computed ones.

    Columns: ``reported in the SmallPose paper`` (the row label), the AP columns the
    paper reports (percent), then ``note``.
    """
    frame = reported_table5_frame().reset_index()
    reported = [c for c in TABLE5_COLUMNS if frame[c].notna().any()]
    table = frame[["model", *reported, "note"]].rename(columns={"model": REPORTED_COLUMN})
    table.attrs["latex"] = {
        "digits": 1,
        "bold_max": [],
        "headers": dict(LATEX_HEADERS),
        # the long row labels wrap and the note goes to the caption: the table fits an article's text width
        "wrap": {REPORTED_COLUMN: "4.5cm"},  # no wider than the column's header
        "notes_in_caption": "note",
        "compact": True,
    }
    return table


def slice_metrics_table(models: Sequence[EvaluatedModel]) -> pd.DataFrame:
    """Every metric of every slice (long): model, dataset, slice, AP, AP50, AP75, AR (percent), n_gt."""
    rows = []
    for m in models:
        for s in SLICES:
            r = m.slices[s]
            rows.append(
                {
                    "model": m.model,
                    "dataset": m.key,
                    "slice": s,
                    **{col: _percent(getattr(r, attr)) for attr, col in METRICS.items()},
                    "n_gt": int(r.n_gt),
                }
            )
    table = pd.DataFrame(rows, columns=["model", "dataset", "slice", *METRICS.values(), "n_gt"])
    table["n_gt"] = table["n_gt"].astype(np.int64)
    table.attrs["latex"] = {
        "digits": 1,
        "stack_headers": True,
        "compact": True,
        "wrap": {"model": "1.9cm", "dataset": "1.9cm"},
    }
    return table


def slice_ap_figure(models: Sequence[EvaluatedModel], *, caption: str = "") -> go.Figure:
    """AP per slice as grouped bars: slices on x (Table 5 notation), one series per model.

    A slice without ground truth in every shown split is marked "n/a" (never a zero bar).
    """
    if not models:
        return empty_figure("no evaluated model selected")
    table = table5_table(models)
    fig = go.Figure()
    columns = list(TABLE5_COLUMNS)
    with_ci = ci_columns(columns[0])[0] in table.columns
    for i, name in enumerate(series_names(models)):
        st = _style(i)
        y = table.loc[i, columns].to_numpy(dtype=float)
        error = None
        if with_ci:  # asymmetric bars from the percentile bounds
            lo = table.loc[i, [ci_columns(c)[0] for c in columns]].to_numpy(dtype=float)
            hi = table.loc[i, [ci_columns(c)[1] for c in columns]].to_numpy(dtype=float)
            error = interval_whiskers(y, lo, hi)
        fig.add_bar(
            x=columns,
            y=y,
            name=name,
            error_y=error,
            marker={"color": st["color"], "pattern": {"shape": st["pattern"]}},
            hovertemplate="%{x}: %{y:.1f}<extra>%{fullData.name}</extra>",
        )
    for column in columns:  # an empty slice is not a zero: say so where its bars would be
        if table[column].isna().all():
            fig.add_annotation(x=column, y=0, text="n/a", showarrow=False, yanchor="bottom", font={"color": "#555555"})
    fig.update_layout(barmode="group", bargap=0.2)
    # A slice resting on few persons in any shown split carries a dagger (explained in the caption).
    few = {c for c in columns if any(few_persons(int(n)) for n in table[n_gt_column(c)])}
    fig.update_xaxes(tickvals=columns, ticktext=[tick_label(c) + ("†" if c in few else "") for c in columns])
    fig.update_yaxes(range=[0, 100])
    notes = [caption] if caption else []
    if with_ci:
        notes.append(_interval_note(models))
    if few:
        notes.append("† fewer than 30 ground-truth persons in the slice")
    finish(fig, title="AP per slice", caption="; ".join(notes), x_title="", y_title="AP (%)")
    # a single column has no room for ten slice labels side by side: bars across, labels down
    fig.layout.meta = {**fig.layout.meta, "horizontal_at": ["single"]}
    return fig


def _interval_note(models: Sequence[EvaluatedModel]) -> str:
    settings = {m.result.bootstrap for m in models if m.result.bootstrap is not None}
    parts = sorted(f"B = {b.B}, seed {b.seed}, {100 * b.confidence:g}%" for b in settings)
    return (
        "error bars: percentile intervals of image-bootstrap resamples (numpy.quantile, linear; "
        + "; ".join(parts)
        + ")"
    )


def comparison_figure(comparison: Comparison, *, metric: str = "AP", caption: str = "") -> go.Figure:
    """Paired differences to the reference per slice (``analysis.evaluation.compare``): bars of
    model minus reference in points with their interval, a zero line, the share of resamples
    won in the hover and above each bar; a slice without ground truth is left empty."""
    if not comparison.models and not comparison.groups:
        return empty_figure("compare needs at least two models of one split")
    columns = list(TABLE5_COLUMNS)
    fig = go.Figure()
    entries = [*comparison.models, *comparison.groups]
    for i, entry in enumerate(entries):
        _add_difference_bars(fig, entry, _style(i + 1), columns, metric)
    _place_win_shares(fig)
    fig.add_hline(y=0, line={"color": "#333333", "width": 1})
    for column in columns:  # no ground truth: no difference (never a zero bar)
        if comparison.n_gt[TABLE5_COLUMNS[column]] == 0:
            fig.add_annotation(x=column, y=0, text="n/a", showarrow=False, yanchor="bottom", font={"color": "#555555"})
    few = {c for c in columns if few_persons(comparison.n_gt[TABLE5_COLUMNS[c]])}
    fig.update_xaxes(tickvals=columns, ticktext=[tick_label(c) + ("†" if c in few else "") for c in columns])
    fig.update_layout(barmode="group", bargap=0.2, uniformtext={"minsize": 10, "mode": "show"})
    b = comparison.bootstrap
    notes = [
        f"{metric} difference to {comparison.reference} (model minus reference), points; error bars: "
        f"paired {100 * b.confidence:g}% percentile intervals over B = {b.B} image resamples (seed {b.seed}); "
        "labels: share of resamples the model wins"
    ]
    if few:
        notes.append("† fewer than 30 ground-truth persons in the slice")
    if caption:
        notes.append(caption)
    finish(
        fig,
        title=f"Δ{metric} per slice vs {comparison.reference}",
        caption="; ".join(notes),
        x_title="",
        y_title=f"Δ{metric} (points)",
    )
    # the same ten slice labels as AP per slice: at single width bars across, labels down
    fig.layout.meta = {**fig.layout.meta, "horizontal_at": ["single"]}
    return fig


def _add_difference_bars(
    fig: go.Figure, entry: ModelDifference, st: dict[str, str], columns: list[str], metric: str
) -> None:
    """One model's (or group's) bars of ``metric`` minus the reference per slice, in points, with
    its paired interval as error bars and the share of resamples it wins above each bar."""
    diffs = [entry.slices[TABLE5_COLUMNS[c]] for c in columns]
    deltas = [None if d is None else d.delta[metric] for d in diffs]
    intervals = [None if d is None else d.ci[metric] for d in diffs]
    shares = [None if d is None else d.p_better[metric] for d in diffs]
    y = np.array([np.nan if v is None else 100 * v for v in deltas])
    lo = np.array([np.nan if ci is None else 100 * ci[0] for ci in intervals])
    hi = np.array([np.nan if ci is None else 100 * ci[1] for ci in intervals])
    wins = ["" if share is None else f"{100 * share:.0f}%" for share in shares]
    name = entry.model if not entry.members else f"{entry.model} (mean of {len(entry.members)})"
    fig.add_bar(
        x=columns,
        y=y,
        name=name,
        text=wins,  # hover only: drawn past the whisker by _place_win_shares
        textposition="none",
        error_y=interval_whiskers(y, lo, hi),
        marker={"color": st["color"], "pattern": {"shape": st["pattern"]}},
        customdata=np.stack([lo, hi], axis=1),
        hovertemplate=(
            "%{x}: %{y:+.1f} [%{customdata[0]:+.1f}, %{customdata[1]:+.1f}] points, "
            "wins %{text}<extra>%{fullData.name}</extra>"
        ),
    )


WIN_SHARE_GAP = 0.03
"""Space between an interval's end and its win-share label, as a share of the value axis' span."""


def _place_win_shares(fig: go.Figure) -> None:
    """In place: each bar's win share ("100%") as an annotation just past the end of its
    interval (above a positive one, below a negative one), never over the whisker; the bars get
    an explicit width and offset so each label sits over its own bar of the group, whatever
    bargap the paper theme sets, and the value axis is widened to hold the labels."""
    bars = [t for t in fig.data if t.type == "bar"]
    width = (1 - 0.2) / len(bars)  # the group fills 0.8 of a category, like bargap 0.2
    ends = []
    for k, trace in enumerate(bars):
        trace.update(width=width, offset=-0.4 + k * width)
        value = np.asarray(trace.y, dtype=float)
        lo, hi = value - np.asarray(trace.error_y.arrayminus), value + np.asarray(trace.error_y.array)
        ends.append((k, value, lo, hi))
    lows = np.concatenate([lo for _, _, lo, _ in ends] + [np.zeros(1)])
    highs = np.concatenate([hi for _, _, _, hi in ends] + [np.zeros(1)])
    bottom, top = float(np.nanmin(lows)), float(np.nanmax(highs))
    gap = WIN_SHARE_GAP * ((top - bottom) or 1.0)
    for (k, value, lo, hi), trace in zip(ends, bars, strict=True):
        for i, text in enumerate(trace.text):
            if not text or np.isnan(value[i]):
                continue
            up = value[i] >= 0
            fig.add_annotation(
                x=i - 0.4 + (k + 0.5) * width,
                y=hi[i] + gap if up else lo[i] - gap,
                text=text,
                showarrow=False,
                yanchor="bottom" if up else "top",
                font={"size": 10, "color": "#111111"},
                name="win share",
            )
    # room for a label (about five times the gap) past the farthest interval end on each side
    fig.update_yaxes(range=[bottom - 6 * gap if bottom < 0 else bottom, top + 6 * gap if top > 0 else top])


def tick_label(column: str) -> str:
    """A Table 5 column as plotly rich text: ``AP^S_Sp`` -> ``AP<sup>S</sup><sub>Sp</sub>``,
    ``AP^M(crowd)`` -> ``AP<sup>M</sup><sub>crowd</sub>`` (as the LaTeX table prints it)."""
    base, _, rest = column.partition("^")
    sup, _, sub = rest.rstrip(")").replace("(", "_").partition("_")
    return base + (f"<sup>{sup}</sup>" if sup else "") + (f"<sub>{sub}</sub>" if sub else "")


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
            raise ValueError(f"OKS threshold {threshold} is not one of {np.round(OKS_THRESHOLDS, 2).tolist()}")
        rows = slice(int(hit[0]), int(hit[0]) + 1)
    data = {}
    for name, m in zip(series_names(models), models, strict=True):
        p = np.asarray(m.slices[slice_name].precision, dtype=float)[rows]
        curve = np.full(len(RECALL_POINTS), np.nan)
        if (p > -1).all():  # NaN (or pycocotools' -1): the slice has no ground truth
            curve = 100.0 * p.mean(axis=0)
        data[name] = curve
    return pd.DataFrame(data, index=pd.Index(RECALL_POINTS, name="recall"))


def pr_figure(
    models: Sequence[EvaluatedModel],
    slice_name: str,
    threshold: float | str = 0.5,
    *,
    caption: str = "",
) -> go.Figure:
    """Precision-recall curves of one slice, one line per model."""
    if not models:
        return empty_figure("no evaluated model selected")
    table = pr_table(models, slice_name, threshold)
    if table.isna().all().all():
        return empty_figure(f"no ground truth in slice {slice_name}")
    fig = go.Figure()
    empty = [name for name in table.columns if table[name].isna().all()]
    for i, name in enumerate(table.columns):
        if name in empty:  # no ground truth in this slice: no curve, and no legend entry without one
            continue
        style = _style(i)  # by position among all models: a model keeps its style across slices
        fig.add_scatter(
            x=table.index.to_numpy(),
            y=table[name].to_numpy(),
            name=name,
            mode="lines",
            line={"color": style["color"], "dash": style["dash"], "width": 2},
        )
    fig.update_xaxes(range=[0, 1])
    fig.update_yaxes(range=[0, 100])
    oks = "mean over OKS 0.50:0.05:0.95" if threshold == MEAN_THRESHOLD else f"OKS {float(threshold):.2f}"
    if empty:
        caption = "; ".join(p for p in (caption, f"no ground truth in slice {slice_name}: {', '.join(empty)}") if p)
    return finish(
        fig, title=f"Precision-recall: {slice_name} ({oks})", caption=caption, x_title="recall", y_title="precision (%)"
    )
