"""LaTeX captions and tables: notation in math mode, specials escaped, integers as
integers, shares as decimals or percentages, no -0.00, readable headers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dashboard.exports.latex import header_text, latex_text, table_latex


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("small < 32^2 <= medium < 96^2 <= large", r"small $<$ $32^{2}$ $\le$ medium $<$ $96^{2}$ $\le$ large"),
        ("bbox area w*h", r"bbox area $w \cdot h$"),
        ("CrowdPose area 0.53*w*h", r"CrowdPose area $0.53 \cdot w \cdot h$"),
        ("person density (N_b/N_a): sparse < 0.1", r"person density ($N_{b}/N_{a}$): sparse $<$ 0.1"),
        ("body area (px², log axis)", r"body area ($\mathrm{px}^{2}$, log axis)"),
        ("indoor: p_indoor >= 0.5 (IO_places365.txt)", r"indoor: $p_{\mathrm{indoor}}$ $\ge$ 0.5 (IO\_places365.txt)"),
        ("max |diff|", r"max $|\mathrm{diff}|$"),
        ("visible: v == 2", "visible: v $=$ 2"),
        ("50% of a&b, #1, {x}, ~, \\", r"50\% of a\&b, \#1, \{x\}, \textasciitilde{}, \textbackslash{}"),
        ("stray ^ caret", r"stray \textasciicircum{} caret"),
    ],
)
def test_caption_notation_goes_to_math_mode(text, want):
    assert latex_text(text) == want


def test_headers_are_words():
    assert header_text("persons_per_image") == "persons per image"
    assert header_text("max |diff|") == r"max $|\mathrm{diff}|$"


def test_table_formats():
    table = pd.DataFrame(
        {
            "dataset": ["coco_2017", "a&b"],
            "small": np.array([789, 1234567], dtype=np.int64),
            "share_small": [0.12345, -0.0000001],
            "mean_x": [-0.001, np.nan],
        }
    )
    tex = table_latex(table, caption="small < 32^2", label="tab:t", shares=("share_small",))
    lines = tex.splitlines()
    assert lines[:4] == [r"\begin{table}[t]", r"\centering", r"\caption{small $<$ $32^{2}$}", r"\label{tab:t}"]
    assert r"\begin{tabular}{lrrr}" in lines
    assert r"dataset & small & share small & mean x \\" in lines
    assert r"coco\_2017 & 789 & 0.123 & 0.00 \\" in lines  # integers as integers; -0.001 -> 0.00
    assert r"a\&b & 1{,}234{,}567 & 0.000 & -- \\" in lines  # never -0.000; NaN as --
    pct = table_latex(table, shares=("share_small",), percent=True).splitlines()
    assert r"dataset & small & share small (\%) & mean x \\" in pct
    assert r"coco\_2017 & 789 & 12.3\,\% & 0.00 \\" in pct
    assert r"a\&b & 1{,}234{,}567 & 0.0\,\% & -- \\" in pct
    assert lines[-3:] == [r"\bottomrule", r"\end{tabular}", r"\end{table}"]


def test_bold_best_within_each_group_on_the_printed_value():
    """Table 5 as papers print it: rows grouped by test set with a rule between groups, the
    best value bold within its group, compared as printed (45.67 and 45.71 both print
    45.7: both bold), and no bold in a group of one row (a one-model table)."""
    import pandas as pd

    table = pd.DataFrame(
        {
            "model": ["a", "b", "c", "d"],
            "dataset": ["X/val", "X/val", "X/val", "Y/val"],
            "AP": [45.67, 45.71, 45.64, 99.0],
        }
    )
    table.attrs["latex"] = {"digits": 1, "bold_max": ["AP"], "group_by": "dataset"}
    body = table_latex(table).split("\\midrule\n", 1)[1].split("\\bottomrule")[0].splitlines()
    assert body == [
        r"a & X/val & \textbf{45.7} \\",
        r"b & X/val & \textbf{45.7} \\",
        r"c & X/val & 45.6 \\",
        r"\midrule",
        r"d & Y/val & 99.0 \\",
    ]


def test_wide_table_hints_fit_an_articles_text_width(tmp_path):
    """A table as wide as the stored evaluations (a SHA-256, long names and headers, a long
    note) runs into the margin; with the hints it fits, the CSV keeps every character."""
    import hashlib

    from dashboard.exports.items import TableItem
    from dashboard.exports.render import RenderOptions, table_files
    from tests.pdflatex import assert_compiles

    digest = hashlib.sha256(b"predictions.json").hexdigest()
    note = "AP 67.0-67.1 over the five subsets (supplementary material, section 8.3); no per-slice values"
    table = pd.DataFrame(
        {
            "model": ["SimpleBaseline R50, trained on five SmallPose subsets", "B"],
            "predictions sha256": [digest, digest],
            "beyond 20 per image": [1, 2],
            "other categories": [0, 3],
            "note": [note, ""],
        }
    )
    with pytest.raises(AssertionError, match="tab:plain by"):
        assert_compiles([table_latex(table, caption="c", label="tab:plain")], tmp_path)
    table.attrs["latex"] = {
        "truncate": {"predictions sha256": 12},
        "wrap": {"model": "3cm"},
        "stack_headers": True,
        "compact": True,
        "notes_in_caption": "note",
    }
    files = table_files(TableItem("fitted", table, "c"), RenderOptions())
    tex, csv = files["fitted.tex"].decode(), files["fitted.csv"].decode()
    assert_compiles([tex], tmp_path)
    assert digest[:12] in tex and digest[:13] not in tex and csv.count(digest) == 2
    assert rf"\caption{{c; (a) {note}}}" in tex and "note &" not in tex
    assert r"\parbox[t]{3cm}{\raggedright SimpleBaseline R50, trained on five SmallPose subsets (a)}" in tex
    assert r"\begin{tabular}[b]{@{}r@{}}beyond 20 \\ per image\end{tabular}" in tex
    assert tex.index(r"\small") < tex.index(r"\begin{tabular}")


def test_column_blocks_stack_a_wide_table_under_itself_and_fit_the_text_width(tmp_path):
    """A table with a column per evaluation (twelve of them beside model and slice) runs into the
    margin; with ``column_blocks`` its value columns are split into blocks stacked in one
    ``table``, each repeating model and slice, every value printed once, and it fits; the CSV
    keeps one table; a table that fits stays one block (issue 14c item 3)."""
    import io
    import re

    from dashboard.exports.items import TableItem
    from dashboard.exports.latex import with_hints
    from dashboard.exports.render import RenderOptions, table_files
    from tests.pdflatex import assert_compiles

    rng = np.random.default_rng(3)
    thresholds = [f"AP at OKS {t:.2f}" for t in np.arange(0.5, 1.0, 0.05)] + ["mean AP", "oracle AP"]
    table = pd.DataFrame({"model": ["HRNet-W32 (CrowdPose/val)"] * 3, "slice": ["all", "small", "medium"]})
    values = pd.DataFrame(rng.uniform(0, 100, (3, len(thresholds))).round(3), columns=thresholds)
    table = pd.concat([table, values], axis=1)
    with pytest.raises(AssertionError, match="tab:plain by"):
        assert_compiles([table_latex(table, caption="c", label="tab:plain", digits=1)], tmp_path)
    files = table_files(TableItem("blocked", with_hints(table, column_blocks=["model", "slice"]), "c", digits=1),
                        RenderOptions())  # fmt: skip
    tex, csv = files["blocked.tex"].decode(), files["blocked.csv"].decode()
    assert_compiles([tex], tmp_path)
    assert "latex" not in table.attrs  # with_hints leaves the input as it is
    assert pd.read_csv(io.StringIO(csv)).shape == table.shape
    blocks = tex.split(r"\begin{tabular}{")[1:]
    assert len(blocks) >= 2 and tex.count(r"\par\medskip") == len(blocks) - 1 and tex.count(r"\caption{") == 1
    printed: dict[str, list[str]] = {}
    for block in blocks:
        lines = block.split(r"\midrule")[1].split(r"\bottomrule")[0].strip().splitlines()
        header = block.split(r"\toprule")[1].split(r"\midrule")[0]
        assert header.strip().startswith("model & slice &")
        for line, (_, row) in zip(lines, table.iterrows(), strict=True):
            cells = line.removesuffix(r" \\").split(" & ")
            assert cells[:2] == [row["model"], row["slice"]]
            printed.setdefault(row["slice"], []).extend(cells[2:])
    for _, row in table.iterrows():  # every value once, in column order, as one decimal
        assert printed[row["slice"]] == [f"{row[c]:.1f}" for c in thresholds]
    narrow = with_hints(table[["model", "slice", "mean AP"]], column_blocks=["model", "slice"])
    assert table_latex(narrow).count(r"\begin{tabular}{") == 1
    assert not re.search(r"\\par\\medskip", table_latex(narrow))
