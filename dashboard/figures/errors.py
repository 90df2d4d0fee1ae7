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
from plotly.subplots import make_subplots

from analysis.definitions import SizeBucket
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
    """Stacked bars: per slice, the share of each joint class (%); small multiples, one panel
    per model side by side on the slices' shared axis (a stack of slice x model rows grew too tall)."""
    if not models:
        return empty_figure("no evaluated model selected")
    table = composition_table(models, slices)
    names = list(dict.fromkeys(table["model"]))
    # Horizontal bars: the slice names read on the shared y axis, the first slice on top.
    fig = make_subplots(rows=1, cols=len(names), shared_yaxes=True, horizontal_spacing=0.06)
    for col, name in enumerate(names, start=1):
        part = table[table["model"] == name]
        # A slice without matched detections is not a zero: its bar is absent and its cell says n/a.
        empty = part[[f"{c} share" for c in JOINT_CLASSES]].isna().all(axis=1).to_numpy()
        for c in JOINT_CLASSES:
            fig.add_bar(y=list(slices), x=100 * part[f"{c} share"].to_numpy(float), name=c, orientation="h",
                        legendgroup=c, showlegend=col == 1, marker={"color": CLASS_COLORS[c]},
                        customdata=part[c].to_numpy(), row=1, col=col,
                        hovertemplate="%{x:.1f}% (%{customdata} joints)<extra>" + c + "</extra>")  # fmt: skip
        for sl, e in zip(slices, empty, strict=True):
            if e:
                fig.add_annotation(x=50, y=sl, text="n/a", showarrow=False, row=1, col=col,
                                   font={"color": "#555555"})  # fmt: skip
    fig.update_layout(barmode="stack", legend={"traceorder": "normal"})
    fig.update_xaxes(range=[0, 100.5], tickvals=[0, 50, 100])
    fig.update_yaxes(autorange="reversed", categoryorder="array", categoryarray=list(slices))
    # Under each panel its model; past two panels a letter (long names would run into each other).
    lettered = len(names) > 2
    titles = [f"({chr(97 + i)})" if lettered else name.replace(" (", "<br>(") for i, name in enumerate(names)]
    key = "; ".join(f"{t} {n}" for t, n in zip(titles, names, strict=True)) if lettered else ""
    text = (
        "Joint classes of the labelled joints of matched detections (share of joints, %), one panel per "
        "model" + (f": {key}" if key else "") + "; n/a: no matched detection in the slice"
    )
    fig = finish(fig, title="Keypoint error composition", caption=_join(text, caption, DEFINITIONS_CAPTION),
                 x_title="", y_title="")  # fmt: skip
    for col, title in enumerate(titles, start=1):
        fig.update_xaxes(title_text=title if len(names) > 1 else "share of joints (%)", row=1, col=col)
    return fig


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
        return finish(
            fig,
            title=f"AP lost to each error type: {slice_name}",
            caption=f"{slice_name}: no ground truth in this slice",
            x_title="correction",
            y_title="AP (%)",
        )
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
    text = (
        f"{slice_name}: AP ({what}, %), then the AP points recovered by each cumulative oracle correction "
        "(miss -> swap -> inversion -> jitter -> score -> background FP -> FN), and the oracle's AP"
    )
    full = _join(text, caption, DEFINITIONS_CAPTION)
    return finish(fig, title=f"AP lost to each error type: {slice_name}", caption=full, x_title="correction",
                  y_title="AP (%)")  # fmt: skip


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


#: Slices drawn by the AP-vs-OKS figure (line dash per slice).
OKS_CURVE_SLICES = ("all", *SizeBucket.names())
_SLICE_DASHES = dict(zip(OKS_CURVE_SLICES, ("solid", "dot", "dash", "dashdot"), strict=True))


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
    text = (
        "AP (%) at each OKS threshold (101 recall points, COCO); the mean over 0.50:0.95 is the slice's AP; "
        "a slice without ground truth is not drawn"
    )
    return finish(fig, title="AP vs OKS threshold", caption=_join(text, caption), x_title="OKS threshold",
                  y_title="AP (%)")  # fmt: skip


