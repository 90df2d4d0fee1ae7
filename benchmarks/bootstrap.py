"""Bootstrap speed: B = 1000 image resamples of every slice, and paired for two models.

On ``benchmarks.evaluate``'s COCO-val-sized synthetic set (5,000 images,
11,000 annotations, ~6,000 predictions per model), this prints, measured in the
same run:

- ours, in process: ``evaluate_stored(..., bootstrap=B 1000)`` of one stored
  evaluation (re-match all ten slices + 1000 replicates of each); target <= 10 s;
- ours, in process: ``compare_models`` of two stored evaluations with B = 1000
  (paired, all ten slices of both); target <= 15 s;
- hotcoco 1.3.0 (when installed): ``compare(ev_a, ev_b, n_bootstrap=1000)`` on
  the same two results files after ``evaluate()`` of both (one slice: all
  persons), and the ratio of ours to it.

    python -m benchmarks.bootstrap [--repeat N] [--b B]
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import orjson

from benchmarks import summary
from benchmarks.evaluate import N_IMAGES, N_PERSONS, N_PREDICTIONS, _best, _quiet, make_predictions
from benchmarks.synthetic_coco import DATA_DIR, ensure_synthetic_coco

TARGET_ONE_S = 10.0
TARGET_PAIRED_S = 15.0


def prepare(gt_path: Path, root: Path, key, n_predictions: int) -> dict[str, Path]:
    """Build the split and evaluate two models' predictions (stored); their files by label."""
    from analysis.build.run import build_split
    from analysis.evaluation import run
    from analysis.evaluation.store import evaluations_dir
    from analysis.registry import DatasetSpec

    build_split(DatasetSpec(key.dataset, key.split, gt_path), root, progress=False)
    gt = orjson.loads(gt_path.read_bytes())
    files = {}
    for label, seed in (("a", n_predictions), ("b", n_predictions + 1)):
        files[label] = gt_path.parent / f"bootstrap-bench-{label}-{n_predictions}.json"
        files[label].write_bytes(orjson.dumps(make_predictions(gt, n_predictions, seed=seed)))
    shutil.rmtree(evaluations_dir(root, key), ignore_errors=True)
    request = run.EvaluationRequest(sigmas="coco")
    run.evaluate_files(root, key, list(files.values()), list(files), request, progress=False)
    return files


def bench_ours(root: Path, key, b: int, repeat: int) -> dict[str, float]:
    from analysis.cache.contract import read_images, read_instances
    from analysis.evaluation.compare import compare_models
    from analysis.evaluation.definitions import GT_COLUMNS
    from analysis.evaluation.slices import evaluate_stored
    from analysis.evaluation.store import BootstrapSettings, read_evaluation

    settings = BootstrapSettings(b, 0, 0.95)
    images = read_images(root, key)
    instances = read_instances(root, key, columns=GT_COLUMNS)
    stored = read_evaluation(root, key, "a")
    state = {}

    def one():
        state["one"] = evaluate_stored(stored, images, instances, stored.definitions, settings)

    def paired():
        state["paired"] = compare_models(root, key, ["a", "b"], settings)

    t_one = _best(one, repeat)
    t_paired = _best(paired, repeat)
    diff = state["paired"].models[0].slices["all"]
    return {"one": t_one, "paired": t_paired, "ci": state["one"].slices["all"].ci["AP"], "delta_ci": diff.ci["AP"]}


def bench_hotcoco(gt_path: Path, files: dict[str, Path], b: int, repeat: int) -> dict | None:
    try:
        import hotcoco
    except ImportError:
        return None
    with _quiet():
        coco = hotcoco.COCO(str(gt_path))
        evals = []
        for label in ("a", "b"):
            ev = hotcoco.COCOeval(coco, coco.load_res(str(files[label])), "keypoints")
            ev.evaluate()
            evals.append(ev)
    state = {}

    def run():
        with _quiet():
            state["out"] = hotcoco.compare(evals[0], evals[1], n_bootstrap=b, seed=0)

    return {"compare": _best(run, repeat), "delta_ci": state["out"]["ci"]["AP"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="best of N")
    parser.add_argument("--b", type=int, default=1000, help="replicates (default 1000: the targets' B)")
    args = parser.parse_args(argv)

    from analysis.cache.contract import CacheKey

    gt_path, stats = ensure_synthetic_coco(N_IMAGES, N_PERSONS)
    root = DATA_DIR / "bootstrap-bench-cache"
    key = CacheKey("synthetic-val", "val")
    files = prepare(gt_path, root, key, N_PREDICTIONS)
    print(f"ground truth: {stats['n_images']:,} images, {stats['n_annotations']:,} annotations; "
          f"two models of ~{N_PREDICTIONS:,} predictions; B = {args.b}", flush=True)  # fmt: skip
    ours = bench_ours(root, key, args.b, args.repeat)
    lo, hi = ours["ci"]
    print(f"ours: one model, all 10 slices, B={args.b}:  {ours['one']:6.2f} s"
          f"  = {ours['one'] / TARGET_ONE_S:.2f} of the {TARGET_ONE_S:g} s target"
          f"   (AP interval [{100 * lo:.2f}, {100 * hi:.2f}])")  # fmt: skip
    dlo, dhi = ours["delta_ci"]
    print(f"ours: paired, two models, 10 slices, B={args.b}: {ours['paired']:6.2f} s"
          f"  = {ours['paired'] / TARGET_PAIRED_S:.2f} of the {TARGET_PAIRED_S:g} s target"
          f"   (ΔAP interval [{100 * dlo:+.2f}, {100 * dhi:+.2f}])")  # fmt: skip
    summary.record(
        "bootstrap",
        [
            summary.Figure(f"bootstrap B={args.b}, one model, all 10 slices", f"{ours['one']:.2f} s",
                           f"<= {TARGET_ONE_S:g} s", summary.met_at_most(ours["one"], TARGET_ONE_S)),
            summary.Figure(f"bootstrap B={args.b}, paired, two models, all 10 slices", f"{ours['paired']:.2f} s",
                           f"<= {TARGET_PAIRED_S:g} s", summary.met_at_most(ours["paired"], TARGET_PAIRED_S)),
        ],
    )  # fmt: skip
    hot = bench_hotcoco(gt_path, files, args.b, args.repeat)
    if hot is None:
        print("hotcoco not installed (requirements-bench.txt): no side-by-side ratio")
        return 0
    h = hot["delta_ci"]
    print(f"hotcoco: compare(n_bootstrap={args.b}), 1 slice:  {hot['compare']:6.2f} s"
          f"   (ΔAP interval [{100 * h['lower']:+.2f}, {100 * h['upper']:+.2f}]; it counts an image drawn"
          f" k times once)")  # fmt: skip
    print(f"ratio: ours paired (10 slices) / hotcoco compare (1 slice) = {ours['paired'] / hot['compare']:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
