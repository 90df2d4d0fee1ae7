"""Paired comparison: hotcoco's compare() run in the same test, identical models, groups, bad input."""

from __future__ import annotations

import json
import os
import statistics
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from analysis.cache.contract import read_images, read_instances
from analysis.cli import main
from analysis.evaluation.bootstrap import all_replicates, image_weights
from analysis.evaluation.run import EvaluationRequest, evaluate_files
from analysis.evaluation.slices import SLICE_NAMES, slice_matches
from analysis.evaluation.store import BootstrapSettings, read_evaluation
from tests.analysis.evaluation.reference import build, noisy_predictions
from tests.conftest import require_fixtures

METRICS = ("AP", "AP50", "AP75", "AR")
COCO_MINI = "coco-mini/annotations/person_keypoints_val2017.json"


def _setup(tmp_path: Path, seeds: dict[str, int], relative: str = COCO_MINI):
    path = require_fixtures() / relative
    doc = json.loads(path.read_text())
    root, key, _ = build(tmp_path, path)
    files = {}
    for label, seed in seeds.items():
        files[label] = tmp_path / f"{label}.json"
        files[label].write_text(json.dumps(noisy_predictions(doc, seed)))
    request = EvaluationRequest(sigmas="coco")
    outcomes = evaluate_files(root, key, list(files.values()), list(files), request, progress=False)
    return root, key, path, files, {o.result.model: o.result.to_json()["slices"] for o in outcomes}


@dataclass
class _Run:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def cli(capsys):
    """``python -m analysis ...`` in process (the exit code, stdout, stderr)."""

    def run(root: Path, *args: str) -> _Run:
        code = main([*args, "--cache-dir", str(root)])
        out = capsys.readouterr()
        return _Run(code, out.out, out.err)

    return run


def _require_hotcoco():
    """hotcoco (requirements-cluster.txt), or skip locally / fail under CI."""
    try:
        import hotcoco
    except ImportError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"hotcoco must import under CI: {exc}")
        pytest.skip(f"hotcoco not installed: {exc}")
    return hotcoco


def _replicate_ap(root, key, label: str, weights: np.ndarray) -> np.ndarray:
    stored = read_evaluation(root, key, label)
    images, instances = read_images(root, key), read_instances(root, key)
    _, _, matches = slice_matches(stored, images, instances, stored.definitions)
    ids = np.sort(images["image_id"].to_numpy(np.int64))
    settings = BootstrapSettings(len(weights), 0, 0.95)
    return all_replicates({"all": matches["all"]}, ids, settings, weights)["all"][:, 0]


def test_paired_interval_agrees_with_hotcoco_compare(tmp_path: Path, cli) -> None:
    """hotcoco 1.3.0 draws image ids with replacement but evaluates the set of drawn images, so an
    image drawn k times counts once.  With that scheme replicated here (weights min(k, 1)), our
    paired AP-difference bounds and win share agree with hotcoco's within Monte-Carlo error: two
    independent B = 2000 estimates of a 2.5% quantile differ by about sqrt(2) * sqrt(0.025 * 0.975
    / 2000) / phi(1.96) = 0.085 standard deviations of the replicate differences (normal
    approximation); the tolerance is 0.4 of that standard deviation, over 4 Monte-Carlo SE."""
    hotcoco = _require_hotcoco()
    root, key, gt_path, files, _ = _setup(tmp_path, {"a": 1, "b": 2})
    coco = hotcoco.COCO(str(gt_path))
    evals = []
    for label in ("a", "b"):
        ev = hotcoco.COCOeval(coco, coco.load_res(str(files[label])), "keypoints")
        ev.evaluate()
        evals.append(ev)
    ref = hotcoco.compare(evals[0], evals[1], n_bootstrap=2000, seed=7)
    b = 2000
    n_images = len(read_images(root, key))
    assert ref["num_images"] == n_images
    capped = (image_weights(n_images, BootstrapSettings(b, 3, 0.95)) > 0).astype(np.int32)
    diff = _replicate_ap(root, key, "b", capped) - _replicate_ap(root, key, "a", capped)
    sd = float(np.std(diff))
    lo, hi = np.quantile(diff, [0.025, 0.975])
    assert abs(lo - ref["ci"]["AP"]["lower"]) <= 0.4 * sd, (lo, ref["ci"]["AP"], sd)
    assert abs(hi - ref["ci"]["AP"]["upper"]) <= 0.4 * sd, (hi, ref["ci"]["AP"], sd)
    share = float(np.mean(diff > 0))
    p = ref["ci"]["AP"]["prob_positive"]
    assert abs(share - p) <= 4 * np.sqrt(2 * max(p * (1 - p), 0.01) / b), (share, p)
    assert abs(sd - ref["ci"]["AP"]["std_err"]) <= 0.1 * sd, (sd, ref["ci"]["AP"]["std_err"])
    # The point difference is the same number (hotcoco's AP is pycocotools' on these files).
    result = cli(root, "compare", "--name", key.dataset, "--split", key.split, "--models", "a", "b", "--json",
                  "--bootstrap", "200")  # fmt: skip
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert abs(doc["models"][0]["slices"]["all"]["delta"]["AP"] - ref["deltas"]["AP"]) <= 1e-9
    assert abs(doc["models"][0]["slices"]["all"]["delta"]["AR"] - ref["deltas"]["AR"]) <= 1e-9