#: Slices of the per-joint heatmap (columns).
JOINT_SLICES = OKS_CURVE_SLICES


def per_joint_table(models: Sequence[DiagnosedModel], slices: Sequence[str] = JOINT_SLICES) -> pd.DataFrame:
    """One row per model, slice and joint: labelled joints of persons matched at OKS 0.5 (n), the
    shares with ks >= 0.5 and >= 0.85, and the mean ks (NaN when n = 0)."""
    rows = []
    for name, m in zip(series_names(models), models, strict=True):
        for slice_name in slices:
            for joint, v in m.diagnosis.slices[slice_name].per_joint.items():
                rows.append(
                    {
                        "model": name,
                        "slice": slice_name,
                        "joint": joint,
                        "n": v["n"],
                        **{k: np.nan if v[k] is None else v[k] for k in ("ks_0.5", "ks_0.85", "mean_ks")},
                    }
                )
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
    desc = (
        f"Per joint: {label}, over the labelled joints of persons of the slice matched at OKS 0.5 "
        f"(ks = exp(-d^2 / (2 area (2 sigma)^2))); {what}; n/a: no such joint"
    )
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
        ece = "n/a" if c["ece"] is None else f"{c['ece']:.3f}"
        mce = "n/a" if c["mce"] is None else f"{c['mce']:.3f}"
        notes.append(f"{name}: ECE {ece}, MCE {mce} over {c['n']} detections")
        if not bins:  # no detection in the slice: nothing to draw (the caption says so), no empty legend entry
            continue
        fig.add_scatter(
            x=[b["confidence"] for b in bins],
            y=[b["accuracy"] for b in bins],
            mode="lines+markers",
            name=name,
            line={"color": OKABE_ITO[i % len(OKABE_ITO)]},
            customdata=[b["n"] for b in bins],
            hovertemplate="score %{x:.2f}: %{y:.2f} matched (%{customdata} detections)<extra></extra>",
        )
    fig.update_xaxes(range=[0, 1.02])
    fig.update_yaxes(range=[0, 1.02])
    text = (
        f"{slice_name}: per score bin (ten equal-width bins of [0, 1]), the share of the slice's detections "
        "matched at OKS 0.5 against the bin's mean score; ECE = sum of (n_b / N) |accuracy_b - confidence_b|, "
        "MCE = the largest gap; " + "; ".join(notes)
    )
    return finish(fig, title=f"Score calibration: {slice_name}", caption=_join(text, caption), x_title="score",
                  y_title="matched at OKS 0.5")  # fmt: skip


def size_bins_table(models: Sequence[DiagnosedModel]) -> pd.DataFrame:
    """One row per model and bin of sqrt(area): persons (n_gt), AP / AP50 / AP75 (%, NaN without
    persons), missed persons at OKS 0.1 and 0.5, the shares of the split's persons and of its missed
    persons falling in the bin, and the bin's miss rates (see ``analysis.evaluation.size_curve``)."""
    rows = []
    for name, m in zip(series_names(models), models, strict=True):
        curve = m.diagnosis.by_size
        if curve is None:
            continue
        total = sum(b.n_gt for b in curve.bins)
        missed = sum(b.missed for b in curve.bins)
        missed_50 = sum(b.missed_50 for b in curve.bins)
        for b in curve.bins:
            rows.append({
                "model": name, "bin": b.label, "n_gt": b.n_gt,
                **{k: np.nan if v is None else 100 * v for k, v in (("AP", b.ap), ("AP50", b.ap50), ("AP75", b.ap75))},
                "missed": b.missed, "missed@0.5": b.missed_50,
                "persons share": b.n_gt / total if total else np.nan,
                "missed share": b.missed / missed if missed else np.nan,
                "missed@0.5 share": b.missed_50 / missed_50 if missed_50 else np.nan,
                "miss rate": b.missed / b.n_gt if b.n_gt else np.nan,
                "miss rate@0.5": b.missed_50 / b.n_gt if b.n_gt else np.nan,
            })  # fmt: skip
    return pd.DataFrame(rows)


