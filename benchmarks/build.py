"""Speed and memory of the analysis core's build on a COCO-train-sized file.

``python -m benchmarks.build`` (``make bench``) generates, once, a synthetic
COCO person-keypoints file (60,000 images, 260,000 annotations, 17 joints,
30-point polygons, ~200 MB; see ``benchmarks/synthetic_coco.py``), then measures,
each in a fresh subprocess so that peak RSS belongs to that measurement alone:

a. our full build: ``python -m analysis build --name bench --split train
   --annotations FILE --cache-dir TMP --force`` (process wall time, peak RSS);
b. ``orjson.loads`` of the file alone (the read is timed separately), with
   Python's default gc and, for reference, with gc disabled;
c. a msgspec typed decode that skips ``segmentation`` (only the fields the
   tables need; ``keypoints: list[int | float]``), default gc and gc off;
d. the baseline: pycocotools ``COCO()`` + a per-image loop computing the same
   columns (``tests/reference/coco_reference.py``).

It prints a table and the targets with PASS / FAIL:
build / orjson.loads <= 0.8, pycocotools / build >= 3, build peak RSS <= 1.2 GB,
and writes everything to ``benchmarks/.data/build-results.json`` (other sizes:
``build-results-i<images>-p<persons>.json``).

Peak RSS is taken two ways and the larger is reported: the kernel's figure for
the child (``os.wait4`` rusage ``ru_maxrss``; max over the process and its
waited-for children) and a psutil sample, every 20 ms, of the summed RSS of the
child's whole process tree (catches concurrent worker processes). The kernel
figure starts from the runner's own RSS at spawn time, so the runner stays
small (the file is generated in a child process; ``runner_maxrss_bytes`` is
recorded in the JSON).

Options: ``--quick`` (6,000 images / 26,000 annotations, for smoke tests; the
targets are meant for the default size), ``--images N --persons N``,
``--repeat N`` (runs of a, b, c; the best wall time is reported),
``--skip-baseline``, ``--strict`` (exit 1 when a target fails), ``--stages`` (the
build's time per stage, from the manifest of its last run).

Issue 20's targets are printed too: the build's whole process <= 0.5x orjson.loads'
whole process, and peak RSS <= 0.6 GB, at the default (200 MB) size.

Every run also builds a copy of the file with one ``NaN`` token in an ignored
field (``...-nan.json``): its peak RSS must stay within 1.3x the plain build's.

``--big``: the 1.5 GB size (450,000 images, 1.95 million annotations; generated
once, about 1.5 minutes), one run each of the build, the NaN-variant build and
``orjson.loads`` with gc off (skipped when less than 10x the file's size
is available: it needs about 8x); prints peak RSS / file size (target <= 2),
NaN / plain peak RSS (target <= 1.3) and build / orjson time; writes
``benchmarks/.data/build-results-big.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import msgspec
import orjson

from benchmarks import summary
from benchmarks.synthetic_coco import DATA_DIR, default_path, ensure_synthetic_coco_in_child

REPO_ROOT = Path(__file__).resolve().parents[1]

TARGET_BUILD_OVER_ORJSON = 0.8
#: Issue 20: the build's whole process over orjson.loads' whole process, and its peak RSS, at 200 MB.
TARGET_BUILD_OVER_ORJSON_PROCESS = 0.5
TARGET_PEAK_RSS_200MB_BYTES = 0.6e9
TARGET_BASELINE_OVER_BUILD = 3.0
TARGET_PEAK_RSS_BYTES = 1.2e9
DEFAULT_IMAGES, DEFAULT_PERSONS = 60000, 260000
#: --big: a 1.5 GB file (450,000 images, 1.95 million annotations).
BIG_IMAGES, BIG_PERSONS = 450000, 1950000
TARGET_PEAK_OVER_FILE = 2.0
TARGET_NAN_OVER_FAST_RSS = 1.3
ORJSON_BIG_MEMORY_FACTOR = 10
QUICK_IMAGES, QUICK_PERSONS = 6000, 26000


# ---------------------------------------------------------------------------
# Workers: run in a fresh interpreter, print one JSON line with in-process timings.
# ---------------------------------------------------------------------------


def _timed_decode(path: str, decode, disable_gc: bool) -> tuple[Any, dict[str, float]]:
    """Read the file, then time ``decode(bytes)`` alone (optionally with gc off)."""
    t0 = time.perf_counter()
    with open(path, "rb") as fh:
        data = fh.read()
    t1 = time.perf_counter()
    if disable_gc:
        gc.disable()
    doc = decode(data)
    t2 = time.perf_counter()
    return doc, {"read_s": t1 - t0, "decode_s": t2 - t1}


def _worker_orjson(path: str, disable_gc: bool) -> dict[str, Any]:
    doc, times = _timed_decode(path, orjson.loads, disable_gc)
    return {**times, "n_annotations": len(doc["annotations"])}


class _Image(msgspec.Struct, gc=False):
    id: int
    width: int | None = None
    height: int | None = None
    file_name: str | None = None


class _Annotation(msgspec.Struct, gc=False):
    """Only the fields the tables need: ``segmentation`` is not declared, so skipped."""

    id: int
    image_id: int
    bbox: list[float] | None = None
    keypoints: list[int | float] = []
    num_keypoints: int | None = None
    iscrowd: int = 0
    area: float | None = None


class _Document(msgspec.Struct, gc=False):
    images: list[_Image]
    annotations: list[_Annotation]


def _worker_msgspec(path: str, disable_gc: bool) -> dict[str, Any]:
    doc, times = _timed_decode(path, msgspec.json.Decoder(_Document).decode, disable_gc)
    return {**times, "n_annotations": len(doc.annotations)}


def _worker_pycocotools(path: str) -> dict[str, Any]:
    from tests.reference.coco_reference import load_coco, reference_tables

    t0 = time.perf_counter()
    coco = load_coco(path)
    t1 = time.perf_counter()
    images, instances = reference_tables(path, coco=coco)
    t2 = time.perf_counter()
    return {
        "coco_s": t1 - t0,
        "loop_s": t2 - t1,
        "total_s": t2 - t0,
        "n_images": len(images),
        "n_instances": len(instances),
        "mean_crowd_index": float(images["crowd_index"].mean()),
    }


def _run_worker(kind: str, path: str) -> None:
    if kind == "orjson":
        out = _worker_orjson(path, disable_gc=False)
    elif kind == "orjson-nogc":
        out = _worker_orjson(path, disable_gc=True)
    elif kind == "msgspec":
        out = _worker_msgspec(path, disable_gc=False)
    elif kind == "msgspec-nogc":
        out = _worker_msgspec(path, disable_gc=True)
    elif kind == "pycocotools":
        out = _worker_pycocotools(path)
    else:
        raise SystemExit(f"unknown worker {kind!r}")
    sys.stdout.write("\nRESULT " + orjson.dumps(out).decode() + "\n")
    sys.stdout.flush()
    os._exit(0)  # skip tearing down millions of objects: not part of the measurement


# ---------------------------------------------------------------------------
# Parent: one fresh subprocess per measurement, wall time and peak RSS.
# ---------------------------------------------------------------------------


class _TreeRssSampler(threading.Thread):
    """Max of the summed RSS of a process and its descendants, sampled."""

    def __init__(self, pid: int, interval: float = 0.02) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval, self.peak = pid, interval, 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        try:
            import psutil

            proc = psutil.Process(self.pid)
        except Exception:
            return
        while not self._stop_event.is_set():
            try:
                total = proc.memory_info().rss
                for child in proc.children(recursive=True):
                    with contextlib.suppress(Exception):
                        total += child.memory_info().rss
                self.peak = max(self.peak, total)
            except Exception:
                return
            self._stop_event.wait(self.interval)

    def stop(self) -> None:
        self._stop_event.set()


def measure(cmd: list[str], label: str, cwd: Path = REPO_ROOT, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``cmd`` in a fresh process (``env``: its environment, default this one's); wall
    time, CPU time (user + system), peak RSS, rc, and its RESULT line."""
    with tempfile.TemporaryFile() as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            cmd,
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**(os.environ if env is None else env), "PYTHONUNBUFFERED": "1"},
        )
        sampler = _TreeRssSampler(proc.pid)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        sampler.stop()
        sampler.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode(errors="replace")
    result: dict[str, Any] = {
        "label": label,
        "cmd": cmd,
        "rc": proc.returncode,
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "maxrss_bytes_kernel": usage.ru_maxrss * 1024,  # Linux: kilobytes
        "maxrss_bytes_tree_sampled": sampler.peak,
    }
    result["peak_rss_bytes"] = max(result["maxrss_bytes_kernel"], sampler.peak)
    for line in text.splitlines():
        if line.startswith("RESULT "):
            result["inner"] = orjson.loads(line[len("RESULT ") :])
    if proc.returncode != 0:
        result["output_tail"] = text[-3000:]
    return result


