"""The dashboard draws, labels and orders datasets by their identity."""

from __future__ import annotations

from analysis.build.run import build_split
from analysis.identity import DatasetIdentity
from analysis.registry import DatasetSpec
from tests.analysis.test_identity import tiny_file
from tests.dashboard.dashboard_helpers import app, charts, open_view, texts


def test_display_names_colours_and_order_in_figures(tmp_path, monkeypatch):
    src = tiny_file(tmp_path)
    root = tmp_path / "cache"
    build_split(
        DatasetSpec(
            "zeta", "val", src, identity=DatasetIdentity(display_name="Zeta Pose", color="#882255", hatch="x", order=1)
        ),
        root,
        progress=False,
    )
    build_split(DatasetSpec("alpha", "val", src, identity=DatasetIdentity(order=2)), root, progress=False)
    monkeypatch.setenv("POSEATLAS_CACHE_DIR", str(root))
    at = open_view(app(), "size")
    assert not at.exception
    traces = charts(at)[0]
    assert [t["name"] for t in traces] == ["Zeta Pose", "alpha"]  # identity order, display name
    assert traces[0]["marker"]["color"] == "#882255" and traces[0]["marker"]["pattern"]["shape"] == "x"
    assert "datasets: Zeta Pose, alpha" in texts(at)
    assert at.query_params["ds"] == "zeta,alpha"  # the URL keeps the stable names
