"""The Errors view's exports: the diagnosis of stored evaluations as figures and tables."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.cache.contract import CacheKey
from analysis.evaluation.diagnose import JOINT_CLASSES, STEPS
from dashboard.caches import load_caches, load_keypoints
from dashboard.exports import catalog, errors
from dashboard.exports.items import FigureItem, TableItem
from dashboard.exports.state import ViewOptions, state_from_params
from dashboard.figures.errors import DEFINITIONS_CAPTION, STEP_LABELS, waterfall_figure
from tests.dashboard.dashboard_helpers import REPO


@pytest.fixture(scope="module")
def small_state(demo_cache: Path):
    caches = load_caches(demo_cache)
    keypoints = functools.cache(lambda d, s: load_keypoints(demo_cache, CacheKey(d, s)))
    return state_from_params(caches, {"ds": "demo-small"}, ViewOptions(), keypoints, root=demo_cache)


def _cli_json(demo_cache: Path, dataset: str) -> list[dict]:
    proc = subprocess.run(
        [sys.executable, "-m", "analysis", "diagnose", "--name", dataset, "--split", "val", "--cache-dir",
         str(demo_cache), "--json"],
        cwd=REPO, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    return doc if isinstance(doc, list) else [doc]


@pytest.mark.slow
def test_exports_follow_the_command_line_diagnosis(small_state, demo_cache: Path) -> None:
    """Every figure and table states the definitions; the tables and the waterfall carry the numbers
    `python -m analysis diagnose --json` prints (same size definition: the default)."""
    items = catalog.exports("errors", small_state)
    figures = [i for i in items if isinstance(i, FigureItem)]
    tables = {i.name: i for i in items if isinstance(i, TableItem)}
    assert {f.stem for f in figures} == {
        "error-composition",
        "delta-ap-all",
        "delta-ap-small",
        "joint-accuracy",
        "ap-vs-oks",
        "ap-vs-size",
        "missed-by-size",
        "reliability-all",
        "reliability-small",
    }
    assert all(DEFINITIONS_CAPTION in f.caption for f in figures if f.stem.startswith(("error", "delta")))
    assert all(DEFINITIONS_CAPTION in t.caption for t in tables.values() if t.name.startswith(("error", "delta")))
    per_joint = tables["joint accuracy table"].table
    docs = {d["model"]: d for d in _cli_json(demo_cache, "demo-small")}
    sizes = tables["size bins table"].table
    for model, doc in docs.items():
        rows = sizes[sizes["model"] == model]
        bins = doc["ap_by_size"]["bins"]
        assert rows["n_gt"].tolist() == [b["n_gt"] for b in bins]
        assert rows["missed"].tolist() == [b["missed"] for b in bins]
        assert rows["missed@0.5"].tolist() == [b["missed_50"] for b in bins]
        ap = [np.nan if b["AP"] is None else 100 * b["AP"] for b in bins]
        assert rows["AP"].to_numpy(float) == pytest.approx(np.array(ap), nan_ok=True)
        assert rows["persons share"].sum() == pytest.approx(1.0)
    composition = tables["error composition table"].table
    delta = tables["delta ap table"].table
    assert set(composition["model"]) == set(docs)
    for model, doc in docs.items():
        for slice_name, s in doc["slices"].items():
            row = composition[(composition["model"] == model) & (composition["slice"] == slice_name)].iloc[0]
            assert [row[c] for c in JOINT_CLASSES] == [s["joints"][c] for c in JOINT_CLASSES]
            total = sum(s["joints"].values())
            if total:
                assert sum(row[f"{c} share"] for c in JOINT_CLASSES) == pytest.approx(1.0)
            d = delta[(delta["model"] == model) & (delta["slice"] == slice_name)].iloc[0]
            if s["ap"]["base"] is None:
                assert np.isnan(d["AP"])
                continue
            ap = [100 * s["ap"][k] for k in STEPS]
            assert d["AP"] == pytest.approx(ap[0])
            assert [d[f"+{STEP_LABELS[k]}"] for k in STEPS[1:]] == pytest.approx(np.diff(ap).tolist())
            assert d["oracle AP"] == pytest.approx(ap[-1])
            calibration = tables["calibration table"].table
            c = calibration[(calibration["model"] == model) & (calibration["slice"] == slice_name)].iloc[0]
            assert c["detections"] == s["calibration"]["n"]
            if s["calibration"]["ece"] is not None:
                assert (c["ECE"], c["MCE"]) == pytest.approx((s["calibration"]["ece"], s["calibration"]["mce"]))
            if slice_name in ("all", "small", "medium", "large"):
                rows = per_joint[(per_joint["model"] == model) & (per_joint["slice"] == slice_name)]
                assert rows["n"].tolist() == [v["n"] for v in s["per_joint"].values()]
                assert rows["joint"].tolist() == list(s["per_joint"])


def test_waterfall_ends_at_the_oracle_and_says_when_a_slice_is_empty(small_state) -> None:
    models, problems = errors.diagnosed(small_state, errors.stored_models(small_state))
    assert not problems and models
    fig = waterfall_figure(models, "small")
    for trace, m in zip(fig.data, models, strict=True):
        ys = np.asarray(trace.y, dtype=float)
        assert ys[0] == pytest.approx(100 * m.diagnosis.slices["small"].ap["base"])
        assert ys[:-1].sum() == pytest.approx(100 * m.diagnosis.slices["small"].ap["false_negatives"])
        assert list(trace.measure)[-1] == "total"
    empty = [n for n in ("small/sparse", "small/moderate", "small/dense")
             if all(m.diagnosis.slices[n].n_gt == 0 for m in models)]  # fmt: skip
    for name in empty:
        assert "no ground truth" in waterfall_figure(models, name).layout.meta["caption"]


@pytest.mark.slow
def test_export_command_writes_the_errors_view(demo_cache: Path, tmp_path: Path, capsys) -> None:
    # in-process (the command's process itself is tested in tests/dashboard/exports/test_cli.py)
    from dashboard.exports.cli import main

    out = tmp_path / "out"
    rc = main(["--url", "ds=demo-small", "--views", "errors", "--formats", "svg", "--out", str(out),
               "--cache-dir", str(demo_cache)])  # fmt: skip
    assert rc == 0, capsys.readouterr().err
    for stem in ("error-composition", "delta-ap-all", "delta-ap-small"):
        assert (out / "errors" / f"{stem}.svg").is_file()
    table = pd.read_csv(out / "errors" / "delta-ap-table.csv")
    assert {"AP", "+miss", "+FN", "oracle AP"} <= set(table.columns)
    assert "\\begin{tabular}" in (out / "errors" / "delta-ap-table.tex").read_text()
    assert "Definitions: joint classes" in (out / "captions.txt").read_text()


def test_errors_page_draws_the_composition_and_the_waterfall(app_env) -> None:
    from tests.dashboard.dashboard_helpers import app, charts, open_view, texts

    at = open_view(app({"ds": "demo-small"}), "errors")
    assert not at.exception, [e.value for e in at.exception]
    drawn = charts(at)
    assert {t["name"] for t in drawn[0]} == set(JOINT_CLASSES)  # the composition's stacked classes
    assert all(t["type"] == "waterfall" for t in drawn[1])
    assert "Definitions: joint classes" in texts(at)


def test_ap_vs_oks_means_to_the_slice_ap(small_state, demo_cache: Path) -> None:
    """Each row's mean is the slice's AP, its 0.50 and 0.75 columns AP50 and AP75, as `evaluate`
    stored them (the stored record's slice summaries, pycocotools-exact elsewhere)."""
    from analysis.evaluation.store import list_evaluations

    items = errors.ap_by_threshold_items(small_state, errors.stored_models(small_state))
    table = next(i for i in items if isinstance(i, TableItem)).table
    records = {r.model: r for r in list_evaluations(demo_cache, CacheKey("demo-small", "val"))}
    columns = [c for c in table.columns if c not in ("model", "slice")]
    assert len(columns) == 10
    for _, row in table.iterrows():
        summary = records[row["model"]].slices[row["slice"]]
        if summary.AP is None:
            assert row[columns].isna().all()
            continue
        assert row[columns].astype(float).mean() == pytest.approx(100 * summary.AP)
        assert row["0.50"] == pytest.approx(100 * summary.AP50)
        assert row["0.75"] == pytest.approx(100 * summary.AP75)


def test_size_figures_draw_the_table(small_state) -> None:
    """AP vs size: a line per model over the bins, the persons per bin as bars; missed by size: the
    persons' share per bin beside each model's missed shares (percent), with the totals in the caption."""
    from dashboard.figures.errors import ap_by_size_figure, missed_by_size_figure, size_bins_table

    models, _ = errors.diagnosed(small_state, errors.stored_models(small_state))
    table = size_bins_table(models)
    fig = ap_by_size_figure(models)
    lines = [t for t in fig.data if t.type == "scatter"]
    assert [t.name for t in lines] == list(dict.fromkeys(table["model"]))
    for trace in lines:
        part = table[table["model"] == trace.name]
        # Drawn from the first to the last bin with persons (the rest only widen the axis).
        populated = np.flatnonzero(part["n_gt"].to_numpy() > 0)
        part = part.iloc[populated[0] : populated[-1] + 1]
        assert list(trace.x) == part["bin"].tolist()
        assert np.asarray(trace.y, float) == pytest.approx(part["AP"].to_numpy(float), nan_ok=True)
    bars = [t for t in fig.data if t.type == "bar"]
    first = table[(table["model"] == lines[0].name) & table["bin"].isin(list(lines[0].x))]
    assert len(bars) == 1 and list(bars[0].y) == first["n_gt"].tolist()
    # The size definition's edges (32 and 96 px) are marked between the bins around them, where drawn.
    x = list(lines[0].x)
    expected = [x.index(label) - 0.5 for label in ("32-40", "96-104") if label in x]
    assert expected and sorted(round(s.x0, 2) for s in fig.layout.shapes) == expected
    missed = missed_by_size_figure(models)
    assert np.asarray(missed.data[0].y, float) == pytest.approx(100 * first["persons share"].to_numpy(float))
    assert f"{int(first['missed'].sum())} missed at OKS 0.1" in missed.layout.meta["caption"]


@pytest.mark.slow
def test_spec_exports_the_errors_view_with_its_options(demo_cache: Path, tmp_path: Path) -> None:
    """A spec's ``view = "errors"`` entries: the page's slice and OKS choice as options, items picked
    by stem and renamed; the waterfall drawn is the chosen slice's at OKS 0.75."""
    from dashboard.exports.cli import plan_from_spec, run
    from dashboard.exports.state import ViewOptions
    from dashboard.figures.errors import delta_ap_table

    spec = tmp_path / "paper.toml"
    spec.write_text(f'''
url = "ds=demo-small"
formats = ["svg"]
out = "figures"
cache_dir = "{demo_cache}"

[[export]]
view = "errors"
items = ["delta-ap-medium-at-oks", "reliability-medium", "delta-ap-table-at-oks"]
options = {{ errors_slice = "medium", errors_at_oks = true }}

[[export]]
view = "errors"
items = ["ap-vs-size"]
name = "fig-ap-size"
width = "double"
''')
    plan = plan_from_spec(spec, None, None)
    assert plan.jobs[0].options.errors_slice == "medium" and plan.jobs[0].options.errors_at_oks
    files, _ = run(plan, demo_cache)
    assert sorted(files) == [
        "captions.tex",
        "captions.txt",
        "errors/delta-ap-medium-at-oks.svg",
        "errors/delta-ap-table-at-oks.csv",
        "errors/delta-ap-table-at-oks.tex",
        "errors/fig-ap-size.svg",
        "errors/reliability-medium.svg",
    ]
    state = state_from_params(load_caches(demo_cache), {"ds": "demo-small"}, ViewOptions(), root=demo_cache)
    models, _ = errors.diagnosed(state, errors.stored_models(state))
    svg = files["errors/delta-ap-medium-at-oks.svg"].decode()
    for ap in delta_ap_table(models, ["medium"], at_oks=True)["AP"]:
        assert f">{ap:.1f}<" in svg  # the bars' labels: the slice's AP at OKS 0.75
    with pytest.raises(ValueError, match="errors_slice = 'tiny'.*one of all, small"):
        ViewOptions.from_mapping({"errors_slice": "tiny"})


def test_documented_errors_spec_is_valid(tmp_path: Path) -> None:
    """The spec example of the diagnosis guide parses into the exports it describes."""
    from dashboard.exports.cli import plan_from_spec

    guide = (REPO / "docs" / "guides" / "diagnosis.md").read_text()
    block = guide.split("In a spec file", 1)[1].split("```toml\n", 1)[1].split("```", 1)[0]
    spec = tmp_path / "paper.toml"
    spec.write_text(block)
    plan = plan_from_spec(spec, tmp_path / "out", None)
    assert [(j.view, j.items, j.name, j.options.errors_slice, j.options.errors_at_oks) for j in plan.jobs] == [
        ("errors", ("delta-ap-small-at-oks", "delta-ap-table", "ap-vs-size"), None, "small", True),
        ("errors", ("missed-by-size",), "fig-missed", "small", False),
    ]


def test_composition_is_small_multiples_per_model(small_state) -> None:
    """One panel per model on the slices' shared axis, each bar the shares of the composition
    table; past two models the panels are lettered and the caption names them."""
    from dataclasses import replace

    from dashboard.figures.errors import composition_figure, composition_table

    models, _ = errors.diagnosed(small_state, errors.stored_models(small_state))
    four = [*models, *(replace(m, key="other/val") for m in models)]
    for chosen in (models, four):
        fig = composition_figure(chosen)
        table = composition_table(chosen)
        names = list(dict.fromkeys(table["model"]))
        axes = list(dict.fromkeys(t.xaxis for t in fig.data))
        assert len(axes) == len(names)
        for axis, name in zip(axes, names, strict=True):
            good = next(t for t in fig.data if t.xaxis == axis and t.name == "good")
            assert list(good.y) == list(table[table["model"] == name]["slice"])
            shares = 100 * table[table["model"] == name]["good share"].to_numpy(float)
            assert np.asarray(good.x, float) == pytest.approx(shares, nan_ok=True)
        titles = [fig.layout[a.replace("x", "xaxis")].title.text for a in axes]
        if len(names) > 2:
            assert titles == ["(a)", "(b)", "(c)", "(d)"]
            assert f"(c) {names[2]}" in fig.layout.meta["caption"]
        else:
            assert [t.replace("<br>", " ") for t in titles] == names
