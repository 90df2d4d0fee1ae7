"""The SVG clean-ups behind the paper PDFs (cairo) and byte-stable SVGs, on hand-made SVG."""

from __future__ import annotations

import base64
import io
import itertools
import re

import pytest
from PIL import Image

from dashboard.exports import paper as export


def test_superscripts_in_px_and_no_zero_width_space():
    svg = (
        '<text x="0" style="font-family: serif; font-size: 10px; fill: rgb(0, 0, 0);">10'
        '<tspan style="font-size:70%" dy="-0.6em">4</tspan><tspan dy="0.42em">\u200b</tspan></text>'
    ).encode()
    out = export._cairo_ready(svg).decode()
    assert 'style="font-size:7.00px" dy="-6.00px">4</tspan>' in out  # 70 % and -0.6 em of 10 px
    assert '<tspan dy="4.20px"></tspan>' in out and "\u200b" not in out


def test_hatched_shapes_get_a_solid_fill_and_drawn_out_marks():
    svg = (
        b'<defs><pattern id="p1" width="7px" height="7px" patternUnits="userSpaceOnUse" patternTransform="scale(0.5)">'
        b'<rect width="7px" height="7px" fill="rgb(1, 2, 3)" fill-opacity="1"/><path d="M0,7L7,0"/></pattern></defs>'
        b'<path class="point" d="M0,0H5V5Z" style="fill: url(\'#p1\'); stroke: rgb(0, 0, 0);"/>'
    )
    out = export._cairo_ready(svg)
    assert b'patternTransform="scale(0.5)"><path d="M0,7L7,0"/>' in out  # tile background gone
    solid, rest = out.split(b"</defs>")[1].split(b"/>", 1)
    assert solid == b'<path class="point" d="M0,0H5V5Z" style="fill: rgb(1, 2, 3); stroke: rgb(0, 0, 0);"'
    # the marks: tiles of 3.5 px from -3.5 to 7 (one more on each side), clipped to the shape
    assert rest.startswith(b'<clipPath id="hatch1"><path d="M0,0H5V5Z"/></clipPath><g clip-path="url(#hatch1)">')
    offsets = re.findall(rb"translate\(([-0-9.]+),([-0-9.]+)\) scale\(0.5\)\"><path d=\"M0,7L7,0\"/>", rest)
    steps = [b"-3.500", b"0.000", b"3.500", b"7.000"]
    assert sorted(offsets) == sorted((x, y) for x in steps for y in steps)
    assert rest.endswith(b'<path class="point" d="M0,0H5V5Z" style="fill: none; stroke: rgb(0, 0, 0);"/>')


