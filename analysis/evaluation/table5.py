"""The SmallPose paper's Table 5 layout: rows models, columns AP per slice.

:func:`table5_frame` is the one table function the CLI and the dashboard share;
:func:`table5_csv` and :func:`table5_latex` write it as papers print it
(percentages with one decimal, the best value per column in bold).
:data:`REPORTED_TABLE5` holds the rows the paper reports, kept apart from
computed rows and always labelled "reported in the SmallPose paper".
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from analysis.evaluation.slices import EvaluationResult

if TYPE_CHECKING:  # the frames are built only for --table-csv/--table-latex and the dashboard
    import pandas as pd

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
#: The columns the SmallPose paper's Table 5 prints: the default of ``evaluate --columns``
#: and of the models export.
PAPER_COLUMNS: tuple[str, ...] = ("AP", "AP^S", "AP^M", "AP^L", "AP^S_Sp", "AP^S_Mo", "AP^S_De")


def column_code(column: str) -> str:
    """A column's name on the command line: ``AP^S_Sp`` -> ``APS_Sp``, ``AP^M(crowd)`` -> ``APM_crowd``."""
    return column.replace("^", "").replace("(crowd)", "_crowd")


def parse_columns(text: str) -> tuple[str, ...]:
    """``AP,APS,APS_Sp`` -> Table 5 columns (case-insensitive); ValueError naming an unknown code."""
    codes = {column_code(c).lower(): c for c in TABLE5_COLUMNS}
    wanted = [t.strip() for t in text.split(",") if t.strip()]
    unknown = [t for t in wanted if t.lower() not in codes]
    if unknown or not wanted:
        raise ValueError(
            f"unknown Table 5 column {', '.join(unknown) or '(none)'} "
            f"(use {','.join(column_code(c) for c in TABLE5_COLUMNS)})"
        )
    return tuple(dict.fromkeys(codes[t.lower()] for t in wanted))


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
    import pandas as pd

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
    import pandas as pd

    frame = pd.DataFrame(rows, columns=["model", *TABLE5_COLUMNS, "note", "source"]).set_index("model")
    frame[list(TABLE5_COLUMNS)] = frame[list(TABLE5_COLUMNS)].astype(float)
    return frame


