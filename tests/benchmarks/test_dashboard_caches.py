"""The dashboard benchmark's synthetic caches are caches of the contract: exact schemas, a valid manifest."""

from __future__ import annotations

import pyarrow.parquet as pq

from analysis.cache import contract as cache
from analysis.cache.manifest import read_manifest
from benchmarks.dashboard import write_synthetic_caches
from dashboard.caches import load_caches


def test_synthetic_caches_follow_the_contract(tmp_path):
    root = write_synthetic_caches(tmp_path, n_persons=3000, seed=1)
    keys = cache.list_caches(root)
    assert [k.dataset for k in keys] == ["bench-coco", "bench-crowd", "bench-small"]
    for key in keys:
        split = key.directory(root)
        for name, schema in cache.TABLE_SCHEMAS.items():
            assert pq.read_schema(split / name).remove_metadata().equals(schema, check_metadata=True), (key, name)
        manifest = read_manifest(split)
        assert manifest.counts.persons == pq.read_metadata(split / cache.INSTANCES_FILE).num_rows
    caches = load_caches(root)
    assert not caches.skipped and not caches.outdated
    assert len(caches.persons) == 3000
