"""Evaluation speed: every slice of ours vs one standard keypoint evaluation of pycocotools.

On a COCO-val-sized synthetic set (5,000 images, 11,000 annotations, 17 joints)
with about 6,000 noisy predictions, and a variant with 10x the predictions,
this prints, measured in the same run:

- pycocotools 2.0.11: load (ground truth + ``loadRes``), and ``evaluate()`` +
  ``accumulate()`` of its one standard keypoint evaluation (all / medium / large);
- faster-coco-eval and hotcoco: the same evaluation (when installed; they are
  benchmark-only requirements, ``requirements-bench.txt``);
- ours in process: ``evaluate_files`` (read the cache and the predictions,
  validate, OKS once, all ten slices, store), and ``evaluate_stored`` (re-slice
  the stored pairs, what the dashboard does when a definition changes);
- whole processes, with their peak RSS: ``python -m analysis evaluate`` vs a
  Python process running hotcoco and one running pycocotools (import, load,
  evaluate, accumulate, summarize);
- import time per command (``python -X importtime``): ``evaluate``, ``info`` and
  ``build`` parsing, and evaluate's real run.

Targets: every slice in process <= 0.2x pycocotools' evaluate+accumulate; the
whole ``evaluate`` process <= 0.6 s (issue 20) and <= 0.5x the whole pycocotools process; the
keypoint error diagnosis of all ten slices (``diagnose_stored``) <= 2 s in process, printed
beside the evaluation (and beside coco-analyze on its three ranges when a scratch copy that
runs under Python 3 is given).

``--memory N`` (2,000,000 in the issue's case, a 671 MB file) measures instead the
peak RSS of a whole ``python -m analysis evaluate`` process on N predictions (400 per
image, so most are cut to the 20 best of their image), beside the peak of a process
that only imports the same modules (the interpreter's baseline, same run).  Target:
peak <= 2x the predictions file.

``--baseline-tree DIR`` times instead whole ``evaluate`` processes of this checkout and of
another one (the same command, the same cache), alternated run by run, medians of
``--repeat``: a before/after comparison on a busy machine.

    python -m benchmarks.evaluate [--repeat N] [--skip-10x] [--memory N] [--coco-analyze PYTHON DIR]
    python -m benchmarks.evaluate --baseline-tree DIR [--repeat N]
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import orjson

from benchmarks import summary
from benchmarks.synthetic_coco import DATA_DIR, ensure_synthetic_coco

N_IMAGES = 5000
N_PERSONS = 11000
N_PREDICTIONS = 6000
REPO_ROOT = Path(__file__).resolve().parents[1]
#: Issue 20's target for the whole ``python -m analysis evaluate`` process, COCO-val-sized set.
EVALUATE_PROCESS_TARGET_S = 0.6


def make_predictions(gt: dict, n: int, seed: int) -> list[dict]:
    """~85% noisy copies of labelled persons (jitter grows with person size and
    varies per prediction), ~15% false positives anywhere; scores loosely follow
    the error, with ties."""
    rng = np.random.default_rng(seed)
    anns = [a for a in gt["annotations"] if not a["iscrowd"] and a["num_keypoints"] > 0]
    k = len(gt["categories"][0]["keypoints"])
    n_true = int(0.85 * n)
    pick = rng.integers(0, len(anns), n_true)
    kps = np.array([anns[i]["keypoints"] for i in pick], dtype=np.float64).reshape(n_true, k, 3)
    boxes = np.array([anns[i]["bbox"] for i in pick], dtype=np.float64)
    size = np.sqrt(np.maximum(boxes[:, 2] * boxes[:, 3], 1.0))
    unlabelled = kps[:, :, 2] <= 0
    fill = boxes[:, None, :2] + rng.random((n_true, k, 2)) * boxes[:, None, 2:]
    kps[:, :, :2] = np.where(unlabelled[:, :, None], fill, kps[:, :, :2])
    error = rng.exponential(0.08, n_true)
    kps[:, :, :2] += rng.normal(0, 1, (n_true, k, 2)) * (error * size)[:, None, None]
    kps[:, :, 2] = rng.uniform(0.05, 1.0, (n_true, k))
    score_true = np.round(np.clip(1.0 - 3 * error + rng.normal(0, 0.1, n_true), 0.01, 1.0), 3)
    image_true = np.array([anns[i]["image_id"] for i in pick])

    n_false = n - n_true
    images = gt["images"]
    which = rng.integers(0, len(images), n_false)
    wh = np.array([[images[i]["width"], images[i]["height"]] for i in which], dtype=np.float64)
    centre = rng.random((n_false, 2)) * wh
    spread = rng.uniform(3, 80, n_false)
    false_kps = np.empty((n_false, k, 3))
    false_kps[:, :, :2] = centre[:, None, :] + rng.normal(0, 1, (n_false, k, 2)) * spread[:, None, None]
    false_kps[:, :, 2] = rng.uniform(0.05, 1.0, (n_false, k))
    score_false = np.round(rng.uniform(0.01, 0.7, n_false), 3)
    image_false = np.array([images[i]["id"] for i in which])

    all_kps = np.concatenate([kps, false_kps]).round(2)
    all_scores = np.concatenate([score_true, score_false])
    all_images = np.concatenate([image_true, image_false])
    order = rng.permutation(n)
    return [
        {"image_id": int(all_images[i]), "category_id": 1, "keypoints": all_kps[i].reshape(-1).tolist(),
         "score": float(all_scores[i])}
        for i in order
    ]  # fmt: skip


def _best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


@contextlib.contextmanager
def _quiet():
    with contextlib.redirect_stdout(io.StringIO()):
        yield


def bench_pycocotools(gt: dict, preds: list[dict], repeat: int) -> tuple[float, float, float]:
    """(load, evaluate+accumulate, AP)."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    def load():
        with _quiet():
            coco = COCO()
            coco.dataset = copy.deepcopy(gt)
            coco.createIndex()
            return coco, coco.loadRes(copy.deepcopy(preds))

    t_load = _best(load, 1)
    coco, dt = load()
    state = {}

    def run():
        with _quiet():
            ev = COCOeval(coco, dt, iouType="keypoints")
            ev.evaluate()
            ev.accumulate()
            ev.summarize()
        state["ap"] = ev.stats[0]

    return t_load, _best(run, repeat), state["ap"]


