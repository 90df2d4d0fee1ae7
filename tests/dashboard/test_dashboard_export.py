"""Paper export: theme, PNG / SVG / PDF through kaleido, CSV, LaTeX (booktabs), zip."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pandas as pd
import pytest
from conftest import chromium_or_skip

from dashboard import export
from dashboard.figures.common import OKABE_ITO
from dashboard.figures.people import people_per_image


@pytest.fixture
def fig():
    images = pd.DataFrame({"dataset": ["a", "a", "b"], "n_sel": [1, 2, 2]})
    return people_per_image(images, ["a", "b"], caption="size: bbox area w*h; small < 32^2")


def test_paper_theme(fig):
    for preset, width in (("single", 3.5), ("double", 7.16)):
        paper = export.paper_figure(fig, preset)
        assert paper.layout.width == int(width * export.PX_PER_INCH)
        assert "serif" in paper.layout.font.family
        assert paper.data[0].marker.color in OKABE_ITO
        shapes = [t.marker.pattern.shape or "" for t in paper.data]
        assert len(set(shapes)) == 2  # greyscale-safe: the two datasets differ by pattern too
        assert any("32^2" in a.text for a in paper.layout.annotations)  # caption line
    assert fig.layout.width is None  # the on-screen figure is untouched


def test_latex_booktabs_and_csv():
    table = pd.DataFrame({"dataset": ["coco_2017", "a&b"], "persons": [1234, 5],
                          "share": [0.5, np.nan]})
    tex = export.table_latex(table, caption="50% of persons", label="tab:x")
    assert r"\toprule" in tex and r"\midrule" in tex and r"\bottomrule" in tex
    assert r"\begin{tabular}{lrr}" in tex
    assert r"coco\_2017 & 1{,}234 & 0.50 \\" in tex
    assert r"a\&b & 5 & -- \\" in tex and r"50\% of persons" in tex
    assert export.table_csv(table).decode().splitlines()[0] == "dataset,persons,share"


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


def test_zip_of_a_view_reports_progress(fig):
    chromium_or_skip()
    seen = []
    table = pd.DataFrame({"a": [1]})
    data = export.figures_zip([("people per image", fig)], formats=["svg", "pdf"],
                              tables=[("t", table, "cap")],
                              progress=lambda frac, what: seen.append(frac))
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert set(names) == {"people-per-image.svg", "people-per-image.pdf", "t.csv", "t.tex",
                          "CAPTIONS.txt"}
    assert seen == sorted(seen) and seen[-1] == 1.0
