"""Errors view figures: why detections fail (``analysis.evaluation.diagnose``). Pure: frames/diagnoses in,
``go.Figure`` / ``pd.DataFrame`` out.

- :func:`composition_table` / :func:`composition_figure`: the share of each joint class
  (good, jitter, inversion, swap, miss) among the labelled joints of matched detections,
  per slice and model, as stacked bars;
- :func:`delta_ap_table` / :func:`waterfall_figure`: AP, then the AP each cumulative
  oracle correction recovers (miss, swap, inversion, jitter, score, background FP, FN);
- :func:`ap_by_threshold_table` / :func:`ap_by_threshold_figure`: AP at each OKS threshold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from analysis.evaluation.definitions import OKS_THRESHOLDS
from analysis.evaluation.diagnose import DEFINITIONS_TEXT, JOINT_CLASSES, STEPS, Diagnosis
from analysis.evaluation.slices import SLICE_NAMES
from dashboard.figures.common import OKABE_ITO, empty_figure, finish
from dashboard.figures.models import EvaluatedModel
from dashboard.figures.models import series_names as model_series_names

#: Joint class colours: good green to miss red (colour-blind-safe Okabe-Ito hues).
CLASS_COLORS = {"good": "#009E73", "jitter": "#56B4E9", "inversion": "#E69F00", "swap": "#CC79A7", "miss": "#D55E00"}
#: Readable step names (the JSON keys are STEPS).
STEP_LABELS = {"base": "AP", "miss": "miss", "swap": "swap", "inversion": "inversion", "jitter": "jitter",
               "score": "score", "background_fp": "bkg. FP", "false_negatives": "FN"}  # fmt: skip
#: What every figure of the view states.
DEFINITIONS_CAPTION = "Definitions: " + DEFINITIONS_TEXT


@dataclass(frozen=True)
class DiagnosedModel:
    """One model's diagnosis on one split (``key`` = ``dataset/split``)."""

    key: str
    diagnosis: Diagnosis

    @property
    def model(self) -> str:
        return self.diagnosis.model


def series_names(models: Sequence[DiagnosedModel]) -> list[str]:
    """A name per model: the label, plus ``(dataset/split)`` when several splits are shown."""
    several = len({m.key for m in models}) > 1
    return [f"{m.model} ({m.key})" if several else m.model for m in models]


def composition_table(models: Sequence[DiagnosedModel], slices: Sequence[str] = SLICE_NAMES) -> pd.DataFrame:
    """One row per model and slice: joint counts per class, their shares (fractions of the
    classified joints), matched detections, background FP and FN."""
    rows = []
    for name, m in zip(series_names(models), models, strict=True):
        for slice_name in slices:
            s = m.diagnosis.slices[slice_name]
            total = sum(s.joints.values())
            row: dict[str, Any] = {"model": name, "slice": slice_name}
            row.update({c: s.joints[c] for c in JOINT_CLASSES})
            row.update({f"{c} share": (s.joints[c] / total if total else np.nan) for c in JOINT_CLASSES})
            row.update({"matched detections": s.matched_detections, "background FP": s.background_fp,
                        "FN": s.false_negatives, "n_gt": s.n_gt})  # fmt: skip
            rows.append(row)
    return pd.DataFrame(rows)


def composition_figure(
    models: Sequence[DiagnosedModel], slices: Sequence[str] = SLICE_NAMES, *, caption: str = ""
) -> go.Figure:
    """Stacked bars: per slice (and model), the share of each joint class (%)."""
    if not models:
        return empty_figure("no evaluated model selected")
    table = composition_table(models, slices)
    several = len(models) > 1
    # Horizontal bars read with ten slices times several models; the first slice on top.
    labels = [f"{sl} · {mo}" if several else sl for sl, mo in zip(table["slice"], table["model"], strict=True)]
    # A slice without matched detections is not a zero: its label says so (no bar is drawn).
    empty = table[[f"{c} share" for c in JOINT_CLASSES]].isna().all(axis=1).to_numpy()
    labels = [f"{label} (n/a)" if e else label for label, e in zip(labels, empty, strict=True)]
    fig = go.Figure()
    for c in JOINT_CLASSES:
        fig.add_bar(y=labels, x=100 * table[f"{c} share"].to_numpy(float), name=c, orientation="h",
                    marker={"color": CLASS_COLORS[c]}, customdata=table[c].to_numpy(),
                    hovertemplate="%{x:.1f}% (%{customdata} joints)<extra>" + c + "</extra>")  # fmt: skip
    fig.update_layout(barmode="stack", legend={"traceorder": "normal"})
    fig.update_xaxes(range=[0, 100.5], tickvals=[0, 25, 50, 75, 100])
    fig.update_yaxes(autorange="reversed", categoryorder="array", categoryarray=labels, tickmode="array",
                     tickvals=labels, ticktext=labels)  # fmt: skip
    text = "Joint classes of the labelled joints of matched detections (share, %); (n/a): no matched detection"
    return finish(fig, title="Keypoint error composition", caption=_join(text, caption, DEFINITIONS_CAPTION),
                  x_title="share of joints (%)", y_title="")  # fmt: skip


