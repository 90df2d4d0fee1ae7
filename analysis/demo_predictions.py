"""Synthetic model predictions for the embedded demo (clearly labelled, seeded).

No pose model runs offline, so the demo's Models view is fed by two *synthetic
models*: noisy copies of the demo's own ground truth, in the COCO keypoint results
format, evaluated through the real evaluation engine.  They exist to exercise the
views; their numbers say nothing about any real model.

* ``synthetic-precise``: finds almost every person, small keypoint noise;
* ``synthetic-coarse``: misses many small persons, larger noise, more false positives.

Noise is relative to the person's size (``sqrt(w * h)``), as OKS is, and small
persons are missed with a higher probability, as real detectors do.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import orjson
import pandas as pd

from analysis.cache import contract as cache


@dataclass(frozen=True)
class SyntheticModel:
    """How a synthetic model deviates from the ground truth.

    Attributes:
        name: the model label (starts with ``synthetic-``).
        noise: keypoint noise, standard deviation as a fraction of sqrt(w * h).
        miss_small, miss_other: chance to miss a person below / at or above 32^2 bbox area.
        false_positives: mean number of spurious detections per image (Poisson).
        seed: random seed.
    """

    name: str
    noise: float
    miss_small: float
    miss_other: float
    false_positives: float
    seed: int


SYNTHETIC_MODELS = (
    SyntheticModel("synthetic-precise", noise=0.015, miss_small=0.08, miss_other=0.02, false_positives=0.2, seed=7),
    SyntheticModel("synthetic-coarse", noise=0.035, miss_small=0.45, miss_other=0.08, false_positives=0.8, seed=8),
)
SMALL_AREA = 32.0**2


def synthetic_predictions(
    images: pd.DataFrame,
    instances: pd.DataFrame,
    keypoints: npt.NDArray[np.floating],
    model: SyntheticModel,
) -> list[dict]:
    """COCO keypoint results for one split.

    Args:
        images: ``image_id``, ``width``, ``height`` per image.
        instances: ``image_id``, ``iscrowd``, ``bbox_x/y/w/h`` per annotation.
        keypoints: (N, 3K) ground-truth keypoints, rows as ``instances``.
        model: the deviation model.

    Returns:
        One ``{image_id, category_id, keypoints, score}`` per detection.
    """
    rng = np.random.default_rng(model.seed)
    kp = np.asarray(keypoints, dtype=np.float64).reshape(len(instances), -1, 3)
    n_joints = kp.shape[1]
    person = ~instances["iscrowd"].astype(bool).to_numpy() & (kp[:, :, 2] > 0).any(axis=1)
    w = instances["bbox_w"].to_numpy(dtype=float)
    h = instances["bbox_h"].to_numpy(dtype=float)
    x = instances["bbox_x"].to_numpy(dtype=float)
    y = instances["bbox_y"].to_numpy(dtype=float)
    miss = np.where(w * h < SMALL_AREA, model.miss_small, model.miss_other)
    keep = person & (rng.random(len(instances)) >= miss)
    scale = np.sqrt(w * h)[:, None]
    centre = np.stack([x + w / 2, y + h / 2], axis=1)[:, None, :]
    # Unlabelled joints have no ground-truth position: predict them near the box centre.
    xy = np.where(kp[:, :, 2:3] > 0, kp[:, :, :2], centre)
    xy = xy + rng.normal(0.0, 1.0, xy.shape) * model.noise * scale[:, :, None]
    joint_scores = rng.uniform(0.3, 1.0, (len(instances), n_joints))
    scores = np.clip(rng.normal(0.85, 0.1, len(instances)), 0.05, 1.0)
    rows = np.flatnonzero(keep)
    out = [
        {
            "image_id": int(instances["image_id"].iat[i]),
            "category_id": 1,
            "keypoints": np.column_stack([xy[i], joint_scores[i]]).round(2).reshape(-1).tolist(),
            "score": round(float(scores[i]), 4),
        }
        for i in rows
    ]
    return out + _false_positives(images, model, n_joints, rng)


def _false_positives(
    images: pd.DataFrame, model: SyntheticModel, n_joints: int, rng: np.random.Generator
) -> list[dict]:
    """Per image, Poisson(``false_positives``) person-shaped clouds of joints somewhere in the
    image, with low scores (drawn from ``rng`` after the persons' detections)."""
    out = []
    n_fp = rng.poisson(model.false_positives, len(images))
    for image_id, width, height, count in zip(
        images["image_id"].to_numpy(),
        images["width"].to_numpy(dtype=float),
        images["height"].to_numpy(dtype=float),
        n_fp,
        strict=True,
    ):
        for _ in range(int(count)):
            side = rng.uniform(15, 120)
            cx, cy = rng.uniform([0, 0], [width, height])
            joints = np.column_stack(
                [
                    cx + rng.normal(0, side / 4, n_joints),
                    cy + rng.normal(0, side / 2, n_joints),
                    rng.uniform(0.1, 0.6, n_joints),
                ]
            )
            out.append(
                {
                    "image_id": int(image_id),
                    "category_id": 1,
                    "keypoints": joints.round(2).reshape(-1).tolist(),
                    "score": round(float(rng.uniform(0.05, 0.5)), 4),
                }
            )
    return out


#: The demo splits the synthetic models are evaluated on (demo-sparse is left without
#: one, so the Models view also shows what a split without an evaluation looks like).
EVALUATED_SPLITS = (cache.CacheKey("demo-small", "val"), cache.CacheKey("demo-crowd", "val"))


def write_synthetic_predictions(cache_root: Path, key: cache.CacheKey, folder: Path) -> list[tuple[str, Path]]:
    """Write every ``SYNTHETIC_MODELS`` results file of one cached split into ``folder``.

    A file whose content is unchanged is not rewritten (so its evaluation is reused).

    Returns:
        (model label, results file) pairs.
    """
    images = cache.read_images(cache_root, key, columns=["image_id", "width", "height"])
    instances = cache.read_instances(
        cache_root, key, columns=["image_id", "iscrowd", "bbox_x", "bbox_y", "bbox_w", "bbox_h", "keypoints"]
    )
    keypoints = np.array(instances["keypoints"].tolist(), dtype=np.float64).reshape(len(instances), -1)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for model in SYNTHETIC_MODELS:
        target = folder / f"{model.name}.json"
        data = orjson.dumps(synthetic_predictions(images, instances, keypoints, model))
        if not target.is_file() or target.read_bytes() != data:
            with cache.atomic_path(target) as tmp:
                tmp.write_bytes(data)
        written.append((model.name, target))
    return written


def evaluate_synthetic_models(data_dir: Path, cache_root: Path, *, progress: bool = True) -> Iterator[str]:
    """Write the synthetic models' results files beside the demo data
    (``<data_dir>/<dataset>/predictions/``) and evaluate them through the real engine
    (as ``python -m analysis evaluate`` does); yields one line per evaluation."""
    from analysis.evaluation.run import evaluate_files

    for key in EVALUATED_SPLITS:
        written = write_synthetic_predictions(cache_root, key, Path(data_dir) / key.dataset / "predictions")
        outcomes = evaluate_files(
            cache_root, key, [path for _, path in written], models=[name for name, _ in written], progress=progress
        )
        for outcome in outcomes:
            ap = outcome.result.slices["all"].ap
            assert ap is not None  # the synthetic models are evaluated on splits with persons
            yield (
                f"{key}: {outcome.record.model} (synthetic model) AP {100 * ap:.1f}"
                f"{' (unchanged, reused)' if outcome.reused else ''}"
            )
