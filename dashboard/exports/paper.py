"""Paper export bytes: the paper theme for figures, kaleido SVG / PNG, cairo PDF, CSV.
No streamlit import.  ``python -m dashboard.export`` is the command (``dashboard.exports.cli``);
LaTeX tables are ``dashboard.exports.latex``.

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
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dashboard.figures.common import DASHES, PATTERNS

FORMATS: tuple[str, ...] = ("png", "svg", "pdf")
MIME = {
    "png": "image/png",
    "svg": "image/svg+xml",
    "pdf": "application/pdf",
    "csv": "text/csv",
    "tex": "application/x-tex",
    "zip": "application/zip",
    "txt": "text/plain",
}
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


def close_renderer() -> str | None:
    """Stop kaleido's Chromium if this process started it.  Never raises: a clean-up
    problem (its temporary profile folder, ``Directory not empty: 'Default'``) comes back
    as one line for a note, and what the clean-up printed is kept off the terminal."""
    if not _ensure_server.cache_info().currsize:
        return None
    import contextlib
    import io

    import kaleido

    printed = io.StringIO()
    try:
        with contextlib.redirect_stderr(printed), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            kaleido.stop_sync_server(silence_warnings=True)
    except Exception as exc:
        return f"Chromium clean-up: {type(exc).__name__}: {exc}"
    finally:
        _ensure_server.cache_clear()
    lines = printed.getvalue().strip().splitlines()
    return f"Chromium clean-up: {lines[-1]}" if lines else None


_SI = {3: "k", 6: "M", 9: "G"}


def _power_label(e: int, si: bool) -> str:
    if si and e >= 3:
        return f"{10 ** (e % 3)}{_SI.get(e - e % 3, f'e{e - e % 3}')}"
    return f"{10.0**e:,.{max(0, -e)}f}" if e >= -3 else f"1e{e}"


def log_ticks(lo: float, hi: float) -> tuple[list[float], list[str]]:
    """Tick values and labels of a log axis spanning [lo, hi] (> 0): only powers of ten,
    as plain numbers (0.01, 0.1, 1, 10, 100, 1,000, 10,000), or, when the axis reaches
    10^5, with SI suffixes from 1k on (10, 100, 1k, 10k, 100k, 1M): short, unambiguous,
    and drawn alike by every renderer (no superscript glyphs a PDF font may lack)."""
    first, last = int(np.floor(np.log10(lo))), int(np.ceil(np.log10(hi)))
    exponents = list(range(first, last + 1))
    si = last >= 5
    return [10.0**e for e in exponents], [_power_label(e, si) for e in exponents]


def _positive_range(fig: go.Figure, axis: str) -> tuple[float, float] | None:
    """Smallest and largest positive value the traces put on a layout axis (``xaxis``, ``yaxis2``)."""
    letter, ref = axis[0], axis[0] + axis[5:]
    values = [
        np.asarray(getattr(t, letter), dtype=float)
        for t in fig.data
        if getattr(t, letter) is not None and (getattr(t, f"{letter}axis", None) or letter) == ref
    ]
    v = np.concatenate(values) if values else np.empty(0)
    v = v[np.isfinite(v) & (v > 0)]
    return (float(v.min()), float(v.max())) if len(v) else None


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
        legend={
            "font": {"size": size},
            "orientation": "h",
            "x": 0.0,
            "xanchor": "left",
            "y": 1.0,
            "yanchor": "bottom",
            "tracegroupgap": 0,
            "title_text": "",
        },
        margin={"l": 4, "r": 4, "t": 4, "b": 4, "pad": 0, "autoexpand": True},
        bargap=0.15,
    )
    meta = fig.layout.meta if isinstance(fig.layout.meta, dict) else {}
    if preset in meta.get("horizontal_at", ()):
        _bars_across(out)
    aspect = meta.get("aspect")
    if aspect:  # a picture (qualitative panels): the figure takes its shape, never letterboxed
        out.update_layout(height=round(p.width_px * float(aspect)))
    out.update_xaxes(automargin=True, title_font_size=size, tickfont_size=size - 1, title_standoff=4, ticklen=3)
    out.update_yaxes(automargin=True, title_font_size=size, tickfont_size=size - 1, title_standoff=4, ticklen=3)
    _label_log_axes(out)
    for ann in out.layout.annotations:  # subplot titles and edge labels: the body size
        ann.font.size = min(size, ann.font.size or size)
        ann.font.color = "black"
    if out.layout.barmode == "overlay" and sum(t.type == "bar" for t in out.data) > 1:
        out.layout.barmode = "group"  # overlaid translucent bars do not read on paper
    names: dict[str, int] = {}
    for n, trace in enumerate(out.data):
        trace.uid = f"t{n}"  # plotly draws a random uid into the SVG otherwise
        _paper_trace(trace, names.setdefault(trace.name or "", len(names)), size)
    visible = list(dict.fromkeys(t.name for t in out.data if t.showlegend is not False and t.name))
    if len(visible) <= 1 and out.layout.showlegend is None:
        out.layout.showlegend = False  # one series: the caption names it
    elif out.layout.showlegend is not False:
        _fit_legend(out, visible, p)
    _fit_category_rows(out, p)
    return out


def _bars_across(out: go.Figure) -> None:
    """In place: grouped vertical bars over category ticks turned into horizontal bars, the
    categories down the y axis in their order, lines (a zero line) turned with them.  A figure
    asks for it per preset (``layout.meta["horizontal_at"]``) where its category labels
    (``AP^S_Sp`` ... ``AP^H``) would not fit side by side: on the y axis every label is
    horizontal and gets its row."""
    for trace in out.data:
        if trace.type != "bar":
            continue
        error = trace.error_y.to_plotly_json() if trace.error_y else None
        trace.update(x=trace.y, y=trace.x, orientation="h", error_y=None, error_x=error)
    beyond = {"bottom": "left", "top": "right"}  # a label above a bar's end goes right of it
    for ann in out.layout.annotations:  # "n/a" where a slice's bars would be, win shares
        if ann.xref in (None, "x") and ann.yref in (None, "y"):
            ann.update(x=ann.y, y=ann.x, xanchor=beyond.get(ann.yanchor or "", "left"), yanchor="middle")
    axis_of = str.maketrans("xy", "yx")  # "x domain" -> "y domain", "y" -> "x"
    for shape in out.layout.shapes:  # a zero line (``add_hline``) turns with the value axis
        xref, yref = (shape.xref or "x").translate(axis_of), (shape.yref or "y").translate(axis_of)
        shape.update(x0=shape.y0, x1=shape.y1, y0=shape.x0, y1=shape.x1, xref=yref, yref=xref)
    x, y = out.layout.xaxis.to_plotly_json(), out.layout.yaxis.to_plotly_json()
    out.layout.xaxis, out.layout.yaxis = y, {**x, "autorange": "reversed"}
    # the value axis' last label ("100") is centred on the plot's right edge: room for its half
    out.update_layout(margin_r=max(out.layout.margin.r or 0, round(1.5 * out.layout.font.size)))


def _label_log_axes(out: go.Figure) -> None:
    """In place: every log axis labelled at powers of ten only, unlabelled minor ticks between."""
    for name in ("xaxis", "yaxis", *[k for k in out.layout.to_plotly_json() if re.fullmatch(r"[xy]axis\d+", k)]):
        axis = out.layout[name]
        span = _positive_range(out, name) if axis is not None and axis.type == "log" else None
        if span is not None and axis.range is not None:  # an explicit range (log10 units) is labelled too
            span = (min(span[0], 10.0 ** axis.range[0]), max(span[1], 10.0 ** axis.range[1]))
        if span is not None:  # only powers of ten labelled, unlabelled minor ticks between
            values, texts = log_ticks(*span)
            axis.update(
                tickmode="array",
                tickvals=values,
                ticktext=texts,
                minor={"ticks": "outside", "ticklen": 2, "dtick": "D1", "showgrid": False},
            )


def _paper_trace(trace: Any, index: int, size: float) -> None:
    """In place: a trace in the paper theme; ``index`` numbers its legend name (its hatch / dash)."""
    if trace.type == "bar":
        shape = trace.marker.pattern.shape if trace.marker.pattern else None
        shape = PATTERNS[index % len(PATTERNS)] if shape is None else shape
        trace.marker.line = {"color": "black", "width": 0.5}
        colour = trace.marker.color
        trace.marker.pattern = (
            {"shape": shape, "size": 6, "solidity": 0.2, "fgcolor": "black", "bgcolor": colour, "fillmode": "replace"}
            if isinstance(colour, str)
            else {"shape": shape, "size": 6, "solidity": 0.2, "fgcolor": "black", "fillmode": "overlay"}
        )
        trace.opacity = 1.0
    elif trace.type == "heatmap":
        trace.colorbar.update(title_font_size=size, tickfont_size=size - 1, thickness=10)
    elif trace.type == "scatter" and trace.mode and "lines" in trace.mode:
        trace.line.width = 1.25
        if not trace.line.dash:
            trace.line.dash = DASHES[index % len(DASHES)]


#: One category row of a horizontal bar chart, in font sizes: its tick label and a gap.
_CATEGORY_ROW_EM = 1.25
#: The least height of one bar of a grouped horizontal bar chart, in font sizes.
_BAR_EM = 0.5
#: The share of a preset's height its plot area gets (legend, axis titles and margins take the rest).
_PLOT_SHARE = 0.6


def _fit_category_rows(fig: go.Figure, preset: Preset) -> None:
    """Horizontal bars over many categories (e.g. ten slices times several models): the
    figure grows so that every category's tick label gets a row of its own, and every bar
    of a group a visible height; plotly would otherwise draw them over each other at the
    preset's height."""
    bars = [t for t in fig.data if t.type == "bar" and t.orientation == "h" and t.y is not None]
    rows = {str(y) for t in bars for y in t.y}
    # grouped bars: a category's row holds one bar per trace, each at least _BAR_EM high
    row_em = max(_CATEGORY_ROW_EM, len(bars) * _BAR_EM + 0.5) if fig.layout.barmode == "group" else _CATEGORY_ROW_EM
    needed = len(rows) * row_em * preset.font_px
    height = fig.layout.height or preset.height_px
    if needed > _PLOT_SHARE * preset.height_px:
        fig.update_layout(height=round(height + needed - _PLOT_SHARE * preset.height_px))