@pytest.mark.slow
def test_a_hatched_bar_pdf_has_no_seams_at_tile_corners(tmp_path):
    """A '/'-hatched bar filling the plot, through kaleido.  Along a hatch line (a pixel
    anti-diagonal x + y = c inside the bar) a seamless rendering is dark all the way; plotly's
    SVG pattern converted by cairo alone breaks every line at each tile corner (light seams
    in poppler's pdftoppm and in pdftocairo).  The exported PDF, rendered at 960 dpi by
    both, has its lines as unbroken as the PNG (Chromium) has: of the anti-diagonals that
    are mostly dark, at most 10 % are less than 99 % dark (antialiasing at the line edges)."""
    import shutil
    import subprocess

    import cairosvg
    import numpy as np
    import plotly.graph_objects as go

    if not shutil.which("pdftoppm") or not shutil.which("pdftocairo"):
        pytest.skip("poppler-utils not installed")
    fig = go.Figure(go.Bar(x=["a"], y=[1.0], marker={"color": "#E69F00", "pattern": {"shape": "/"}}))
    fig.update_layout(bargap=0.05, yaxis_range=[0, 1], showlegend=False)
    svg = export.figure_bytes(fig, "svg", "double")
    plot = re.search(rb'class="xy" transform="translate\(([0-9.]+),([0-9.]+)\)', svg)
    bar = re.search(rb'class="point"><path d="M([0-9.]+),([0-9.]+)V([0-9.]+)H([0-9.]+)V[0-9.]+Z"', svg)
    ox, oy = float(plot.group(1)), float(plot.group(2))
    x0, y0, y1, x1 = (float(v) for v in bar.groups())

    def broken_share(image: np.ndarray, px_per_css: float) -> float:
        margin = 8  # device pixels off the bar's outline
        rows = slice(round((oy + min(y0, y1)) * px_per_css) + margin, round((oy + max(y0, y1)) * px_per_css) - margin)
        columns = slice(round((ox + x0) * px_per_css) + margin, round((ox + x1) * px_per_css) - margin)
        dark = image[rows, columns] < 128
        height, width = dark.shape
        yy, xx = np.indices(dark.shape)
        diagonal = (xx + yy).ravel()
        share = np.bincount(diagonal, weights=dark.ravel()) / np.bincount(diagonal)
        share = share[height:width]  # the anti-diagonals that cross the whole bar
        lines = share > 0.5
        assert lines.sum() > 100
        return float((share[lines] < 0.99).mean())

    def rendered(pdf: bytes, tool: str) -> np.ndarray:
        (tmp_path / "f.pdf").write_bytes(pdf)
        out = tmp_path / tool
        subprocess.run(
            [tool, "-r", "960", "-gray", "-png", "-singlefile", str(tmp_path / "f.pdf"), str(out)],
            check=True,
            timeout=120,
        )
        return np.asarray(Image.open(f"{out}.png").convert("L"))

    png = np.asarray(Image.open(io.BytesIO(export.figure_bytes(fig, "png", "double"))).convert("L"))
    assert broken_share(png, export.PNG_DPI / export.PX_PER_INCH) <= 0.1  # the reference: no seams
    pdf = export.figure_bytes(fig, "pdf", "double")
    plain = cairosvg.svg2pdf(bytestring=svg)  # the pattern as plotly wrote it
    for tool in ("pdftoppm", "pdftocairo"):
        assert broken_share(rendered(pdf, tool), 960 / 96) <= 0.1, tool
        assert broken_share(rendered(plain, tool), 960 / 96) > 0.5, tool  # the seams this guards against


def test_heatmap_raster_is_upscaled_nearest_neighbour():
    im = Image.new("RGB", (2, 1))
    im.putpixel((0, 0), (255, 0, 0))
    im.putpixel((1, 0), (0, 0, 255))
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    data = base64.b64encode(buf.getvalue())
    svg = (
        b'<image preserveAspectRatio="none" height="10" width="20" x="0" y="0" xlink:href="data:image/png;base64,'
        + data
        + b'"/>'
    )
    out = export._cairo_ready(svg)
    png = base64.b64decode(out.split(b"base64,")[1].split(b'"')[0])
    big = Image.open(io.BytesIO(png)).convert("RGB")
    assert big.size == (60, 30)  # 3 px per CSS px
    assert big.getpixel((29, 15)) == (255, 0, 0) and big.getpixel((30, 15)) == (0, 0, 255)  # no blending


def test_stable_svg_renames_ids_and_references():
    svg = (
        b'<defs id="defs-a1b2c3"><clipPath id="clipa1b2c3xy"/><pattern id="pa1b2c3-9f"/></defs>'
        b'<g clip-path="url(#clipa1b2c3xy)"><path style="fill: url(\'#pa1b2c3-9f\');"/></g>'
        b'<use href="#clipa1b2c3xy"/>'
    )
    assert export.stable_svg(svg) == (
        b'<defs id="i0"><clipPath id="i1"/><pattern id="i2"/></defs>'
        b'<g clip-path="url(#i1)"><path style="fill: url(\'#i2\');"/></g><use href="#i1"/>'
    )


def test_png_carries_its_dpi():
    """pHYs written (300 dpi as pixels per metre), replacing any, pixels unchanged."""
    from dashboard.exports.paper import png_with_dpi

    for dpi_before in (None, (72, 72)):
        buf = io.BytesIO()
        Image.new("RGB", (7, 5), (10, 20, 30)).save(buf, format="PNG", **({"dpi": dpi_before} if dpi_before else {}))
        out = png_with_dpi(buf.getvalue(), 300)
        assert out.count(b"pHYs") == 1
        with Image.open(io.BytesIO(out)) as im:
            assert im.info["dpi"] == pytest.approx((300, 300), abs=0.01)
            assert im.size == (7, 5) and im.getpixel((3, 2)) == (10, 20, 30)