def bench_faster_coco_eval(gt: dict, preds: list[dict], repeat: int) -> tuple[float, float] | None:
    try:
        from faster_coco_eval import COCO, COCOeval_faster
    except ImportError:
        return None
    with _quiet():
        coco = COCO(copy.deepcopy(gt))
        dt = coco.loadRes(copy.deepcopy(preds))
    state = {}

    def run():
        with _quiet():
            ev = COCOeval_faster(coco, dt, iouType="keypoints")
            ev.evaluate()
            ev.accumulate()
            ev.summarize()
        state["ap"] = ev.stats[0]

    return _best(run, repeat), state["ap"]


def bench_hotcoco(gt_path: Path, preds_path: Path, repeat: int) -> tuple[float, float] | None:
    try:
        import hotcoco
    except ImportError:
        return None
    with _quiet():
        coco = hotcoco.COCO(str(gt_path))
        dt = coco.loadRes(str(preds_path))
    state = {}

    def run():
        with _quiet():
            ev = hotcoco.COCOeval(coco, dt, "keypoints")
            ev.evaluate()
            ev.accumulate()
            ev.summarize()
        state["ap"] = ev.stats[0]

    return _best(run, repeat), state["ap"]


def bench_ours(root: Path, key, preds_path: Path, repeat: int) -> dict[str, float]:
    """Ours, in process: the compute on loaded inputs (OKS once + every slice; what
    pycocotools' evaluate+accumulate does for its one evaluation), re-slicing stored
    pairs, and the whole evaluate_files (reads, validation, compute, store)."""
    from analysis.cache.contract import read_images, read_instances
    from analysis.definitions import AreaSource, SizeDefinition
    from analysis.evaluation import compute, run
    from analysis.evaluation.definitions import GT_COLUMNS
    from analysis.evaluation.predictions import read_predictions
    from analysis.evaluation.slices import evaluate_stored
    from analysis.evaluation.store import StoredEvaluation, evaluations_dir, read_evaluation

    # pycocotools' choices: COCO sigmas, segmentation area for OKS and size.
    request = run.EvaluationRequest(sigmas="coco", oks_area=AreaSource.SEGM, size=SizeDefinition(AreaSource.SEGM))
    state = {}

    def full():
        shutil.rmtree(evaluations_dir(root, key), ignore_errors=True)
        state["out"] = run.evaluate_files(root, key, [preds_path], ["bench"], request, progress=False)[0]

    t_full = _best(full, repeat)
    record = state["out"].record
    definitions = state["out"].result.definitions
    images = read_images(root, key)
    instances = read_instances(root, key, columns=GT_COLUMNS)
    gt_keypoints = compute.gt_keypoints(root, key, len(instances), 17)
    predictions = read_predictions(preds_path, preds_path.read_bytes(), 17, 1)

    def compute_all():
        computed = compute.compute_evaluation(predictions, [1], instances, gt_keypoints, definitions)
        stored = StoredEvaluation(record, computed.detections.drop(["keypoints"]).to_pandas(), computed.oks.to_pandas())
        state["computed"] = evaluate_stored(stored, images, instances, definitions)

    t_compute = _best(compute_all, repeat)
    stored = read_evaluation(root, key, "bench")
    t_slices = _best(lambda: evaluate_stored(stored, images, instances, stored.definitions), repeat)
    result = state["out"].result
    assert state["computed"].to_json() == result.to_json()
    return {"full": t_full, "compute": t_compute, "slices": t_slices, "ap": result.slices["all"].ap}


