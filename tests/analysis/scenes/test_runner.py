"""The runner: scenes.parquet contract, manifest, up-to-date reuse, resume after a kill."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import orjson
import pandas as pd
import pyarrow.parquet as pq
import pytest

from analysis.cache.contract import SCENES_SCHEMA
from analysis.errors import PoseAtlasError
from analysis.scenes import runner
from analysis.scenes.runner import PARTIAL_DIR, SceneOptions, compute_scenes

from .conftest import ROOT, jpeg_bytes

N = 12


def _images(n: int = N) -> dict[str, bytes]:
    return {f"im{i:03d}.jpg": jpeg_bytes(i) for i in range(n)}


def _opts(models_dir: Path, **kw) -> SceneOptions:
    base = {"models_dir": models_dir, "workers": 0, "batch_size": 2, "progress": False}
    base.update(kw)
    return SceneOptions(**base)


def _manifest(cache_dir: Path) -> dict:
    return orjson.loads((cache_dir / "manifest.json").read_bytes())


@pytest.mark.slow
def test_contract_and_manifest(cache_factory, models_dir: Path) -> None:
    cache_dir = cache_factory(_images(5), dataset="toy", split="val")
    before = _manifest(cache_dir)
    out = compute_scenes(cache_dir, _opts(models_dir))
    assert out == cache_dir / "scenes.parquet"
    schema = pq.read_schema(out)
    assert schema.remove_metadata().equals(SCENES_SCHEMA, check_metadata=True)  # the contract, exactly
    assert schema.names == ["dataset", "split", "image_id", "entropy", "top5_ids", "top5_probs", "p_indoor", "model"]
    assert str(schema.field("top5_ids").type) == "list<element: int16>"
    assert str(schema.field("top5_probs").type) == "list<element: float>"
    df = pd.read_parquet(out)
    assert df["image_id"].tolist() == [10, 20, 30, 40, 50]  # images.parquet order
    assert set(df["dataset"]) == {"toy"} and set(df["split"]) == {"val"}
    assert df["model"].nunique() == 1 and df["model"][0].startswith("resnet18@")
    assert all(len(v) == 5 for v in df["top5_ids"])
    assert ((df["p_indoor"] >= 0) & (df["p_indoor"] <= 1)).all()
    m = _manifest(cache_dir)
    for key, value in before.items():  # read-modify-write keeps the rest
        if key == "tables":  # gains scenes.parquet: its size and row count
            assert m[key] == {**value, "scenes.parquet": {"size": out.stat().st_size, "rows": 5}}
        elif key == "scenes":  # null until a run records itself
            assert value is None
        else:
            assert m[key] == value
    s = m["scenes"]
    assert s["model"] == df["model"][0] and s["entropy_base"] is None and s["entropy_unit"] == "nats"
    assert s["n_ok"] == 5 and s["n_failed"] == 0 and s["failures"] == []
    assert s["device"] == "cpu" and s["images_per_s"] > 0 and len(s["categories"]) == 365
    assert not (cache_dir / PARTIAL_DIR).exists()


@pytest.mark.slow
def test_up_to_date_is_reused_and_force_or_base_recomputes(cache_factory, models_dir: Path) -> None:
    cache_dir = cache_factory(_images(3))
    out = compute_scenes(cache_dir, _opts(models_dir))
    mtime = out.stat().st_mtime_ns
    compute_scenes(cache_dir, _opts(models_dir))
    assert out.stat().st_mtime_ns == mtime
    nats = pd.read_parquet(out)["entropy"].to_numpy()
    compute_scenes(cache_dir, _opts(models_dir, entropy_base=2.0))
    bits = pd.read_parquet(out)["entropy"].to_numpy()
    assert bits == pytest.approx(nats / 0.6931471805599453)
    assert _manifest(cache_dir)["scenes"]["entropy_base"] == 2.0
    compute_scenes(cache_dir, _opts(models_dir, entropy_base=2.0, force=True))
    assert _manifest(cache_dir)["scenes"]["n_resumed"] == 0


def test_built_without_images_is_a_clear_error(cache_factory, models_dir: Path) -> None:
    cache_dir = cache_factory(_images(1), with_images=False)
    with pytest.raises(PoseAtlasError, match="built without --images"):
        compute_scenes(cache_dir, _opts(models_dir))


def test_missing_labels_and_cache(tmp_path: Path, cache_factory, checkpoint: Path) -> None:
    cache_dir = cache_factory(_images(1))
    lonely = tmp_path / "lonely" / "w.pth.tar"
    lonely.parent.mkdir()
    lonely.write_bytes(checkpoint.read_bytes())
    with pytest.raises(PoseAtlasError, match="categories_places365.txt and IO_places365.txt not found"):
        compute_scenes(cache_dir, SceneOptions(weights=lonely, models_dir=tmp_path / "nothing"))
    with pytest.raises(PoseAtlasError, match="no cache at"):
        compute_scenes(tmp_path / "nope" / "x", SceneOptions())


@pytest.mark.slow
def test_interrupted_in_process_keeps_shards(cache_factory, models_dir: Path, monkeypatch) -> None:
    """An exception (here a fake Ctrl-C) mid-run flushes what was computed; the rerun resumes."""
    cache_dir = cache_factory(_images(N))
    real = runner.backend_results

    def interrupted(items, *a, **kw):
        for i, result in enumerate(real(items, *a, **kw)):
            if i == 3:
                raise KeyboardInterrupt
            yield result

    monkeypatch.setattr(runner, "backend_results", interrupted)
    with pytest.raises(KeyboardInterrupt):
        compute_scenes(cache_dir, _opts(models_dir, shard_size=100))
    assert len(list((cache_dir / PARTIAL_DIR).glob("shard-*.parquet"))) == 1
    assert not (cache_dir / "scenes.parquet").exists()

    seen: list[int] = []

    def counting(items, *a, **kw):
        seen.extend(i for i, _ in items)
        return real(items, *a, **kw)

    monkeypatch.setattr(runner, "backend_results", counting)
    out = compute_scenes(cache_dir, _opts(models_dir, shard_size=100))
    assert len(seen) == N - 6
    assert _manifest(cache_dir)["scenes"]["n_resumed"] == 6
    assert len(pd.read_parquet(out)) == N


KILL_SCRIPT = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from analysis.scenes import runner
    from analysis.scenes.runner import SceneOptions, compute_scenes

    real = runner.backend_results
    def slow(items, *a, **kw):
        for result in real(items, *a, **kw):
            yield result
            time.sleep(0.4)
    runner.backend_results = slow
    compute_scenes(Path(sys.argv[1]), SceneOptions(models_dir=Path(sys.argv[2]), workers=1,
                   batch_size=2, shard_size=2, progress=False))
""")


