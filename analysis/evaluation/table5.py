"""The SmallPose paper's Table 5 layout: rows models, columns AP per slice.

:func:`table5_frame` is the one table function the CLI and the dashboard share;
:func:`table5_csv` and :func:`table5_latex` write it as papers print it
(percentages with one decimal, the best value per column in bold).
:data:`REPORTED_TABLE5` holds the rows the paper reports, kept apart from
computed rows and always labelled "reported in the SmallPose paper".
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.evaluation.slices import EvaluationResult

#: Table 5 column -> slice name.
TABLE5_COLUMNS: dict[str, str] = {
    "AP": "all",
    "AP^S": "small",
    "AP^M": "medium",
    "AP^L": "large",
    "AP^S_Sp": "small/sparse",
    "AP^S_Mo": "small/moderate",
    "AP^S_De": "small/dense",
    "AP^E": "crowd/easy",
    "AP^M(crowd)": "crowd/medium",
    "AP^H": "crowd/hard",
}
#: LaTeX headers of the columns.
LATEX_HEADERS: dict[str, str] = {
    "AP": "AP",
    "AP^S": "AP$^S$",
    "AP^M": "AP$^M$",
    "AP^L": "AP$^L$",
    "AP^S_Sp": "AP$^S_{Sp}$",
    "AP^S_Mo": "AP$^S_{Mo}$",
    "AP^S_De": "AP$^S_{De}$",
    "AP^E": "AP$^E$",
    "AP^M(crowd)": "AP$^{M}_{crowd}$",
    "AP^H": "AP$^H$",
}
REPORTED_LABEL = "reported in the SmallPose paper"


def n_gt_column(column: str) -> str:
    """The name of the ground-truth count column of a Table 5 column."""
    return f"n_gt {column}"


def ci_columns(column: str) -> tuple[str, str]:
    """The names of the interval bound columns of a Table 5 column (present with a bootstrap)."""
    return f"ci_lo {column}", f"ci_hi {column}"


class IntervalStyle(enum.StrEnum):
    """How a cell shows its interval."""

    BRACKET = "bracket"  #: ``67.1 [66.4, 67.8]``
    PM = "pm"  #: ``67.1 ± 0.7``: half the interval's width
    NONE = "none"  #: ``67.1``


def interval_cell(value: float, lo: float | None, hi: float | None, style: str, pm: str = "±") -> str:
    """A percent value with its interval in ``style`` (one decimal)."""
    return f"{value:.1f}" + interval_suffix(lo, hi, style, pm)


def interval_suffix(lo: float | None, hi: float | None, style: str, pm: str = "±") -> str:
    """What follows a value in ``style``: `` [66.4, 67.8]``, `` ± 0.7``, or nothing."""
    if style == "none" or lo is None or hi is None or np.isnan(lo) or np.isnan(hi):
        return ""
    if style == "pm":
        return f" {pm} {(hi - lo) / 2:.1f}"
    return f" [{lo:.1f}, {hi:.1f}]"


def few_persons(n_gt: int) -> bool:
    """Whether a slice rests on few persons (marked with a dagger in every table and figure)."""
    from analysis.evaluation.bootstrap import FEW_PERSONS

    return 0 < n_gt < FEW_PERSONS


def table5_frame(results: Sequence[tuple[str, EvaluationResult]]) -> pd.DataFrame:
    """One row per model: AP per Table 5 column in percent (NaN for an empty slice),
    then the ground-truth person count of each column's slice.

    Args:
        results: (row label, result) pairs, in row order.

    Returns:
        Index ``model``; columns :data:`TABLE5_COLUMNS` (float, 0-100) then
        ``n_gt <column>`` (int) for each; when any result has bootstrap intervals,
        also ``ci_lo <column>`` and ``ci_hi <column>`` (percent, NaN where none).
    """
    with_ci = any(r.bootstrap is not None for _, r in results)
    rows = []
    for label, result in results:
        row: dict[str, object] = {"model": label}
        for column, name in TABLE5_COLUMNS.items():
            ap = result.slices[name].ap
            row[column] = np.nan if ap is None else 100.0 * ap
        for column, name in TABLE5_COLUMNS.items():
            row[n_gt_column(column)] = result.slices[name].n_gt
        if with_ci:
            for column, name in TABLE5_COLUMNS.items():
                ci = (result.slices[name].ci or {}).get("AP")
                lo, hi = ci_columns(column)
                row[lo], row[hi] = (np.nan, np.nan) if ci is None else (100.0 * ci[0], 100.0 * ci[1])
        rows.append(row)
    columns = ["model", *TABLE5_COLUMNS, *(n_gt_column(c) for c in TABLE5_COLUMNS)]
    if with_ci:
        columns += [name for c in TABLE5_COLUMNS for name in ci_columns(c)]
    return pd.DataFrame(rows, columns=columns).set_index("model")


@dataclass(frozen=True)
class ReportedRow:
    """One row of the SmallPose paper's Table 5 (values in percent; None = not reported)."""

    model: str
    values: dict[str, float | None]
    note: str = ""


