"""Pipeline parity: our probabilities/entropies equal a straightforward computation.

The reference is the official demo's recipe written plainly: PIL open + RGB,
torchvision Resize((256,256)) / CenterCrop(224) / ToTensor / Normalize, the model
on one image, softmax.  Real photos from ../shared/fixtures.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import torchvision
import torchvision.transforms as T
from PIL import Image

from analysis.scenes.checkpoint import load_checkpoint
from analysis.scenes.labels import find_labels
from analysis.scenes.pipeline import SceneClassifier, load_image_tensor
from analysis.scenes.runner import SceneOptions, compute_scenes

from .conftest import fixture_photos

TOL = 1e-5


def reference_probs(checkpoint: Path, paths: list[Path]) -> np.ndarray:
    """Independent computation: the official demo's steps, one image at a time."""
    raw = torch.load(checkpoint, map_location="cpu", weights_only=True)
    model = torchvision.models.resnet18(num_classes=365)
    sd = OrderedDict((k.replace("module.", ""), v) for k, v in raw["state_dict"].items())
    model.load_state_dict(sd, strict=False)
    model.eval()
    tf = T.Compose(
        [
            T.Resize((256, 256)),
            T.CenterCrop(224),
            T.ToTensor(),
            T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
        ]
    )
    out = []
    with torch.no_grad():
        for p in paths:
            x = tf(Image.open(p).convert("RGB")).unsqueeze(0)
            out.append(torch.softmax(model(x), 1)[0].double().numpy())
    return np.stack(out)


@pytest.mark.slow
def test_full_probability_vectors_match(checkpoint: Path) -> None:
    paths = fixture_photos()
    ref = reference_probs(checkpoint, paths)
    clf = SceneClassifier(load_checkpoint(checkpoint).model, torch.device("cpu"))
    logits = clf.logits(torch.stack([load_image_tensor(p) for p in paths]))
    ours = torch.softmax(torch.from_numpy(logits).double(), 1).numpy()
    assert np.abs(ours - ref).max() < TOL
    # the uint8 worker output + batched normalisation is the torchvision tensor, exactly
    tf = T.Compose(
        [
            T.Resize((256, 256)),
            T.CenterCrop(224),
            T.ToTensor(),
            T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
        ]
    )
    x_ref = tf(Image.open(paths[0]).convert("RGB"))
    x_ours = clf.normalize(load_image_tensor(paths[0]).unsqueeze(0))[0]
    assert torch.equal(x_ours.contiguous(), x_ref)


@pytest.mark.slow
def test_scenes_parquet_matches_reference(checkpoint: Path, models_dir: Path, cache_factory) -> None:
    paths = fixture_photos()
    cache_dir = cache_factory({f"img{i}.jpg": p for i, p in enumerate(paths)})
    out = compute_scenes(cache_dir, SceneOptions(models_dir=models_dir, workers=1, batch_size=3, progress=False))
    df = pd.read_parquet(out)
    assert len(df) == len(paths)
    ref = reference_probs(checkpoint, paths)
    labels = find_labels(checkpoint)
    ref_h = -(ref * np.log(ref)).sum(1)
    assert np.abs(df["entropy"].to_numpy() - ref_h).max() < TOL
    ref_indoor = ref[:, labels.indoor].sum(1)
    assert np.abs(df["p_indoor"].to_numpy() - ref_indoor).max() < TOL
    for row, r in zip(df.itertuples(), ref, strict=True):
        top = np.argsort(-r, kind="stable")[:5]
        assert list(row.top5_ids) == top.tolist()
        assert np.abs(np.asarray(row.top5_probs) - r[top]).max() < TOL
    # the random classifier is not degenerate: entropies well inside (0, ln 365)
    assert df["entropy"].min() > 0.1 and df["entropy"].max() < 5.8


def test_device_selection(monkeypatch: pytest.MonkeyPatch) -> None:
    from analysis.errors import PoseAtlasError
    from analysis.scenes.pipeline import resolve_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto").type == "cpu"
    with pytest.raises(PoseAtlasError, match="no CUDA GPU"):
        resolve_device("cuda")
    with pytest.raises(PoseAtlasError, match="unknown device"):
        resolve_device("tpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda")
    assert resolve_device("cuda:1") == torch.device("cuda:1")


def test_cpu_classifier_uses_channels_last_without_amp(checkpoint: Path) -> None:
    clf = SceneClassifier(load_checkpoint(checkpoint).model, torch.device("cpu"))
    assert not clf.amp
    assert clf.model.conv1.weight.is_contiguous(memory_format=torch.channels_last)
    x = clf.normalize(torch.zeros((2, 3, 224, 224), dtype=torch.uint8))
    assert x.is_contiguous(memory_format=torch.channels_last)
    assert clf.logits(torch.zeros((0, 3, 224, 224), dtype=torch.uint8)).shape == (0, 365)
