"""Paper export: a paper theme for figures, kaleido PNG / SVG / PDF, CSV and LaTeX
(booktabs) tables, and a zip of every figure of a view.  No streamlit import.

Kaleido drives Chromium (``/usr/bin/chromium`` on Debian); its sync server is
started once per process, lazily, on the first export.
"""

from __future__ import annotations

import functools
import io
import re
import warnings
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import pandas as pd
import plotly.graph_objects as go

from dashboard.figures.common import DASHES, PATTERNS, caption_of

FORMATS = ("png", "svg", "pdf")
MIME = {"png": "image/png", "svg": "image/svg+xml", "pdf": "application/pdf",
        "csv": "text/csv", "tex": "application/x-tex", "zip": "application/zip"}
#: CSS pixels per inch (kaleido / Chromium): a 3.5 in figure is 336 px wide.
PX_PER_INCH = 96
PNG_DPI = 300


@dataclass(frozen=True)
class Preset:
    name: str
    width_in: float
    height_in: float
    font_size: int


PRESETS = {
    "single": Preset("single column (3.5 in)", 3.5, 2.6, 8),
    "double": Preset("double column (7.16 in)", 7.16, 3.2, 9),
}

@functools.cache
def _ensure_server() -> None:
    """Start kaleido's sync server once per process (Chromium starts once, not per figure)."""
    import kaleido

    kaleido.start_sync_server(silence_warnings=True)


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "figure"


def paper_figure(fig: go.Figure, preset: str = "single", *, caption: str | None = None) -> go.Figure:
    """A copy of ``fig`` in the paper theme.

    Serif font, white background, thin axes, the preset's size, traces keeping their
    colour-blind-safe colours plus a pattern / dash per legend entry (so they also
    read in greyscale), and the definitions as a caption line under the plot.
    """
    p = PRESETS[preset]
    out = go.Figure(fig)
    caption = caption_of(fig) if caption is None else caption
    out.update_layout(
        template="simple_white",
        font={"family": "Times New Roman, Times, serif", "size": p.font_size, "color": "black"},
        title={"font": {"size": p.font_size + 1}},
        width=int(p.width_in * PX_PER_INCH),
        height=int(p.height_in * PX_PER_INCH),
        legend={"font": {"size": p.font_size - 1}, "orientation": "h", "y": 1.0, "yanchor": "bottom",
                "x": 1.0, "xanchor": "right"},
        margin={"l": 45, "r": 8, "t": 40, "b": 40 + 12 * _caption_lines(caption, p)},
    )
    names: dict[str, int] = {}
    for trace in out.data:
        name = trace.name or ""
        index = names.setdefault(name, len(names))
        if trace.type == "bar":
            trace.marker.line = {"color": "black", "width": 0.5}
            if not (trace.marker.pattern and trace.marker.pattern.shape):
                trace.marker.pattern = {"shape": PATTERNS[index % len(PATTERNS)]}
            trace.opacity = 1.0 if out.layout.barmode != "overlay" else trace.opacity
        elif trace.type == "scatter" and trace.mode and "lines" in trace.mode:
            if not (trace.line and trace.line.dash):
                trace.line.dash = DASHES[index % len(DASHES)]
    if caption:
        out.add_annotation(
            text=_wrap(caption, p), xref="paper", yref="paper", x=0, y=0, xanchor="left",
            yanchor="top", yshift=-28, showarrow=False, align="left",
            font={"size": p.font_size - 2, "color": "#333333"},
        )
    return out


def _chars_per_line(p: Preset) -> int:
    return int(p.width_in * PX_PER_INCH / (0.5 * (p.font_size - 2))) - 2


def _caption_lines(caption: str, p: Preset) -> int:
    return max(1, _wrap(caption, p).count("<br>") + 1) if caption else 0


def _wrap(caption: str, p: Preset) -> str:
    width = _chars_per_line(p)
    lines, line = [], ""
    for word in caption.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    if line:
        lines.append(line)
    return "<br>".join(lines)