def test_compare_json_shape_identical_models_and_groups(tmp_path: Path, cli) -> None:
    root, key, _, _, evaluated = _setup(tmp_path, {"ref": 1, "same": 1, "b": 2, "c": 3, "d": 4})
    base = ["compare", "--name", key.dataset, "--split", key.split, "--bootstrap", "300", "--bootstrap-seed", "5"]
    result = cli(root, *base, "--models", "ref", "same", "b", "--group", "cd=c,d", "--group", "bb=b,b", "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["reference"] == "ref"
    assert doc["bootstrap"] == {"B": 300, "seed": 5, "confidence": 0.95, "unit": "image"}
    assert [m["model"] for m in doc["models"]] == ["same", "b"]
    same, other = doc["models"]
    for name in SLICE_NAMES:
        assert set(same["slices"]) == set(SLICE_NAMES)
        if evaluated["ref"][name]["n_gt"] == 0:
            assert same["slices"][name] is None and other["slices"][name] is None
            continue
        for m in METRICS:
            # Identical predictions: every difference is exactly 0, and never a win.
            assert same["slices"][name]["delta"][m] == 0.0
            assert same["slices"][name]["ci"][m] == [0.0, 0.0]
            assert same["slices"][name]["p_better"][m] == 0.0
            expected = evaluated["b"][name][m] - evaluated["ref"][name][m]
            assert other["slices"][name]["delta"][m] == pytest.approx(expected, abs=1e-12)
            lo, hi = other["slices"][name]["ci"][m]
            assert lo <= hi and 0.0 <= other["slices"][name]["p_better"][m] <= 1.0
    cd, bb = doc["groups"]
    assert cd["members"] == ["c", "d"]
    for name in SLICE_NAMES:
        if evaluated["ref"][name]["n_gt"] == 0:
            continue
        for m in METRICS:
            values = [evaluated["c"][name][m], evaluated["d"][name][m]]
            assert cd["spread"][name][m]["mean"] == pytest.approx(statistics.mean(values), abs=1e-12)
            assert cd["spread"][name][m]["sd"] == pytest.approx(statistics.stdev(values), abs=1e-12)
            assert cd["slices"][name]["delta"][m] == pytest.approx(
                statistics.mean(values) - evaluated["ref"][name][m], abs=1e-12
            )
            # A group of one model twice is that model, resample by resample.
            assert bb["slices"][name] == other["slices"][name] or all(
                bb["slices"][name][k][m] == pytest.approx(other["slices"][name][k][m], abs=1e-12)
                for k in ("delta", "p_better")
            )
    text = cli(root, *base, "--models", "ref", "b", "--table-latex", str(tmp_path / "t.tex"),
                "--table-csv", str(tmp_path / "t.csv"))  # fmt: skip
    assert text.returncode == 0, text.stderr
    assert "resamples" in text.stdout and "ΔAP" in text.stdout
    latex = (tmp_path / "t.tex").read_text()
    assert "B = 300" in latex and "\\begin{tabular}" in latex
    csv_lines = (tmp_path / "t.csv").read_text().splitlines()
    assert csv_lines[0].startswith("# paired image bootstrap") and len(csv_lines) == 2 + len(SLICE_NAMES) * 4


def test_compare_refuses_other_definitions_and_unknown_models(tmp_path: Path, cli) -> None:
    root, key, _, files, _ = _setup(tmp_path, {"a": 1})
    other = cli(root, "evaluate", "--name", key.dataset, "--split", key.split, "--predictions", str(files["a"]),
                 "--model", "wide", "--edges", "40,100", "--quiet")  # fmt: skip
    assert other.returncode == 0, other.stderr
    base = ["compare", "--name", key.dataset, "--split", key.split, "--bootstrap", "10"]
    bad = cli(root, *base, "--models", "a", "wide")
    assert bad.returncode != 0 and "Traceback" not in bad.stderr
    assert "'wide'" in bad.stderr and "definitions" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    missing = cli(root, *base, "--models", "a", "nope")
    assert missing.returncode != 0 and "'nope'" in missing.stderr and "Traceback" not in missing.stderr
    group = cli(root, *base, "--models", "a", "--group", "g=a")
    assert group.returncode != 0 and "--group" in group.stderr and "Traceback" not in group.stderr
