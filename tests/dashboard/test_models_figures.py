"""Models view's pure tables and figures on hand-made slice results (values worked out here)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.evaluation.definitions import EvaluationDefinitions
from analysis.evaluation.slices import EvaluationResult, SliceMetrics
from analysis.evaluation.table5 import TABLE5_COLUMNS
from analysis.schema import COCO17_SIGMAS
from dashboard.exports.latex import table_latex
from dashboard.figures.common import caption_of
from dashboard.figures.models import (
    MEAN_THRESHOLD,
    REPORTED_LABEL,
    SLICES,
    EvaluatedModel,
    pr_figure,
    pr_table,
    reported_table5_table,
    slice_ap_figure,
    slice_metrics_table,
    table5_table,
)

DEFINITIONS = EvaluationDefinitions(sigmas=COCO17_SIGMAS)


def _slice(ap, n_gt=4, precision=None):
    if precision is None:
        precision = np.full((10, 101), np.nan if ap is None else ap)
    return SliceMetrics(
        ap=ap,
        ap50=None if ap is None else min(1.0, ap + 0.2),
        ap75=None if ap is None else ap / 2,
        ar=None if ap is None else ap + 0.05,
        n_gt=n_gt,
        precision=precision,
    )


def _model(name, key, slices):
    return EvaluatedModel(key, EvaluationResult(name, DEFINITIONS, slices))


@pytest.fixture
def two_models():
    # model a: AP 0.10, 0.11, ... per slice; model b: 0.30 everywhere but an empty small/dense slice
    a = _model("a", "ds/val", {s: _slice(0.10 + 0.01 * i, n_gt=i) for i, s in enumerate(SLICES)})
    b = _model("b", "ds/val", {s: _slice(None if s == "small/dense" else 0.30, n_gt=i) for i, s in enumerate(SLICES)})
    return a, b


def test_table5_in_percent_with_paper_columns(two_models):
    table = table5_table(two_models)
    ap_columns = ["AP", "AP^S", "AP^M", "AP^L", "AP^S_Sp", "AP^S_Mo", "AP^S_De", "AP^E", "AP^M(crowd)", "AP^H"]
    assert list(table.columns) == ["model", "dataset", *ap_columns, *(f"n_gt {c}" for c in ap_columns)]
    assert list(table["model"]) == ["a", "b"] and list(table["dataset"]) == ["ds/val", "ds/val"]
    assert table.loc[0, "AP"] == pytest.approx(10.0) and table.loc[0, "AP^H"] == pytest.approx(19.0)
    assert table.loc[1, "AP^S"] == pytest.approx(30.0)
    assert np.isnan(table.loc[1, "AP^S_De"])  # no ground truth: not available, never 0
    # n_gt of slice i is i (fixture); integers
    assert table.loc[0, [f"n_gt {c}" for c in ap_columns]].tolist() == list(range(10))
    assert table["n_gt AP^S"].dtype == np.int64


def test_table5_latex_bold_best_one_decimal(two_models):
    tex = table_latex(table5_table(two_models), caption="c")
    lines = {line.split(" & ")[0]: line for line in tex.splitlines() if line.startswith(("a &", "b &"))}
    # a: 10.0 ... 19.0; b: 30.0 except small/dense (empty): b is best everywhere but AP^S_De.
    cells_a = lines["a"].rstrip(" \\").split(" & ")[2:]
    cells_b = lines["b"].rstrip(" \\").split(" & ")[2:]
    assert cells_a[0] == "10.0" and cells_a[6] == r"\textbf{16.0}"
    assert cells_b[6] == "--"
    assert [c for i, c in enumerate(cells_b[:10]) if i != 6] == [r"\textbf{30.0}"] * 9
    assert cells_a[10:] == [str(i) for i in range(10)]  # n_gt: integers, never bold
    assert "AP$^S_{Sp}$" in tex and r"\toprule" in tex and r"\bottomrule" in tex


def test_reported_rows_are_a_separate_labelled_block():
    table = reported_table5_table()
    # the SmallPose paper's Table 5 (SimpleBaseline ResNet-50 on SmallPose test), as printed there
    assert list(table.columns) == [
        REPORTED_LABEL,
        "AP",
        "AP^S",
        "AP^M",
        "AP^L",
        "AP^S_Sp",
        "AP^S_Mo",
        "AP^S_De",
        "note",
    ]
    rows = {r[0]: r[1:8] for r in table.itertuples(index=False)}
    assert [43.2, 32.4, 50.5, 77.3, 8.8, 33.9, 0.1] in [list(v) for v in rows.values()]
    assert [68.2, 65.9, 69.1, 79.7, 32.8, 69.4, 26.0] in [list(v) for v in rows.values()]
    tex = table_latex(table)
    assert r"\textbf" not in tex and "43.2 & 32.4 & 50.5 & 77.3 & 8.8 & 33.9 & 0.1" in tex


def test_slice_metrics_long_with_integer_counts(two_models):
    table = slice_metrics_table(two_models)
    assert len(table) == 2 * len(SLICES)
    assert table["n_gt"].dtype == np.int64
    row = table[(table["model"] == "a") & (table["slice"] == "medium")].iloc[0]
    assert row["AP"] == pytest.approx(12.0) and row["AP50"] == pytest.approx(32.0)
    assert row["AP75"] == pytest.approx(6.0) and row["AR"] == pytest.approx(17.0) and row["n_gt"] == 2
    tex = table_latex(table)
    # model and dataset wrap in narrow boxes, so the long table fits an article's text width
    wrapped = r"\parbox[t]{1.9cm}{\raggedright a} & \parbox[t]{1.9cm}{\raggedright ds/val}"
    assert wrapped + " & medium & 12.0 & 32.0 & 6.0 & 17.0 & 2 \\\\" in tex


def test_same_label_on_two_splits_gets_the_split_in_the_legend():
    a = _model("m", "x/val", {s: _slice(0.5 if s == "all" else None) for s in SLICES})
    b = _model("m", "y/val", {s: _slice(0.6 if s == "all" else None) for s in SLICES})
    fig = slice_ap_figure([a, b], caption="defs")
    assert [t.name for t in fig.data] == ["m (x/val)", "m (y/val)"]
    assert list(table5_table([a, b])["model"]) == ["m", "m"]  # the table has a dataset column instead
    assert list(fig.data[0].x) == list(TABLE5_COLUMNS)
    # n_gt 4 < 30: every slice rests on few persons, marked with a dagger the caption explains
    assert list(fig.layout.xaxis.ticktext)[4] == "AP<sup>S</sup><sub>Sp</sub>†"
    assert (
        list(fig.layout.xaxis.ticktext)[8] == "AP<sup>M</sup><sub>crowd</sub>†"
    )  # as the LaTeX table: AP$^{M}_{crowd}$
    assert "† fewer than 30 ground-truth persons" in fig.layout.meta["caption"]
    # every slice but "all" is empty in both: marked n/a, nine of them
    assert [a.x for a in fig.layout.annotations if a.text == "n/a"] == list(TABLE5_COLUMNS)[1:]
    assert fig.data[1].y[0] == pytest.approx(60.0) and np.isnan(fig.data[1].y[1])
    assert caption_of(fig) == "defs; † fewer than 30 ground-truth persons in the slice"


def test_pr_table_threshold_and_mean():
    precision = np.tile(np.linspace(1.0, 0.0, 101), (10, 1)) * np.linspace(1.0, 0.1, 10)[:, None]
    slices = {s: _slice(None) for s in SLICES}
    slices.update({"all": _slice(0.4, precision=precision), "large": _slice(None, precision=-np.ones((10, 101)))})
    m = _model("m", "d/s", slices)
    at50 = pr_table([m], "all", 0.5)
    assert at50.index[0] == 0.0 and at50.index[-1] == 1.0 and len(at50) == 101
    np.testing.assert_allclose(at50["m"], 100 * np.linspace(1.0, 0.0, 101))
    at75 = pr_table([m], "all", 0.75)  # row 5 of 0.50:0.05:0.95
    np.testing.assert_allclose(at75["m"], 100 * np.linspace(1.0, 0.0, 101) * np.linspace(1.0, 0.1, 10)[5])
    mean = pr_table([m], "all", MEAN_THRESHOLD)
    np.testing.assert_allclose(mean["m"], 100 * np.linspace(1.0, 0.0, 101) * 0.55)
    assert pr_table([m], "large", 0.5)["m"].isna().all()  # pycocotools' -1: no ground truth
    assert pr_table([m], "small", 0.5)["m"].isna().all()  # NaN: no ground truth
    with pytest.raises(ValueError):
        pr_table([m], "all", 0.52)
    assert pr_figure([m], "large").layout.meta["empty"]
    fig = pr_figure([m], "all", MEAN_THRESHOLD, caption="c")
    assert "mean over OKS 0.50:0.05:0.95" in fig.layout.title.text


def test_pr_figure_leaves_out_models_without_ground_truth_in_the_slice():
    precision = np.tile(np.linspace(1.0, 0.0, 101), (10, 1))
    has_small = _model("a", "d/s", {s: _slice(0.5, precision=precision) for s in SLICES})
    no_small = _model(
        "b",
        "d/s",
        {s: _slice(0.5 if s == "all" else None, precision=precision if s == "all" else None) for s in SLICES},
    )
    fig = pr_figure([has_small, no_small], "small", 0.5, caption="defs")
    assert [t.name for t in fig.data] == ["a"]  # no legend entry without a curve
    assert caption_of(fig) == "defs; no ground truth in slice small: b"
    both = pr_figure([has_small, no_small], "all", 0.5, caption="defs")
    assert [t.name for t in both.data] == ["a", "b"] and caption_of(both) == "defs"
    assert fig.data[0].line.color == both.data[0].line.color  # a model keeps its style across slices


def test_empty_selection_says_so():
    assert slice_ap_figure([]).layout.meta["empty"]
    assert table5_table([]).empty and isinstance(table5_table([]), pd.DataFrame)


def test_export_all_zip_keeps_the_table5_latex_form(two_models):
    """The view's "export all" zip writes the same LaTeX as the table's own button (bold best)."""
    import io
    import zipfile

    from dashboard.exports import render
    from dashboard.exports.items import TableItem

    table = table5_table(two_models)
    files = render.render(
        render.plan([TableItem("models table5", table, "AP (%) per slice")], render.RenderOptions(formats=("svg",)))
    )
    tex = zipfile.ZipFile(io.BytesIO(render.zip_bytes(files))).read("models-table5.tex").decode()
    assert tex == table_latex(table, caption="AP (%) per slice", label="tab:models-table5")
    assert r"\textbf{30.0}" in tex and "AP$^S_{Sp}$" in tex


def test_a_slice_without_ground_truth_is_a_reason_in_the_captions_file_not_a_blank_page():
    """The models export's precision-recall figure of a slice no shown split has ground truth
    in (a split without small persons): no file in any format, and ``captions.txt`` says
    which figure is missing and why; the drawn slice beside it is written as usual."""
    from dashboard.exports.items import FigureItem
    from dashboard.exports.render import Named, RenderOptions, render

    precision = np.tile(np.linspace(1.0, 0.0, 101), (10, 1))
    no_small = _model(
        "m",
        "d/s",
        {
            s: _slice(None if s.startswith("small") else 0.5, precision=None if s.startswith("small") else precision)
            for s in SLICES
        },
    )
    options = RenderOptions(formats=("svg",))
    named = [
        Named(FigureItem("precision recall small", pr_figure([no_small], "small", 0.5)), "models/", "pr-small", options)
    ]
    files = render(named)
    assert sorted(files) == ["captions.tex", "captions.txt"]
    assert files["captions.txt"].decode() == "models/pr-small: not exported: no ground truth in slice small\n"
    assert files["captions.tex"] == b""


def _difference(model: str, deltas: dict[str, tuple[float, float, float, float] | None]):
    """A ModelDifference from (delta, lo, hi, p_better) fractions per Table 5 column."""
    from analysis.evaluation.compare import ModelDifference, SliceDifference

    slices = {}
    for column, slice_name in TABLE5_COLUMNS.items():
        v = deltas.get(column)
        slices[slice_name] = None if v is None else SliceDifference({"AP": v[0]}, {"AP": (v[1], v[2])}, {"AP": v[3]})
    return ModelDifference(model, slices)


@pytest.mark.parametrize("preset", [None, "single", "double"])
def test_win_share_labels_lie_past_the_whisker_end(preset):
    """The "100%" win share is drawn past the end of its bar's interval (above / right of a
    positive one, below / left of a negative one) over its own bar of the group, and inside the
    value axis' range, at screen size and at both paper widths (issue 14c item 1)."""
    from analysis.evaluation.compare import Comparison
    from analysis.evaluation.store import BootstrapSettings
    from dashboard.exports.paper import paper_figure
    from dashboard.figures.models import comparison_figure

    columns = list(TABLE5_COLUMNS)
    a = {c: (0.30 + 0.01 * i, 0.10, 0.50 + 0.02 * i, 1.0) for i, c in enumerate(columns) if c != "AP^L"}
    b = {c: (-0.05 - 0.01 * i, -0.25 - 0.01 * i, 0.01, 0.25) for i, c in enumerate(columns) if c != "AP^L"}
    n_gt = {s: (0 if c == "AP^L" else 100) for c, s in TABLE5_COLUMNS.items()}
    comparison = Comparison(
        "ref", BootstrapSettings(50, 0, 0.95), "", n_gt, {}, [_difference("A", a), _difference("B", b)], []
    )
    fig = comparison_figure(comparison)
    if preset is not None:
        fig = paper_figure(fig, preset)
    across = fig.data[0].orientation == "h"
    value_axis = fig.layout.xaxis if across else fig.layout.yaxis
    shares = [ann for ann in fig.layout.annotations if ann.text.endswith("%")]
    assert len(shares) == 2 * (len(columns) - 1)
    for bar, deltas in zip(fig.data, (a, b), strict=True):
        assert bar.textposition == "none"  # the bar's own text would sit at the bar's end, on the whisker
        for i, column in enumerate(columns):
            if column not in deltas:
                continue
            delta, lo, hi, share = deltas[column]
            centre = i + bar.offset + bar.width / 2
            (ann,) = [s for s in shares if abs((s.y if across else s.x) - centre) < 1e-9]
            assert ann.text == f"{100 * share:.0f}%"
            position = ann.x if across else ann.y
            anchor = ann.xanchor if across else ann.yanchor
            if delta >= 0:  # past the upper end, growing away from it
                assert position > 100 * hi and anchor == ("left" if across else "bottom")
                assert position < value_axis.range[1]
            else:
                assert position < 100 * lo and anchor == ("right" if across else "top")
                assert position > value_axis.range[0]