def delta_ap_table(models: Sequence[DiagnosedModel], slices: Sequence[str] = SLICE_NAMES,
                   at_oks: bool = False) -> pd.DataFrame:  # fmt: skip
    """One row per model and slice: AP (%), the AP gained by each cumulative correction (ΔAP, %
    points; NaN without ground truth) and the oracle's AP; ``at_oks``: at the diagnosis' single OKS."""
    rows = []
    for name, m in zip(series_names(models), models, strict=True):
        for slice_name in slices:
            s = m.diagnosis.slices[slice_name]
            ap = s.ap_at_oks if at_oks else s.ap
            values = [np.nan if v is None else 100 * v for v in (ap[k] for k in STEPS)]
            row = {"model": name, "slice": slice_name, "n_gt": s.n_gt, "AP": values[0]}
            row.update({f"+{STEP_LABELS[k]}": values[i] - values[i - 1] for i, k in enumerate(STEPS) if i})
            row["oracle AP"] = values[-1]
            rows.append(row)
    return pd.DataFrame(rows)


def waterfall_figure(models: Sequence[DiagnosedModel], slice_name: str = "all", *, at_oks: bool = False,
                     caption: str = "") -> go.Figure:  # fmt: skip
    """From AP to the oracle: the AP each error type costs, one waterfall per model."""
    if not models:
        return empty_figure("no evaluated model selected")
    table = delta_ap_table(models, [slice_name], at_oks)
    if table["AP"].isna().all():  # axes kept (paper layout), the reason written where the bars would be
        fig = go.Figure()
        fig.add_annotation(text=f"{slice_name}: no ground truth in this slice", showarrow=False, x=0.5, y=0.5,
                           xref="paper", yref="paper")  # fmt: skip
        fig.update_yaxes(range=[0, 112])
        fig.update_xaxes(showticklabels=False)
        return finish(fig, title=f"AP lost to each error type: {slice_name}",
                      caption=f"{slice_name}: no ground truth in this slice", x_title="correction", y_title="AP (%)")
    labels = [STEP_LABELS[k] for k in STEPS] + ["oracle"]
    fig = go.Figure()
    for i, (_, row) in enumerate(table.iterrows()):
        if np.isnan(row["AP"]):
            continue
        color = OKABE_ITO[i % len(OKABE_ITO)]
        deltas = [row[f"+{STEP_LABELS[k]}"] for k in STEPS[1:]]
        fig.add_trace(go.Waterfall(
            x=labels, y=[row["AP"], *deltas, 0.0], measure=["absolute", *["relative"] * len(deltas), "total"],
            name=row["model"], text=[f"{row['AP']:.1f}", *(f"+{d:.1f}" for d in deltas), f"{row['oracle AP']:.1f}"],
            textposition="outside", cliponaxis=False, connector={"line": {"color": "#888888", "width": 1}},
            increasing={"marker": {"color": color}}, decreasing={"marker": {"color": "#555555"}},
            totals={"marker": {"color": color}},
        ))  # fmt: skip
    fig.update_layout(waterfallgroupgap=0.15, showlegend=len(table) > 1)
    fig.update_yaxes(range=[0, 112])
    oks = models[0].diagnosis.oks
    what = f"at OKS {oks:.2f}" if at_oks else "OKS 0.50:0.95"
    text = (f"{slice_name}: AP ({what}, %), then the AP points recovered by each cumulative oracle correction "
            "(miss -> swap -> inversion -> jitter -> score -> background FP -> FN), and the oracle's AP")
    full = _join(text, caption, DEFINITIONS_CAPTION)
    return finish(fig, title=f"AP lost to each error type: {slice_name}", caption=full, x_title="correction",
                  y_title="AP (%)")  # fmt: skip


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


