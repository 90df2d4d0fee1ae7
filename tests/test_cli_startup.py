"""Start-up: ``python -m analysis evaluate``, ``info`` and ``build`` import only what they use.

Each command runs in a fresh interpreter under ``python -X importtime``; the test reads
the modules it loaded from that report.  Parsing (``--help``) loads none of the heavy
libraries; a real run loads what its work needs (numpy, pyarrow) and never torch,
requests or a plotting library; neither a build nor an evaluation loads pandas (nor,
under ``--quiet``, tqdm).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from benchmarks.evaluate import make_predictions
from benchmarks.synthetic_coco import write_synthetic_coco

REPO = Path(__file__).resolve().parents[1]
#: Never loaded by these commands: a model runtime, the HTTP stack, plotting, the UI.
NEVER = {"torch", "torchvision", "requests", "urllib3", "plotly", "matplotlib", "kaleido", "streamlit", "PIL"}
#: Loaded by a run that reads or writes tables, never by parsing alone.
TABLES = {"pandas", "pyarrow"}


def imported_roots(*args: str) -> set[str]:
    """Top-level packages a fresh ``python -X importtime -m analysis ARGS`` imported."""
    return {name.split(".")[0] for name in imported_modules(*args)}


def imported_modules(*args: str) -> set[str]:
    """Modules a fresh ``python -X importtime -m analysis ARGS`` imported."""
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "analysis", *args],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    rows = [line.split("|")[-1] for line in out.stderr.splitlines() if line.startswith("import time:")]
    assert len(rows) > 50, out.stderr[-2000:]  # the report is there: the checks below are not vacuous
    return {row.strip() for row in rows[1:]}  # rows[0] is the header


@pytest.fixture(scope="module")
def small_cache(tmp_path_factory) -> tuple[Path, Path]:
    """A built cache of a small synthetic COCO set and a results file for it."""
    from analysis.build.run import build_split
    from analysis.registry import DatasetSpec

    folder = tmp_path_factory.mktemp("startup")
    gt_path = folder / "gt.json"
    write_synthetic_coco(gt_path, n_images=40, n_persons=90, polygon_points=8, seed=3)
    preds_path = folder / "preds.json"
    preds_path.write_bytes(orjson.dumps(make_predictions(orjson.loads(gt_path.read_bytes()), 60, seed=4)))
    build_split(DatasetSpec("startup", "val", gt_path), folder / "cache", progress=False)
    return folder, preds_path


@pytest.mark.parametrize("command", ["evaluate", "info", "build"])
def test_parsing_loads_no_heavy_library(command):
    loaded = imported_roots(command, "--help")
    assert "argparse" in loaded and "analysis" in loaded
    assert not loaded & (NEVER | TABLES)


#: Modules of the other subcommands: ``evaluate`` builds only its own parser (analysis.cli).
OTHER_COMMANDS = {
    "analysis.registry", "analysis.scenes", "analysis.datasets.convert", "analysis.evaluation.compare", "tomllib",
}  # fmt: skip


def test_evaluate_run_loads_what_it_uses_only(small_cache):
    folder, preds_path = small_cache
    modules = imported_modules(
        "evaluate", "--name", "startup", "--split", "val", "--predictions", str(preds_path),
        "--cache-dir", str(folder / "cache"), "--quiet",
    )  # fmt: skip
    loaded = {name.split(".")[0] for name in modules}
    assert {"numpy", "pyarrow", "msgspec"} <= loaded  # the probe sees the imports it needs
    assert {"analysis.cli", "analysis.evaluation.cli"} <= modules
    assert not modules & OTHER_COMMANDS
    assert not loaded & NEVER
    # the results reader shares only analysis.build.json_input with the build: not its
    # decoder and checks (nor the difflib and gzip they import, ~10 ms)
    assert {"analysis.build.json_input", "analysis.build.number_arrays"} <= modules
    assert not modules & {"analysis.build.coco_json", "analysis.build.loading", "difflib", "gzip"}
    # read -> check -> slice -> print on numpy columns (analysis.cache.columns): no pandas, and
    # no progress bar library under --quiet, no thread pool (and the logging it imports)
    assert not loaded & {"pandas", "tqdm", "concurrent", "logging"}


def test_evaluate_reuse_and_reslice_load_no_pandas(small_cache):
    """A re-run with an unchanged predictions file and a re-slice of the stored evaluation
    (--model without --predictions) read the stored tables as numpy columns."""
    folder, preds_path = small_cache
    common = ["--name", "startup", "--split", "val", "--cache-dir", str(folder / "cache"), "--quiet"]
    evaluate = [sys.executable, "-m", "analysis", "evaluate", *common, "--predictions", str(preds_path), "--model", "r"]
    assert subprocess.run(evaluate, cwd=REPO, capture_output=True, timeout=120).returncode == 0
    reused = imported_roots("evaluate", *common, "--predictions", str(preds_path), "--model", "r", "--json")
    resliced = imported_roots("evaluate", *common, "--model", "r", "--size-area", "segm")
    for loaded in (reused, resliced):
        assert {"numpy", "pyarrow"} <= loaded and not loaded & ({"pandas", "difflib", "gzip"} | NEVER)


def test_info_and_build_runs_load_no_torch_requests_or_plotting_and_build_no_pandas(small_cache):
    folder, _ = small_cache
    loaded = imported_roots("info", "--cache-dir", str(folder / "cache"), "--registry", str(folder / "none.toml"))
    assert "numpy" in loaded
    assert not loaded & NEVER
    loaded = imported_roots(
        "build", "--name", "startup2", "--split", "val", "--annotations", str(folder / "gt.json"),
        "--cache-dir", str(folder / "cache"), "--quiet",
    )  # fmt: skip
    assert (folder / "cache" / "startup2" / "val" / "instances.parquet").is_file()
    assert "pyarrow" in loaded
    assert "pandas" not in loaded  # analysis.build.tables assembles Arrow columns without pa.array
    assert not loaded & NEVER
