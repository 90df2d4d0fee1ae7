"""The SmallPose paper's Table 5 layout: rows models, columns AP per slice.

:func:`table5_frame` is the one table function the CLI and the dashboard share;
:func:`table5_csv` and :func:`table5_latex` write it as papers print it
(percentages with one decimal, the best value per column in bold).
:data:`REPORTED_TABLE5` holds the rows the paper reports, kept apart from
computed rows and always labelled "reported in the SmallPose paper".
"""

from __future__ import annotations

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


def table5_frame(results: Sequence[tuple[str, EvaluationResult]]) -> pd.DataFrame:
    """One row per model: AP per Table 5 column in percent (NaN for an empty slice),
    then the ground-truth person count of each column's slice.

    Args:
        results: (row label, result) pairs, in row order.

    Returns:
        Index ``model``; columns :data:`TABLE5_COLUMNS` (float, 0-100) then
        ``n_gt <column>`` (int) for each.
    """
    rows = []
    for label, result in results:
        row: dict[str, object] = {"model": label}
        for column, name in TABLE5_COLUMNS.items():
            ap = result.slices[name].ap
            row[column] = np.nan if ap is None else 100.0 * ap
        for column, name in TABLE5_COLUMNS.items():
            row[n_gt_column(column)] = result.slices[name].n_gt
        rows.append(row)
    columns = ["model", *TABLE5_COLUMNS, *(n_gt_column(c) for c in TABLE5_COLUMNS)]
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
    out[ap_columns] = out[ap_columns].round(1)
    return out.to_csv(float_format="%.1f")


def table5_latex(frame: pd.DataFrame, caption: str) -> str:
    """A booktabs table of the AP columns: percent with one decimal, the best per column
    in bold, "--" for an empty slice; a second line under each header gives n_gt when
    every row has the same count (the same dataset), else the counts go in the caption."""
    ap_columns = [c for c in TABLE5_COLUMNS if c in frame.columns]
    lines = [
        "\\begin{table}[t]",
        "\\centering",
        f"\\caption{{{_latex_escape(caption)}}}",
        "\\begin{tabular}{l" + "r" * len(ap_columns) + "}",
        "\\toprule",
        "Model & " + " & ".join(LATEX_HEADERS[c] for c in ap_columns) + " \\\\",
    ]
    counts = [n_gt_column(c) for c in ap_columns]
    if all(c in frame.columns for c in counts) and len(frame) and (frame[counts].nunique() == 1).all():
        lines.append(
            "$n_{gt}$ & " + " & ".join(f"{int(frame[c].iloc[0]):,}".replace(",", "{,}") for c in counts) + " \\\\"
        )
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
            cells.append(f"\\textbf{{{text}}}" if round(value, 1) == best[c] else text)
        lines.append(f"{_latex_escape(str(model))} & " + " & ".join(cells) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}", "\\end{table}"]
    return "\n".join(lines) + "\n"


_LATEX_SPECIALS = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
    "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "<": r"\textless{}", ">": r"\textgreater{}",
}  # fmt: skip
_LATEX_RE = re.compile("|".join(re.escape(c) for c in _LATEX_SPECIALS))


def _latex_escape(text: str) -> str:
    """Text-mode LaTeX for a label or caption (one pass, so replacements are not re-escaped)."""
    return _LATEX_RE.sub(lambda m: _LATEX_SPECIALS[m.group(0)], text)
