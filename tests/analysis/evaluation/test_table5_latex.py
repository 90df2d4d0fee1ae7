"""Table 5 as papers print it, from one writer (``table5_latex``) behind both
``evaluate --table-latex`` and the dashboard's models export: chosen columns, one n_gt
row per test set, display names, groups with a rule between them, the best value bold
within a group on the printed value, a label, math mode, and -- for an empty slice."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.build.run import build_split
from analysis.cache.key import CacheKey
from analysis.cli import main
from analysis.evaluation.definitions import EvaluationDefinitions
from analysis.evaluation.slices import SLICE_NAMES, EvaluationResult, SliceMetrics
from analysis.evaluation.table5 import PAPER_COLUMNS, parse_columns, table5_frame, table5_latex
from analysis.identity import DatasetIdentity
from analysis.registry import DatasetSpec
from dashboard import evaluations
from dashboard.exports import models as models_exports
from dashboard.exports.items import TableItem
from dashboard.exports.render import RenderOptions, table_files
from tests.analysis.evaluation.reference import noisy_predictions
from tests.conftest import require_fixtures
from tests.pdflatex import assert_compiles


def _result(ap: dict[str, float | None], n_gt: int = 100) -> EvaluationResult:
    """A result whose slice ``name`` has AP ``ap[name]`` (default 0.5; None: no ground truth)."""
    slices = {}
    for name in SLICE_NAMES:
        value = ap.get(name, 0.5)
        if value is None:
            slices[name] = SliceMetrics(None, None, None, None, 0, np.full((10, 101), np.nan))
        else:
            slices[name] = SliceMetrics(value, value, value, value, n_gt, np.full((10, 101), value))
    return EvaluationResult("m", EvaluationDefinitions(sigmas=(0.05,) * 17), slices)


def _body(tex: str) -> list[str]:
    """The rows between the header and \\bottomrule."""
    lines = tex.splitlines()
    return lines[lines.index(next(x for x in lines if x.startswith("Model &"))) + 1 : lines.index(r"\bottomrule")]


def _cells(line: str) -> list[str]:
    return line.removesuffix(r" \\").split(" & ")


def test_groups_rules_counts_and_bold_on_the_printed_value() -> None:
    rows = [
        ("A", _result({"all": 0.61449, "small": 0.3}, n_gt=120)),  # prints 61.4: not the best of its group
        ("B", _result({"all": 0.61549, "small": 0.2}, n_gt=120)),  # prints 61.5
        ("C", _result({"all": 0.61451, "small": 0.25}, n_gt=120)),  # prints 61.5 too: a tie, both bold
        ("D", _result({"all": 0.9, "small": None}, n_gt=7)),  # alone in its group: nothing bold
    ]
    tex = table5_latex(
        table5_frame(rows),
        "AP (%) of persons with area < 32^2",
        columns=("AP", "AP^S"),
        test_sets=["CrowdPose/val", "CrowdPose/val", "CrowdPose/val", "COCO/val"],
        label="tab:t5",
    )
    body = _body(tex)
    assert body == [
        r"\midrule",
        r"\multicolumn{3}{l}{\textit{CrowdPose/val}} \\",
        r"$n_{gt}$ & 120 & 120 \\",
        r"A & 61.4 & \textbf{30.0} \\",
        r"B & \textbf{61.5} & 20.0 \\",
        r"C & \textbf{61.5} & 25.0 \\",
        r"\midrule",
        r"\multicolumn{3}{l}{\textit{COCO/val}} \\",
        r"$n_{gt}$ & 7$^\dagger$ & 0 \\",
        r"D & 90.0 & -- \\",
    ]
    assert r"\label{tab:t5}" in tex
    assert r"\begin{tabular}{lrr}" in tex and "Model & AP & AP$^S$ \\\\" in tex
    caption = re.search(r"\\caption\{(.*)\}\n", tex).group(1)
    assert "$< 32^{2}$" in caption or "$<$ $32^{2}$" in caption  # math mode, never \textless{} or ^ as text
    assert r"\textless" not in tex and r"\textasciicircum" not in tex
    assert "$^\\dagger$ the slice has fewer than 30 persons" in caption and "--: no ground truth" in caption


def test_a_one_model_table_has_no_bold_and_the_default_columns_are_the_papers() -> None:
    tex = table5_latex(table5_frame([("only", _result({}))]), "c")
    assert r"\textbf" not in tex
    header = next(x for x in tex.splitlines() if x.startswith("Model &"))
    assert header == "Model & AP & AP$^S$ & AP$^M$ & AP$^L$ & AP$^S_{Sp}$ & AP$^S_{Mo}$ & AP$^S_{De}$ \\\\"
    assert len(PAPER_COLUMNS) == 7  # DESIGN.md: the paper's Table 5 prints these seven


def test_columns_parse_from_the_command_lines_codes() -> None:
    assert parse_columns("AP,APS,APS_Sp,apm_crowd,APH") == ("AP", "AP^S", "AP^S_Sp", "AP^M(crowd)", "AP^H")
    with pytest.raises(ValueError, match="unknown Table 5 column APX"):
        parse_columns("AP,APX")


@pytest.fixture(scope="module")
def evaluated_with_display_name(tmp_path_factory: pytest.TempPathFactory):
    """coco-mini val, displayed as "COCO mini", with two models evaluated by the command,
    which also wrote its Table 5 LaTeX with chosen columns."""
    tmp_path = tmp_path_factory.mktemp("table5")
    path = require_fixtures() / "coco-mini/annotations/person_keypoints_val2017.json"
    doc = json.loads(path.read_text())
    root = tmp_path / "cache"
    build_split(
        DatasetSpec("mini", "val", path, identity=DatasetIdentity(display_name="COCO mini")), root, progress=False
    )
    files = []
    for seed in (1, 2):
        files.append(tmp_path / f"m{seed}.json")
        files[-1].write_text(json.dumps(noisy_predictions(doc, seed)))
    tex = tmp_path / "t5.tex"
    assert (
        main(
            [
                "evaluate",
                "--name",
                "mini",
                "--split",
                "val",
                "--predictions",
                *map(str, files),
                "--model",
                "model_a",
                "--model",
                "B",
                "--cache-dir",
                str(root),
                "--quiet",
                "--table-latex",
                str(tex),
                "--columns",
                "AP,APS,APM,APL,APS_Sp",
                "--json",
            ]
        )
        == 0
    )
    return root, tex.read_text()


def test_the_command_and_the_export_print_one_table5(evaluated_with_display_name, capsys, tmp_path: Path) -> None:
    root, cli_tex = evaluated_with_display_name
    capsys.readouterr()
    entries = evaluations.find_models(root, [CacheKey("mini", "val")])
    models = [evaluations.model_result(root, e, e.definitions.size) for e in entries]
    chosen = models_exports.EvaluatedModels(tuple(entries), tuple(models), labels={"mini/val": "COCO mini/val"})
    item = models_exports.table5_items(chosen, "bracket", "AP,APS,APM,APL,APS_Sp")[0]
    assert isinstance(item, TableItem)
    export_tex = table_files(item, RenderOptions())["models-table5.tex"].decode()
    # one writer: the same rows, cells and bold (the command keeps its --model order, the page its own)
    assert sorted(_body(cli_tex)) == sorted(_body(export_tex)) and _body(cli_tex)[:3] == _body(export_tex)[:3]
    for tex in (cli_tex, export_tex):
        assert "COCO mini/val" in tex and "mini/val}" not in tex.replace("COCO mini/val", "")
        assert "Model & AP & AP$^S$ & AP$^M$ & AP$^L$ & AP$^S_{Sp}$ \\\\" in tex
        assert tex.count("$n_{gt}$ &") == 1 and "model\\_a &" in tex
        assert r"\label{" in tex
    # the values are the stored evaluation's, bold on the larger printed AP
    printed = {m.model: f"{100 * m.result.slices['all'].ap:.1f}" for m in models}
    rows = {_cells(x)[0]: _cells(x) for x in _body(cli_tex) if x.startswith(("model", "B "))}
    best = max(printed.values(), key=float)
    for label, model in (("model\\_a", "model_a"), ("B", "B")):
        cell = rows[label][1]
        assert cell == (rf"\textbf{{{printed[model]}}}" if printed[model] == best else printed[model])
    assert "nan" not in cli_tex and "None" not in cli_tex
    assert_compiles([cli_tex, export_tex], tmp_path)


def test_the_screen_table_shows_an_empty_slice_as_dashes() -> None:
    table = pd.DataFrame({"model": ["a", "b"], "AP^S": [50.0, np.nan], "n": [1, 2]})
    shown = TableItem("t", table, digits=1).on_screen()
    assert list(shown["AP^S"]) == ["50.0", "--"]
    assert list(shown["n"]) == [1, 2]


def test_a_spec_chooses_the_export_columns_by_the_same_codes() -> None:
    from dashboard.exports.state import ViewOptions

    assert ViewOptions.from_mapping({"table5_columns": "AP,APS"}).table5_columns == "AP,APS"
    with pytest.raises(ValueError, match="table5_columns: unknown Table 5 column APX"):
        ViewOptions.from_mapping({"table5_columns": "AP,APX"})
    with pytest.raises(ValueError, match="table5_columns"):
        ViewOptions.from_mapping({"table5_columns": 3})


def test_bracketed_intervals_stack_under_the_values_and_fit_the_text_width(tmp_path: Path) -> None:
    """The default interval style (bracket) with the paper's seven columns: each interval on a
    second line under its value in \\scriptsize, long model labels wrapped, the n_gt row kept,
    and the table no wider than an article's \\textwidth (pdflatex's Overfull check); it ran
    307 pt over with the intervals beside the values (issue 14c item 2)."""
    labels = ["HRNet-W32 trained on COCO train2017", "SimpleBaseline ResNet-50 (ours)", "model_a", "B"]
    rows = [(label, _result({"all": 0.6 + 0.01 * i, "large": None}, n_gt=100 + i)) for i, label in enumerate(labels)]
    frame = table5_frame(rows)
    rng = np.random.default_rng(0)
    for column in PAPER_COLUMNS:  # intervals as table5_frame writes them from a bootstrap (percent)
        lo = frame[column].to_numpy() - rng.uniform(0.5, 9.0, len(frame))
        frame[f"ci_lo {column}"], frame[f"ci_hi {column}"] = lo, lo + rng.uniform(1.0, 20.0, len(frame)) + 9.0
    tex = table5_latex(frame, "AP (%)", test_sets=["CrowdPose/val"] * 3 + ["COCO/val"], label="tab:bracketed")
    body = _body(tex)
    assert r"\setlength{\tabcolsep}{2pt}" in tex
    assert [x for x in body if x.startswith("$n_{gt}$")] == [
        r"$n_{gt}$ & "
        + " & ".join([r"{\scriptsize 100--102}"] * 3 + ["{\\scriptsize 0}"] + [r"{\scriptsize 100--102}"] * 3)
        + r" \\",
        r"$n_{gt}$ & "
        + " & ".join([r"{\scriptsize 103}"] * 3 + ["{\\scriptsize 0}"] + [r"{\scriptsize 103}"] * 3)
        + r" \\",
    ]
    model_rows = [x for x in body if "tabular" in x]
    assert len(model_rows) == len(labels)
    for line, (label, (_, row)) in zip(model_rows, zip(labels, frame.iterrows(), strict=True), strict=True):
        cells = _cells(line)
        assert cells[0].startswith(r"\parbox[t]{") and label.replace("_", r"\_") in cells[0]
        for column, cell in zip(PAPER_COLUMNS, cells[1:], strict=True):
            if column == "AP^L":
                assert cell == "--"
                continue
            lo, hi = row[f"ci_lo {column}"], row[f"ci_hi {column}"]
            value = re.sub(
                r"\\textbf\{(.*?)\}", r"\1", cell.split(r"\\")[0].removeprefix(r"\begin{tabular}[t]{@{}c@{}}")
            )
            assert value == f"{row[column]:.1f}"
            assert cell.endswith(rf"\\{{\scriptsize [{lo:.1f},\,{hi:.1f}]}}\end{{tabular}}")
    assert_compiles([tex], tmp_path)
