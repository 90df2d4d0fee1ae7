"""The dashboard's "export all" zip: rendered from the page's current export set, never
served after a filter change, and holding the same tables the export command writes."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from dashboard.exports.cli import main
from tests.dashboard.dashboard_helpers import app, chromium_or_skip, open_view

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("export-cli")]
ZIP = "_poseatlas_zip"


def _files(at) -> dict[str, bytes]:
    zf = zipfile.ZipFile(io.BytesIO(at.session_state[ZIP][1]))
    return {n: zf.read(n) for n in zf.namelist()}


def test_export_all_follows_the_filters_and_matches_the_command(app_env: Path, tmp_path: Path):
    chromium_or_skip()
    at = open_view(app({"ds": "demo-small,demo-crowd"}), "size")
    at.button(key="export_all_size").click().run()
    first = _files(at)
    assert {"size-buckets.pdf", "size-buckets.csv", "size-buckets.tex", "captions.txt"} <= set(first)
    assert b"bbox area w*h" in first["captions.txt"]

    at.sidebar.selectbox(key="g_area").set_value("crowdpose").run()
    assert ZIP not in at.session_state  # the earlier zip is dropped, never offered again
    at.button(key="export_all_size").click().run()
    second = _files(at)
    assert b"0.53*w*h" in second["captions.txt"] and b"bbox area w*h" not in second["captions.txt"]
    assert second["size-buckets.csv"] != first["size-buckets.csv"]

    assert rb"\,\%" not in second["size-bucket-shares.tex"]
    at.sidebar.checkbox(key="g_percent").check().run()  # LaTeX shares as percentages
    assert ZIP not in at.session_state
    at.button(key="export_all_size").click().run()
    assert rb"\,\%" in _files(at)["size-bucket-shares.tex"]

    # the command for the same URL writes the same tables (one code path)
    out = tmp_path / "out"
    assert (
        main(
            [
                "--url",
                "ds=demo-small,demo-crowd&area=crowdpose",
                "--views",
                "size",
                "--formats",
                "svg",
                "--out",
                str(out),
                "--cache-dir",
                str(app_env),
            ]
        )
        == 0
    )
    for name in ("size-buckets.csv", "size-buckets.tex", "size-bucket-shares.csv", "size-bucket-shares.tex"):
        assert (out / "size" / name).read_bytes() == second[name], name