def bench_diagnose(root: Path, key, repeat: int) -> float:
    """Ours, in process: the whole keypoint error diagnosis of the stored evaluation, all ten slices
    (joint classes, oracle corrections with their matchings, soft-NMS scores, FP/FN, AP per step)."""
    from analysis.cache.contract import read_images, read_instances
    from analysis.cache.manifest import read_manifest
    from analysis.evaluation import compute
    from analysis.evaluation.definitions import GT_COLUMNS
    from analysis.evaluation.diagnose import diagnose_stored
    from analysis.evaluation.store import read_evaluation

    stored = read_evaluation(root, key, "bench")
    images = read_images(root, key)
    instances = read_instances(root, key, columns=GT_COLUMNS)
    gt_keypoints = compute.gt_keypoints(root, key, len(instances), 17)
    names = read_manifest(root, key).keypoint_schema.joint_names
    return _best(lambda: diagnose_stored(stored, images, instances, gt_keypoints, names, stored.definitions), repeat)


def bench_coco_analyze(python: str, folder: Path, gt_path: Path, preds_path: Path) -> float:
    """coco-analyze (a scratch copy that runs under Python 3, outside this repository; see
    docs/guides/diagnosis.md) on its three ranges: analyze() + summarize(), in its own process."""
    script = (
        "import sys, time, json, contextlib, io\n"
        f"sys.path.insert(0, {str(folder)!r})\n"
        "from ca_pycocotools.coco import COCO\nfrom ca_pycocotools.cocoanalyze import COCOanalyze\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    gt = COCO({str(gt_path)!r}); dt = gt.loadRes({str(preds_path)!r})\n"
        "    t0 = time.perf_counter(); ca = COCOanalyze(gt, dt, 'keypoints')\n"
        "    ca.analyze(check_kpts=True, check_scores=True, check_bckgd=True); ca.summarize(makeplots=False)\n"
        "print(time.perf_counter() - t0)\n"
    )
    out = subprocess.run([python, "-c", script], check=True, capture_output=True, text=True)
    return float(out.stdout.strip().splitlines()[-1])


