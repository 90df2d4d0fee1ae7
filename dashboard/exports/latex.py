r"""LaTeX text for captions and booktabs tables.

Captions and cells go through ``analysis.latex.latex_text`` (notation in math mode,
specials escaped; shared with ``evaluate --table-latex``).  Tables: integers as integers with ``{,}``
thousands, shares with 3 decimals or as percentages, NaN as --, never ``-0.00``,
headers without snake_case.
"""

from __future__ import annotations

import math
import re
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
    each) and ``headers`` (column -> LaTeX header, verbatim, e.g. ``AP$^{S}$``).  Hints that
    make a wide table fit a plain ``article``'s ``\\textwidth``: ``truncate`` (column -> the
    number of leading characters printed, e.g. a hash; the CSV keeps the full value), ``wrap``
    (column -> a width such as ``4cm``: each cell a ragged-right ``\\parbox`` of that width),
    ``stack_headers`` (multi-word headers on lines of up to 10 letters), ``compact``
    (``\\small`` and ``\\tabcolsep`` 4pt) and ``notes_in_caption`` (a note column printed as
    letters (a), (b), ... after the rows' first cells, the notes themselves in the caption),
    ``column_blocks`` (the columns that say what a row is, e.g. ``["model", "slice"]``:
    when the table's estimated width exceeds :data:`TEXTWIDTH_PT`, its other columns are
    split into blocks that fit, stacked one under the other in the same ``table``, each
    repeating those columns; the CSV keeps one table).
    """
    hints = table.attrs.get("latex") or {}
    digits = int(hints.get("digits", digits))
    for col, n in (hints.get("truncate") or {}).items():  # e.g. a hash: its first n characters
        if col in table.columns:
            table = table.assign(**{col: table[col].astype(str).str[: int(n)]})
    wrap = {c: str(w) for c, w in (hints.get("wrap") or {}).items() if c in table.columns}
    note_column = hints.get("notes_in_caption")
    if note_column in table.columns:  # a long note per row: a letter on the row, the note in the caption
        table, caption = _notes_in_caption(table, str(note_column), caption)
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
        if col in wrap:  # a long text column: lines of at most the given width
            c = [rf"\parbox[t]{{{wrap[col]}}}{{\raggedright {cell}}}" for cell in c]
        cells.append(c)
        numeric.append(n)
    headers = [verbatim.get(c) or header_text(c) + (r" (\%)" if percent and c in shares else "") for c in columns]
    if hints.get("stack_headers"):  # a header no wider than its longest word (or 10 letters)
        headers = [
            h if c in verbatim else _stacked(h, "r" if n else "l")
            for c, h, n in zip(columns, headers, numeric, strict=True)
        ]
    compact = bool(hints.get("compact"))
    keys = [columns.index(c) for c in hints.get("column_blocks") or () if c in columns]
    blocks = _column_blocks(headers, cells, keys, compact) if keys else [list(range(len(columns)))]
    tabulars = []
    for block in blocks:
        rows = [" & ".join(row) + r" \\" for row in zip(*(cells[i] for i in block), strict=True)]
        if groups is not None:  # a rule where the group changes
            rows = [(r"\midrule" + "\n" if i and groups[i] != groups[i - 1] else "") + r for i, r in enumerate(rows)]
        align = "".join("r" if numeric[i] else "l" for i in block)
        tabulars.append((align, [headers[i] for i in block], rows))
    return _table_environment(caption, label, tabulars, compact=compact)


#: An article's ``\textwidth`` (10 pt ``article``), points.
TEXTWIDTH_PT = 345.0


def _width_pt(text: str, compact: bool) -> float:
    r"""A rough printed width of a cell or header (points): its visible characters at 5.5 pt
    (Computer Modern 10 pt, a little over its average: 5 pt underestimates headers such as
    "AP at OKS 0.50"), a stacked header by its longest line, a ``\parbox`` by its width, plus
    the two ``\tabcolsep``; ``compact``: ``\small`` and 4 pt gaps."""
    wrapped = re.match(r"\\parbox\[t\]\{([\d.]+)cm\}", text)  # a wrapped cell: its box's width
    if wrapped:
        return float(wrapped[1]) * 72.27 / 2.54 + (8.0 if compact else 12.0)
    lines = text.removeprefix(r"\begin{tabular}[b]").removesuffix(r"\end{tabular}").split(r" \\ ")
    visible = max(len(re.sub(r"\\[a-zA-Z]+|[{}$^_]|@\{\}|\[[a-z]\]", "", line)) for line in lines)
    return visible * 5.5 * (0.9 if compact else 1.0) + (8.0 if compact else 12.0)


def _column_blocks(headers: list[str], cells: list[list[str]], keys: list[int], compact: bool) -> list[list[int]]:
    """Column indices per stacked block: the ``keys`` columns (which say what a row is) in
    every block, the other columns in order, as many per block as fit :data:`TEXTWIDTH_PT`
    by :func:`_width_pt` (at least one each).  One block when the whole table fits."""
    widths = [max(_width_pt(t, compact) for t in [h, *c]) for h, c in zip(headers, cells, strict=True)]
    room = TEXTWIDTH_PT - sum(widths[i] for i in keys)
    blocks: list[list[int]] = []
    used = room
    for i in (i for i in range(len(headers)) if i not in keys):
        if not blocks or used + widths[i] > room:
            blocks.append([])
            used = 0.0
        blocks[-1].append(i)
        used += widths[i]
    return [sorted([*keys, *block]) for block in blocks] or [list(range(len(headers)))]


def with_hints(table: pd.DataFrame, **hints: object) -> pd.DataFrame:
    """``table`` (a shallow copy: a cached frame stays as it is) with ``hints`` added to its
    ``attrs["latex"]`` (see :func:`table_latex`); the CSV ignores them."""
    out = table.copy(deep=False)
    out.attrs = {**table.attrs, "latex": {**(table.attrs.get("latex") or {}), **hints}}
    return out


def _notes_in_caption(table: pd.DataFrame, column: str, caption: str) -> tuple[pd.DataFrame, str]:
    """``table`` without its note ``column``: each row with a note gets ``(a)``, ``(b)``, ...
    after its first cell, and the caption lists the notes by letter."""
    notes = table[column].fillna("").astype(str)
    letters = {int(i): chr(ord("a") + n) for n, i in enumerate(np.flatnonzero(notes.str.len() > 0))}
    first = table.columns[0]
    out = table.drop(columns=[column])
    marks = pd.Series(["" if i not in letters else f" ({letters[i]})" for i in range(len(out))], index=out.index)
    out[first] = out[first].astype(str) + marks
    listed = "; ".join(f"({letter}) {notes.iloc[i]}" for i, letter in letters.items())
    return out, "; ".join(part for part in (caption, listed) if part)


def _stacked(header: str, align: str) -> str:
    r"""``header``'s words on lines of up to 10 letters (a longer word on its own), as a
    bottom-aligned inner ``tabular`` (no package needed); one line stays as it is."""
    lines: list[str] = []
    for word in header.split(" "):
        if lines and len(lines[-1]) + 1 + len(word) <= 10:
            lines[-1] += " " + word
        else:
            lines.append(word)
    if len(lines) < 2:
        return header
    return rf"\begin{{tabular}}[b]{{@{{}}{align}@{{}}}}" + r" \\ ".join(lines) + r"\end{tabular}"


#: What ``compact`` tables set inside their ``table``: a smaller font and narrower gaps between columns.
COMPACT = (r"\small", r"\setlength{\tabcolsep}{4pt}")


def _table_environment(
    caption: str, label: str, tabulars: list[tuple[str, list[str], list[str]]], *, compact: bool = False
) -> str:
    """The ``table`` environment around booktabs ``tabular``\\ s, one under the other
    (``(align, headers, rows)`` each; ``align``: one l/r per column; ``compact``:
    :data:`COMPACT` for a table that is too wide otherwise)."""
    lines = [r"\begin{table}[t]", r"\centering"]
    if caption:
        lines.append(rf"\caption{{{latex_text(caption)}}}")
    if label:
        lines.append(rf"\label{{{label}}}")
    lines += [*(COMPACT if compact else ())]
    for n, (align, headers, rows) in enumerate(tabulars):
        lines += [
            *([r"\par\medskip"] if n else []),  # a column block under the one before
            r"\begin{tabular}{" + align + "}",
            r"\toprule",
            " & ".join(headers) + r" \\",
            r"\midrule",
            *rows,
            r"\bottomrule",
            r"\end{tabular}",
        ]
    lines.append(r"\end{table}")
    return "\n".join(lines) + "\n"