@pytest.mark.slow
def test_resume_after_killed_process(tmp_path: Path, models_dir: Path, monkeypatch) -> None:
    from .conftest import make_cache

    cache_dir = make_cache(tmp_path / "a", _images(N))
    partial = cache_dir / PARTIAL_DIR
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-c", KILL_SCRIPT, str(cache_dir), str(models_dir)],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if len(list(partial.glob("shard-*.parquet"))) >= 2:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the run finished before it could be killed"
        os.killpg(proc.pid, signal.SIGKILL)  # the process and its DataLoader worker
    finally:
        proc.wait(timeout=30)
    n_shards = len(list(partial.glob("shard-*.parquet")))
    assert 2 <= n_shards < N // 2
    assert not (cache_dir / "scenes.parquet").exists()

    seen: list[int] = []
    real = runner.backend_results

    def counting(items, *a, **kw):
        seen.extend(i for i, _ in items)
        return real(items, *a, **kw)

    monkeypatch.setattr(runner, "backend_results", counting)
    opts = _opts(models_dir, workers=1, shard_size=2)
    resumed = pd.read_parquet(compute_scenes(cache_dir, opts))
    done_before = _manifest(cache_dir)["scenes"]["n_resumed"]
    assert done_before >= 2 * n_shards
    assert len(seen) == N - done_before  # only the remaining images were computed

    monkeypatch.setattr(runner, "backend_results", real)
    fresh_dir = make_cache(tmp_path / "b", _images(N))
    fresh = pd.read_parquet(compute_scenes(fresh_dir, opts))
    pd.testing.assert_frame_equal(resumed, fresh)


@pytest.mark.slow
def test_time_based_flush(cache_factory, models_dir: Path, monkeypatch) -> None:
    cache_dir = cache_factory(_images(6))
    real = runner.backend_results

    def interrupted(items, *a, **kw):
        for i, result in enumerate(real(items, *a, **kw)):
            if i == 2:
                raise KeyboardInterrupt
            yield result

    monkeypatch.setattr(runner, "backend_results", interrupted)
    with pytest.raises(KeyboardInterrupt):
        compute_scenes(cache_dir, _opts(models_dir, shard_size=1000, flush_seconds=0.0))
    assert len(list((cache_dir / PARTIAL_DIR).glob("shard-*.parquet"))) == 2  # one per batch