def _process_time_and_peak(
    cmd: list[str], env: dict[str, str], repeat: int, before=None, cwd: Path = REPO_ROOT
) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds, peak RSS in MB sampled every 20 ms) of the fastest of
    ``repeat`` fresh processes, each run to its end (``before()`` runs ahead of each).

    The kernel's ru_maxrss of a child starts from this (large) runner's RSS at spawn, so
    the sampled figure of benchmarks.build is taken instead."""
    from benchmarks.build import measure

    runs = []
    for _ in range(max(1, repeat)):
        if before is not None:
            before()
        result = measure(cmd, cmd[2] if len(cmd) > 2 else cmd[0], cwd=cwd, env=env)
        if result["rc"] != 0:
            raise RuntimeError(f"{' '.join(cmd[:4])} ... exited {result['rc']}: {result.get('output_tail', '')}")
        runs.append((result["wall_s"], result["cpu_s"], result["maxrss_bytes_tree_sampled"] / 2**20))
    return min(runs)


def process_env(bytecode: bool) -> dict[str, str]:
    """The timed processes' environment.  ``bytecode``: Python writes each module's compiled
    bytecode (``__pycache__``, git-ignored) once and every later process reads it, as for
    any installed package (pycocotools and hotcoco ship theirs).  Without it
    (``PYTHONDONTWRITEBYTECODE=1``, as on the shared development machine) a checkout that
    has no ``__pycache__`` yet compiles every ``analysis`` module at each start (see
    :func:`bench_processes`)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")}
    if not bytecode:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def bench_processes(
    root: Path, key, gt_path: Path, preds_path: Path, repeat: int = 1
) -> dict[str, tuple[float, float, float]]:
    """Whole processes, each started fresh and run to its end, the fastest of ``repeat``: ours
    (re-evaluating, no stored result: all ten slices) vs pycocotools and hotcoco (one standard
    evaluation: import, load, evaluate, accumulate, summarize), all with their bytecode
    written once and reused; and ours compiling its modules at each start ("ours, no
    bytecode": a copy of the package without ``__pycache__``, run under
    ``PYTHONDONTWRITEBYTECODE=1``).  Name -> (wall seconds, CPU seconds, peak RSS MB)."""
    from analysis.evaluation.store import evaluations_dir

    def fresh() -> None:
        shutil.rmtree(evaluations_dir(root, key), ignore_errors=True)

    ours_cmd = evaluate_cmd(root, key, preds_path)
    reference = (
        "import sys, contextlib, io\n"
        "from {module} import COCO\nfrom {evalmodule} import COCOeval\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    gt = COCO({str(gt_path)!r}); dt = gt.loadRes({str(preds_path)!r})\n"
        "    ev = COCOeval(gt, dt, {iou}); ev.evaluate(); ev.accumulate(); ev.summarize()\n"
        "print(ev.stats[0])\n"
    )
    cached = process_env(bytecode=True)
    _process_time_and_peak(ours_cmd, cached, 1, fresh)  # writes the bytecode; not timed
    times = {}
    if _installed("hotcoco"):
        script = reference.format(module="hotcoco", evalmodule="hotcoco", iou="'keypoints'")
        times["hotcoco"] = _process_time_and_peak([sys.executable, "-c", script], cached, repeat)
    times["ours"] = _process_time_and_peak(ours_cmd, cached, repeat, fresh)
    with tempfile.TemporaryDirectory() as copy:
        shutil.copytree(REPO_ROOT / "analysis", Path(copy) / "analysis", ignore=shutil.ignore_patterns("__pycache__"))
        times["ours, no bytecode"] = _process_time_and_peak(
            ours_cmd, process_env(bytecode=False), repeat, fresh, Path(copy)
        )
    script = reference.format(module="pycocotools.coco", evalmodule="pycocotools.cocoeval", iou="iouType='keypoints'")
    times["pycocotools"] = _process_time_and_peak([sys.executable, "-c", script], cached, repeat)
    return times


