"""The Ray backend (local mode) gives the local backend's results."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
import pytest

from analysis.scenes.runner import SceneOptions, compute_scenes

from .conftest import fixture_photos, jpeg_bytes, make_cache

if os.environ.get("CI"):
    import ray  # CI installs requirements-cluster.txt: a missing Ray must fail there
else:
    ray = pytest.importorskip("ray", reason="Ray is optional: pip install -r requirements-cluster.txt")


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_ray_backend_equals_local(tmp_path: Path, models_dir: Path) -> None:
    images: dict[str, bytes | Path | None] = {f"p{i}.jpg": p for i, p in enumerate(fixture_photos(3))}
    images["synthetic.jpg"] = jpeg_bytes(5)
    images["broken.jpg"] = b"not an image"
    local_dir = make_cache(tmp_path / "local", images)
    ray_dir = make_cache(tmp_path / "ray", images)
    base = {"models_dir": models_dir, "batch_size": 2, "workers": 0, "progress": False}
    local = pd.read_parquet(compute_scenes(local_dir, SceneOptions(**base)))

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        out = compute_scenes(ray_dir, SceneOptions(backend="ray", **base))
    finally:
        ray.shutdown()
    remote = pd.read_parquet(out)

    assert remote["image_id"].tolist() == local["image_id"].tolist()
    assert remote["model"].tolist() == local["model"].tolist()
    assert [list(v) for v in remote["top5_ids"]] == [list(v) for v in local["top5_ids"]]
    np.testing.assert_allclose(remote["entropy"], local["entropy"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(remote["p_indoor"], local["p_indoor"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(np.stack(remote["top5_probs"]), np.stack(local["top5_probs"]), rtol=0, atol=1e-6)
    m = orjson.loads((ray_dir / "manifest.json").read_bytes())["scenes"]
    assert m["backend"] == "ray" and m["n_failed"] == 1
    assert m["failures"][0]["file_name"] == "broken.jpg"
