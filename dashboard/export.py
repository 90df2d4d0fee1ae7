"""Paper export: the paper theme for figures, kaleido SVG / PNG, PDF, CSV and LaTeX.
No streamlit import.  ``python -m dashboard.export`` is the command
(``dashboard.exports.cli``); ``dashboard.exports`` holds what each view exports.

The paper theme draws no title and no caption inside the image: the caption (the
definitions used) goes to the LaTeX ``\\caption`` and the captions file.  Fonts are
sized in points for a 3.5 in column or a 7.16 in page width; axes, legend and labels
reserve their own margins (plotly's automargin), so nothing overlaps or is clipped
(``tests/dashboard/exports/test_layout.py`` measures every exported figure).

SVG and PNG come from kaleido (Chromium).  PDF is the same SVG converted by cairo
(cairosvg): vector hatch patterns stay vector (Chromium's own PDF rasterises them into
megabytes).  SVG output is made byte-stable by renaming plotly's random per-render ids.
"""

from __future__ import annotations

import functools
import re
import warnings
from dataclasses import dataclass

import pandas as pd
import plotly.graph_objects as go

from dashboard.exports.items import slug
from dashboard.exports.latex import table_latex as _table_latex
from dashboard.figures.common import DASHES, PATTERNS

FORMATS = ("png", "svg", "pdf")
MIME = {"png": "image/png", "svg": "image/svg+xml", "pdf": "application/pdf",
        "csv": "text/csv", "tex": "application/x-tex", "zip": "application/zip",
        "txt": "text/plain"}
#: CSS pixels per inch (kaleido / Chromium): a 3.5 in figure is 336 px wide.
PX_PER_INCH = 96
PX_PER_POINT = PX_PER_INCH / 72
PNG_DPI = 300
SERIF = "Times New Roman, Times, Liberation Serif, DejaVu Serif, serif"


@dataclass(frozen=True)
class Preset:
    """A paper figure size; font sizes in points at that printed size."""

    name: str
    width_in: float
    height_in: float
    font_pt: float

    @property
    def width_px(self) -> int:
        return round(self.width_in * PX_PER_INCH)

    @property
    def height_px(self) -> int:
        return round(self.height_in * PX_PER_INCH)

    @property
    def font_px(self) -> float:
        return round(self.font_pt * PX_PER_POINT, 2)


PRESETS = {
    "single": Preset("single column (3.5 in)", 3.5, 2.6, 8.0),
    "double": Preset("double column (7.16 in)", 7.16, 3.0, 9.0),
}


@functools.cache
def _ensure_server() -> None:
    """Start kaleido's sync server once per process (Chromium starts once, not per figure)."""
    import kaleido

    kaleido.start_sync_server(silence_warnings=True)


def _log_axis() -> dict:
    """Only powers of ten labelled (1, 10, 100 / 0.01, 0.1, 1), unlabelled minor ticks."""
    return {"dtick": 1, "exponentformat": "power", "minor": {"ticks": "outside", "ticklen": 2, "dtick": "D1"}}


