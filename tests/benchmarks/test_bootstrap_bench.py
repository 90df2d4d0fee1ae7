"""The bootstrap benchmark's parts run on a small set and agree with each other (no timing)."""

from __future__ import annotations

from analysis.cache.contract import CacheKey
from benchmarks.bootstrap import bench_hotcoco, bench_ours, prepare
from benchmarks.synthetic_coco import write_synthetic_coco


def test_bootstrap_benchmark_parts(tmp_path) -> None:
    gt_path = tmp_path / "gt.json"
    write_synthetic_coco(gt_path, n_images=60, n_persons=150, polygon_points=8, seed=1)
    root, key = tmp_path / "cache", CacheKey("bench", "val")
    files = prepare(gt_path, root, key, 120)
    assert sorted(files) == ["a", "b"] and all(f.is_file() for f in files.values())
    ours = bench_ours(root, key, 50, repeat=1)
    lo, hi = ours["ci"]
    assert 0 <= lo <= hi <= 1 and ours["one"] > 0 and ours["paired"] > 0
    dlo, dhi = ours["delta_ci"]
    assert -1 <= dlo <= dhi <= 1
    hot = bench_hotcoco(gt_path, files, 50, repeat=1)
    if hot is not None:  # hotcoco's interval of the same difference: same sign conventions, both finite
        assert hot["delta_ci"]["lower"] <= hot["delta_ci"]["upper"] and hot["compare"] > 0