def test_pdf_bytes_do_not_depend_on_the_time(monkeypatch, tmp_path):
    """cairo's CreationDate is replaced, in the same number of bytes: two renders a
    second apart are identical, SOURCE_DATE_EPOCH sets the date, the PDF still renders."""
    import shutil
    import subprocess
    import time

    import cairosvg

    from dashboard.exports.paper import pdf_with_fixed_date

    svg = b'<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20"><rect width="20" height="10"/></svg>'
    first = cairosvg.svg2pdf(bytestring=svg)
    time.sleep(1.1)
    second = cairosvg.svg2pdf(bytestring=svg)
    assert first != second  # cairo writes the time of rendering
    assert pdf_with_fixed_date(first) == pdf_with_fixed_date(second)
    assert len(pdf_with_fixed_date(first)) == len(first)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")  # 2023-11-14 22:13:20 UTC
    dated = pdf_with_fixed_date(first)
    assert b"/CreationDate (D:20231114221320" in dated
    if shutil.which("pdftoppm"):
        (tmp_path / "f.pdf").write_bytes(dated)
        run = subprocess.run(
            ["pdftoppm", "-png", str(tmp_path / "f.pdf"), str(tmp_path / "f")],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert run.returncode == 0 and not run.stderr, run.stderr


def _ink_columns(svg_text: bytes) -> list[int]:
    """The pixel columns cairo inks when it draws ``svg_text`` (a ``<text>``) at 4x."""
    import cairosvg
    import numpy as np

    svg = b'<svg xmlns="http://www.w3.org/2000/svg" width="200" height="40">' + svg_text + b"</svg>"
    png = cairosvg.svg2png(bytestring=svg, scale=4, background_color="white")
    grey = np.asarray(Image.open(io.BytesIO(png)).convert("L"))
    return [int(c) for c in np.flatnonzero((grey < 128).any(axis=0))]


@pytest.mark.parametrize("anchor", ["middle", "end"])
def test_a_centred_label_keeps_its_superscript_beside_it_in_cairo(anchor):
    """``AP<sup>S</sup><sub>Sp</sub>`` as plotly writes a centred tick label: cairo (the PDF)
    anchors every tspan on its own, so the S floated a gap away from "AP".  Anchored at its
    start, the label is drawn in one piece (no gap wider than a third of the font size)
    and centred (or ended) where plotly put it."""
    label = (
        b'<text text-anchor="%s" x="0" y="30" transform="translate(100,0)" style="font-family: '
        b"'Times New Roman', Times, serif; font-size: 11px; fill: rgb(0, 0, 0);\">AP\xe2\x80\x8b"
        b'<tspan style="font-size:70%%" dy="-0.6em">S</tspan><tspan dy="0.42em">\xe2\x80\x8b</tspan>\xe2\x80\x8b'
        b'<tspan style="font-size:70%%" dy="0.3em">Sp</tspan><tspan dy="-0.21em">\xe2\x80\x8b</tspan>'
        b"\xe2\x80\xa0</text>"
    ) % anchor.encode()
    scale, font = 4, 11

    def widest_gap(columns: list[int]) -> int:
        return max(b - a for a, b in itertools.pairwise(columns))

    before = _ink_columns(label.replace("\u200b".encode(), b"").replace(b"70%", b"7.70px"))
    assert widest_gap(before) > font * scale / 3  # the float this guards against
    after = _ink_columns(export._cairo_ready(label))
    assert widest_gap(after) <= font * scale / 3
    anchor_px = 100 * scale
    if anchor == "middle":
        assert abs((after[0] + after[-1]) / 2 - anchor_px) <= 2 * scale
    else:
        assert abs(after[-1] - anchor_px) <= 2 * scale