#: SimpleBaseline ResNet-50 tested on SmallPose test, as the SmallPose paper reports it.
REPORTED_TABLE5: tuple[ReportedRow, ...] = (
    ReportedRow(
        "SimpleBaseline R50, trained on COCO",
        {
            "AP": 43.2,
            "AP^S": 32.4,
            "AP^M": 50.5,
            "AP^L": 77.3,
            "AP^S_Sp": 8.8,
            "AP^S_Mo": 33.9,
            "AP^S_De": 0.1,
        },
    ),
    ReportedRow(
        "SimpleBaseline R50, trained on SmallPose",
        {
            "AP": 68.2,
            "AP^S": 65.9,
            "AP^M": 69.1,
            "AP^L": 79.7,
            "AP^S_Sp": 32.8,
            "AP^S_Mo": 69.4,
            "AP^S_De": 26.0,
        },
    ),
    ReportedRow(
        "SimpleBaseline R50, trained on five SmallPose subsets sized like COCO train",
        {},
        note="AP 67.0-67.1 over the five subsets (supplementary material, section 8.3); no per-slice values",
    ),
)


def reported_table5_frame() -> pd.DataFrame:
    """:data:`REPORTED_TABLE5` in :func:`table5_frame`'s AP columns, plus ``note`` and ``source``."""
    rows = [
        {
            "model": r.model,
            **{c: r.values.get(c, np.nan) for c in TABLE5_COLUMNS},
            "note": r.note,
            "source": REPORTED_LABEL,
        }
        for r in REPORTED_TABLE5
    ]
    frame = pd.DataFrame(rows, columns=["model", *TABLE5_COLUMNS, "note", "source"]).set_index("model")
    frame[list(TABLE5_COLUMNS)] = frame[list(TABLE5_COLUMNS)].astype(float)
    return frame


def table5_csv(frame: pd.DataFrame) -> str:
    """CSV of :func:`table5_frame` (percent with one decimal, empty for an empty slice)."""
    out = frame.copy()
    ap_columns = [c for c in TABLE5_COLUMNS if c in out.columns]
    ap_columns += [name for c in ap_columns for name in ci_columns(c) if name in out.columns]
    out[ap_columns] = out[ap_columns].round(1)
    return out.to_csv(float_format="%.1f")


def table5_latex(frame: pd.DataFrame, caption: str, interval_style: str = "bracket") -> str:
    """A booktabs table of the AP columns: percent with one decimal, the best per column
    in bold, "--" for an empty slice; a second line under each header gives n_gt when
    every row has the same count (the same dataset), else the counts go in the caption.
    With interval columns, each cell carries its interval in ``interval_style``
    (:class:`IntervalStyle`); slices with few persons carry a dagger, explained in the caption."""
    ap_columns = [c for c in TABLE5_COLUMNS if c in frame.columns]
    notes = []
    if interval_style == "pm" and any(ci_columns(c)[0] in frame.columns for c in ap_columns):
        notes.append("$\\pm$: half the width of the bootstrap interval")
    if any(few_persons(int(n)) for c in ap_columns if n_gt_column(c) in frame.columns for n in frame[n_gt_column(c)]):
        from analysis.evaluation.bootstrap import FEW_PERSONS

        notes.append(f"$^\\dagger$: the slice has fewer than {FEW_PERSONS} persons")
    lines = [
        "\\begin{table}[t]",
        "\\centering",
        f"\\caption{{{_latex_escape(caption)}{''.join('; ' + n for n in notes)}}}",
        "\\begin{tabular}{l" + "r" * len(ap_columns) + "}",
        "\\toprule",
        "Model & " + " & ".join(LATEX_HEADERS[c] for c in ap_columns) + " \\\\",
    ]
    counts = [n_gt_column(c) for c in ap_columns]
    count_row = all(c in frame.columns for c in counts) and len(frame) and (frame[counts].nunique() == 1).all()
    if count_row:
        cells = [f"{int(frame[c].iloc[0]):,}".replace(",", "{,}") + _dagger(int(frame[c].iloc[0])) for c in counts]
        lines.append("$n_{gt}$ & " + " & ".join(cells) + " \\\\")
    lines.append("\\midrule")
    best = {c: frame[c].round(1).max() for c in ap_columns}
    for model, row in frame.iterrows():
        cells = []
        for c in ap_columns:
            value = row[c]
            if pd.isna(value):
                cells.append("--")
                continue
            text = f"{value:.1f}"
            text = f"\\textbf{{{text}}}" if round(value, 1) == best[c] else text
            lo, hi = ci_columns(c)
            if lo in frame.columns:
                text += interval_suffix(row[lo], row[hi], interval_style, pm="$\\pm$")
            if not count_row and n_gt_column(c) in frame.columns:
                text += _dagger(int(row[n_gt_column(c)]))
            cells.append(text)
        lines.append(f"{_latex_escape(str(model))} & " + " & ".join(cells) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}", "\\end{table}"]
    return "\n".join(lines) + "\n"


def _dagger(n_gt: int) -> str:
    return "$^\\dagger$" if few_persons(n_gt) else ""


_LATEX_SPECIALS = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
    "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "<": r"\textless{}", ">": r"\textgreater{}",
}  # fmt: skip
_LATEX_RE = re.compile("|".join(re.escape(c) for c in _LATEX_SPECIALS))


def _latex_escape(text: str) -> str:
    """Text-mode LaTeX for a label or caption (one pass, so replacements are not re-escaped)."""
    return _LATEX_RE.sub(lambda m: _LATEX_SPECIALS[m.group(0)], text)