def select_columns(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """:func:`table5_frame` with only ``columns`` (their counts and intervals kept)."""
    keep = [*columns, *(n_gt_column(c) for c in columns), *(n for c in columns for n in ci_columns(c))]
    return frame[[c for c in keep if c in frame.columns]]


def table5_csv(frame: pd.DataFrame) -> str:
    """CSV of :func:`table5_frame` (percent with one decimal, empty for an empty slice)."""
    out = frame.copy()
    ap_columns = [c for c in TABLE5_COLUMNS if c in out.columns]
    ap_columns += [name for c in ap_columns for name in ci_columns(c) if name in out.columns]
    out[ap_columns] = out[ap_columns].round(1)
    return out.to_csv(float_format="%.1f")


def table5_latex(
    frame: pd.DataFrame,
    caption: str,
    interval_style: str = "bracket",
    *,
    columns: Sequence[str] = PAPER_COLUMNS,
    test_sets: Sequence[str] | None = None,
    label: str = "tab:table5",
) -> str:
    """Table 5 as papers print it: the one LaTeX writer of ``evaluate --table-latex`` and
    the dashboard's models export.

    Rows are grouped by test set (``test_sets``: one display label per row, e.g.
    ``CrowdPose/val``; a ``\\midrule`` and the set's name between groups).  Each group
    opens with one ``$n_{gt}$`` row (the ground-truth persons of each column's slice; a
    range when the group's rows differ); the best value of each column **within a group,
    as printed** (one decimal) is bold, ties all bold, a group of one row none.  ``--``:
    the slice has no ground truth.  With interval columns, each cell carries its interval
    in ``interval_style`` (:class:`IntervalStyle`); slices with few persons carry a dagger
    on their count, explained in the caption.  Caption and labels: math mode for the
    notation (``analysis.latex.latex_text``), specials escaped.

    Args:
        frame: :func:`table5_frame`'s rows.
        caption: plain text.
        columns: Table 5 columns, in order (default :data:`PAPER_COLUMNS`).
        test_sets: per row, its test set's display label (None: one group).
        label: the ``\\label`` key.
    """
    from analysis.latex import latex_text

    ap_columns = [c for c in columns if c in frame.columns]
    groups = list(test_sets) if test_sets is not None else [""] * len(frame)
    if len(groups) != len(frame):
        raise ValueError(f"{len(groups)} test sets for {len(frame)} rows")
    order = list(dict.fromkeys(groups))
    counted = [n_gt_column(c) for c in ap_columns if n_gt_column(c) in frame.columns]
    notes = _latex_notes(frame, ap_columns, counted, interval_style)
    stacked = interval_style == IntervalStyle.BRACKET and any(ci_columns(c)[0] in frame.columns for c in ap_columns)
    lines = [
        "\\begin{table}[t]",
        "\\centering",
        f"\\caption{{{latex_text('; '.join([caption, *notes]))}}}",
        f"\\label{{{label}}}",
        *([f"\\setlength{{\\tabcolsep}}{{{BRACKET_TABCOLSEP_PT:g}pt}}"] if stacked else []),
        "\\begin{tabular}{l" + "r" * len(ap_columns) + "}",
        "\\toprule",
        "Model & " + " & ".join(LATEX_HEADERS[c] for c in ap_columns) + " \\\\",
    ]
    for group in order:
        rows = frame.iloc[[i for i, g in enumerate(groups) if g == group]]
        named = bool(group) and (len(order) > 1 or test_sets is not None)
        lines += _latex_group(rows, group if named else "", ap_columns, bool(counted), interval_style)
    lines += ["\\bottomrule", "\\end{tabular}", "\\end{table}"]
    if stacked:  # the row labels wrap to what the interval columns leave of the text width
        wrap = _model_wrap_pt([str(m) for m in frame.index], len(ap_columns))
        if wrap is not None:
            lines = [_wrapped_label(x, wrap) for x in lines]
    return "\n".join(lines) + "\n"


#: Bracketed intervals (``[66.4, 67.8]``) sit on a second line in ``\scriptsize`` under each
#: value, in columns ``\tabcolsep`` apart: as many as fit an article's ``\textwidth``.
BRACKET_TABCOLSEP_PT = 2.0
#: An article's ``\textwidth`` (10 pt ``article``), points.
ARTICLE_TEXTWIDTH_PT = 345.0
#: A column holding ``[66.4,\,67.8]`` in ``\scriptsize`` with its two ``\tabcolsep``, points
#: (measured with pdflatex: 7 columns and a 47 pt label column fill 345 pt).
BRACKET_COLUMN_PT = 42.0
#: A row label narrower than this is never wrapped (the table then runs wide: 8 or more
#: bracketed columns do not fit; ``pm`` or ``none`` do).
MIN_LABEL_PT = 42.0


def _model_wrap_pt(models: list[str], n_columns: int) -> float | None:
    """The width (pt) the model labels wrap to beside ``n_columns`` bracketed columns, or None
    where the longest label (estimated at 5.5 pt a character, Computer Modern 10 pt) fits."""
    room = max(ARTICLE_TEXTWIDTH_PT - n_columns * BRACKET_COLUMN_PT - 2 * BRACKET_TABCOLSEP_PT, MIN_LABEL_PT)
    longest = max((5.5 * len(m) for m in models), default=0.0)
    return None if longest <= room else room


def _wrapped_label(line: str, width_pt: float) -> str:
    """A model row (its cells stacked in inner tabulars) with its label in a ragged-right
    ``\\parbox`` of ``width_pt``; every other line unchanged."""
    label, sep, rest = line.partition(" & ")
    if not sep or "\\begin{tabular}[t]" not in rest:
        return line
    # \hspace{0pt}: TeX never hyphenates a paragraph's first word otherwise ("SimpleBaseline")
    return f"\\parbox[t]{{{width_pt:g}pt}}{{\\raggedright\\hspace{{0pt}}{label}}}{sep}{rest}"


def _latex_notes(frame: pd.DataFrame, ap_columns: list[str], counted: list[str], interval_style: str) -> list[str]:
    """The caption's notes on what the table's marks mean (±, dagger, --), those it uses."""
    notes = []
    if interval_style == "pm" and any(ci_columns(c)[0] in frame.columns for c in ap_columns):
        notes.append("± half the width of the bootstrap interval")
    if any(few_persons(int(n)) for c in counted for n in frame[c]):
        from analysis.evaluation.bootstrap import FEW_PERSONS

        notes.append(f"† the slice has fewer than {FEW_PERSONS} persons")
    if frame[ap_columns].isna().to_numpy().any():
        notes.append("--: no ground truth in the slice")
    return notes


def _latex_group(rows: pd.DataFrame, name: str, ap_columns: list[str], counted: bool, interval_style: str) -> list[str]:
    """One test set's lines: a rule, its name (when ``name``), the $n_{gt}$ row, one row per model
    with the best printed value of each column bold (when the group has several rows)."""
    from analysis.latex import latex_escape

    lines = ["\\midrule"]
    if name:
        lines.append(f"\\multicolumn{{{1 + len(ap_columns)}}}{{l}}{{\\textit{{{latex_escape(name)}}}}} \\\\")
    stacked = interval_style == IntervalStyle.BRACKET and any(ci_columns(c)[0] in rows.columns for c in ap_columns)
    if counted:
        counts = [_count_cell(rows, c) for c in ap_columns]
        if stacked:  # as small as the intervals under the values: a range fits the column
            counts = [f"{{\\scriptsize {c}}}" if c else c for c in counts]
        lines.append("$n_{gt}$ & " + " & ".join(counts) + " \\\\")
    printed = {
        c: [None if empty else f"{v:.1f}" for v, empty in zip(rows[c], rows[c].isna(), strict=True)] for c in ap_columns
    }
    best = {c: max((float(t) for t in printed[c] if t is not None), default=None) for c in ap_columns}
    for i, (model, row) in enumerate(rows.iterrows()):
        cells = []
        for c in ap_columns:
            text = printed[c][i]
            if text is None:
                cells.append("--")
                continue
            if len(rows) > 1 and float(text) == best[c]:
                text = f"\\textbf{{{text}}}"
            lo, hi = ci_columns(c)
            if stacked:  # the interval on a second line under the value, in \scriptsize
                text = _stacked_cell(text, row[lo], row[hi])
            elif lo in rows.columns:
                text += interval_suffix(row[lo], row[hi], interval_style, pm="$\\pm$")
            cells.append(text)
        lines.append(f"{latex_escape(str(model))} & " + " & ".join(cells) + " \\\\")
    return lines


def _stacked_cell(value: str, lo: float, hi: float) -> str:
    """A value over its ``[lo, hi]`` in ``\\scriptsize`` (a thin space after the comma), in a
    nested tabular aligned on the row's first line; the value alone without an interval."""
    if lo is None or hi is None or np.isnan(lo) or np.isnan(hi):
        return value
    return f"\\begin{{tabular}}[t]{{@{{}}c@{{}}}}{value}\\\\{{\\scriptsize [{lo:.1f},\\,{hi:.1f}]}}\\end{{tabular}}"


def _count_cell(rows: pd.DataFrame, column: str) -> str:
    """The group's ground-truth count of a column's slice (``lo--hi`` when its rows differ)."""
    name = n_gt_column(column)
    if name not in rows.columns:
        return ""
    counts = rows[name].astype(int)
    lo, hi = int(counts.min()), int(counts.max())
    text = _thousands(lo) if lo == hi else f"{_thousands(lo)}--{_thousands(hi)}"
    return text + ("$^\\dagger$" if any(few_persons(int(n)) for n in counts) else "")


def _thousands(n: int) -> str:
    return f"{n:,}".replace(",", "{,}")
