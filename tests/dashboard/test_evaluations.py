"""Stored evaluations as the dashboard reads them: listing, re-slicing, commands."""

from __future__ import annotations

import shlex
from pathlib import Path

from analysis.cache.contract import CacheKey
from analysis.definitions import AreaSource, SizeDefinition, SizeEdges
from analysis.evaluation.definitions import EvaluationDefinitions
from analysis.schema import COCO17_SIGMAS
from dashboard import evaluations


def test_evaluate_command_quotes_its_arguments():
    command = evaluations.evaluate_command(
        CacheKey("my set", "val"), Path("/tmp/a b"), "model v2 (ft)", "/data/res ults.json"
    )
    assert shlex.split(command) == [
        "python",
        "-m",
        "analysis",
        "evaluate",
        "--name",
        "my set",
        "--split",
        "val",
        "--predictions",
        "/data/res ults.json",
        "--model",
        "model v2 (ft)",
        "--cache-dir",
        "/tmp/a b",
    ]


def test_reslicing_changes_only_the_size_definition():
    stored = EvaluationDefinitions(sigmas=COCO17_SIGMAS, oks_area=AreaSource.SEGM)
    size = SizeDefinition(AreaSource.SEGM, SizeEdges(24.0**2, 96.0**2))
    assert not evaluations.resliced(stored, SizeDefinition())  # the default: bbox, 32 / 96
    assert evaluations.resliced(stored, size)
    new = evaluations.definitions_for(stored, size)
    assert new.size == size and new.same_matching(stored)
    assert (new.density_edges, new.crowd_convention, new.crowd_index) == (
        stored.density_edges,
        stored.crowd_convention,
        stored.crowd_index,
    )


def test_find_models_and_results_on_the_demo(demo_cache):
    keys = [CacheKey("demo-crowd", "val"), CacheKey("demo-small", "val"), CacheKey("demo-sparse", "val")]
    found = evaluations.find_models(demo_cache, keys)
    assert [m.label for m in found] == [
        "synthetic-coarse (demo-crowd/val)",
        "synthetic-precise (demo-crowd/val)",
        "synthetic-coarse (demo-small/val)",
        "synthetic-precise (demo-small/val)",
    ]
    assert not any(m.stale for m in found)
    small = found[2]
    stored = evaluations.model_result(demo_cache, small, small.definitions.size)
    assert stored.model == "synthetic-coarse" and stored.key == "demo-small/val"
    # unchanged definitions: the stored summary, exactly
    assert stored.slices["small"].ap == small.record.slices["small"].AP
    assert stored.slices["all"].n_gt == small.record.slices["all"].n_gt
    table = evaluations.stored_table(found)
    assert list(table["records"]) == [m.record.counts.records for m in found]