def _worker_cmd(kind: str, path: Path) -> list[str]:
    return [sys.executable, "-m", "benchmarks.build", "--worker", kind, str(path)]


def _best(runs: list[dict[str, Any]], key: str) -> dict[str, Any]:
    ok = [r for r in runs if r["rc"] == 0]
    if not ok:
        return runs[-1]
    if key == "wall_s":
        return min(ok, key=lambda r: r["wall_s"])
    return min(ok, key=lambda r: r["inner"][key])


def _one(label: str, cmd: list[str], i: int, n: int) -> dict[str, Any]:
    print(f"  {label}: run {i + 1}/{n} ...", end="", flush=True)
    r = measure(cmd, label)
    inner = r.get("inner", {})
    extra = f", in-process {inner['decode_s']:.2f} s" if "decode_s" in inner else ""
    status = "" if r["rc"] == 0 else f"  FAILED rc={r['rc']}"
    print(f" {r['wall_s']:.2f} s wall{extra}, peak RSS {r['peak_rss_bytes'] / 1e6:.0f} MB{status}", flush=True)
    return r


def _round_robin(cmds: dict[str, list[str]], n: int) -> dict[str, list[dict[str, Any]]]:
    """Run every command n times, interleaved, so that a change in machine load during
    the benchmark affects all of them alike (the ratios stay meaningful)."""
    runs: dict[str, list[dict[str, Any]]] = {k: [] for k in cmds}
    for i in range(n):
        for label, cmd in cmds.items():
            runs[label].append(_one(label, cmd, i, n))
    return runs


