"""The SVG clean-ups behind the paper PDFs (cairo) and byte-stable SVGs, on hand-made SVG."""

from __future__ import annotations

import base64
import io

from PIL import Image

from dashboard import export


def test_superscripts_in_px_and_no_zero_width_space():
    svg = ('<text x="0" style="font-family: serif; font-size: 10px; fill: rgb(0, 0, 0);">10'
           '<tspan style="font-size:70%" dy="-0.6em">4</tspan><tspan dy="0.42em">\u200b</tspan></text>').encode()
    out = export._cairo_ready(svg).decode()
    assert 'style="font-size:7.00px" dy="-6.00px">4</tspan>' in out  # 70 % and -0.6 em of 10 px
    assert '<tspan dy="4.20px"></tspan>' in out and "\u200b" not in out


def test_hatched_shapes_get_a_solid_fill_underneath():
    svg = (b'<defs><pattern id="p1" width="7px" height="7px"><rect width="7px" height="7px" fill="rgb(1, 2, 3)"'
           b' fill-opacity="1"/><path d="M0,7L7,0"/></pattern></defs>'
           b'<path class="point" d="M0,0H5V5Z" style="fill: url(\'#p1\'); stroke: rgb(0, 0, 0);"/>')
    out = export._cairo_ready(svg)
    assert b'<pattern id="p1" width="7px" height="7px"><path d="M0,7L7,0"/>' in out  # tile background gone
    assert out.endswith(b'<path class="point" d="M0,0H5V5Z" style="fill: rgb(1, 2, 3); stroke: rgb(0, 0, 0);"/>'
                        b'<path class="point" d="M0,0H5V5Z" style="fill: url(\'#p1\'); stroke: rgb(0, 0, 0);"/>')


def test_heatmap_raster_is_upscaled_nearest_neighbour():
    im = Image.new("RGB", (2, 1))
    im.putpixel((0, 0), (255, 0, 0))
    im.putpixel((1, 0), (0, 0, 255))
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    data = base64.b64encode(buf.getvalue())
    svg = b'<image preserveAspectRatio="none" height="10" width="20" x="0" y="0" xlink:href="data:image/png;base64,' \
          + data + b'"/>'
    out = export._cairo_ready(svg)
    png = base64.b64decode(out.split(b"base64,")[1].split(b'"')[0])
    big = Image.open(io.BytesIO(png)).convert("RGB")
    assert big.size == (60, 30)  # 3 px per CSS px
    assert big.getpixel((29, 15)) == (255, 0, 0) and big.getpixel((30, 15)) == (0, 0, 255)  # no blending


def test_stable_svg_renames_ids_and_references():
    svg = (b'<defs id="defs-a1b2c3"><clipPath id="clipa1b2c3xy"/><pattern id="pa1b2c3-9f"/></defs>'
           b'<g clip-path="url(#clipa1b2c3xy)"><path style="fill: url(\'#pa1b2c3-9f\');"/></g>'
           b'<use href="#clipa1b2c3xy"/>')
    assert export.stable_svg(svg) == (
        b'<defs id="i0"><clipPath id="i1"/><pattern id="i2"/></defs>'
        b'<g clip-path="url(#i1)"><path style="fill: url(\'#i2\');"/></g><use href="#i1"/>')
