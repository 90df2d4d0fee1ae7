"""Paper export: theme, PNG / SVG / PDF through kaleido, CSV, LaTeX (booktabs), zip."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pandas as pd
import pytest

from dashboard.exports import paper as export
from dashboard.exports import render
from dashboard.exports.items import FigureItem, TableItem
from dashboard.exports.latex import table_latex
from dashboard.figures.common import OKABE_ITO
from dashboard.figures.people import people_per_image
from tests.dashboard.dashboard_helpers import chromium_or_skip


@pytest.fixture
def fig():
    images = pd.DataFrame({"dataset": ["a", "a", "b"], "n_selected": [1, 2, 2]})
    return people_per_image(images, ["a", "b"], mode="overlay", caption="size: bbox area w*h; small < 32^2")


def test_paper_theme(fig):
    for preset, width in (("single", 3.5), ("double", 7.16)):
        paper = export.paper_figure(fig, preset)
        assert paper.layout.width == int(width * export.PX_PER_INCH)
        assert "serif" in paper.layout.font.family
        assert paper.data[0].marker.color in OKABE_ITO
        shapes = [t.marker.pattern.shape or "" for t in paper.data]
        assert len(set(shapes)) == 2  # greyscale-safe: the two datasets differ by pattern too
        assert paper.layout.font.size == pytest.approx(export.PRESETS[preset].font_pt * 96 / 72, abs=0.01)
        # the caption and title go to LaTeX, never into the image
        assert not paper.layout.title.text
        assert not any("32^2" in (a.text or "") for a in paper.layout.annotations)
        assert paper.layout.barmode == "group"  # overlaid bars become side by side on paper
    assert fig.layout.width is None and fig.layout.title.text  # the on-screen figure is untouched


def test_latex_booktabs_and_csv():
    table = pd.DataFrame({"dataset": ["coco_2017", "a&b"], "persons": [1234, 5], "share": [0.5, np.nan]})
    tex = table_latex(table, caption="50% of persons", label="tab:x")
    assert r"\toprule" in tex and r"\midrule" in tex and r"\bottomrule" in tex
    assert r"\begin{tabular}{lrr}" in tex
    assert r"coco\_2017 & 1{,}234 & 0.50 \\" in tex
    assert r"a\&b & 5 & -- \\" in tex and r"50\% of persons" in tex
    assert export.table_csv(table).decode().splitlines()[0] == "dataset,persons,share"


@pytest.mark.slow
def test_figure_formats_are_valid(fig):
    chromium_or_skip()
    png = export.figure_bytes(fig, "png", "single")
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width = int.from_bytes(png[16:20], "big")
    assert width == pytest.approx(3.5 * export.PNG_DPI, abs=2)  # 300 dpi single column
    assert export.figure_bytes(fig, "pdf", "double")[:5] == b"%PDF-"
    assert b"<svg" in export.figure_bytes(fig, "svg")[:200]
    with pytest.raises(ValueError):
        export.figure_bytes(fig, "gif")


@pytest.mark.slow
def test_render_and_zip_of_items_report_progress(fig):
    chromium_or_skip()
    seen = []
    table = pd.DataFrame({"a": [1]})
    items = [FigureItem("people per image", fig), TableItem("t", table, "cap")]
    files = render.render(
        render.plan(items, render.RenderOptions(formats=("svg", "pdf"))),
        progress=lambda done, total, what: seen.append(done / total),
    )
    assert list(files) == [
        "people-per-image.svg",
        "people-per-image.pdf",
        "t.csv",
        "t.tex",
        "captions.txt",
        "captions.tex",
    ]
    assert files["captions.txt"].decode() == ("people-per-image.pdf: size: bbox area w*h; small < 32^2\nt.tex: cap\n")
    assert "\\caption{size: bbox area $w \\cdot h$; small $<$ $32^{2}$}" in files["captions.tex"].decode()
    assert seen == sorted(seen) and seen[-1] == 1.0
    names = zipfile.ZipFile(io.BytesIO(render.zip_bytes(files))).namelist()
    assert names == list(files)
    assert render.zip_bytes(files) == render.zip_bytes(files)  # fixed timestamps


@pytest.mark.slow
def test_pdf_is_small_vector_and_svg_is_stable(fig):
    chromium_or_skip()
    pdf = export.figure_bytes(fig, "pdf", "double")
    assert pdf[:5] == b"%PDF-" and len(pdf) < 200_000  # hatch fills stay vector
    assert export.figure_bytes(fig, "svg") == export.figure_bytes(fig, "svg")


@pytest.mark.parametrize(
    ("lo", "hi", "want"),
    [
        (0.013, 0.9, ["0.01", "0.1", "1"]),
        (1, 350, ["1", "10", "100", "1,000"]),
        (30, 2e6, ["10", "100", "1k", "10k", "100k", "1M", "10M"]),
    ],
)
def test_log_ticks_label_only_powers_of_ten(lo, hi, want):
    values, texts = export.log_ticks(lo, hi)
    assert texts == want
    np.testing.assert_allclose(values, [float(t.replace(",", "").replace("k", "e3").replace("M", "e6")) for t in want])


def test_paper_log_axis_has_clean_ticks():
    images = pd.DataFrame({"dataset": ["a"] * 120 + ["b"] * 3, "n_selected": [1] * 100 + [2] * 20 + [3] * 3})
    paper = export.paper_figure(people_per_image(images, ["a", "b"], log_y=True), "single")
    assert list(paper.layout.yaxis.ticktext) == ["1", "10", "100"]  # never "2 3 4 5 6" minor labels
    assert paper.layout.yaxis.minor.ticks == "outside"