def _fmt_s(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.2f} s"


def run_benchmark(
    n_images: int, n_persons: int, repeat: int = 3, baseline: bool = True, seed: int = 0, stages: bool = False
) -> dict[str, Any]:
    print(f"== PoseAtlas build benchmark: {n_images:,} images, {n_persons:,} annotations ==", flush=True)
    path, stats = ensure_synthetic_coco_in_child(n_images, n_persons, seed=seed)
    print(f"file: {path} ({stats['bytes'] / 1e6:.1f} MB)", flush=True)

    results: dict[str, Any] = {
        "file": str(path),
        "file_bytes": stats["bytes"],
        "file_stats": stats,
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        "repeat": repeat,
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "runner_maxrss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }
    results["versions"] = {"orjson": orjson.__version__, "msgspec": msgspec.__version__}

    # (a) our build, its fixed cost (interpreter start + CLI imports), (b) orjson.loads,
    # (c) msgspec typed decode without segmentation: interleaved, `repeat` rounds.
    print(
        "(a) our build: python -m analysis build ... --force; (a0) its startup alone: "
        "python -m analysis build --help;\n(b) orjson.loads alone; (c) msgspec typed decode "
        "skipping segmentation -- interleaved, best of each kept",
        flush=True,
    )
    cache_dir = Path(tempfile.mkdtemp(prefix="poseatlas-bench-"))
    try:
        cmds = {
            "build": [
                sys.executable,
                "-m",
                "analysis",
                "build",
                "--name",
                "bench",
                "--split",
                "train",
                "--annotations",
                str(path),
                "--cache-dir",
                str(cache_dir),
                "--force",
                "--quiet",
            ],
            "build, one NaN token": _build_cmd(nan_variant(path), cache_dir, "benchnan"),
            "startup": [sys.executable, "-m", "analysis", "build", "--help"],
            "orjson.loads": _worker_cmd("orjson", path),
            "orjson.loads gc off": _worker_cmd("orjson-nogc", path),
            "msgspec typed": _worker_cmd("msgspec", path),
            "msgspec typed gc off": _worker_cmd("msgspec-nogc", path),
        }
        runs = _round_robin(cmds, repeat)
        out_dir = cache_dir / "bench" / "train"
        if out_dir.is_dir():
            results["build_outputs"] = {p.name: p.stat().st_size for p in out_dir.iterdir()}
            with contextlib.suppress(OSError, ValueError, KeyError):
                results["build_stages_s"] = orjson.loads((out_dir / "manifest.json").read_bytes())["timings"]
    finally:
        shutil.rmtree(cache_dir, ignore_errors=True)
    build_runs, startup_runs = runs["build"], runs["startup"]
    orjson_runs, orjson_nogc_runs = runs["orjson.loads"], runs["orjson.loads gc off"]
    msgspec_runs, msgspec_nogc_runs = runs["msgspec typed"], runs["msgspec typed gc off"]
    build = _best(build_runs, "wall_s")
    build_nan = _best(runs["build, one NaN token"], "wall_s")
    startup = _best(startup_runs, "wall_s")
    if build["rc"] != 0:
        print("  build FAILED; last output:\n" + build.get("output_tail", ""), flush=True)
    orj, orj_ng = _best(orjson_runs, "decode_s"), _best(orjson_nogc_runs, "decode_s")
    msp, msp_ng = _best(msgspec_runs, "decode_s"), _best(msgspec_nogc_runs, "decode_s")

    # (d) baseline
    base = None
    if baseline:
        print("(d) pycocotools COCO() + per-image loop (takes a while) ...", flush=True)
        base = _one("pycocotools", _worker_cmd("pycocotools", path), 0, 1)
        if base["rc"] != 0:
            print("  baseline FAILED; last output:\n" + base.get("output_tail", ""), flush=True)

    def inner(r: dict[str, Any] | None, key: str) -> float | None:
        return r["inner"][key] if r and r["rc"] == 0 and "inner" in r else None

    build_s = build["wall_s"] if build["rc"] == 0 else None
    orjson_s = inner(orj, "decode_s")
    base_s = base["wall_s"] if base and base["rc"] == 0 else None
    ratio_orjson = build_s / orjson_s if build_s and orjson_s else None
    ratio_base = base_s / build_s if build_s and base_s else None
    rss = build["peak_rss_bytes"] if build["rc"] == 0 else None

    results["measurements"] = {
        "build": {"best": build, "runs": build_runs},
        "startup": {"best": startup, "runs": startup_runs},
        "build_nan": {"best": build_nan, "runs": runs["build, one NaN token"]},
        "orjson_loads": {"best": orj, "runs": orjson_runs},
        "orjson_loads_gc_off": {"best": orj_ng, "runs": orjson_nogc_runs},
        "msgspec_typed": {"best": msp, "runs": msgspec_runs},
        "msgspec_typed_gc_off": {"best": msp_ng, "runs": msgspec_nogc_runs},
        "pycocotools": {"best": base, "runs": [base] if base else []},
    }

    def verdict(ok: bool | None) -> str:
        return "n/a" if ok is None else ("PASS" if ok else "FAIL")

    targets = {
        "build_over_orjson": {
            "value": ratio_orjson,
            "target": f"<= {TARGET_BUILD_OVER_ORJSON}",
            "verdict": verdict(None if ratio_orjson is None else ratio_orjson <= TARGET_BUILD_OVER_ORJSON),
        },
        "pycocotools_over_build": {
            "value": ratio_base,
            "target": f">= {TARGET_BASELINE_OVER_BUILD}",
            "verdict": verdict(None if ratio_base is None else ratio_base >= TARGET_BASELINE_OVER_BUILD),
        },
        "build_peak_rss_bytes": {
            "value": rss,
            "target": f"<= {TARGET_PEAK_RSS_BYTES:.0f}",
            "verdict": verdict(None if rss is None else rss <= TARGET_PEAK_RSS_BYTES),
        },
    }
    results["targets"] = targets
    if build_s and inner(orj_ng, "decode_s"):
        results["build_over_orjson_gc_off"] = build_s / inner(orj_ng, "decode_s")

    # ---- table ------------------------------------------------------------------
    def mb(r: dict[str, Any] | None) -> str:
        return "n/a" if not r or r["rc"] != 0 else f"{r['peak_rss_bytes'] / 1e6:,.0f} MB"

    rows = [
        ("our build (python -m analysis build)", _fmt_s(build_s), "process wall", mb(build)),
        (
            "our build, one NaN token",
            _fmt_s(build_nan["wall_s"] if build_nan["rc"] == 0 else None),
            "process wall; NaN in an ignored field",
            mb(build_nan),
        ),
        ("  of which startup (build --help)", _fmt_s(startup["wall_s"]), "interpreter + imports", mb(startup)),
        (
            "orjson.loads (default gc)",
            _fmt_s(orjson_s),
            f"process wall {_fmt_s(orj['wall_s'])}; read {_fmt_s(inner(orj, 'read_s'))}",
            mb(orj),
        ),
        (
            "orjson.loads (gc off)",
            _fmt_s(inner(orj_ng, "decode_s")),
            f"process wall {_fmt_s(orj_ng['wall_s'])}",
            mb(orj_ng),
        ),
        (
            "msgspec typed, no segmentation",
            _fmt_s(inner(msp, "decode_s")),
            f"process wall {_fmt_s(msp['wall_s'])}",
            mb(msp),
        ),
        (
            "msgspec typed, no segm. (gc off)",
            _fmt_s(inner(msp_ng, "decode_s")),
            f"process wall {_fmt_s(msp_ng['wall_s'])}",
            mb(msp_ng),
        ),
    ]
    if base:
        rows.append(
            (
                "pycocotools COCO() + loop",
                _fmt_s(base_s),
                f"COCO() {_fmt_s(inner(base, 'coco_s'))}, loop {_fmt_s(inner(base, 'loop_s'))}",
                mb(base),
            )
        )
    print()
    print(f"{'measurement':38s} {'time':>9s}  {'peak RSS':>9s}  notes")
    print("-" * 100)
    for name, t, note, m in rows:
        print(f"{name:38s} {t:>9s}  {m:>9s}  {note}")
    print()
    quick = (n_images, n_persons) != (DEFAULT_IMAGES, DEFAULT_PERSONS)
    if quick:
        print("(not the default size: the targets are meant for 60,000 images / 260,000 annotations)")
    fr = lambda x, f: "n/a" if x is None else f.format(x)  # noqa: E731
    print(
        f"build / orjson.loads      = {fr(ratio_orjson, '{:.2f}'):>6s}  "
        f"(target <= {TARGET_BUILD_OVER_ORJSON})  {targets['build_over_orjson']['verdict']}"
    )
    print(
        f"pycocotools / build       = {fr(ratio_base, '{:.2f}'):>6s}  "
        f"(target >= {TARGET_BASELINE_OVER_BUILD})  "
        f"{targets['pycocotools_over_build']['verdict']}"
    )
    print(
        f"build peak RSS            = {fr(rss and rss / 1e9, '{:.2f}'):>6s} GB "
        f"(target <= {TARGET_PEAK_RSS_BYTES / 1e9:.1f} GB)  "
        f"{targets['build_peak_rss_bytes']['verdict']}"
    )
    if build_nan["rc"] == 0 and rss:
        print(
            f"NaN build / build peak RSS = {build_nan['peak_rss_bytes'] / rss:6.2f}  "
            f"(target <= {TARGET_NAN_OVER_FAST_RSS}); time {build_nan['wall_s'] / build_s:.2f}x"
        )
    if build_s and orj["rc"] == 0:
        ratio_process = build_s / orj["wall_s"]
        results["build_over_orjson_process"] = ratio_process
        ok = ratio_process <= TARGET_BUILD_OVER_ORJSON_PROCESS
        print(
            f"build / orjson.loads, whole processes = {ratio_process:6.2f}  (target <= "
            f"{TARGET_BUILD_OVER_ORJSON_PROCESS}, issue 20)  {verdict(ok)}"
        )
        if rss:
            print(
                f"build peak RSS            = {rss / 1e9:6.2f} GB (target <= "
                f"{TARGET_PEAK_RSS_200MB_BYTES / 1e9:.1f} GB at 200 MB, issue 20)  "
                f"{verdict(rss <= TARGET_PEAK_RSS_200MB_BYTES)}"
            )
    if stages and "build_stages_s" in results:
        timings = results["build_stages_s"]
        print("build stages (the last build run, in process; its manifest's timings):")
        order = ("read", "decode+validate", "crowding", "tables", "images", "write", "total")
        for stage in sorted(timings, key=lambda name: order.index(name) if name in order else len(order)):
            print(f"  {stage:<18} {timings[stage]:6.2f} s")
        last = build_runs[-1]
        if "total" in timings and last["rc"] == 0:
            # The stages are the last run's (its manifest): its own wall time, not the best run's.
            results["build_outside_s"] = last["wall_s"] - timings["total"]
            print(
                f"  {'outside (start-up, imports, exit)':<18} {results['build_outside_s']:6.2f} s "
                f"(the last run's process wall {last['wall_s']:.2f} s less its total)"
            )
    if "build_over_orjson_gc_off" in results:
        print(f"(for reference: build / orjson.loads with gc off = {results['build_over_orjson_gc_off']:.2f})")

    summary.record("build", _summary_figures(results, build, build_nan, stats["bytes"]))
    name = "build-results.json" if not quick else f"build-results-i{n_images}-p{n_persons}.json"
    out_path = DATA_DIR / name
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_suffix(".json.tmp")
    tmp.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))
    os.replace(tmp, out_path)
    print(f"\nresults: {out_path}")
    return results


