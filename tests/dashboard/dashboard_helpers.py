"""Helpers for the dashboard's tests: AppTest runs, and real servers on loopback."""

from __future__ import annotations

import base64
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import numpy as np
import plotly.io as pio
import pytest
from streamlit.testing.v1 import AppTest

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