def _edge_positions(models: Sequence[DiagnosedModel], bins: Sequence[tuple[float, float | None]]) -> list[tuple]:
    """(x on the category axis, label) of the size definition's small/medium and medium/large edges."""
    edges = models[0].diagnosis.definitions.size.edges
    out = []
    for area, label in ((edges.small_medium, "S|M"), (edges.medium_large, "M|L")):
        side = float(np.sqrt(area))
        for i, (lo, hi) in enumerate(bins):
            if side >= lo and (hi is None or side < hi):
                frac = 0.0 if hi is None else (side - lo) / (hi - lo)
                out.append((i - 0.5 + frac, f"{label} {side:g} px"))
    return out


def _mark_edges(
    fig: go.Figure,
    models: Sequence[DiagnosedModel],
    bins: Sequence[tuple[float, float | None]],
    label_y: float = 1.0,
) -> None:
    """Dotted lines at the size definition's edges (where they fall in the shown bins), labelled at
    ``label_y`` (paper; top-anchored at 1.0, else centred there)."""
    for x, label in _edge_positions(models, bins):
        fig.add_shape(type="line", x0=x, x1=x, y0=0, y1=1, xref="x", yref="paper",
                      line={"dash": "dot", "color": "#555555", "width": 1})  # fmt: skip
        fig.add_annotation(
            x=x,
            y=label_y,
            xref="x",
            yref="paper",
            text=label,
            showarrow=False,
            xanchor="left",
            yanchor="top" if label_y >= 1.0 else "middle",
            xshift=2,
            font={"color": "#333333"},
            bgcolor="rgba(255,255,255,0.8)",
        )


def _size_axis(
    models: Sequence[DiagnosedModel], table: pd.DataFrame
) -> tuple[pd.DataFrame, list[str], list[tuple[float, float | None]], str]:
    """The table and the bins from the first to the last bin with persons (any model): the bins
    beyond would only widen the axis; empty bins in between stay (no point there)."""
    curve = next(m.diagnosis.by_size for m in models if m.diagnosis.by_size is not None)
    populated = np.flatnonzero([any(m.diagnosis.by_size and m.diagnosis.by_size.bins[i].n_gt for m in models)
                                for i in range(len(curve.bins))])  # fmt: skip
    lo, hi = (int(populated[0]), int(populated[-1]) + 1) if len(populated) else (0, len(curve.bins))
    shown = curve.bins[lo:hi]
    labels = [b.label for b in shown]
    return table[table["bin"].isin(labels)], labels, [(b.lo, b.hi) for b in shown], curve.area_source


def ap_by_size_figure(models: Sequence[DiagnosedModel], *, caption: str = "") -> go.Figure:
    """AP (%) per bin of sqrt(area), a line per model, above the persons per bin (bars, per split)."""
    table = size_bins_table(models)
    if table.empty:
        return empty_figure("no evaluated model selected")
    table, labels, bins, area = _size_axis(models, table)
    fig = go.Figure()
    for i, name in enumerate(dict.fromkeys(table["model"])):
        part = table[table["model"] == name]
        fig.add_scatter(x=labels, y=part["AP"].to_numpy(float), mode="lines+markers", name=name, yaxis="y",
                        line={"color": OKABE_ITO[i % len(OKABE_ITO)]}, customdata=part["n_gt"].to_numpy(),
                        hovertemplate="sqrt(area) %{x} px: AP %{y:.1f} (n_gt %{customdata})<extra>" + name
                        + "</extra>")  # fmt: skip
    splits = dict.fromkeys(m.key for m in models)
    for j, key in enumerate(splits):
        first = next(name for name, m in zip(series_names(models), models, strict=True) if m.key == key)
        n = table[table["model"] == first]["n_gt"].to_numpy()
        fig.add_bar(x=labels, y=n, yaxis="y2", name=f"persons ({key})" if len(splits) > 1 else "persons (n_gt)",
                    marker={"color": ["#999999", "#555555", "#CCCCCC"][j % 3]}, text=[str(v) if v else "" for v in n],
                    textposition="outside", cliponaxis=False, textfont={"size": 9},
                    hovertemplate="sqrt(area) %{x} px: %{y} persons<extra></extra>")  # fmt: skip
    top = float(table["n_gt"].max()) or 1.0
    fig.update_layout(
        yaxis={"domain": [0.36, 1.0], "range": [0, 102], "title": {"text": "AP (%)"}},
        yaxis2={"domain": [0.0, 0.26], "range": [0, top * 1.35], "title": {"text": "persons"}},
        xaxis={"anchor": "y2", "tickangle": -60, "type": "category"}, barmode="group",
    )  # fmt: skip
    _mark_edges(fig, models, bins, label_y=0.31)  # in the gap between the panels: never over a line
    text = (
        f"AP (OKS 0.50:0.95, %) per bin of sqrt({area} area) in px (lo <= sqrt(area) < hi), each bin a COCO "
        "keypoint evaluation with areaRng set to the bin (persons outside ignored; detections outside, by the "
        "box around their keypoints, ignored unless matched); no point: no person in the bin; bars: persons "
        "per bin (n_gt); dotted: the size definition's S/M and M/L edges; bins beyond the largest and below "
        "the smallest person not drawn"
    )
    fig = finish(fig, title="AP vs person size", caption=_join(text, caption), x_title="", y_title="")
    fig.update_layout(xaxis_title_text=f"sqrt({area} area) (px)", yaxis_title_text="AP (%)",
                      yaxis2_title_text="persons")  # fmt: skip
    return fig


