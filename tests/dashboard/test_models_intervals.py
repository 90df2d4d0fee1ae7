"""Bootstrap intervals in the Models view: re-sliced with the stored settings, error bars,
Table 5 interval styles, and the paired comparison panel (checked against the CLI's JSON)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

from analysis.cache.contract import CacheKey
from analysis.cli import main
from analysis.definitions import AreaSource, SizeDefinition, SizeEdges
from analysis.evaluation.store import BootstrapSettings
from analysis.evaluation.table5 import TABLE5_COLUMNS
from dashboard import evaluations
from dashboard.exports import models as models_exports
from dashboard.figures.models import slice_ap_figure, table5_table
from tests.analysis.evaluation.reference import build, noisy_predictions
from tests.conftest import require_fixtures


@pytest.fixture(scope="module")
def two_models(tmp_path_factory: pytest.TempPathFactory):
    """coco-mini val with two models evaluated with intervals (read-only for the tests)."""
    tmp_path = tmp_path_factory.mktemp("intervals")
    doc = json.loads((require_fixtures() / "coco-mini/annotations/person_keypoints_val2017.json").read_text())
    root, key, _ = build(tmp_path, doc)
    files = []
    for seed in (1, 2):
        files.append(tmp_path / f"m{seed}.json")
        files[-1].write_text(json.dumps(noisy_predictions(doc, seed)))
    assert main(["evaluate", "--name", key.dataset, "--split", key.split, "--predictions", *map(str, files),
                 "--model", "m1", "--model", "m2", "--cache-dir", str(root), "--quiet",
                 "--bootstrap", "120", "--bootstrap-seed", "3"]) == 0  # fmt: skip
    return root, key


def _cli_json(capsys, *args: str) -> dict:
    assert main([*args]) == 0
    return json.loads(capsys.readouterr().out)


def test_resliced_intervals_follow_the_size_definition(two_models, capsys):
    root, key = two_models
    entry = next(m for m in evaluations.find_models(root, [key]) if m.model == "m1")
    assert entry.record.bootstrap == BootstrapSettings(120, 3, 0.95)
    size = SizeDefinition(AreaSource.BBOX, SizeEdges(48.0**2, 128.0**2))
    model = evaluations.model_result(root, entry, size)
    assert model.result.bootstrap == entry.record.bootstrap
    # The same slicing through the command line, on the stored evaluation.
    doc = _cli_json(
        capsys,
        "evaluate",
        "--name",
        key.dataset,
        "--split",
        key.split,
        "--model",
        "m1",
        "--json",
        "--cache-dir",
        str(root),
        "--edges",
        "48,128",
        "--bootstrap",
        "120",
        "--bootstrap-seed",
        "3",
    )
    for name, s in doc["slices"].items():
        ci = model.slices[name].ci
        assert {k: None if v is None else list(v) for k, v in ci.items()} == s["ci"], name
    # That stored the other slicing: restore the shared evaluation's definitions for the other tests.
    _cli_json(
        capsys,
        "evaluate",
        "--name",
        key.dataset,
        "--split",
        key.split,
        "--model",
        "m1",
        "--json",
        "--cache-dir",
        str(root),
        "--bootstrap",
        "120",
        "--bootstrap-seed",
        "3",
    )


def test_error_bars_and_interval_styles(two_models):
    root, key = two_models
    entries = evaluations.find_models(root, [key])
    models = [evaluations.model_result(root, e, e.definitions.size) for e in entries]
    fig = slice_ap_figure(models, caption="defs")
    for trace, model in zip(fig.data, models, strict=True):
        for i, name in enumerate(TABLE5_COLUMNS.values()):
            m = model.slices[name]
            if m.ap is None:
                assert np.isnan(trace.y[i])
                continue
            lo, hi = m.ci["AP"]
            assert trace.error_y.array[i] == pytest.approx(100 * (hi - m.ap), abs=1e-9)
            assert trace.error_y.arrayminus[i] == pytest.approx(100 * (m.ap - lo), abs=1e-9)
    assert "error bars: percentile intervals" in fig.layout.meta["caption"] and "B = 120" in fig.layout.meta["caption"]
    bracket = table5_table(models, "bracket")
    pm = table5_table(models, "pm")
    m = models[0].slices["all"]
    lo, hi = (100 * v for v in m.ci["AP"])
    assert bracket.loc[0, "AP"] == f"{100 * m.ap:.1f} [{lo:.1f}, {hi:.1f}]"
    assert pm.loc[0, "AP"] == f"{100 * m.ap:.1f} ± {(hi - lo) / 2:.1f}"
    assert table5_table(models, "none").loc[0, "AP"] == f"{100 * m.ap:.1f}"
    assert "ci_lo AP" in table5_table(models).columns  # numbers, for CSV and scripts


def test_comparison_panel_equals_compare_json(two_models, capsys):
    root, key = two_models
    entries = evaluations.find_models(root, [key])
    settings = BootstrapSettings(150, 0, 0.9)
    items = models_exports.comparison_items(SimpleNamespace(root=root), entries, settings)
    fig, table = items[0].figure, items[1].table
    doc = _cli_json(
        capsys,
        "compare",
        "--name",
        key.dataset,
        "--split",
        key.split,
        "--models",
        "m1",
        "m2",
        "--json",
        "--cache-dir",
        str(root),
        "--bootstrap",
        "150",
        "--confidence",
        "0.9",
    )
    slices = doc["models"][0]["slices"]
    bars = fig.data[0]
    assert bars.name == "m2"
    for i, name in enumerate(TABLE5_COLUMNS.values()):
        if slices[name] is None:
            assert np.isnan(bars.y[i])
            continue
        assert bars.y[i] == pytest.approx(100 * slices[name]["delta"]["AP"], abs=1e-9)
        lo, hi = slices[name]["ci"]["AP"]
        assert bars.y[i] + bars.error_y.array[i] == pytest.approx(100 * hi, abs=1e-9)
        assert bars.y[i] - bars.error_y.arrayminus[i] == pytest.approx(100 * lo, abs=1e-9)
        assert bars.text[i] == f"{100 * slices[name]['p_better']['AP']:.0f}%"
    assert any(s.y0 == 0 and s.y1 == 0 for s in fig.layout.shapes)  # the zero line
    row = table[(table["slice"] == "all") & (table["metric"] == "AR")].iloc[0]
    assert row["delta"] == pytest.approx(100 * slices["all"]["delta"]["AR"], abs=1e-9)
    assert row["p_better"] == pytest.approx(100 * slices["all"]["p_better"]["AR"], abs=1e-9)
    assert CacheKey(key.dataset, key.split) == entries[0].key


def test_latex_export_of_interval_cells(two_models):
    from dashboard.exports.latex import table_latex

    root, key = two_models
    entries = evaluations.find_models(root, [key])
    models = [evaluations.model_result(root, e, e.definitions.size) for e in entries]
    tex = table_latex(table5_table(models, "pm"), caption="c")
    m = models[0].slices["all"]
    lo, hi = (100 * v for v in m.ci["AP"])
    assert f"{100 * m.ap:.1f} $\\pm$ {(hi - lo) / 2:.1f}" in tex
    assert "±" not in tex and "†" not in tex  # compiles with default fonts
    assert "$^\\dagger$" in tex  # coco-mini's medium slice has 25 persons
