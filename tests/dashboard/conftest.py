"""Fixtures for the dashboard tests: the demo caches (plus a hand-made scenes.parquet)
built once per worker into a temporary folder, and small hand-made frames."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.dashboard.dashboard_helpers import REPO, add_scenes


@pytest.fixture(scope="session")
def demo_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo caches (``python -m analysis demo --no-scenes``) with hand-made scenes for two
    of the three datasets (the third shows the 'not computed' path)."""
    base = tmp_path_factory.mktemp("demo")
    cache_dir = base / "cache"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "analysis",
            "demo",
            "--data-dir",
            str(base / "data"),
            "--cache-dir",
            str(cache_dir),
            "--quiet",
            "--no-scenes",
        ],
        cwd=REPO,
        check=True,
        capture_output=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    add_scenes(cache_dir, "demo-sparse", "val", 1)
    add_scenes(cache_dir, "demo-small", "val", 2)
    return cache_dir


@pytest.fixture
def app_env(demo_cache: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("POSEATLAS_CACHE_DIR", str(demo_cache))
    # the demo's images were written beside the cache: allow that folder explicitly
    monkeypatch.setenv("POSEATLAS_IMAGE_ROOTS", str(demo_cache.parent / "data"))
    return demo_cache


@pytest.fixture
def frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hand-made images and persons frames (the shape ``dashboard.caches`` produces)."""
    images = pd.DataFrame(
        {
            "dataset": ["a", "a", "a", "b", "b", "c"],
            "split": ["val"] * 6,
            "image_id": [1, 2, 3, 1, 2, 1],
            "width": [100.0] * 6,
            "height": [100.0] * 6,
            "n_persons": [2, 1, 0, 3, 1, 1],
            "crowd_index": [0.0, 0.15, 0.0, 0.9, 0.5, np.nan],
            "crowd_index_stored": [np.nan, np.nan, np.nan, 0.9, 0.51, np.nan],
            "source": [None, None, None, "x", "y", None],
            "entropy": [1.0, 2.0, np.nan, 3.0, 3.5, np.nan],
        }
    )
    # areas (bbox w*h): a: 100 (small), 1024 (medium: == 32^2 edge), 9216 (large: == 96^2)
    #                   b: 500, 2000, 20000, 30; c: 50 but no segm
    persons = pd.DataFrame(
        {
            "dataset": ["a", "a", "a", "b", "b", "b", "b", "c"],
            "split": ["val"] * 8,
            "image_index": [0, 0, 1, 3, 3, 3, 4, 5],
            "bbox_w": [10.0, 32.0, 96.0, 10.0, 40.0, 100.0, 3.0, 5.0],
            "bbox_h": [10.0, 32.0, 96.0, 50.0, 50.0, 200.0, 10.0, 10.0],
            "segm_area": [80.0, 900.0, 9000.0, np.nan, 1500.0, 15000.0, 20.0, np.nan],
            "crowding": [0.0, 0.5, np.nan, 0.05, 0.9, 0.3, 1.2, 0.0],
            # every person is in the default population (stored num_keypoints > 0; c's file
            # has no num_keypoints field, so its labelled count stands in)
            "num_keypoints": [17.0, 9.0, 3.0, 1.0, 17.0, 12.0, 2.0, np.nan],
            "n_labelled": [17, 9, 3, 1, 17, 12, 2, 5],
            "image_area": [10000.0] * 8,
            "instance_row": [0, 1, 2, 0, 1, 2, 3, 0],
        }
    )
    for df in (images, persons):
        df["dataset"] = df["dataset"].astype("category")
    images["source"] = images["source"].astype("category")
    return images, persons
