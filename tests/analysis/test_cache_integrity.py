"""Damaged, stale and concurrently built caches (issue 11 items 6-8, issue 10's staleness)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest

from analysis.build import run as build_mod
from analysis.build.run import build_split
from analysis.cache import contract as cache
from analysis.cache.manifest import InvalidManifestError, read_manifest
from analysis.cli import main
from analysis.registry import DatasetSpec
from tests.analysis.helpers import coco_doc, write_doc

REPO = Path(__file__).resolve().parents[2]


def _setup(tmp_path: Path) -> tuple[DatasetSpec, Path]:
    ann = write_doc(tmp_path / "ann.json", coco_doc())
    spec = DatasetSpec("ds", "val", ann)
    assert build_split(spec, tmp_path / "cache", progress=False).status == "built"
    return spec, tmp_path / "cache" / "ds" / "val"


def _status(spec: DatasetSpec, tmp_path: Path, **kw) -> str:
    return build_split(spec, tmp_path / "cache", progress=False, **kw).status


def _cli_build(tmp_path: Path, *extra: str) -> list[str]:
    return [
        "build",
        "--name",
        "ds",
        "--split",
        "val",
        "--annotations",
        str(tmp_path / "ann.json"),
        "--cache-dir",
        str(tmp_path / "cache"),
        "--quiet",
        *extra,
    ]


# --------------------------------------------------------------------------- damaged files


def test_deleted_instances_are_rebuilt(tmp_path):
    spec, split = _setup(tmp_path)
    (split / cache.INSTANCES_FILE).unlink()
    assert _status(spec, tmp_path) == "built"
    assert pq.read_metadata(split / cache.INSTANCES_FILE).num_rows == 4


def test_truncated_images_are_rebuilt(tmp_path):
    spec, split = _setup(tmp_path)
    path = split / cache.IMAGES_FILE
    path.write_bytes(path.read_bytes()[:-20])
    assert _status(spec, tmp_path) == "built"
    assert pq.read_metadata(path).num_rows == 3


def test_same_size_but_unreadable_footer_is_rebuilt(tmp_path):
    spec, split = _setup(tmp_path)
    path = split / cache.INSTANCES_FILE
    data = path.read_bytes()
    path.write_bytes(data[:-8] + b"\0" * 8)  # the footer's length and magic gone; same size
    assert _status(spec, tmp_path) == "built"
    assert path.read_bytes()[-4:] == b"PAR1"


def test_row_count_other_than_recorded_is_rebuilt(tmp_path):
    spec, split = _setup(tmp_path)
    raw = orjson.loads((split / cache.MANIFEST_FILE).read_bytes())
    raw["tables"]["instances.parquet"]["rows"] = 5
    (split / cache.MANIFEST_FILE).write_bytes(orjson.dumps(raw))
    assert _status(spec, tmp_path) == "built"
    assert read_manifest(split).tables["instances.parquet"].rows == 4


def test_unreadable_manifest_means_no_cache_to_build_and_force(tmp_path, capsys):
    _, split = _setup(tmp_path)
    manifest = split / cache.MANIFEST_FILE
    manifest.write_bytes(manifest.read_bytes()[:50])
    assert main(_cli_build(tmp_path)) == 0
    assert "ds/val: built" in capsys.readouterr().out
    manifest.write_bytes(b"")
    assert main(_cli_build(tmp_path, "--force")) == 0
    assert "ds/val: built" in capsys.readouterr().out
    assert read_manifest(split).counts.images == 3


def test_info_names_an_unreadable_split_and_goes_on(tmp_path, capsys):
    _setup(tmp_path)
    other = write_doc(tmp_path / "other.json", coco_doc())
    build_split(DatasetSpec("other", "val", other), tmp_path / "cache", progress=False)
    manifest = tmp_path / "cache" / "ds" / "val" / cache.MANIFEST_FILE
    manifest.write_bytes(b'{"dataset": "ds", "spl')
    assert main(["info", "--cache-dir", str(tmp_path / "cache"), "--registry", str(tmp_path / "none.toml")]) == 0
    out = capsys.readouterr().out
    assert "  other/val: 3 images, 3 persons" in out
    line = next(line for line in out.splitlines() if line.startswith("  ds/val"))
    assert line.startswith("  ds/val: skipped, unreadable (") and "--annotations FILE" in line
    assert "--only" not in line  # ds/val is not registered: `build --only ds/val` would fail


def test_unreadable_manifest_of_an_ad_hoc_split_says_what_rebuilds_it(tmp_path, capsys):
    """Issue 19: an ad hoc split's unreadable manifest must not suggest ``build --only`` alone."""
    _setup(tmp_path)
    cache_dir = tmp_path / "cache"
    manifest = cache_dir / "ds" / "val" / cache.MANIFEST_FILE
    manifest.write_bytes(b'{"dataset": "ds", "spl')
    with pytest.raises(InvalidManifestError) as raised:
        read_manifest(manifest.parent)
    only = f"python -m analysis build --only ds/val --force --cache-dir {cache_dir}"
    ad_hoc = f"python -m analysis build --name ds --split val --annotations FILE --force --cache-dir {cache_dir}"
    assert str(raised.value) == (
        f"{manifest}: unreadable (Input data was truncated), so it no longer names "
        f"its annotation file; if ds/val is registered, rebuild it with `{only}`; if it was built ad hoc, "
        f"with `{ad_hoc}`, FILE being its annotation file"
    )
    # info knows the registry (here: none), so it names the one command that works
    assert main(["info", "--cache-dir", str(cache_dir), "--registry", str(tmp_path / "none.toml")]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("  ds/val"))
    assert line == (
        "  ds/val: skipped, unreadable (Input data was truncated), so it "
        f"no longer names its annotation file; rebuild it with `{ad_hoc}`"
    )
    # the registered form fails for this split; the ad hoc one, with FILE filled in, rebuilds it
    assert main([*only.split()[3:], "--registry", str(tmp_path / "none.toml")]) == 2
    assert "--only ds/val matches no registered dataset" in capsys.readouterr().err
    assert main([*ad_hoc.replace("FILE", str(tmp_path / "ann.json")).split()[3:], "--quiet"]) == 0
    assert read_manifest(manifest.parent).counts.images == 3


