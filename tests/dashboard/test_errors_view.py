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
from conftest import REPO

from analysis.cache.contract import CacheKey
from analysis.evaluation.diagnose import JOINT_CLASSES, STEPS
from dashboard.caches import load_caches, load_keypoints
from dashboard.exports import catalog, errors
from dashboard.exports.items import FigureItem, TableItem
from dashboard.exports.state import ViewOptions, state_from_params
from dashboard.figures.errors import DEFINITIONS_CAPTION, STEP_LABELS, waterfall_figure


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


def test_exports_follow_the_command_line_diagnosis(small_state, demo_cache: Path) -> None:
    """Every figure and table states the definitions; the tables and the waterfall carry the numbers
    `python -m analysis diagnose --json` prints (same size definition: the default)."""
    items = catalog.exports("errors", small_state)
    figures = [i for i in items if isinstance(i, FigureItem)]
    tables = {i.name: i for i in items if isinstance(i, TableItem)}
    assert {f.stem for f in figures} == {"error-composition", "delta-ap-all", "delta-ap-small", "joint-accuracy",
                                         "ap-vs-oks", "reliability-all"}
    assert all(DEFINITIONS_CAPTION in f.caption for f in figures if f.stem.startswith(("error", "delta")))
    assert all(DEFINITIONS_CAPTION in t.caption for t in tables.values() if t.name.startswith(("error", "delta")))
    per_joint = tables["joint accuracy table"].table
    docs = {d["model"]: d for d in _cli_json(demo_cache, "demo-small")}
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


def test_export_command_writes_the_errors_view(demo_cache: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "dashboard.export", "--url", "ds=demo-small", "--views", "errors", "--formats",
         "svg", "--out", str(out), "--cache-dir", str(demo_cache)],
        cwd=REPO, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    for stem in ("error-composition", "delta-ap-all", "delta-ap-small"):
        assert (out / "errors" / f"{stem}.svg").is_file()
    table = pd.read_csv(out / "errors" / "delta-ap-table.csv")
    assert {"AP", "+miss", "+FN", "oracle AP"} <= set(table.columns)
    assert "\\begin{tabular}" in (out / "errors" / "delta-ap-table.tex").read_text()
    assert "Definitions: joint classes" in (out / "captions.txt").read_text()


def test_errors_page_draws_the_composition_and_the_waterfall(app_env) -> None:
    from dashboard_helpers import app, charts, open_view, texts

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