def missed_by_size_figure(models: Sequence[DiagnosedModel], *, caption: str = "") -> go.Figure:
    """Share of all persons per bin of sqrt(area) (grey) against the share of each model's missed
    persons (at OKS 0.1 solid, at OKS 0.5 hatched)."""
    table = size_bins_table(models)
    if table.empty:
        return empty_figure("no evaluated model selected")
    table, labels, bins, area = _size_axis(models, table)
    fig = go.Figure()
    splits = dict.fromkeys(m.key for m in models)
    names = series_names(models)
    for j, key in enumerate(splits):
        first = next(name for name, m in zip(names, models, strict=True) if m.key == key)
        part = table[table["model"] == first]
        fig.add_bar(x=labels, y=100 * part["persons share"].to_numpy(float),
                    name=f"all persons ({key})" if len(splits) > 1 else "all persons",
                    marker={"color": ["#999999", "#555555", "#CCCCCC"][j % 3]}, customdata=part["n_gt"].to_numpy(),
                    hovertemplate="%{x} px: %{y:.1f}% of persons (%{customdata})<extra></extra>")  # fmt: skip
    notes = []
    for i, name in enumerate(dict.fromkeys(table["model"])):
        part = table[table["model"] == name]
        color = OKABE_ITO[i % len(OKABE_ITO)]
        for column, count, pattern, what in (
            ("missed share", "missed", "", "missed at OKS 0.1"),
            ("missed@0.5 share", "missed@0.5", "/", "missed at OKS 0.5"),
        ):
            fig.add_bar(x=labels, y=100 * part[column].to_numpy(float), name=f"{name}: {what}",
                        marker={"color": color, "pattern": {"shape": pattern, "fgcolor": "white"}},
                        customdata=part[count].to_numpy(),
                        hovertemplate="%{x} px: %{y:.1f}% of the missed (%{customdata})<extra></extra>")  # fmt: skip
        notes.append(f"{name}: {int(part['missed'].sum())} missed at OKS 0.1, {int(part['missed@0.5'].sum())} "
                     f"at OKS 0.5, of {int(part['n_gt'].sum())} persons")  # fmt: skip
    fig.update_layout(barmode="group", bargap=0.15, bargroupgap=0.0)
    fig.update_xaxes(tickangle=-60, type="category")
    _mark_edges(fig, models, bins)
    text = (
        f"Per bin of sqrt({area} area) in px: the share (%) of all persons of the evaluation (crowd regions and "
        "persons without keypoints excluded) and the share of the missed persons, i.e. persons no detection "
        "matches at OKS 0.1 (the diagnosis' false negatives) or at OKS 0.5, on the matching without size "
        "restriction; bins beyond the largest and below the smallest person not drawn; " + "; ".join(notes)
    )
    return finish(fig, title="Size of missed persons", caption=_join(text, caption),
                  x_title=f"sqrt({area} area) (px)", y_title="share (%)")  # fmt: skip