def test_unreadable_manifest_of_a_registered_split_names_build_only(tmp_path, capsys):
    _setup(tmp_path)
    cache_dir = tmp_path / "cache"
    registry = tmp_path / "datasets.toml"
    registry.write_text(f'[[dataset]]\nname = "ds"\nsplit = "val"\nannotations = "{tmp_path / "ann.json"}"\n')
    manifest = cache_dir / "ds" / "val" / cache.MANIFEST_FILE
    manifest.write_bytes(b"")
    assert main(["info", "--cache-dir", str(cache_dir), "--registry", str(registry)]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("  ds/val: skipped"))
    only = f"python -m analysis build --only ds/val --force --cache-dir {cache_dir}"
    assert line.endswith(f"so it no longer names its annotation file; rebuild it with `{only}`")
    assert main([*only.split()[3:], "--registry", str(registry), "--quiet"]) == 0
    assert read_manifest(manifest.parent).counts.images == 3


def test_info_reports_damaged_tables(tmp_path, capsys):
    _, split = _setup(tmp_path)
    (split / cache.INSTANCES_FILE).write_bytes(b"not parquet")
    assert main(["info", "--cache-dir", str(tmp_path / "cache"), "--registry", str(tmp_path / "none.toml")]) == 0
    out = capsys.readouterr().out
    assert "    damaged: instances.parquet is 11 bytes, the manifest says" in out
    assert f"--annotations {(tmp_path / 'ann.json').resolve()} --force" in out


# --------------------------------------------------------------------------- stale caches


def test_cache_of_an_older_code_version_is_rebuilt_and_reported(tmp_path, capsys):
    spec, split = _setup(tmp_path)
    registry = tmp_path / "datasets.toml"
    registry.write_text(f'[[dataset]]\nname = "ds"\nsplit = "val"\nannotations = "{tmp_path / "ann.json"}"\n')
    raw = orjson.loads((split / cache.MANIFEST_FILE).read_bytes())
    raw["code_version"] = "0.0.1+000000000000"
    (split / cache.MANIFEST_FILE).write_bytes(orjson.dumps(raw))
    assert main(["info", "--cache-dir", str(tmp_path / "cache"), "--registry", str(registry)]) == 0
    out = capsys.readouterr().out
    assert f"  ds/val: stale ({tmp_path / 'ann.json'})" in out
    assert "    stale: built by analysis 0.0.1+000000000000, this is " in out
    assert _status(spec, tmp_path) == "built"
    assert read_manifest(split).code_version == build_mod.code_version()


