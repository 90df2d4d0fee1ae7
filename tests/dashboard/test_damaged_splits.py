"""One damaged or stale split never takes the dashboard down: it is named, with its rebuild command."""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson
import pytest

from analysis.cache import contract as cache
from dashboard.caches import load_caches
from tests.dashboard.dashboard_helpers import app, charts, open_view, texts


@pytest.fixture
def damaged_copy(demo_cache: Path, tmp_path: Path) -> Path:
    """The demo caches with demo-crowd's manifest truncated and demo-small's format made older."""
    root = tmp_path / "cache"
    shutil.copytree(demo_cache, root)
    crowd = root / "demo-crowd" / "val" / cache.MANIFEST_FILE
    crowd.write_bytes(crowd.read_bytes()[:120])
    small = root / "demo-small" / "val" / cache.MANIFEST_FILE
    raw = orjson.loads(small.read_bytes())
    raw["schema_version"] = 1
    small.write_bytes(orjson.dumps(raw))
    return root


def test_load_caches_skips_damaged_splits_by_name(damaged_copy):
    caches = load_caches(damaged_copy)
    assert [str(k) for k in caches.keys] == ["demo-sparse/val"]
    assert caches.datasets == ["demo-sparse"]
    assert set(caches.skipped) == {"demo-crowd/val", "demo-small/val"}
    assert "unreadable" in caches.skipped["demo-crowd/val"]
    assert "cache format 1" in caches.skipped["demo-small/val"]
    assert f"python -m analysis demo --force --cache-dir {damaged_copy}" in caches.skipped["demo-small/val"]
    assert set(caches.images["dataset"].unique()) == {"demo-sparse"}


def test_damaged_parquet_is_skipped(demo_cache, tmp_path):
    root = tmp_path / "cache"
    shutil.copytree(demo_cache, root)
    (root / "demo-crowd" / "val" / cache.INSTANCES_FILE).write_bytes(b"PAR1 broken")
    caches = load_caches(root)
    assert "demo-crowd/val" in caches.skipped and "instances.parquet is 11 bytes" in caches.skipped["demo-crowd/val"]
    assert sorted(caches.datasets) == ["demo-small", "demo-sparse"]


def test_older_code_version_is_read_and_named(demo_cache, tmp_path):
    root = tmp_path / "cache"
    shutil.copytree(demo_cache, root)
    path = root / "demo-crowd" / "val" / cache.MANIFEST_FILE
    raw = orjson.loads(path.read_bytes())
    raw["code_version"] = "0.0.1+000000000000"
    path.write_bytes(orjson.dumps(raw))
    caches = load_caches(root)
    assert "demo-crowd" in caches.datasets  # same format: still readable
    assert caches.outdated["demo-crowd/val"].startswith("demo-crowd/val was built by analysis 0.0.1+000000000000")


def test_app_shows_the_good_split_and_names_the_damaged_ones(damaged_copy, monkeypatch):
    monkeypatch.setenv("POSEATLAS_CACHE_DIR", str(damaged_copy))
    at = open_view(app(), "size")
    assert not at.exception, [e.value for e in at.exception]
    shown = texts(at)
    assert "Split left out: " in shown and "demo-crowd" in shown and "demo-small" in shown
    assert f"python -m analysis demo --force --cache-dir {damaged_copy}" in shown
    assert {t["name"] for t in charts(at)[0]} == {"demo-sparse"}


def test_app_with_only_damaged_splits_says_what_to_rebuild(demo_cache, tmp_path, monkeypatch):
    root = tmp_path / "cache"
    shutil.copytree(demo_cache / "demo-crowd", root / "demo-crowd")
    (root / "demo-crowd" / "val" / cache.MANIFEST_FILE).write_bytes(b"{")
    monkeypatch.setenv("POSEATLAS_CACHE_DIR", str(root))
    at = open_view(app(), "overview")
    assert not at.exception, [e.value for e in at.exception]
    shown = texts(at)
    assert "Split left out: " in shown and "demo-crowd/val/manifest.json: unreadable" in shown
    assert f"No readable cache under `{root}`" in shown