def _summary_figures(
    results: dict[str, Any], build: dict[str, Any], build_nan: dict[str, Any], file_bytes: int
) -> list[summary.Figure]:
    """The figures of one default-size run for ``make bench``'s summary (``benchmarks.summary``)."""
    Figure, fmt = summary.Figure, summary.fmt
    size = f"build {file_bytes / 1e6:.0f} MB"
    targets = results["targets"]
    process = results.get("build_over_orjson_process")
    rss = targets["build_peak_rss_bytes"]["value"]
    ratio, base = targets["build_over_orjson"]["value"], targets["pycocotools_over_build"]["value"]
    nan = build_nan["peak_rss_bytes"] / rss if build_nan["rc"] == 0 and rss else None
    figures = [
        Figure(
            f"{size}: whole process / orjson.loads whole process",
            f"{fmt(process)} ({fmt(build['wall_s'] if build['rc'] == 0 else None, '{:.2f} s')})",
            f"<= {TARGET_BUILD_OVER_ORJSON_PROCESS}",
            summary.met_at_most(process, TARGET_BUILD_OVER_ORJSON_PROCESS),
        ),
        Figure(
            f"{size}: peak RSS",
            fmt(rss and rss / 1e9, "{:.2f} GB"),
            f"<= {TARGET_PEAK_RSS_200MB_BYTES / 1e9:.1f} GB",
            summary.met_at_most(rss, TARGET_PEAK_RSS_200MB_BYTES),
        ),
        Figure(
            f"{size}: whole process / orjson.loads in process",
            fmt(ratio),
            f"<= {TARGET_BUILD_OVER_ORJSON}",
            summary.met_at_most(ratio, TARGET_BUILD_OVER_ORJSON),
        ),
        Figure(
            f"{size}: one NaN token, peak RSS / plain build's",
            fmt(nan),
            f"<= {TARGET_NAN_OVER_FAST_RSS}",
            summary.met_at_most(nan, TARGET_NAN_OVER_FAST_RSS),
        ),
    ]
    if base is not None:
        figures.append(
            Figure(
                f"{size}: pycocotools COCO() + loop / build",
                fmt(base),
                f">= {TARGET_BASELINE_OVER_BUILD}",
                summary.met_at_least(base, TARGET_BASELINE_OVER_BUILD),
            )
        )
    order = ("read", "decode+validate", "crowding", "tables", "images", "write", "total")
    timings = results.get("build_stages_s", {})
    for stage in sorted(timings, key=lambda name: order.index(name) if name in order else len(order)):
        figures.append(Figure(f"{size}: stage {stage} (last run, in process)", f"{timings[stage]:.2f} s"))
    if "build_outside_s" in results:
        figures.append(
            Figure(f"{size}: outside the stages (start-up, imports, exit)", f"{results['build_outside_s']:.2f} s")
        )
    return figures