def test_cache_of_an_older_format_is_rebuilt_and_reported(tmp_path, capsys):
    spec, split = _setup(tmp_path)
    registry = tmp_path / "datasets.toml"
    registry.write_text(f'[[dataset]]\nname = "ds"\nsplit = "val"\nannotations = "{tmp_path / "ann.json"}"\n')
    raw = orjson.loads((split / cache.MANIFEST_FILE).read_bytes())
    raw["schema_version"] = 1
    (split / cache.MANIFEST_FILE).write_bytes(orjson.dumps(raw))
    assert main(["info", "--cache-dir", str(tmp_path / "cache"), "--registry", str(registry)]) == 0
    out = capsys.readouterr().out
    assert f"  ds/val: stale ({tmp_path / 'ann.json'})" in out
    assert "  ds/val: skipped, written in cache format 1, this version reads format 2" in out
    assert _status(spec, tmp_path) == "built"
    assert read_manifest(split).schema_version == cache.SCHEMA_VERSION


# --------------------------------------------------------------------------- code version


def test_code_version_hashes_every_analysis_module_the_build_imports():
    probe = (
        "import sys, analysis.build.run\n"
        "print(' '.join(sorted(m for m in sys.modules if m == 'analysis' or m.startswith('analysis.'))))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, check=True, capture_output=True, text=True
    ).stdout.split()
    hashed = build_mod.build_modules()
    assert "analysis.definitions" in loaded  # CROWD_INDEX_MIN_KEYPOINTS lives there
    assert set(loaded) <= set(hashed), sorted(set(loaded) - set(hashed))


def test_code_version_changes_with_the_crowd_index_threshold(tmp_path):
    # A copy of the package with one constant changed, hashed in a fresh process.
    import shutil

    copy = tmp_path / "repo"
    shutil.copytree(REPO / "analysis", copy / "analysis", ignore=shutil.ignore_patterns("__pycache__"))
    probe = "from analysis.build.run import code_version; print(code_version())"

    def version() -> str:
        return subprocess.run(
            [sys.executable, "-c", probe],
            cwd=copy,
            check=True,
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(copy)},
        ).stdout.strip()

    before = version()
    assert before == build_mod.code_version()
    definitions = copy / "analysis" / "definitions.py"
    text = definitions.read_text()
    assert "CROWD_INDEX_MIN_KEYPOINTS = 4" in text
    definitions.write_text(text.replace("CROWD_INDEX_MIN_KEYPOINTS = 4", "CROWD_INDEX_MIN_KEYPOINTS = 5"))
    assert version() != before


@pytest.mark.slow
def test_build_modules_memo_is_used_until_a_source_changes(tmp_path):
    # A copy of the package: its memo is trusted while every source keeps its mtime and size,
    # and walked again (the true answer) once one is touched.
    import shutil

    copy = tmp_path / "repo"
    shutil.copytree(REPO / "analysis", copy / "analysis", ignore=shutil.ignore_patterns("__pycache__"))
    probe = "from analysis.build.run import memoised_build_modules as m; print(' '.join(m()))"

    def modules() -> list[str]:
        env = {**os.environ, "PYTHONPATH": str(copy)}
        run = subprocess.run(
            [sys.executable, "-c", probe], cwd=copy, check=True, capture_output=True, text=True, env=env
        )
        return run.stdout.split()

    assert modules() == build_mod.build_modules()
    memo = copy / "analysis" / build_mod.BUILD_MODULES_MEMO
    kept = orjson.loads(memo.read_bytes())
    kept["modules"] = ["analysis.planted"]
    memo.write_bytes(orjson.dumps(kept))
    assert modules() == ["analysis.planted"]  # the memo is what answers
    definitions = copy / "analysis" / "definitions.py"
    os.utime(definitions, ns=(definitions.stat().st_atime_ns, definitions.stat().st_mtime_ns + 1))
    assert modules() == build_mod.build_modules()


