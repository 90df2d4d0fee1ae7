r"""LaTeX text for captions and booktabs tables.

Captions and cells go through ``analysis.latex.latex_text`` (notation in math mode,
specials escaped; shared with ``evaluate --table-latex``).  Tables: integers as integers with ``{,}``
thousands, shares with 3 decimals or as percentages, NaN as --, never ``-0.00``,
headers without snake_case.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import SupportsInt

import numpy as np
import pandas as pd

from analysis.latex import latex_text


def header_text(column: object) -> str:
    """A readable header: snake_case words separated by spaces."""
    return latex_text(str(column).replace("_", " "))


def _integer(v: SupportsInt) -> str:
    return f"{int(v):,}".replace(",", "{,}")


def _fixed(v: float, digits: int, suffix: str = "") -> str:
    text = f"{v:.{digits}f}"
    if float(text) == 0:
        text = text.lstrip("-")  # never -0.00
    return text + suffix


def _column_cells(values: pd.Series, *, share: bool, percent: bool, digits: int) -> tuple[list[str], bool]:
    """Cells of one column and whether it is numeric (right-aligned)."""
    dtype = values.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return [latex_text(str(v)) for v in values], False
    if pd.api.types.is_integer_dtype(dtype):
        return ["--" if pd.isna(v) else _integer(v) for v in values], True
    if pd.api.types.is_float_dtype(dtype):
        cells = []
        for v in values.to_numpy(dtype=float):
            if not math.isfinite(v):
                cells.append("--")
            elif share and percent:
                cells.append(_fixed(100 * v, 1, r"\,\%"))
            else:
                cells.append(_fixed(v, 3 if share else digits))
        return cells, True
    return ["--" if v is None or (isinstance(v, float) and np.isnan(v)) else latex_text(str(v)) for v in values], False


def _printed_value(cell: str) -> float:
    r"""The number a cell prints (``1{,}234``, ``45.7``, ``12.5\,\%``); NaN for ``--`` or text."""
    text = cell.replace("{,}", "").replace(r"\,\%", "")
    try:
        return float(text)
    except ValueError:
        return float("nan")


def _bold_max(cells: list[str], groups: Sequence[object] | None = None) -> list[str]:
    """Cells printing the largest value of their group (every row when ``groups`` is None)
    in bold, compared as printed (45.67 and 45.71 both print 45.7: both bold); a group of
    one row has no bold."""
    v = np.array([_printed_value(c) for c in cells])
    keys = pd.Series(list(groups) if groups is not None else [0] * len(cells))
    out = list(cells)
    for rows in keys.groupby(keys, sort=False).indices.values():
        finite = [i for i in rows if np.isfinite(v[i])]
        if len(rows) < 2 or not finite:  # one row: nothing it is best among
            continue
        best = max(v[i] for i in finite)
        for i in finite:
            if v[i] == best:
                out[i] = rf"\textbf{{{cells[i]}}}"
    return out


def table_latex(
    table: pd.DataFrame,
    *,
    caption: str = "",
    label: str = "",
    digits: int = 2,
    shares: Sequence[str] = (),
    percent: bool = False,
) -> str:
    """A booktabs ``table`` environment.

    Args:
        table: the values; integer columns print as integers, float columns with
            ``digits`` decimals; text left-aligned, numbers right-aligned.
        caption: plain-text caption (notation to math, specials escaped).
        label: ``\\label`` key.
        shares: columns holding shares in [0, 1]: 3 decimals, or with ``percent``
            as percentages with one decimal (header marked (%)).

    A table may carry hints in ``table.attrs["latex"]`` (as figures carry their caption
    in ``layout.meta``): ``digits`` (overrides ``digits``), ``bold_max`` (columns whose
    largest printed value is set in bold, ties included), ``group_by`` (a column whose
    runs of equal values are groups: a ``\\midrule`` between them, the bold best within
    each) and ``headers`` (column -> LaTeX header, verbatim, e.g. ``AP$^{S}$``).
    """
    hints = table.attrs.get("latex") or {}
    digits = int(hints.get("digits", digits))
    verbatim = dict(hints.get("headers") or {})
    bold = {c for c in hints.get("bold_max") or () if c in table.columns}
    group_by = hints.get("group_by")
    groups = list(table[group_by]) if group_by in table.columns else None
    columns = list(table.columns)
    cells, numeric = [], []
    for col in columns:
        c, n = _column_cells(table[col], share=col in shares, percent=percent, digits=digits)
        if col in bold:
            c = _bold_max(c, groups)
        cells.append(c)
        numeric.append(n)
    rows = [" & ".join(row) + r" \\" for row in zip(*cells, strict=True)]
    if groups is not None:  # a rule where the group changes
        rows = [(r"\midrule" + "\n" if i and groups[i] != groups[i - 1] else "") + row for i, row in enumerate(rows)]
    headers = [verbatim.get(c) or header_text(c) + (r" (\%)" if percent and c in shares else "") for c in columns]
    return _table_environment(caption, label, "".join("r" if n else "l" for n in numeric), headers, rows)


def _table_environment(caption: str, label: str, align: str, headers: list[str], rows: list[str]) -> str:
    """The ``table`` environment around a booktabs ``tabular`` (``align``: one l/r per column)."""
    lines = [r"\begin{table}[t]", r"\centering"]
    if caption:
        lines.append(rf"\caption{{{latex_text(caption)}}}")
    if label:
        lines.append(rf"\label{{{label}}}")
    lines += [
        r"\begin{tabular}{" + align + "}",
        r"\toprule",
        " & ".join(headers) + r" \\",
        r"\midrule",
        *rows,
        r"\bottomrule",
        r"\end{tabular}",
        r"\end{table}",
    ]
    return "\n".join(lines) + "\n"