def nan_variant(path: Path) -> Path:
    """A copy of ``path`` whose first image's ``license`` value is the token ``NaN``.

    One non-standard token in a field the build ignores: the build must not fall
    back to a slower, hungrier parser for the whole file.  Streamed (the runner stays small).
    """
    out = path.with_name(path.stem + "-nan.json")
    if out.exists() and out.stat().st_mtime >= path.stat().st_mtime:
        return out
    tmp = out.with_suffix(".tmp")
    with open(path, "rb") as src, open(tmp, "wb") as dst:
        head = src.read(1 << 20)
        start = head.index(b'"license":') + len(b'"license":')
        end = start + len(head[start:]) - len(head[start:].lstrip(b"0123456789"))
        dst.write(head[:start] + b"NaN" + head[end:])
        shutil.copyfileobj(src, dst, 1 << 24)
    os.replace(tmp, out)
    return out


def _build_cmd(path: Path, cache_dir: Path, name: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "analysis",
        "build",
        "--name",
        name,
        "--split",
        "train",
        "--annotations",
        str(path),
        "--cache-dir",
        str(cache_dir),
        "--force",
        "--quiet",
    ]


def run_big(seed: int = 0) -> dict[str, Any]:
    """--big: the 1.5 GB file; peak RSS against the file size, NaN fallback against the fast
    path, time against orjson.loads (gc off, memory-limited) -- one run each."""
    import psutil

    n_images, n_persons = BIG_IMAGES, BIG_PERSONS
    print(f"== PoseAtlas build benchmark, big: {n_images:,} images, {n_persons:,} annotations ==", flush=True)
    if not default_path(n_images, n_persons, seed=seed).with_suffix(".stats.json").exists():
        print("generating the file (about a minute and a half) ...", flush=True)
    path, stats = ensure_synthetic_coco_in_child(n_images, n_persons, seed=seed)
    size = stats["bytes"]
    nan_path = nan_variant(path)
    print(f"file: {path} ({size / 1e9:.2f} GB); NaN variant: {nan_path.name}", flush=True)
    cache_dir = Path(tempfile.mkdtemp(prefix="poseatlas-bench-big-"))
    try:
        build = _one("build", _build_cmd(path, cache_dir, "big"), 0, 1)
        build_nan = _one("build, one NaN token", _build_cmd(nan_path, cache_dir, "bignan"), 0, 1)
    finally:
        shutil.rmtree(cache_dir, ignore_errors=True)
    # orjson builds every polygon point as a Python float: about 8x the file in memory.
    # (An address-space limit makes it crash rather than raise MemoryError, so: a check.)
    available = psutil.virtual_memory().available
    orj = None
    if available > ORJSON_BIG_MEMORY_FACTOR * size:
        orj = _one("orjson.loads gc off", _worker_cmd("orjson-nogc", path), 0, 1)
    else:
        print(
            f"  orjson.loads: skipped (needs ~{ORJSON_BIG_MEMORY_FACTOR * size / 1e9:.0f} GB, "
            f"{available / 1e9:.1f} GB available)",
            flush=True,
        )

    def ok(r: dict[str, Any] | None) -> bool:
        return bool(r) and r["rc"] == 0

    peak_ratio = build["peak_rss_bytes"] / size if ok(build) else None
    nan_ratio = build_nan["peak_rss_bytes"] / build["peak_rss_bytes"] if ok(build) and ok(build_nan) else None
    orjson_s = orj["inner"]["decode_s"] if ok(orj) else None
    time_ratio = build["wall_s"] / orjson_s if ok(build) and orjson_s else None
    fr = lambda x, f: "n/a" if x is None else f.format(x)  # noqa: E731
    print()
    for label, r in (("our build", build), ("our build, one NaN token", build_nan), ("orjson.loads (gc off)", orj)):
        if r is not None:
            t = r["inner"]["decode_s"] if label.startswith("orjson") and ok(r) else r["wall_s"]
            print(
                f"{label:28s} {t:8.2f} s  peak RSS {r['peak_rss_bytes'] / 1e9:6.2f} GB"
                + ("" if ok(r) else f"  FAILED rc={r['rc']}")
            )
    print()
    print(
        f"build peak RSS / file size     = {fr(peak_ratio, '{:.2f}'):>6s}  (target <= {TARGET_PEAK_OVER_FILE})  "
        f"{'n/a' if peak_ratio is None else 'PASS' if peak_ratio <= TARGET_PEAK_OVER_FILE else 'FAIL'}"
    )
    print(
        f"NaN build / fast build peak RSS = {fr(nan_ratio, '{:.2f}'):>6s}  (target <= {TARGET_NAN_OVER_FAST_RSS})  "
        f"{'n/a' if nan_ratio is None else 'PASS' if nan_ratio <= TARGET_NAN_OVER_FAST_RSS else 'FAIL'}"
    )
    print(f"NaN build / fast build time    = {fr(ok(build_nan) and build_nan['wall_s'] / build['wall_s'], '{:.2f}')}")
    print(f"build / orjson.loads (gc off)  = {fr(time_ratio, '{:.2f}'):>6s}")
    results = {
        "file": str(path),
        "file_bytes": size,
        "build": build,
        "build_nan": build_nan,
        "orjson_nogc": orj,
        "peak_over_file": peak_ratio,
        "nan_over_fast_rss": nan_ratio,
        "build_over_orjson_nogc": time_ratio,
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    summary.record(
        "build-big",
        [
            summary.Figure(
                f"build {size / 1e9:.2f} GB: peak RSS / file size",
                f"{fr(peak_ratio, '{:.2f}')} ({fr(build['peak_rss_bytes'] / 1e9 if ok(build) else None, '{:.2f} GB')})",
                f"<= {TARGET_PEAK_OVER_FILE}",
                summary.met_at_most(peak_ratio, TARGET_PEAK_OVER_FILE),
            ),
            summary.Figure(
                f"build {size / 1e9:.2f} GB: one NaN token, peak RSS / plain build's",
                fr(nan_ratio, "{:.2f}"),
                f"<= {TARGET_NAN_OVER_FAST_RSS}",
                summary.met_at_most(nan_ratio, TARGET_NAN_OVER_FAST_RSS),
            ),
            summary.Figure(f"build {size / 1e9:.2f} GB: time / orjson.loads (gc off)", fr(time_ratio, "{:.2f}")),
        ],
    )
    out_path = DATA_DIR / "build-results-big.json"
    out_path.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))
    print(f"\nresults: {out_path}")
    return results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=int, default=None)
    ap.add_argument("--persons", type=int, default=None)
    ap.add_argument("--quick", action="store_true", help=f"{QUICK_IMAGES:,} images / {QUICK_PERSONS:,} annotations")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--repeat", type=int, default=3, help="runs of the build, orjson and msgspec measurements (best is kept)"
    )
    ap.add_argument("--skip-baseline", action="store_true", help="skip pycocotools")
    ap.add_argument("--strict", action="store_true", help="exit 1 when a target fails")
    ap.add_argument(
        "--big",
        action="store_true",
        help=f"the 1.5 GB file ({BIG_IMAGES:,} images / {BIG_PERSONS:,} annotations): peak RSS vs "
        "file size, the NaN fallback's memory, time vs orjson (generating it takes ~1.5 min)",
    )
    ap.add_argument("--stages", action="store_true", help="print the build's time per stage (read, decode, ...)")
    ap.add_argument("--worker", nargs=2, metavar=("KIND", "FILE"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        _run_worker(*args.worker)
        return 0
    if args.big:
        results = run_big(seed=args.seed)
        failed = (
            not (results["peak_over_file"] or 99) <= TARGET_PEAK_OVER_FILE
            or not (results["nan_over_fast_rss"] or 99) <= TARGET_NAN_OVER_FAST_RSS
        )
        return 1 if (args.strict and failed) else 0
    n_images = args.images or (QUICK_IMAGES if args.quick else DEFAULT_IMAGES)
    n_persons = args.persons or (QUICK_PERSONS if args.quick else DEFAULT_PERSONS)
    results = run_benchmark(
        n_images,
        n_persons,
        repeat=max(1, args.repeat),
        baseline=not args.skip_baseline,
        seed=args.seed,
        stages=args.stages,
    )
    failed = any(t["verdict"] == "FAIL" for t in results["targets"].values())
    return 1 if (args.strict and failed) else 0


if __name__ == "__main__":
    sys.exit(main())
