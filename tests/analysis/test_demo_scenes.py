"""The demo's synthetic scene results: the real writer's layout, labelled synthetic,
aggregated by the real code, and shown by the Scenes view with Table 4."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from analysis.cache import contract as cache
from analysis.cache.manifest import read_manifest
from analysis.demo import PROFILES
from analysis.scenes.aggregates import labels_from_manifest

REPO = Path(__file__).resolve().parents[2]
# One worker runs this module, so its demo (with scenes) below is built once, not once per worker;
# slow: building that demo took 18 s (2 cores, load average 8; its two tests 4 s more).
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("demo-scenes")]


@pytest.fixture(scope="module")
def demo_with_scenes(tmp_path_factory):
    base = tmp_path_factory.mktemp("demo-scenes")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "analysis",
            "demo",
            "--data-dir",
            str(base / "data"),
            "--cache-dir",
            str(base / "cache"),
            "--quiet",
        ],
        cwd=REPO,
        check=True,
        capture_output=True,
    )
    return base / "cache"


def test_demo_scenes_have_a_real_runs_layout(demo_with_scenes):
    root = demo_with_scenes
    for key in cache.list_caches(root):
        path = key.directory(root) / cache.SCENES_FILE
        assert pq.read_schema(path).remove_metadata() == cache.SCENES_SCHEMA
        scenes = cache.read_scenes(root, key)
        images = cache.read_images(root, key, columns=["image_id"])
        assert scenes["image_id"].tolist() == images["image_id"].tolist()
        probs = np.stack(scenes["top5_probs"].to_numpy())
        assert (np.diff(probs, axis=1) <= 0).all() and (probs.sum(axis=1) <= 1 + 1e-6).all()
        h = scenes["entropy"].to_numpy()
        assert ((h > 0) & (h < np.log(365))).all() and h.std() > 0.1  # varied, not all uniform
        # the top-5 probabilities bound the entropy from below: H >= -sum_top5 p log p
        assert (h >= -(probs * np.log(probs)).sum(axis=1) - 1e-6).all()
        manifest = read_manifest(root, key)  # decodes as a typed manifest: a real run's layout
        assert manifest.scenes.synthetic is True and manifest.scenes.model == "synthetic-demo"
        assert manifest.tables[cache.SCENES_FILE].rows == len(images)
        assert set(scenes["model"]) == {"synthetic-demo"}
        assert labels_from_manifest(manifest)[0] == "synthetic scene 0"
        assert manifest.synthetic is True and manifest.counts.images == len(images)
        raw = json.loads((key.directory(root) / cache.MANIFEST_FILE).read_text())
        assert raw["scenes"]["synthetic"] is True  # on disk too


def test_scenes_view_and_table4_show_on_the_demo(demo_with_scenes, monkeypatch):
    from tests.dashboard.dashboard_helpers import app, open_view, texts

    monkeypatch.setenv("POSEATLAS_CACHE_DIR", str(demo_with_scenes))
    at = open_view(app(), "scenes")
    assert not at.exception
    out = texts(at)
    assert "Scenes not computed" not in out
    label = {p.name: p.identity.display_name or p.name for p in PROFILES}  # display names set on two
    names = ["demo-crowd", "demo-small", "demo-sparse"]  # the demo's identity order
    assert f"Synthetic scene results for {', '.join(label[n] for n in names)}" in out
    table = at.dataframe[0].value.set_index("dataset")
    assert list(table.index) == [label[n] for n in names]
    for name in names:
        scenes = cache.read_scenes(demo_with_scenes, cache.CacheKey(name, "val"))
        row = table.loc[label[name]]
        assert row["entropy_mean"] == pytest.approx(np.mean(scenes["entropy"]))
        assert row["entropy_variance"] == pytest.approx(np.var(scenes["entropy"]))
    # the paper's values only beside the dataset whose registry entry names a paper_name
    # (demo-sparse: COCO, SmallPose paper Table 4: 2.61 / 1.33)
    # (the page prints a column with an empty cell as text: the paper's 2 decimals, "--" where none)
    assert (table.loc[label["demo-sparse"], "paper mean"], table.loc[label["demo-sparse"], "paper variance"]) == (
        "2.61",
        "1.33",
    )
    assert table.loc[[label["demo-crowd"], label["demo-small"]], "paper mean"].tolist() == ["--", "--"]
