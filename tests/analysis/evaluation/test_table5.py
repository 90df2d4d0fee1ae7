"""The Table 5 layout: the frame, CSV and LaTeX, and the paper's reported rows."""

from __future__ import annotations

import numpy as np

from analysis.evaluation.definitions import EvaluationDefinitions
from analysis.evaluation.slices import SLICE_NAMES, EvaluationResult, SliceMetrics
from analysis.evaluation.table5 import (
    REPORTED_LABEL,
    TABLE5_COLUMNS,
    reported_table5_frame,
    table5_csv,
    table5_frame,
    table5_latex,
)


def _result(model: str, ap: float, empty: tuple[str, ...] = ()) -> EvaluationResult:
    slices = {}
    for i, name in enumerate(SLICE_NAMES):
        if name in empty:
            slices[name] = SliceMetrics(None, None, None, None, 0, np.full((10, 101), np.nan))
        else:
            value = ap - 0.01 * i
            slices[name] = SliceMetrics(value, value, value, value, 100 + i, np.full((10, 101), value))
    return EvaluationResult(model, EvaluationDefinitions(sigmas=(0.05,) * 17), slices)


def test_frame_columns_percentages_and_counts() -> None:
    frame = table5_frame([("A_1", _result("a", 0.5)), ("B", _result("b", 0.6, empty=("small/dense",)))])
    assert list(frame.index) == ["A_1", "B"]
    assert list(frame.columns[:10]) == list(TABLE5_COLUMNS)
    assert frame.loc["A_1", "AP"] == 50.0
    assert frame.loc["A_1", "AP^S"] == 49.0  # slice 1 = small
    assert frame.loc["B", "AP^H"] == 51.0  # slice 9 = crowd/hard
    assert np.isnan(frame.loc["B", "AP^S_De"])
    assert frame.loc["A_1", "n_gt AP^L"] == 103 and frame.loc["B", "n_gt AP^S_De"] == 0


def test_latex_bolds_the_best_per_column_and_escapes_labels() -> None:
    frame = table5_frame([("A_1", _result("a", 0.5)), ("B", _result("b", 0.6, empty=("small/dense",)))])
    latex = table5_latex(frame, "caption with 50% & more")
    rows = {line.split(" & ")[0]: line for line in latex.splitlines() if line.startswith(("A", "B"))}
    assert "\\caption{caption with 50\\% \\& more; --: no ground truth in the slice}" in latex
    assert rows["A\\_1"].split(" & ")[1] == "50.0"
    assert rows["B"].split(" & ")[1] == "\\textbf{60.0}"
    assert rows["B"].split(" & ")[7] == "-- \\\\"  # AP^S_De empty (the last column)
    assert rows["A\\_1"].split(" & ")[7] == "\\textbf{44.0} \\\\"  # the only value in that column
    assert "\\toprule" in latex and "\\bottomrule" in latex
    # one count row; a column whose rows' counts differ shows their range
    assert "$n_{gt}$ & 100 & 101 & 102 & 103 & 104 & 105 & 0--106 \\\\" in latex
    csv = table5_csv(frame)
    assert csv.splitlines()[0].startswith("model,AP,AP^S,")
    assert "50.0" in csv.splitlines()[1]


def test_reported_rows_are_the_papers() -> None:
    reported = reported_table5_frame()
    assert (reported["source"] == REPORTED_LABEL).all()
    coco = reported.loc["SimpleBaseline R50, trained on COCO"]
    assert [coco[c] for c in ("AP", "AP^S", "AP^M", "AP^L", "AP^S_Sp", "AP^S_Mo", "AP^S_De")] == [
        43.2, 32.4, 50.5, 77.3, 8.8, 33.9, 0.1,
    ]  # fmt: skip
    smallpose = reported.loc["SimpleBaseline R50, trained on SmallPose"]
    assert [smallpose[c] for c in ("AP", "AP^S", "AP^M", "AP^L", "AP^S_Sp", "AP^S_Mo", "AP^S_De")] == [
        68.2, 65.9, 69.1, 79.7, 32.8, 69.4, 26.0,
    ]  # fmt: skip
    assert np.isnan(coco["AP^E"])  # the paper reports no crowd levels
    subsets = reported.iloc[2]
    assert np.isnan(subsets["AP"]) and "67.0-67.1" in subsets["note"]


def test_latex_escapes_every_special_once() -> None:
    frame = table5_frame([("m_1 & {x}", _result("m", 0.5))])
    latex = table5_latex(frame, r"a\b {x} 32^2 < 96^2 ~ $")
    assert (
        r"\caption{a\textbackslash{}b \{x\} $32^{2}$ $<$ $96^{2}$ \textasciitilde{} \$}" in latex
    )  # the notation in math mode
    assert r"m\_1 \& \{x\} & " in latex  # a label is text, never math
