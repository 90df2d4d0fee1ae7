"""The evaluation benchmark's parts run and agree with pycocotools on a small set (no timing)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from analysis.build.run import build_split
from analysis.cache.contract import CacheKey
from analysis.registry import DatasetSpec
from benchmarks.evaluate import bench_ours, bench_pycocotools, make_predictions
from benchmarks.synthetic_coco import write_synthetic_coco


def test_benchmark_parts_agree_with_pycocotools(tmp_path) -> None:
    gt_path = tmp_path / "gt.json"
    write_synthetic_coco(gt_path, n_images=120, n_persons=300, polygon_points=8, seed=1)
    gt = orjson.loads(gt_path.read_bytes())
    preds = make_predictions(gt, 200, seed=2)
    assert len(preds) == 200
    assert all(len(p["keypoints"]) == 51 for p in preds)
    assert {p["image_id"] for p in preds} <= {im["id"] for im in gt["images"]}
    preds_path = tmp_path / "preds.json"
    preds_path.write_bytes(orjson.dumps(preds))
    root, key = tmp_path / "cache", CacheKey("bench", "val")
    build_split(DatasetSpec(key.dataset, key.split, gt_path), root, progress=False)
    _, _, ap_reference = bench_pycocotools(gt, preds, repeat=1)
    ours = bench_ours(root, key, preds_path, repeat=1)
    assert abs(ours["ap"] - ap_reference) < 1e-9
    assert 0 < ap_reference < 1


def _built_set(
    tmp_path: Path, *, n_images: int, n_persons: int, n_predictions: int, seed: int
) -> tuple[Path, CacheKey, Path, Path]:
    """A small synthetic set built into ``tmp_path / "cache"``, with predictions for it:
    (cache root, key, ground-truth file, predictions file)."""
    gt_path = tmp_path / "gt.json"
    write_synthetic_coco(gt_path, n_images=n_images, n_persons=n_persons, polygon_points=8, seed=seed)
    preds_path = tmp_path / "preds.json"
    predictions = make_predictions(orjson.loads(gt_path.read_bytes()), n_predictions, seed=seed + 1)
    preds_path.write_bytes(orjson.dumps(predictions))
    root, key = tmp_path / "cache", CacheKey("bench", "val")
    build_split(DatasetSpec(key.dataset, key.split, gt_path), root, progress=False)
    return root, key, gt_path, preds_path


@pytest.mark.slow
def test_whole_process_comparison_and_import_times(tmp_path) -> None:
    """Ours, hotcoco and pycocotools each run as a fresh process to their end, with a peak
    RSS; the import-time probe reports what evaluate's run loaded."""
    from analysis.evaluation.store import read_evaluation
    from benchmarks.evaluate import bench_processes, importtime_seconds

    root, key, gt_path, preds_path = _built_set(tmp_path, n_images=60, n_persons=150, n_predictions=100, seed=5)
    procs = bench_processes(root, key, gt_path, preds_path)
    assert {"ours", "ours, no bytecode", "pycocotools"} <= set(procs)
    for seconds, cpu_seconds, peak_mb in procs.values():
        assert seconds > 0 and cpu_seconds > 0 and 10 < peak_mb < 4096  # an interpreter with numpy is tens of MB
    assert read_evaluation(root, key, "process").record.counts.kept == 100  # ours really evaluated
    seconds, roots = importtime_seconds(["evaluate", "--help"])
    assert seconds > 0 and "numpy" in roots and "pyarrow" not in roots


def test_against_a_baseline_tree_alternates_whole_processes(tmp_path, capsys) -> None:
    """--baseline-tree: both checkouts' evaluate runs to its end on the same cache (here the
    baseline is a copy of this checkout's package), medians printed with the ratio."""
    import shutil

    from analysis.evaluation.store import read_evaluation
    from benchmarks.evaluate import REPO_ROOT, against_tree

    root, key, _, preds_path = _built_set(tmp_path, n_images=30, n_persons=60, n_predictions=40, seed=7)
    baseline = tmp_path / "before"
    shutil.copytree(REPO_ROOT / "analysis", baseline / "analysis", ignore=shutil.ignore_patterns("__pycache__"))
    against_tree(baseline, root, key, preds_path, repeat=1)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("  ")]
    assert [line.split()[0] for line in lines] == ["this", "baseline"] and f"baseline {baseline}" in lines[1]
    assert lines[1].rstrip().endswith("= 1.00x (CPU 1.00x)")  # the baseline against itself
    assert read_evaluation(root, key, "process").record.counts.kept == 40  # the last run really evaluated


@pytest.mark.slow
def test_each_prediction_set_names_itself_and_only_the_val_sized_set_has_seconds_targets(tmp_path, monkeypatch) -> None:
    """The summary lines of a prediction set carry its own label (the process rows' labels once
    overwrote it: "evaluate,   pycocotools, one standard evaluation , whole process"), and the
    targets in seconds (whole process <= 0.6 s, diagnosis <= 2 s: the COCO-val-sized set's) are
    not applied to another set, whose ratios keep their targets."""
    import benchmarks.evaluate
    from benchmarks.evaluate import run_variant

    monkeypatch.setattr(benchmarks.evaluate, "DATA_DIR", tmp_path)  # its predictions file: not into the checkout
    root, key, gt_path, _ = _built_set(tmp_path, n_images=30, n_persons=60, n_predictions=40, seed=7)
    gt = orjson.loads(gt_path.read_bytes())
    with_targets = run_variant("val-like", gt, gt_path, root, key, 40, 1, seconds_targets=True)
    without = run_variant("tenfold", gt, gt_path, root, key, 40, 1, seconds_targets=False)
    assert [f.what.split(",")[1].strip() for f in with_targets] == ["val-like"] * 4
    assert [f.what.split(",")[1].strip() for f in without] == ["tenfold"] * 4
    assert [f.target for f in with_targets] == ["<= 0.6 s", "<= 0.5", "<= 0.2", "<= 2 s"]
    assert [f.target for f in without] == ["", "<= 0.5", "<= 0.2", ""]
    assert without[0].met is None and without[3].met is None
