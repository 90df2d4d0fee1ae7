"""dashboard.scene_runs: what the Scenes view says about the runs behind it."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pandas as pd

from analysis.cache.contract import CacheKey
from analysis.cache.manifest import ScenesFacts
from dashboard.scene_runs import scene_runs


def run(facts: ScenesFacts | None) -> SimpleNamespace:
    """The part of a manifest scene_runs reads."""
    return SimpleNamespace(scenes=facts)


KEYS = [CacheKey("a", "train"), CacheKey("a", "val"), CacheKey("b", "val"), CacheKey("c", "val")]


def test_missing_commands_models_and_synthetic():
    scenes = pd.DataFrame({"dataset": ["b", "c"]})
    manifests = {
        "a/train": run(None),
        "a/val": run(None),
        "b/val": run(ScenesFacts(model="resnet18@abc", categories=["x", "y"])),
        "c/val": run(ScenesFacts(model="synthetic-demo", synthetic=True)),
    }
    runs = scene_runs(scenes, ["c", "a", "b"], manifests, KEYS, None, Path("/cache"))
    assert runs.have == ("c", "b") and runs.missing == ("a",)
    assert runs.commands == (
        "python -m analysis scenes --name a --split train --cache-dir /cache",
        "python -m analysis scenes --name a --split val --cache-dir /cache",
    )
    assert runs.synthetic == ("c",) and runs.models == ("resnet18@abc",)
    assert runs.labels == ["x", "y"] and runs.base is None
    assert "model resnet18@abc (Resize(256, 256), CenterCrop(224))" in runs.note
    assert "synthetic predictions (no network) for c" in runs.note and "nats" in runs.note
    only_val = scene_runs(scenes, ["a"], manifests, KEYS, "val", Path("/cache"))
    assert only_val.commands == ("python -m analysis scenes --name a --split val --cache-dir /cache",)


def test_different_bases_and_no_scenes():
    manifests = {"a/val": run(ScenesFacts(model="m", entropy_base=2.0)), "b/val": run(ScenesFacts(model="m"))}
    runs = scene_runs(pd.DataFrame({"dataset": ["a", "b"]}), ["a", "b"], manifests, KEYS, None, Path("/c"))
    assert runs.bases == frozenset({2.0, None}) and runs.base is None
    same = scene_runs(pd.DataFrame({"dataset": ["a"]}), ["a"], manifests, KEYS, None, Path("/c"))
    assert same.base == 2.0 and "(bits)" in same.note
    none = scene_runs(None, ["a"], manifests, KEYS, None, Path("/c"))
    assert none.have == () and none.missing == ("a",)


def test_a_split_built_without_images_needs_them_first():
    """The scenes command refuses a split without images: say to rebuild it with them first."""
    without = SimpleNamespace(scenes=None, inputs=SimpleNamespace(images=SimpleNamespace(path=None)))
    with_images = SimpleNamespace(scenes=None, inputs=SimpleNamespace(images=SimpleNamespace(path="/img")))
    runs = scene_runs(None, ["a"], {"a/train": without, "a/val": with_images}, KEYS, None, Path("/c"))
    train, val = runs.commands
    assert train.startswith("# a/train was built without its images: rebuild it with --images DIR")
    assert train.endswith("then:\npython -m analysis scenes --name a --split train --cache-dir /c")
    assert val == "python -m analysis scenes --name a --split val --cache-dir /c"