def paper_figure(fig: go.Figure, preset: str = "single") -> go.Figure:
    """A copy of ``fig`` in the paper theme.

    Serif font sized in points, white background, thin axes, the preset's size, no
    title and no caption (they belong to the LaTeX caption), the legend in one row
    above the plot, every axis reserving room for its labels, traces keeping their
    colours plus a hatch / dash per dataset (greyscale), overlaid bars side by side.
    """
    p = PRESETS[preset]
    size = p.font_px
    out = go.Figure(fig)
    out.update_layout(
        template="simple_white",
        title_text="",
        font={"family": SERIF, "size": size, "color": "black"},
        width=p.width_px,
        height=p.height_px,
        legend={"font": {"size": size}, "orientation": "h", "x": 0.0, "xanchor": "left",
                "y": 1.0, "yanchor": "bottom",
                "itemwidth": 30, "entrywidthmode": "pixels", "tracegroupgap": 0, "title_text": ""},
        margin={"l": 4, "r": 4, "t": 4, "b": 4, "pad": 0, "autoexpand": True},
        bargap=0.15,
    )
    out.update_xaxes(automargin=True, title_font_size=size, tickfont_size=size - 1, title_standoff=4,
                     ticklen=3)
    out.update_yaxes(automargin=True, title_font_size=size, tickfont_size=size - 1, title_standoff=4,
                     ticklen=3)
    for name in ("xaxis", "yaxis", *[k for k in out.layout.to_plotly_json() if re.fullmatch(r"[xy]axis\d+", k)]):
        axis = out.layout[name]
        if axis is not None and axis.type == "log":
            axis.update(_log_axis())
    for ann in out.layout.annotations:  # subplot titles and edge labels: the body size
        ann.font.size = min(size, ann.font.size or size)
        ann.font.color = "black"
    if out.layout.barmode == "overlay" and sum(t.type == "bar" for t in out.data) > 1:
        out.layout.barmode = "group"  # overlaid translucent bars do not read on paper
    names: dict[str, int] = {}
    for n, trace in enumerate(out.data):
        trace.uid = f"t{n}"  # plotly draws a random uid into the SVG otherwise
        index = names.setdefault(trace.name or "", len(names))
        if trace.type == "bar":
            shape = trace.marker.pattern.shape if trace.marker.pattern else None
            shape = PATTERNS[index % len(PATTERNS)] if shape is None else shape
            trace.marker.line = {"color": "black", "width": 0.5}
            trace.marker.pattern = {"shape": shape, "size": 5, "solidity": 0.25, "fgcolor": "black",
                                    "fillmode": "overlay"}
            trace.opacity = 1.0
        elif trace.type == "heatmap":
            trace.colorbar.update(title_font_size=size, tickfont_size=size - 1, thickness=10)
        elif trace.type == "scatter" and trace.mode and "lines" in trace.mode:
            trace.line.width = 1.25
            if not trace.line.dash:
                trace.line.dash = DASHES[index % len(DASHES)]
    visible = {t.name for t in out.data if t.showlegend is not False and t.name}
    if len(visible) <= 1 and out.layout.showlegend is None:
        out.layout.showlegend = False  # one series: the caption names it
    return out


_ID_DEF = re.compile(rb'\bid="([^"]+)"')
_ID_REF = re.compile(rb'(\bid="|url\(["\']?#|href="#)([^"\')]+)')


def stable_svg(svg: bytes) -> bytes:
    """Rename every element id (plotly's random per-render clip-path, pattern and defs
    ids) to ``i<n>`` in order of first definition, references included."""
    names: dict[bytes, bytes] = {}
    for m in _ID_DEF.finditer(svg):
        names.setdefault(m.group(1), b"i%d" % len(names))
    return _ID_REF.sub(lambda m: m.group(1) + names.get(m.group(2), m.group(2)), svg)


def figure_bytes(fig: go.Figure, fmt: str, preset: str = "single") -> bytes:
    """PNG (300 dpi), SVG or PDF bytes of ``fig`` in the paper theme."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown figure format {fmt!r} (use one of {', '.join(FORMATS)})")
    import plotly.io as pio

    _ensure_server()
    paper = paper_figure(fig, preset)
    with warnings.catch_warnings():  # plotly passes options a running server ignores
        warnings.filterwarnings("ignore", message="The kopts argument is ignored")
        if fmt == "png":
            return pio.to_image(paper, format="png", scale=PNG_DPI / PX_PER_INCH)
        svg = stable_svg(pio.to_image(paper, format="svg"))
    if fmt == "svg":
        return svg
    import cairosvg

    return cairosvg.svg2pdf(bytestring=svg)


def table_csv(table: pd.DataFrame) -> bytes:
    return table.to_csv(index=False, lineterminator="\n").encode("utf-8")


def table_latex(table: pd.DataFrame, *, caption: str = "", label: str = "", digits: int = 2,
                shares: tuple[str, ...] = (), percent: bool = False) -> str:
    """A booktabs table (see ``dashboard.exports.latex.table_latex``)."""
    return _table_latex(table, caption=caption, label=label, digits=digits, shares=shares, percent=percent)


__all__ = ["FORMATS", "MIME", "PRESETS", "Preset", "figure_bytes", "paper_figure", "slug", "stable_svg",
           "table_csv", "table_latex"]

if __name__ == "__main__":  # python -m dashboard.export
    from dashboard.exports.cli import main

    raise SystemExit(main())
