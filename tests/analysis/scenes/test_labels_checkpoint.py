"""Label files and CSAIL checkpoint loading (safe, prefix stripping, arch detection)."""

from __future__ import annotations

import os
import pickle
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch

from analysis.errors import PoseAtlasError
from analysis.scenes import checkpoint as ckpt_mod
from analysis.scenes.checkpoint import infer_arch, load_checkpoint
from analysis.scenes.labels import find_label_files, find_labels, load_labels

from .conftest import PLACES, make_checkpoint, write_labels


def test_official_label_files() -> None:
    if not PLACES.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"real fixtures not found at {PLACES}; CI must have them")
        pytest.skip(f"real fixtures not found at {PLACES}")
    labels = load_labels(PLACES / "categories_places365.txt", PLACES / "IO_places365.txt")
    assert len(labels) == 365
    assert labels.names[0] == "airfield"
    assert "apartment_building/outdoor" in labels.names
    names = list(labels.names)
    assert not labels.indoor[names.index("airfield")]  # IO 2: outdoor
    assert labels.indoor[names.index("airplane_cabin")]  # IO 1: indoor
    assert 100 < int(labels.indoor.sum()) < 265


def test_labels_beside_weights_then_models_dir(tmp_path: Path) -> None:
    beside = write_labels(tmp_path / "beside")
    models = write_labels(tmp_path / "models")
    weights = beside / "w.pth.tar"
    assert find_label_files(weights, models)[0].parent == beside
    assert find_label_files(tmp_path / "elsewhere" / "w.pth", models)[0].parent == models
    with pytest.raises(PoseAtlasError, match="fetch places365"):
        find_labels(tmp_path / "nowhere" / "w.pth", tmp_path / "empty")


def test_malformed_labels(tmp_path: Path) -> None:
    write_labels(tmp_path)
    (tmp_path / "IO_places365.txt").write_text("/a/x 3\n" * 365)
    with pytest.raises(PoseAtlasError, match="IO_places365.txt: line 1"):
        find_labels(None, tmp_path)
    (tmp_path / "categories_places365.txt").write_text("/a/x 0\n")
    with pytest.raises(PoseAtlasError, match="expected 365 categories"):
        find_labels(None, tmp_path)


def test_csail_checkpoint_loads(checkpoint: Path) -> None:
    raw = torch.load(checkpoint, weights_only=True)
    assert all(k.startswith("module.") for k in raw["state_dict"])
    assert not any(k.endswith("num_batches_tracked") for k in raw["state_dict"])
    loaded = load_checkpoint(checkpoint)
    assert loaded.arch == "resnet18"
    assert loaded.model_id.startswith("resnet18@") and len(loaded.model_id) == len("resnet18@") + 12
    assert not loaded.model.training
    key = "module.layer1.0.conv1.weight"
    assert torch.equal(loaded.model.state_dict()["layer1.0.conv1.weight"], raw["state_dict"][key])


def test_arch_from_shapes_and_mismatch(tmp_path: Path) -> None:
    path = make_checkpoint(tmp_path / "r50.pth.tar", "resnet50", with_arch=False)
    loaded = load_checkpoint(path)
    assert loaded.arch == "resnet50"
    with pytest.raises(PoseAtlasError, match="holds a resnet50 checkpoint, but --arch resnet18"):
        load_checkpoint(path, "resnet18")


def test_bare_state_dict_accepted(tmp_path: Path, checkpoint: Path) -> None:
    sd = torch.load(checkpoint, weights_only=True)["state_dict"]
    bare = tmp_path / "bare.pth"
    torch.save(OrderedDict((k.removeprefix("module."), v) for k, v in sd.items()), bare)
    assert load_checkpoint(bare).arch == "resnet18"
    assert infer_arch({k.removeprefix("module."): v for k, v in sd.items()}) == "resnet18"


class _Evil:
    def __reduce__(self):  # would run `touch` when unpickled unsafely
        import os

        return (os.system, (f"touch {_Evil.marker}",))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_arbitrary_pickle_is_refused_not_executed(tmp_path: Path) -> None:
    _Evil.marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth.tar"
    with open(path, "wb") as f:
        pickle.dump({"state_dict": _Evil()}, f)
    with pytest.raises(PoseAtlasError, match="not a Places365 checkpoint"):
        load_checkpoint(path)
    assert not _Evil.marker.exists()
    torch.save({"state_dict": {"x": _Evil()}}, path)
    with pytest.raises(PoseAtlasError, match="not a Places365 checkpoint"):
        load_checkpoint(path)
    assert not _Evil.marker.exists()


@pytest.mark.parametrize(
    "content, match",
    [
        (b"\x00garbage" * 100, "not a Places365 checkpoint"),
        ([1, 2, 3], "expected a dict"),
        ({"state_dict": {}}, "no 'state_dict' of named tensors"),
        ({"arch": "wideresnet18", "state_dict": {"fc.weight": torch.zeros(365, 512)}}, "not supported"),
        ({"state_dict": {"fc.weight": torch.zeros(10, 512)}}, "cannot tell the architecture"),
    ],
)
def test_bad_checkpoints(tmp_path: Path, content: object, match: str) -> None:
    path = tmp_path / "bad.pth.tar"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        torch.save(content, path)
    with pytest.raises(PoseAtlasError, match=match):
        load_checkpoint(path)


def test_wrong_class_count(tmp_path: Path) -> None:
    import torchvision

    from analysis.scenes.checkpoint import save_csail_checkpoint

    path = save_csail_checkpoint(torchvision.models.resnet18(num_classes=1000), tmp_path / "in.pth.tar", "resnet18")
    with pytest.raises(PoseAtlasError, match="expected 365 classes"):
        load_checkpoint(path)


def test_missing_weights_says_what_to_fetch(tmp_path: Path) -> None:
    with pytest.raises(PoseAtlasError, match="fetch places365"):
        load_checkpoint(tmp_path / "none.pth.tar")


def test_latin1_fallback(monkeypatch: pytest.MonkeyPatch, checkpoint: Path) -> None:
    """Python-2 pickles fail with UnicodeDecodeError until encoding='latin1' is given."""
    real_load = torch.load
    calls: list[dict] = []

    def fake_load(path, **kw):
        calls.append(dict(kw))
        if kw.get("encoding") != "latin1":
            raise UnicodeDecodeError("ascii", b"\xe9", 0, 1, "ordinal not in range(128)")
        kw.pop("encoding")
        return real_load(path, **kw)

    monkeypatch.setattr(ckpt_mod.torch, "load", fake_load)
    assert load_checkpoint(checkpoint).arch == "resnet18"
    assert [c.get("encoding") for c in calls] == [None, "latin1"]
    assert all(c["weights_only"] is True for c in calls)


def test_labels_equality() -> None:
    from analysis.scenes.labels import SceneLabels

    a = SceneLabels(("x", "y"), np.array([True, False]))
    assert a == SceneLabels(("x", "y"), np.array([True, False]))
    assert a != SceneLabels(("x", "y"), np.array([False, False]))