# --------------------------------------------------------------------------- concurrency


def test_build_waits_for_the_split_lock(tmp_path):
    ann = write_doc(tmp_path / "ann.json", coco_doc())
    split = tmp_path / "cache" / "ds" / "val"
    results: list[str] = []
    with cache.split_lock(split):
        worker = threading.Thread(
            target=lambda: results.append(
                build_split(DatasetSpec("ds", "val", ann), tmp_path / "cache", progress=False).status
            )
        )
        worker.start()
        worker.join(timeout=1.0)
        assert worker.is_alive() and not split.exists()  # blocked while the lock is held
    worker.join(timeout=60)
    assert results == ["built"]


def test_final_manifest_is_written_inside_staging(tmp_path, monkeypatch):
    written: list[Path] = []
    real = build_mod.write_manifest

    def spy(manifest, folder):
        written.append(Path(folder))
        real(manifest, folder)

    monkeypatch.setattr(build_mod, "write_manifest", spy)
    _, split = _setup(tmp_path)
    assert [p.name for p in written] == [f".val.building-{os.getpid()}"]
    manifest = read_manifest(split)
    assert "total" in manifest.timings
    assert manifest.tables["images.parquet"].size == (split / cache.IMAGES_FILE).stat().st_size


def test_concurrent_builds_leave_a_consistent_split(tmp_path):
    # Two processes build the same split from different inputs at once: whichever
    # wins, the manifest describes the parquet files beside it.
    small = coco_doc()
    small["images"] = small["images"][1:]
    small["annotations"] = [a for a in small["annotations"] if a["image_id"] != 1]
    files = {"big": write_doc(tmp_path / "big.json", coco_doc()), "small": write_doc(tmp_path / "small.json", small)}
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "analysis",
                "build",
                "--name",
                "ds",
                "--split",
                "val",
                "--annotations",
                str(path),
                "--cache-dir",
                str(tmp_path / "cache"),
                "--quiet",
            ],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for path in files.values()
    ]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    split = tmp_path / "cache" / "ds" / "val"
    manifest = read_manifest(split)
    rows = pq.read_metadata(split / cache.INSTANCES_FILE).num_rows
    winner = next(p for p in files.values() if str(p.resolve()) == manifest.inputs.annotations.path)
    expected_rows = {"big": 4, "small": 1}[winner.stem]
    assert rows == manifest.counts.annotations == expected_rows
    assert not list(split.parent.glob(".val.building-*"))


def test_stale_staging_folders_are_removed(tmp_path):
    spec, split = _setup(tmp_path)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        stale = split.parent / f".val.building-{dead.pid}"
        live = split.parent / f".val.building-{alive.pid}"
        for folder in (stale, live):
            folder.mkdir()
            (folder / "images.parquet").write_bytes(b"x" * 1000)
        assert _status(spec, tmp_path) == "up-to-date"
        assert not stale.exists()  # its process is gone
        assert live.is_dir()  # a running build's folder is left alone
    finally:
        alive.kill()
        alive.wait()


def test_failed_first_build_leaves_no_lock_behind(tmp_path):
    ann = tmp_path / "ann.json"
    ann.write_text("not json")
    assert main(_cli_build(tmp_path)) == 2
    assert not (tmp_path / "cache" / "ds").exists()


@pytest.mark.parametrize("waiters", [3])
def test_split_lock_is_exclusive_across_threads(tmp_path, waiters):
    split = tmp_path / "cache" / "ds" / "val"
    inside = 0
    most = 0
    guard = threading.Lock()

    def work() -> None:
        nonlocal inside, most
        with cache.split_lock(split):
            with guard:
                inside += 1
                most = max(most, inside)
            time.sleep(0.05)
            with guard:
                inside -= 1

    threads = [threading.Thread(target=work) for _ in range(waiters)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert most == 1
    assert not (tmp_path / "cache" / "ds").exists()  # the split was never built: no lock file left