def evaluate_cmd(root: Path, key, preds_path: Path) -> list[str]:
    """The timed ``python -m analysis evaluate``: all ten slices, no stored result reused."""
    return [
        sys.executable, "-m", "analysis", "evaluate", "--name", key.dataset, "--split", key.split,
        "--predictions", str(preds_path), "--model", "process", "--cache-dir", str(root), "--quiet",
        "--sigmas", "coco", "--oks-area", "segm", "--size-area", "segm",
    ]  # fmt: skip


def against_tree(baseline: Path, root: Path, key, preds_path: Path, repeat: int) -> None:
    """Whole ``evaluate`` processes of this checkout and of ``baseline`` (another checkout of
    the project, e.g. ``git worktree add ../before COMMIT``, reading the same cache), alternated
    run by run so both see the same machine load; medians of ``repeat`` runs each (bytecode
    written once, before)."""
    import statistics

    from analysis.evaluation.store import evaluations_dir

    trees = {"this tree": REPO_ROOT, f"baseline {baseline}": baseline.resolve()}
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in trees}
    env = process_env(bytecode=True)
    for i in range(repeat + 1):  # run 0 writes each tree's bytecode: not counted
        for name, tree in list(trees.items())[:: 1 if i % 2 else -1]:
            shutil.rmtree(evaluations_dir(root, key), ignore_errors=True)
            wall, cpu, _ = _process_time_and_peak(evaluate_cmd(root, key, preds_path), env, 1, cwd=tree)
            if i:
                runs[name].append((wall, cpu))
    print(f"\nwhole evaluate processes, this tree vs a baseline tree, alternated, median of {repeat} (wall / CPU):")
    base_wall, base_cpu = (statistics.median(v) for v in zip(*runs[f"baseline {baseline}"], strict=True))
    for name, values in runs.items():
        wall, cpu = (statistics.median(v) for v in zip(*values, strict=True))
        print(f"  {name:<40} {wall:6.3f} s / {cpu:6.3f} s   = {wall / base_wall:.2f}x (CPU {cpu / base_cpu:.2f}x)")