#: Slices drawn by the AP-vs-OKS figure (line dash per slice).
OKS_CURVE_SLICES = ("all", "small", "medium", "large")
_SLICE_DASHES = {"all": "solid", "small": "dot", "medium": "dash", "large": "dashdot"}


def ap_by_threshold_table(models: Sequence[EvaluatedModel], slices: Sequence[str] = OKS_CURVE_SLICES) -> pd.DataFrame:
    """AP (%) at each OKS threshold 0.50, 0.55, ..., 0.95: one row per model and slice (NaN
    without ground truth); the mean of a row is the slice's AP."""
    names = model_series_names(models)
    rows = []
    for name, m in zip(names, models, strict=True):
        for slice_name in slices:
            precision = np.asarray(m.slices[slice_name].precision, dtype=float)
            values = 100 * precision.mean(axis=1) if (precision > -1).all() else np.full(len(OKS_THRESHOLDS), np.nan)
            rows.append({"model": name, "slice": slice_name,
                         **{f"{t:.2f}": v for t, v in zip(OKS_THRESHOLDS, values, strict=True)}})  # fmt: skip
    return pd.DataFrame(rows)


def ap_by_threshold_figure(models: Sequence[EvaluatedModel], slices: Sequence[str] = OKS_CURVE_SLICES, *,
                           caption: str = "") -> go.Figure:  # fmt: skip
    """AP as a function of the OKS threshold: a colour per model, a dash per slice."""
    if not models:
        return empty_figure("no evaluated model selected")
    table = ap_by_threshold_table(models, slices)
    columns = [f"{t:.2f}" for t in OKS_THRESHOLDS]
    colors = {name: OKABE_ITO[i % len(OKABE_ITO)] for i, name in enumerate(dict.fromkeys(table["model"]))}
    fig = go.Figure()
    for _, row in table.iterrows():
        y = row[columns].to_numpy(dtype=float)
        if np.isnan(y).all():
            continue
        label = f"{row['slice']} · {row['model']}" if len(colors) > 1 else row["slice"]
        fig.add_scatter(x=OKS_THRESHOLDS, y=y, mode="lines+markers", name=label,
                        line={"color": colors[row["model"]], "dash": _SLICE_DASHES.get(row["slice"], "solid")},
                        hovertemplate="OKS %{x:.2f}: AP %{y:.1f}<extra>" + label + "</extra>")  # fmt: skip
    fig.update_xaxes(tickvals=OKS_THRESHOLDS[::2], range=[0.48, 0.97])
    fig.update_yaxes(range=[0, 100])
    text = ("AP (%) at each OKS threshold (101 recall points, COCO); the mean over 0.50:0.95 is the slice's AP; "
            "a slice without ground truth is not drawn")
    return finish(fig, title="AP vs OKS threshold", caption=_join(text, caption), x_title="OKS threshold",
                  y_title="AP (%)")  # fmt: skip


#: Slices of the per-joint heatmap (columns).
JOINT_SLICES = ("all", "small", "medium", "large")


def per_joint_table(models: Sequence[DiagnosedModel], slices: Sequence[str] = JOINT_SLICES) -> pd.DataFrame:
    """One row per model, slice and joint: labelled joints of persons matched at OKS 0.5 (n), the
    shares with ks >= 0.5 and >= 0.85, and the mean ks (NaN when n = 0)."""
    rows = []
    for name, m in zip(series_names(models), models, strict=True):
        for slice_name in slices:
            for joint, v in m.diagnosis.slices[slice_name].per_joint.items():
                rows.append({"model": name, "slice": slice_name, "joint": joint, "n": v["n"],
                             **{k: np.nan if v[k] is None else v[k] for k in ("ks_0.5", "ks_0.85", "mean_ks")}})
    return pd.DataFrame(rows)


