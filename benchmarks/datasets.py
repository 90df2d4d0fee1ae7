"""Speed and memory of ``subset`` and ``compose`` on COCO-train-sized files.

``python -m benchmarks.datasets`` generates, once, two synthetic COCO person-keypoints
files (60,000 images, 260,000 annotations each, ~200 MB; seeds 0 and 1; see
``benchmarks/synthetic_coco.py``, cached in ``benchmarks/.data``), builds their caches,
then measures, each in a fresh subprocess (wall time and peak RSS, as in
``benchmarks/build.py``), interleaved ``--repeat`` times, best kept:

a. ``python -m analysis subset --persons 150000 --count K`` on the first file (K = 5
   by default: the paper's five scale-ablation subsets);
b. ``python -m analysis compose`` of the two files (each split 0.8 / 0.2, every image
   with a small person plus 10 % of the others);
c. the baseline: ``orjson.loads`` of the first file alone (the read timed apart).

It prints a table, the subsets' KS distances beside plain random sampling's, and the
targets with PASS / FAIL: subset / orjson.loads <= 2, subset peak RSS < 2 GB; the
compose ratio (to one parse per input file) is reported without a target.  Results go
to ``benchmarks/.data/datasets-results.json``.

Options: ``--quick`` (6,000 images / 26,000 annotations, 15,000-person subsets; a
smoke test, the targets are meant for the default size), ``--count K``, ``--repeat N``,
``--strict`` (exit 1 when a target fails).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from benchmarks import summary
from benchmarks.build import _worker_cmd, measure
from benchmarks.synthetic_coco import DATA_DIR, ensure_synthetic_coco_in_child

REPO_ROOT = Path(__file__).resolve().parents[1]
TARGET_SUBSET_OVER_ORJSON = 2.0
TARGET_SUBSET_PEAK_RSS_BYTES = 2e9
DEFAULT = {"images": 60000, "persons": 260000, "subset_persons": 150000}
QUICK = {"images": 6000, "persons": 26000, "subset_persons": 15000}

COMPOSE_CONFIG = """\
name = "bench"
seed = 0
keep_without_small = 0.1
population = "all"
[[source]]
dataset = "syn-a"
train = ["train"]
[[source]]
dataset = "syn-b"
train = ["train"]
"""


def _one(label: str, cmd: list[str]) -> dict[str, Any]:
    print(f"  {label} ...", end="", flush=True)
    result = measure(cmd, label)
    status = "" if result["rc"] == 0 else f"  FAILED rc={result['rc']}\n{result.get('output_tail', '')}"
    inner = result.get("inner", {})
    extra = f", in-process parse {inner['decode_s']:.2f} s" if "decode_s" in inner else ""
    print(
        f" {result['wall_s']:.2f} s wall{extra}, peak RSS {result['peak_rss_bytes'] / 1e6:.0f} MB{status}", flush=True
    )
    return result


def run_benchmark(size: dict[str, int], count: int, repeat: int) -> dict[str, Any]:
    print(
        f"== PoseAtlas subset / compose benchmark: {size['images']:,} images, "
        f"{size['persons']:,} annotations per file ==",
        flush=True,
    )
    file_a, stats_a = ensure_synthetic_coco_in_child(size["images"], size["persons"], 0)
    file_b, _ = ensure_synthetic_coco_in_child(size["images"], size["persons"], 1)
    print(f"files: {file_a.name}, {file_b.name} ({stats_a['bytes'] / 1e6:.0f} MB each)", flush=True)
    work = Path(tempfile.mkdtemp(prefix="poseatlas-bench-datasets-"))
    try:
        registry = work / "datasets.toml"
        registry.write_text(
            "".join(
                f'[[dataset]]\nname = "{name}"\nsplit = "train"\nannotations = "{path}"\n\n'
                for name, path in (("syn-a", file_a), ("syn-b", file_b))
            )
        )
        (work / "compose.toml").write_text(COMPOSE_CONFIG)
        cache_dir = work / "cache"
        print("building the two caches ...", flush=True)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "analysis",
                "build",
                "--registry",
                str(registry),
                "--cache-dir",
                str(cache_dir),
                "--quiet",
            ],
            cwd=REPO_ROOT,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        cmds = {
            "subset": [
                sys.executable,
                "-m",
                "analysis",
                "subset",
                "--name",
                "syn-a",
                "--split",
                "train",
                "--persons",
                str(size["subset_persons"]),
                "--count",
                str(count),
                "--cache-dir",
                str(cache_dir),
                "--out",
                str(work / "subsets"),
                "--registry",
                str(registry),
                "--quiet",
                "--population",
                "all",
            ],
            "compose": [
                sys.executable,
                "-m",
                "analysis",
                "compose",
                "--config",
                str(work / "compose.toml"),
                "--out",
                str(work / "composed"),
                "--registry",
                str(registry),
                "--cache-dir",
                str(cache_dir),
                "--quiet",
            ],
            "orjson.loads": _worker_cmd("orjson", file_a),
        }
        print(
            f"(a) subset --persons {size['subset_persons']} --count {count}; (b) compose of the two files; "
            "(c) orjson.loads of one file -- interleaved, best kept",
            flush=True,
        )
        runs: dict[str, list[dict[str, Any]]] = {label: [] for label in cmds}
        for i in range(repeat):
            print(f"round {i + 1}/{repeat}", flush=True)
            for label, cmd in cmds.items():
                runs[label].append(_one(label, cmd))
        report = orjson.loads((work / "subsets" / "report.json").read_bytes())
        composed = orjson.loads((work / "composed" / "report.json").read_bytes())
    finally:
        shutil.rmtree(work, ignore_errors=True)

    def best(label: str, key: str | None = None) -> dict[str, Any]:
        ok = [r for r in runs[label] if r["rc"] == 0] or runs[label]
        return min(ok, key=lambda r: r["inner"][key] if key and "inner" in r else r["wall_s"])

    subset, compose, parse = best("subset"), best("compose"), best("orjson.loads", "decode_s")
    parse_s = parse["inner"]["decode_s"] if parse["rc"] == 0 else None
    ratio_subset = subset["wall_s"] / parse_s if parse_s and subset["rc"] == 0 else None
    ratio_compose = compose["wall_s"] / (2 * parse_s) if parse_s and compose["rc"] == 0 else None
    rss = subset["peak_rss_bytes"] if subset["rc"] == 0 else None

    print()
    print(f"{'measurement':44s} {'wall':>9s} {'peak RSS':>10s}")
    print("-" * 66)
    for name, r, t in (
        (f"subset: {count} x {size['subset_persons']:,} persons", subset, subset["wall_s"]),
        ("compose: two files", compose, compose["wall_s"]),
        ("orjson.loads of one file (parse alone)", parse, parse_s),
    ):
        wall = "n/a" if t is None or r["rc"] != 0 else f"{t:.2f} s"
        print(f"{name:44s} {wall:>9s} {r['peak_rss_bytes'] / 1e6:>7,.0f} MB")
    print()
    print(
        "subsets (KS = two-sample Kolmogorov-Smirnov distance of person areas to the full split's; "
        "random = plain random image sampling, same seed):"
    )
    for row in report["subsets"]:
        print(
            f"  {row['file']}: {row['persons']:,} persons, {row['images']:,} images, KS {row['ks']:.4f}"
            f"   random: {row['random']['persons']:,} persons, KS {row['random']['ks']:.4f}"
        )
    out = composed["outputs"]
    print(
        f"composed: train {out['train']['images']:,} images / {out['train']['annotations']:,} annotations, "
        f"val {out['val']['images']:,} / {out['val']['annotations']:,}"
    )
    print()

    def verdict(ok: bool | None) -> str:
        return "n/a" if ok is None else ("PASS" if ok else "FAIL")

    targets = {
        "subset_over_orjson": {
            "value": ratio_subset,
            "target": f"<= {TARGET_SUBSET_OVER_ORJSON}",
            "verdict": verdict(None if ratio_subset is None else ratio_subset <= TARGET_SUBSET_OVER_ORJSON),
        },
        "subset_peak_rss_bytes": {
            "value": rss,
            "target": f"< {TARGET_SUBSET_PEAK_RSS_BYTES:.0f}",
            "verdict": verdict(None if rss is None else rss < TARGET_SUBSET_PEAK_RSS_BYTES),
        },
    }
    if size != DEFAULT:
        print("(not the default size: the targets are meant for 60,000 images / 260,000 annotations)")
    fmt = lambda x: "n/a" if x is None else f"{x:.2f}"  # noqa: E731
    # The machine's load can change between rounds: the ratio within each round too.
    per_round = [
        s["wall_s"] / o["inner"]["decode_s"]
        for s, o in zip(runs["subset"], runs["orjson.loads"], strict=True)
        if s["rc"] == 0 and o["rc"] == 0
    ]
    print("subset / orjson.loads per round: " + ", ".join(f"{r:.2f}" for r in per_round))
    print(
        f"subset / orjson.loads         = {fmt(ratio_subset):>6s}  (target <= {TARGET_SUBSET_OVER_ORJSON})  "
        f"{targets['subset_over_orjson']['verdict']}"
    )
    print(
        f"subset peak RSS               = {fmt(rss and rss / 1e9):>6s} GB (target < 2 GB)  "
        f"{targets['subset_peak_rss_bytes']['verdict']}"
    )
    print(f"compose / (2 x orjson.loads)  = {fmt(ratio_compose):>6s}  (reported, no target)")
    mb = f"{stats_a['bytes'] / 1e6:.0f} MB"
    summary.record(
        "datasets",
        [
            summary.Figure(
                f"subset of a {mb} file: whole process / orjson.loads",
                fmt(ratio_subset),
                f"<= {TARGET_SUBSET_OVER_ORJSON}",
                summary.met_at_most(ratio_subset, TARGET_SUBSET_OVER_ORJSON),
            ),
            summary.Figure(
                f"subset of a {mb} file: peak RSS",
                f"{fmt(rss and rss / 1e9)} GB",
                f"< {TARGET_SUBSET_PEAK_RSS_BYTES / 1e9:.0f} GB",
                None if rss is None else rss < TARGET_SUBSET_PEAK_RSS_BYTES,
            ),
            summary.Figure(f"compose two {mb} files / (2 x orjson.loads)", fmt(ratio_compose)),
        ],
    )

    results = {
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "size": size,
        "count": count,
        "repeat": repeat,
        "python": sys.version.split()[0],
        "files": [str(file_a), str(file_b)],
        "file_bytes": stats_a["bytes"],
        "measurements": {
            label: {"best": best(label, "decode_s" if label == "orjson.loads" else None), "runs": r}
            for label, r in runs.items()
        },
        "subset_report": report,
        "compose_outputs": composed["outputs"],
        "compose_over_two_parses": ratio_compose,
        "subset_over_orjson_per_round": per_round,
        "targets": targets,
    }
    name = "datasets-results.json" if size == DEFAULT else f"datasets-results-i{size['images']}.json"
    (DATA_DIR / name).write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))
    print(f"results: {DATA_DIR / name}")
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.datasets", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="6,000 images / 26,000 annotations (smoke test)")
    parser.add_argument("--count", type=int, default=5, help="subsets to draw (default 5)")
    parser.add_argument("--repeat", type=int, default=2, help="interleaved rounds; the best is kept (default 2)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target fails")
    args = parser.parse_args(argv)
    results = run_benchmark(QUICK if args.quick else DEFAULT, args.count, args.repeat)
    failed = any(t["verdict"] == "FAIL" for t in results["targets"].values())
    return 1 if args.strict and failed else 0


if __name__ == "__main__":
    sys.exit(main())