def _installed(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def importtime_seconds(args: list[str]) -> tuple[float, set[str]]:
    """Total import time (the sum of ``-X importtime``'s self column) of a fresh
    ``python -m analysis ARGS``, and the top-level packages it imported."""
    out = subprocess.run([sys.executable, "-X", "importtime", "-m", "analysis", *args],
                         cwd=REPO_ROOT, check=True, capture_output=True, text=True,
                         env=process_env(bytecode=True))  # fmt: skip
    rows = [line.split("|") for line in out.stderr.splitlines()[1:] if line.startswith("import time:")]
    total_us = sum(int(row[0].removeprefix("import time:")) for row in rows)
    return total_us / 1e6, {row[-1].strip().split(".")[0] for row in rows}


#: Loaded by none of evaluate, info and build (tests/test_cli_startup.py checks it).
HEAVY = ("torch", "requests", "plotly", "matplotlib", "streamlit")


def print_importtimes(root: Path, key, preds_path: Path) -> list[summary.Figure]:
    """Import time per command, parsing (--help) and evaluate's real run."""
    from analysis.evaluation.store import evaluations_dir

    print("\nimport time per command (python -X importtime, sum of self times; one run each):")
    shutil.rmtree(evaluations_dir(root, key), ignore_errors=True)
    runs = {f"{cmd} --help": [cmd, "--help"] for cmd in ("evaluate", "info", "build")}
    runs["evaluate (the run above)"] = [
        "evaluate", "--name", key.dataset, "--split", key.split, "--predictions", str(preds_path),
        "--model", "importtime", "--cache-dir", str(root), "--quiet",
    ]  # fmt: skip
    figures = []
    for label, args in runs.items():
        seconds, roots = importtime_seconds(args)
        tables = ", ".join(r for r in ("numpy", "pyarrow", "pandas") if r in roots) or "none"
        heavy = ", ".join(r for r in HEAVY if r in roots) or "none"
        print(f"  {label:<28} {seconds:6.3f} s   numpy/pyarrow/pandas: {tables:<22} torch/requests/plotting: {heavy}")
        figures.append(summary.Figure(f"import time, python -m analysis {label}", f"{seconds:.3f} s ({tables})",
                                      "no torch/requests/plotting", heavy == "none"))  # fmt: skip
    return figures


def run_variant(
    label: str,
    gt: dict,
    gt_path: Path,
    root: Path,
    key,
    n_preds: int,
    repeat: int,
    coco_analyze=None,
    seconds_targets: bool = True,
) -> list[summary.Figure]:
    """One prediction set's figures.  ``seconds_targets``: the targets in seconds (the whole
    process <= 0.6 s, the diagnosis <= 2 s) are the COCO-val-sized set's; another set reports
    those times without a target (its ratios keep theirs)."""
    preds = make_predictions(gt, n_preds, seed=n_preds)
    preds_path = DATA_DIR / f"eval-bench-predictions-{n_preds}.json"
    preds_path.write_bytes(orjson.dumps(preds))
    print(f"\n== {label}: {len(preds):,} predictions ==", flush=True)
    t_load, t_coco, ap_coco = bench_pycocotools(gt, preds, repeat)
    print(f"pycocotools     load {t_load:6.3f} s   evaluate+accumulate {t_coco:6.3f} s   AP {ap_coco:.6f}", flush=True)
    faster = bench_faster_coco_eval(gt, preds, repeat)
    if faster:
        print(f"faster-coco-eval                    evaluate+accumulate {faster[0]:6.3f} s   AP {faster[1]:.6f}"
              f"   ({faster[0] / t_coco:.2f}x pycocotools)")  # fmt: skip
    hot = bench_hotcoco(gt_path, preds_path, repeat)
    if hot:
        print(f"hotcoco                             evaluate+accumulate {hot[0]:6.3f} s   AP {hot[1]:.6f}"
              f"   ({hot[0] / t_coco:.2f}x pycocotools)")  # fmt: skip
    ours = bench_ours(root, key, preds_path, repeat)
    print(
        f"ours, in process: OKS once + all 10 slices, on loaded inputs   {ours['compute']:6.3f} s"
        f" = {ours['compute'] / t_coco:.2f}x pycocotools' evaluate+accumulate (target <= 0.2)   AP {ours['ap']:.6f}"
    )
    print(
        f"ours, in process: all 10 slices re-sliced from stored OKS pairs {ours['slices']:6.3f} s"
        f" = {ours['slices'] / t_coco:.2f}x"
    )
    print(
        f"ours, in process: evaluate_files (read cache + predictions, validate, compute, store) {ours['full']:6.3f} s"
        f" = {ours['full'] / t_coco:.2f}x"
    )
    if hot:
        print(
            f"  hotcoco's one evaluation beside ours: compute {ours['compute'] / hot[0]:.1f}x hotcoco,"
            f" re-slice {ours['slices'] / hot[0]:.1f}x hotcoco"
        )
    t_diag = bench_diagnose(root, key, repeat)
    print(
        f"ours, in process: keypoint error diagnosis, all 10 slices {t_diag:6.3f} s"
        + (" (target <= 2 s)" if seconds_targets else "")
        + f" = {t_diag / t_coco:.2f}x pycocotools' evaluate+accumulate, {t_diag / ours['compute']:.2f}x our evaluation"
    )
    if coco_analyze:
        t_ca = bench_coco_analyze(coco_analyze[0], Path(coco_analyze[1]), gt_path, preds_path)
        print(f"coco-analyze (scratch copy), its 3 ranges, analyze+summarize {t_ca:6.3f} s: ours {t_diag / t_ca:.3f}x")
    else:
        print("coco-analyze: not timed (give --coco-analyze PYTHON DIR, a scratch copy that runs under Python 3)")
    procs = bench_processes(root, key, gt_path, preds_path, repeat)
    t_proc, cpu, rss = procs["ours"]
    print(f"whole processes (fresh interpreter: imports, load, evaluate; fastest of {repeat}; wall / CPU):")
    print(f"  python -m analysis evaluate, all 10 slices   {t_proc:6.3f} s / {cpu:6.3f} s  {rss:5.0f} MB peak"
          + (f"   (target <= {EVALUATE_PROCESS_TARGET_S} s)" if seconds_targets else "")
          + f"   = {t_proc / procs['pycocotools'][0]:.2f}x pycocotools"
          " (target <= 0.5)", flush=True)  # fmt: skip
    for name in ("ours, no bytecode", "hotcoco", "pycocotools"):
        if name in procs:
            seconds, cpu_s, peak = procs[name]
            row = (
                "  the same, every module compiled at start"
                if name.startswith("ours")
                else (f"  {name + ', one standard evaluation':<44}")
            )
            print(f"{row:<46} {seconds:6.3f} s / {cpu_s:6.3f} s  {peak:5.0f} MB peak"
                  f"   ours = {t_proc / seconds:.2f}x (CPU {cpu / cpu_s:.2f}x)", flush=True)  # fmt: skip
    assert abs(ours["ap"] - ap_coco) < 1e-9, (ours["ap"], ap_coco)
    others = ", ".join(f"{name} {procs[name][0]:.3f} s" for name in ("hotcoco", "pycocotools") if name in procs)
    compute = ours["compute"] / t_coco
    over_coco = t_proc / procs["pycocotools"][0]

    def in_seconds(what: str, measured: str, value: float, target_s: float) -> summary.Figure:
        if not seconds_targets:
            return summary.Figure(what, measured)
        return summary.Figure(what, measured, f"<= {target_s:g} s", summary.met_at_most(value, target_s))

    return [
        in_seconds(f"evaluate, {label}, whole process, all 10 slices ({others})", f"{t_proc:.3f} s, {rss:.0f} MB",
                   t_proc, EVALUATE_PROCESS_TARGET_S),
        summary.Figure(f"evaluate, {label}, whole process / pycocotools' whole process", f"{over_coco:.2f}", "<= 0.5",
                       summary.met_at_most(over_coco, 0.5)),
        summary.Figure(f"evaluate, {label}, in process, all 10 slices / pycocotools evaluate+accumulate",
                       f"{compute:.2f} ({ours['compute']:.3f} s)", "<= 0.2", summary.met_at_most(compute, 0.2)),
        in_seconds(f"evaluate, {label}, keypoint error diagnosis, all 10 slices", f"{t_diag:.3f} s", t_diag, 2.0),
    ]  # fmt: skip


#: Runs a module as ``python -m`` would and prints its own peak RSS (VmHWM, KiB) at exit.
#: Measured inside the process: a child's rusage would include the benchmark's own memory
#: at fork time.
_HWM = (
    "import atexit, runpy, sys\n"
    "def hwm():\n"
    "    line = next(x for x in open('/proc/self/status') if x.startswith('VmHWM:'))\n"
    "    print('VmHWM', line.split()[1], file=sys.stderr)\n"
    "atexit.register(hwm)\n"
    "module, sys.argv = sys.argv[1], sys.argv[1:]\n"
    "runpy.run_module(module, run_name='__main__', alter_sys=True)\n"
)


def _peak_rss(module: str, *args: str) -> int:
    """Peak resident set size (bytes) of ``python -m MODULE ARGS`` (``-`` as module: imports only)."""
    r = subprocess.run([sys.executable, "-c", _HWM, module, *args], cwd=REPO_ROOT, capture_output=True, text=True)
    lines = [x for x in r.stderr.splitlines() if x.startswith("VmHWM ")]
    if not lines or (r.returncode not in (0, None) and module != "-"):
        raise RuntimeError(f"python -m {module} failed: {r.stderr[-2000:]}")
    return int(lines[-1].split()[1]) * 1024


def memory_variant(gt: dict, root: Path, key, n_preds: int) -> None:
    """Peak RSS of ``evaluate`` on ``n_preds`` predictions vs the file size and an import-only baseline."""
    from analysis.evaluation.store import evaluations_dir

    preds_path = DATA_DIR / f"eval-bench-predictions-{n_preds}.json"
    if not preds_path.is_file():
        preds_path.write_bytes(orjson.dumps(make_predictions(gt, n_preds, seed=n_preds)))
    size = preds_path.stat().st_size
    shutil.rmtree(evaluations_dir(root, key), ignore_errors=True)
    ours = _peak_rss(
        "analysis",
        "evaluate",
        "--name",
        key.dataset,
        "--split",
        key.split,
        "--predictions",
        str(preds_path),
        "--model",
        "memory",
        "--cache-dir",
        str(root),
        "--quiet",
    )
    baseline = _peak_rss("analysis.evaluation.table5")  # imports what evaluate imports, evaluates nothing
    summary.record("evaluate-memory", [summary.Figure(
        f"evaluate, {n_preds:,} predictions: peak RSS / file size", f"{ours / size:.2f} ({ours / 1e6:.0f} MB)",
        "<= 2", summary.met_at_most(ours / size, 2.0))])  # fmt: skip
    print(f"\n== memory: {n_preds:,} predictions, file {size / 1e6:.0f} MB ==")
    print(f"python -m analysis evaluate peak RSS {ours / 1e6:.0f} MB = {ours / size:.2f}x the file (target <= 2); "
          f"import-only baseline {baseline / 1e6:.0f} MB; above it {(ours - baseline) / size:.2f}x the file",
          flush=True)  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="best of N for in-process timings")
    parser.add_argument("--skip-10x", action="store_true", help="only the ~6,000-prediction variant")
    parser.add_argument(
        "--coco-analyze", nargs=2, metavar=("PYTHON", "DIR"), default=None,
        help="also time coco-analyze: an interpreter and a scratch copy whose package is ca_pycocotools",
    )  # fmt: skip
    parser.add_argument(
        "--memory",
        type=int,
        default=None,
        metavar="N",
        help="only the peak-memory case with N predictions (the issue's: 2000000)",
    )
    parser.add_argument(
        "--baseline-tree",
        type=Path,
        default=None,
        metavar="DIR",
        help="only whole evaluate processes of this checkout vs the checkout DIR, alternated (medians of --repeat)",
    )
    args = parser.parse_args(argv)

    from analysis.build.run import build_split
    from analysis.cache.contract import CacheKey
    from analysis.registry import DatasetSpec

    gt_path, stats = ensure_synthetic_coco(N_IMAGES, N_PERSONS)
    gt = orjson.loads(gt_path.read_bytes())
    root = DATA_DIR / "eval-bench-cache"
    key = CacheKey("synthetic-val", "val")
    build_split(DatasetSpec(key.dataset, key.split, gt_path), root, progress=False)
    print(f"ground truth: {stats['n_images']:,} images, {stats['n_annotations']:,} annotations "
          f"({stats['n_crowd']} crowd regions), {gt_path.name}")  # fmt: skip
    if args.memory:
        memory_variant(gt, root, key, args.memory)
        return 0
    if args.baseline_tree:
        preds_path = DATA_DIR / f"eval-bench-predictions-{N_PREDICTIONS}.json"
        if not preds_path.is_file():
            preds_path.write_bytes(orjson.dumps(make_predictions(gt, N_PREDICTIONS, seed=N_PREDICTIONS)))
        against_tree(args.baseline_tree, root, key, preds_path, args.repeat)
        return 0
    figures = run_variant("COCO-val-sized", gt, gt_path, root, key, N_PREDICTIONS, args.repeat, args.coco_analyze)
    figures += print_importtimes(root, key, DATA_DIR / f"eval-bench-predictions-{N_PREDICTIONS}.json")
    if not args.skip_10x:
        figures += run_variant(
            "10x predictions", gt, gt_path, root, key, 10 * N_PREDICTIONS, args.repeat, seconds_targets=False
        )
    summary.record("evaluate", figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
