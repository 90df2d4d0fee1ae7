"""Helpers for the dashboard's tests: AppTest runs, and real servers on loopback."""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.io as pio
import pytest
from streamlit.testing.v1 import AppTest

from analysis.cache import contract as cache
from analysis.cache.manifest import ScenesFacts, read_manifest, table_file, write_manifest
from analysis.demo import PROFILES

APP = None  # replaced below

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
VIEWS = ["overview", "people", "size", "crowding", "scenes", "keypoints", "models", "browse"]
#: The demo datasets' legend / table labels: their registry display names (the demo sets
#: them on two of three datasets, so the views run through set and unset identities).
DEMO_LABEL = {p.name: p.identity.display_name or p.name for p in PROFILES}


def app(query: dict[str, str] | None = None) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60)
    if query:
        at.query_params.update(query)
    return at


def open_view(at: AppTest, view: str) -> AppTest:
    at.run()
    if view != "overview":
        at.switch_page(f"views/{view}.py")
        at.run()
    return at


def _plain(value):
    if isinstance(value, dict) and "bdata" in value and "dtype" in value:  # plotly typed array
        arr = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        if "shape" in value:
            arr = arr.reshape([int(n) for n in str(value["shape"]).split(",")])
        return arr.tolist()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "tolist"):
        return value.tolist()
    return value


def charts(at: AppTest) -> list[list[dict]]:
    """Traces of every plotly chart on the page (typed arrays decoded to lists)."""
    out = []
    for e in at.get("plotly_chart"):
        fig = pio.from_json(e.proto.spec, skip_invalid=True)
        out.append([_plain(t.to_plotly_json()) for t in fig.data])
    return out


def texts(at: AppTest) -> str:
    parts = [e.value for kind in ("info", "warning", "error", "markdown", "caption", "code") for e in at.get(kind)]
    parts += [e.value for e in at.sidebar.get("error")]
    return "\n".join(str(p) for p in parts)


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, proc: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    """Wait until a streamlit server at ``url`` answers its health check; fail with its log."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            pytest.fail("streamlit did not start:\n" + log.read_text())
        time.sleep(0.3)


REPO = Path(__file__).resolve().parents[2]


def add_scenes(root: Path, dataset: str, split: str, seed: int) -> pd.DataFrame:
    """A contract-conforming scenes.parquet (and manifest section) for one cached split."""
    key = cache.CacheKey(dataset, split)
    images = cache.read_images(root, key, columns=["image_id"])
    rng = np.random.default_rng(seed)
    n = len(images)
    top5 = [list(map(int, rng.choice(365, 5, replace=False))) for _ in range(n)]
    probs = [sorted(rng.dirichlet(np.ones(5)).tolist(), reverse=True) for _ in range(n)]
    scenes = pd.DataFrame(
        {
            "dataset": dataset,
            "split": split,
            "image_id": images["image_id"],
            "entropy": rng.uniform(1.0, 4.0, n),
            "top5_ids": top5,
            "top5_probs": probs,
            "p_indoor": rng.uniform(0, 1, n),
            "model": "resnet18-test",
        }
    )
    cache.write_parquet(scenes, key.directory(root) / cache.SCENES_FILE)
    manifest = read_manifest(root, key)
    manifest.scenes = ScenesFacts(model="resnet18-test", entropy_base=None, n_images=n, n_ok=n)
    manifest.tables[cache.SCENES_FILE] = table_file(key.directory(root) / cache.SCENES_FILE)
    write_manifest(manifest, key.directory(root))
    return scenes


def chromium_or_skip() -> str:
    """Chromium's path; skip with a reason when absent, unless CI is set (then fail)."""
    import shutil

    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing on CI: install Debian's chromium (make browser)")
        pytest.skip("chromium not installed (apt-get install chromium, or `make browser`)")
    return path