def figure_bytes(fig: go.Figure, fmt: str, preset: str = "single") -> bytes:
    """PNG (300 dpi), SVG or PDF bytes of ``fig`` in the paper theme."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown figure format {fmt!r} (use one of {', '.join(FORMATS)})")
    import plotly.io as pio

    _ensure_server()
    paper = paper_figure(fig, preset)
    scale = PNG_DPI / PX_PER_INCH if fmt == "png" else 1
    with warnings.catch_warnings():  # plotly passes options a running server ignores
        warnings.filterwarnings("ignore", message="The kopts argument is ignored")
        return pio.to_image(paper, format=fmt, scale=scale)


def table_csv(table: pd.DataFrame) -> bytes:
    return table.to_csv(index=False).encode("utf-8")


# The Styler escapes cells and headers; the caption is ours to escape.
_LATEX_CAPTION_ESCAPES = str.maketrans({
    "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
    "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "\\": r"\textbackslash{}",
})


def table_latex(table: pd.DataFrame, *, caption: str = "", label: str = "", digits: int = 2) -> str:
    """A booktabs ``table`` environment (pandas' Styler): numbers right-aligned,
    text left, LaTeX specials escaped, NaN as --, thousands as {,}.

    A table may carry hints for its LaTeX form in ``table.attrs["latex"]`` (as figures
    carry their caption in ``layout.meta``): ``digits`` (overrides ``digits``),
    ``bold_max`` (columns whose best, i.e. largest, value is set in bold) and
    ``headers`` (column -> LaTeX header, used verbatim, e.g. ``AP$^{S}$``).
    """
    hints = table.attrs.get("latex") or {}
    digits = int(hints.get("digits", digits))
    headers = dict(hints.get("headers") or {})
    numeric = [pd.api.types.is_numeric_dtype(table[c]) and not pd.api.types.is_bool_dtype(table[c])
               for c in table.columns]
    styler = (
        table.style.hide(axis="index")
        .format(precision=digits, na_rep="--", thousands="{,}", escape="latex")
        .format_index(lambda c: headers.get(c) or str(c).translate(_LATEX_CAPTION_ESCAPES), axis=1)
    )
    bold = [c for c in hints.get("bold_max") or () if c in table.columns]
    if bold:
        styler = styler.highlight_max(subset=bold, props="textbf:--rwrap;")
    return styler.to_latex(
        column_format="".join("r" if n else "l" for n in numeric),
        hrules=True,  # booktabs \toprule / \midrule / \bottomrule
        position="t",
        position_float="centering",
        caption=caption.translate(_LATEX_CAPTION_ESCAPES) or None,
        label=label or None,
        environment="table",
    )


def figures_zip(
    figures: Sequence[tuple[str, go.Figure]],
    *,
    preset: str = "single",
    formats: Iterable[str] = FORMATS,
    tables: Sequence[tuple[str, pd.DataFrame, str]] = (),
    progress: Callable[[float, str], None] | None = None,
) -> bytes:
    """Every figure in every format (and every table as CSV + LaTeX) in one zip.

    Args:
        figures: (name, figure) pairs; names become file stems.
        tables: (name, table, caption) triples.
        progress: called with (fraction done, what is being written).
    """
    formats = list(formats)
    jobs = [(name, fig, fmt) for name, fig in figures for fmt in formats]
    total = max(1, len(jobs) + len(tables))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        done = 0
        for name, fig, fmt in jobs:
            if progress:
                progress(done / total, f"{name}.{fmt}")
            zf.writestr(f"{slug(name)}.{fmt}", figure_bytes(fig, fmt, preset))
            done += 1
        for name, table, caption in tables:
            if progress:
                progress(done / total, f"{name}.csv / .tex")
            zf.writestr(f"{slug(name)}.csv", table_csv(table))
            zf.writestr(f"{slug(name)}.tex", table_latex(table, caption=caption, label=f"tab:{slug(name)}"))
            done += 1
        captions = "\n".join(f"{slug(n)}: {caption_of(f)}" for n, f in figures)
        zf.writestr("CAPTIONS.txt", captions + "\n")
    if progress:
        progress(1.0, "done")
    return buf.getvalue()