#: Legend rows the preset heights leave room for; more rows make the figure taller.
LEGEND_ROWS_IN_PRESET = 2
#: An upper bound of a serif glyph's advance, in em (wider than most text; "W" is ~1 em).
_EM_PER_CHAR = 0.62
#: A legend entry's symbol and gaps, px (plotly: itemwidth 30 plus text gaps).
_ENTRY_PAD_PX = 42


def _fit_legend(fig: go.Figure, names: list[str], preset: Preset) -> None:
    """Every legend entry drawn, none scrolled away: plotly lays a horizontal legend out in
    columns as wide as its widest entry and, past its maximum height (half the figure),
    hides the rest behind a scroll bar that paper cannot scroll.  The legend may take the
    whole height, and the figure grows by the rows beyond ``LEGEND_ROWS_IN_PRESET`` (an
    estimate that errs towards more rows), so the plot keeps its height."""
    font = preset.font_px
    widest = max(len(n) for n in names) * _EM_PER_CHAR * font + _ENTRY_PAD_PX
    columns = max(1, int(preset.width_px * 0.88 // widest))  # the y axis takes the rest
    rows = -(-len(names) // columns)
    row_px = 1.6 * font + 2
    extra = max(0, rows - LEGEND_ROWS_IN_PRESET) * row_px
    fig.update_layout(height=round(preset.height_px + extra), legend_maxheight=1.0)


_ID_DEF = re.compile(rb'\bid="([^"]+)"')
_ID_REF = re.compile(rb'(\bid="|url\(["\']?#|href="#)([^"\')]+)')


def stable_svg(svg: bytes) -> bytes:
    """Rename every element id (plotly's random per-render clip-path, pattern and defs
    ids) to ``i<n>`` in order of first definition, references included."""
    names: dict[bytes, bytes] = {}
    for m in _ID_DEF.finditer(svg):
        names.setdefault(m.group(1), b"i%d" % len(names))
    return _ID_REF.sub(lambda m: m.group(1) + names.get(m.group(2), m.group(2)), svg)


_TEXT = re.compile(rb"<text\b[^>]*?font-size: ?([0-9.]+)px[^>]*>.*?</text>", re.S)
_EM = re.compile(rb'(dy|dx)="(-?[0-9.]+)em"')


def _cairo_ready(svg: bytes) -> bytes:
    """What cairo needs that Chromium does not: plotly's superscripts (``10³`` tick labels)
    in px instead of % / em, no zero-width space (cairo draws a missing-glyph box), and
    heatmap cells kept sharp (as in the browser)."""

    def fix(m: re.Match[bytes]) -> bytes:
        size = float(m.group(1))
        text = m.group(0).replace(b"font-size:70%", b"font-size:%.2fpx" % (0.7 * size))
        text = _EM.sub(lambda e: b'%s="%.2fpx"' % (e.group(1), float(e.group(2)) * size), text)
        return _anchored_at_start(text.replace("\u200b".encode(), b""), size)

    svg = _TEXT.sub(fix, svg)
    return _solid_under_patterns(_IMAGE.sub(_sharp_image, svg))


_ANCHOR = re.compile(rb'^(<text\b[^>]*?)text-anchor="(middle|end)"([^>]*?)\bx="(-?[0-9.]+)"([^>]*>)(.*)</text>$', re.S)
_FAMILY = re.compile(rb"font-family: ?['\"]?([^,'\";]+)")
_PIECE = re.compile(rb"<tspan\b([^>]*)>(.*?)</tspan>|([^<]+)", re.S)
_PIECE_SIZE = re.compile(rb"font-size: ?([0-9.]+)px")


def _anchored_at_start(text: bytes, size: float) -> bytes:
    """A centred (or end-anchored) label with superscripts or subscripts (``AP<sup>S</sup>``)
    anchored at its start instead.  cairosvg anchors the text and each ``tspan`` on its own
    width, so a superscript floats away from "AP"; here the whole label is measured the
    way cairosvg draws it (cairo's font, glyph advances summed) and its start moved left
    by half (or all) of that width.  Multi-line labels (``tspan``s with an ``x``) are left."""
    m = _ANCHOR.match(text)
    if m is None or b"<tspan" not in m.group(6) or re.search(rb"<tspan\b[^>]*\bx=", m.group(6)):
        return text
    import html

    import cairocffi as cairo

    family = _FAMILY.search(m.group(1) + m.group(3) + m.group(5))
    context = cairo.Context(cairo.ImageSurface(cairo.FORMAT_ARGB32, 1, 1))
    context.select_font_face(family.group(1).decode() if family else "sans-serif")
    width = 0.0
    for piece in _PIECE.finditer(m.group(6)):
        own = _PIECE_SIZE.search(piece.group(1) or b"")
        context.set_font_size(float(own.group(1)) if own else size)
        inner = piece.group(2) if piece.group(2) is not None else piece.group(3)
        content = html.unescape(re.sub(rb"<[^>]*>", b"", inner).decode())
        width += sum(context.text_extents(letter)[4] for letter in content)
    shift = width / 2 if m.group(2) == b"middle" else width
    x = b"%.2f" % (float(m.group(4)) - shift)
    return m.group(1) + b'text-anchor="start"' + m.group(3) + b'x="' + x + b'"' + m.group(5) + m.group(6) + b"</text>"


_PATTERN_BG = re.compile(rb'(<pattern id="([^"]+)"[^>]*>)<rect [^>]*?fill="([^"]+)"[^>]*/>')
_PATTERN = re.compile(
    rb'<pattern id="([^"]+)" width="([0-9.]+)px" height="([0-9.]+)px" patternUnits="userSpaceOnUse"'
    rb' patternTransform="(?:scale\(([0-9.]+)\))?">(.*?)</pattern>',
    re.S,
)
_PATTERN_FILLED = re.compile(rb"<path\b[^>]*?fill: url\('#([^']+)'\)[^>]*/>")
_PATH_D = re.compile(rb'\bd="([^"]+)"')
_PATH_TRANSFORM = re.compile(rb'\btransform="([^"]+)"')
#: an outline of straight segments in absolute coordinates (plotly's bars and legend swatches)
_STRAIGHT = re.compile(rb"^(?:[MLHVZ]|-?[0-9.]+(?:e-?[0-9]+)?|[ ,])+$")


@dataclass(frozen=True)
class _Tile:
    """One hatch pattern tile: its size in pattern units, its scale to user units, its marks."""

    width: float
    height: float
    scale: float
    marks: bytes


def _solid_under_patterns(svg: bytes) -> bytes:
    """Hatched shapes as a solid fill, the hatch marks drawn out, and the outline on top.
    Plotly fills them with an SVG pattern whose tile paints its own background; PDF
    viewers (poppler, cairo) render a pattern tile by tile and leave light seams where
    the tiles meet: the hatch lines break at every tile corner.  Here each shape gets a
    solid copy of its colour, then the tile's marks repeated over its bounding box and
    clipped to it (plain vector strokes: nothing to seam), then its stroke."""
    backgrounds: dict[bytes, bytes] = {}

    def strip(m: re.Match[bytes]) -> bytes:
        backgrounds[m.group(2)] = m.group(3)
        return m.group(1)

    svg = _PATTERN_BG.sub(strip, svg)
    tiles = {
        m.group(1): _Tile(float(m.group(2)), float(m.group(3)), float(m.group(4) or 1.0), m.group(5))
        for m in _PATTERN.finditer(svg)
    }
    drawn = 0

    def underlay(m: re.Match[bytes]) -> bytes:
        nonlocal drawn
        pattern, path = m.group(1), m.group(0)
        fill = b"fill: url('#" + pattern + b"')"
        colour = backgrounds.get(pattern)
        solid = b"" if colour is None else path.replace(fill, b"fill: " + colour)
        tile, d = tiles.get(pattern), _PATH_D.search(path)
        if tile is None or d is None or not _STRAIGHT.match(d.group(1)):
            return solid + path  # an outline this cannot bound: the pattern as plotly wrote it
        drawn += 1
        transform = _PATH_TRANSFORM.search(path)
        marks = _tiled_marks(tile, d.group(1), b"hatch%d" % drawn, transform.group(1) if transform else b"")
        return solid + marks + path.replace(fill, b"fill: none")

    return _PATTERN_FILLED.sub(underlay, svg)


def _tiled_marks(tile: _Tile, d: bytes, clip_id: bytes, transform: bytes) -> bytes:
    """The tile's marks at every tile position over the outline ``d``'s bounding box (one
    tile more on each side: marks reach over tile edges), clipped to the outline."""
    xs: list[float] = []
    ys: list[float] = []
    command, coordinates = b"M", 0  # M and L take x, y pairs; H an x; V a y
    for token in re.findall(rb"[MLHVZ]|-?[0-9.]+(?:e-?[0-9]+)?", d):
        if token.isalpha():
            command, coordinates = token, 0
            continue
        is_x = command == b"H" or (command in (b"M", b"L") and coordinates % 2 == 0)
        (xs if is_x else ys).append(float(token))
        coordinates += 1
    if not xs or not ys:
        return b""
    step_x, step_y = tile.width * tile.scale, tile.height * tile.scale
    columns = range(int(np.floor(min(xs) / step_x)) - 1, int(np.floor(max(xs) / step_x)) + 2)
    rows = range(int(np.floor(min(ys) / step_y)) - 1, int(np.floor(max(ys) / step_y)) + 2)
    copies = b"".join(
        b'<g transform="translate(%.3f,%.3f) scale(%g)">%s</g>' % (i * step_x, j * step_y, tile.scale, tile.marks)
        for j in rows
        for i in columns
    )
    own = b' transform="%s"' % transform if transform else b""
    return b'<clipPath id="%s"><path d="%s"%s/></clipPath><g clip-path="url(#%s)"><g%s>%s</g></g>' % (
        clip_id,
        d,
        own,
        clip_id,
        own,
        copies,
    )


_IMAGE = re.compile(
    rb'(<image\b[^>]*?height="([0-9.]+)" width="([0-9.]+)"[^>]*?href="data:image/png;base64,)'
    rb'([A-Za-z0-9+/=]+)"'
)
#: heatmap rasters are upscaled to this many pixels per CSS pixel (300 dpi)
_RASTER_SCALE = 3


def _sharp_image(m: re.Match[bytes]) -> bytes:
    """A heatmap's raster (one pixel per cell) upscaled nearest-neighbour: cairo's PDF
    asks viewers to interpolate images, which would blur the cells into each other."""
    import base64
    import io

    from PIL import Image

    height, width = float(m.group(2)), float(m.group(3))
    with Image.open(io.BytesIO(base64.b64decode(m.group(4)))) as im:
        size = (max(im.width, round(width * _RASTER_SCALE)), max(im.height, round(height * _RASTER_SCALE)))
        buf = io.BytesIO()
        im.resize(size, Image.Resampling.NEAREST).save(buf, format="PNG", optimize=True)
    return m.group(1) + base64.b64encode(buf.getvalue()) + b'"'


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
            return png_with_dpi(pio.to_image(paper, format="png", scale=PNG_DPI / PX_PER_INCH), PNG_DPI)
        svg = stable_svg(pio.to_image(paper, format="svg"))
    if fmt == "svg":
        return svg
    import cairosvg

    return pdf_with_fixed_date(cairosvg.svg2pdf(bytestring=_cairo_ready(svg)))


def png_with_dpi(png: bytes, dpi: int) -> bytes:
    """The PNG with a pHYs chunk (``dpi`` as pixels per metre) right after IHDR, replacing
    any, so Word and LaTeX without an explicit width place it at its intended size."""
    import struct
    import zlib

    signature, pos = png[:8], 8
    chunks = []
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind = png[pos + 4 : pos + 8]
        end = pos + 12 + length
        if kind != b"pHYs":
            chunks.append(png[pos:end])
        pos = end
    ppm = round(dpi / 0.0254)
    body = b"pHYs" + struct.pack(">IIB", ppm, ppm, 1)
    phys = struct.pack(">I", 9) + body + struct.pack(">I", zlib.crc32(body))
    return signature + chunks[0] + phys + b"".join(chunks[1:])


_PDF_DATE = re.compile(rb"/CreationDate \((D:[^)]*)\)")


def pdf_date() -> str:
    """The date written into PDFs: ``SOURCE_DATE_EPOCH`` when set, else 1980-01-01 (as the
    export zip's entries): the same caches and arguments give the same bytes."""
    import os
    import time

    epoch = int(os.environ.get("SOURCE_DATE_EPOCH") or 315532800)
    return time.strftime("D:%Y%m%d%H%M%S", time.gmtime(epoch))


def pdf_with_fixed_date(pdf: bytes) -> bytes:
    """cairo's PDF with its CreationDate (the time of rendering) replaced by ``pdf_date()``,
    written in the same number of bytes so the cross-reference offsets stay right."""

    def fixed(m: re.Match[bytes]) -> bytes:
        old = m.group(1)
        for zone in ("Z", "+00'00'", "+00'00", ""):
            new = (pdf_date() + zone).encode()
            if len(new) == len(old):
                return b"/CreationDate (" + new + b")"
        return m.group(0)  # an unexpected form: left as cairo wrote it

    return _PDF_DATE.sub(fixed, pdf)


def table_csv(table: pd.DataFrame) -> bytes:
    """CSV bytes; a float column's -0.0 written as 0.0 (adding 0.0 clears the sign of zero)."""
    floats = [c for c in table.columns if pd.api.types.is_float_dtype(table[c])]
    if floats:
        table = table.copy()
        for column in floats:
            table[column] = table[column] + 0.0
    return table.to_csv(index=False, lineterminator="\n").encode("utf-8")