def per_joint_figure(models: Sequence[DiagnosedModel], slices: Sequence[str] = JOINT_SLICES, *,
                     metric: str = "ks_0.5", caption: str = "") -> go.Figure:  # fmt: skip
    """Joints x slices heatmap of one model's ``metric`` (%), or with two models the second minus
    the first (percentage points)."""
    if not models:
        return empty_figure("no evaluated model selected")
    table = per_joint_table(models[:2], slices)
    names = list(dict.fromkeys(table["model"]))
    grid = {n: table[table["model"] == n].pivot(index="joint", columns="slice", values=metric) for n in names}
    joints = list(dict.fromkeys(table["joint"]))
    first = grid[names[0]].reindex(index=joints, columns=list(slices)) * 100
    if len(names) > 1:
        values = grid[names[1]].reindex(index=joints, columns=list(slices)) * 100 - first
        scale, zmid, what = "RdBu", 0.0, f"{names[1]} minus {names[0]} (percentage points)"
    else:
        values, scale, zmid, what = first, "Viridis", None, f"{names[0]} (%)"
    z = values.to_numpy(dtype=float)
    text = [["n/a" if np.isnan(v) else f"{v:.0f}" for v in row] for row in z]
    fig = go.Figure(go.Heatmap(z=z, x=list(slices), y=joints, colorscale=scale, zmid=zmid, text=text,
                               texttemplate="%{text}", hovertemplate="%{y}, %{x}: %{z:.1f}<extra></extra>",
                               colorbar={"title": {"text": "pp" if len(names) > 1 else "%"}}))  # fmt: skip
    fig.update_yaxes(autorange="reversed")
    label = {"ks_0.5": "share of joints with ks >= 0.5", "ks_0.85": "share of joints with ks >= 0.85",
             "mean_ks": "mean ks x 100"}[metric]  # fmt: skip
    desc = (f"Per joint: {label}, over the labelled joints of persons of the slice matched at OKS 0.5 "
            f"(ks = exp(-d^2 / (2 area (2 sigma)^2))); {what}; n/a: no such joint")
    return finish(fig, title="Joint accuracy", caption=_join(desc, caption), x_title="slice", y_title="joint")


def calibration_table(models: Sequence[DiagnosedModel], slices: Sequence[str] = SLICE_NAMES) -> pd.DataFrame:
    """ECE and MCE of each model's detection scores per slice (NaN without counted detections)."""
    rows = []
    for name, m in zip(series_names(models), models, strict=True):
        for slice_name in slices:
            c = m.diagnosis.slices[slice_name].calibration
            rows.append({"model": name, "slice": slice_name, "detections": c["n"],
                         "ECE": np.nan if c["ece"] is None else c["ece"],
                         "MCE": np.nan if c["mce"] is None else c["mce"]})  # fmt: skip
    return pd.DataFrame(rows)


def reliability_figure(models: Sequence[DiagnosedModel], slice_name: str = "all", *, caption: str = "") -> go.Figure:
    """Reliability diagram: per score bin, the share of detections matched at OKS 0.5 against the
    bin's mean score; the diagonal is perfect calibration."""
    if not models:
        return empty_figure("no evaluated model selected")
    fig = go.Figure()
    fig.add_scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfect calibration",
                    line={"color": "#888888", "dash": "dot"}, hoverinfo="skip")  # fmt: skip
    notes = []
    for i, (name, m) in enumerate(zip(series_names(models), models, strict=True)):
        c = m.diagnosis.slices[slice_name].calibration
        bins = [b for b in c["bins"] if b["n"]]
        fig.add_scatter(x=[b["confidence"] for b in bins], y=[b["accuracy"] for b in bins], mode="lines+markers",
                        name=name, line={"color": OKABE_ITO[i % len(OKABE_ITO)]},
                        customdata=[b["n"] for b in bins],
                        hovertemplate="score %{x:.2f}: %{y:.2f} matched (%{customdata} detections)<extra></extra>")
        ece = "n/a" if c["ece"] is None else f"{c['ece']:.3f}"
        mce = "n/a" if c["mce"] is None else f"{c['mce']:.3f}"
        notes.append(f"{name}: ECE {ece}, MCE {mce} over {c['n']} detections")
    fig.update_xaxes(range=[0, 1.02])
    fig.update_yaxes(range=[0, 1.02])
    text = (f"{slice_name}: per score bin (ten equal-width bins of [0, 1]), the share of the slice's detections "
            "matched at OKS 0.5 against the bin's mean score; ECE = sum of (n_b / N) |accuracy_b - confidence_b|, "
            "MCE = the largest gap; " + "; ".join(notes))
    return finish(fig, title=f"Score calibration: {slice_name}", caption=_join(text, caption), x_title="score",
                  y_title="matched at OKS 0.5")  # fmt: skip
