"""The same scene inference with Ray Data on an existing Ray cluster.

Two streaming stages: decode + preprocess in CPU tasks (the very functions of the
local backend, uint8 224x224 out), then inference in a pool of actors that each
build the model once from a state dict placed in the object store (so workers do
not need the weights file).  Actors take a GPU each when the cluster has GPUs.
The statistics are computed from the logits by the same numpy code as locally,
so results equal the local backend's.

Image paths must be readable by the cluster's workers (a shared filesystem or the
same path on every node), as with any Ray Data file input.  Ray is an optional
install (``pip install -r requirements-cluster.txt``) and imported only here.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from analysis.errors import PoseAtlasError
from analysis.scenes.pipeline import CROP, BatchResult, ImageSkipped, batch_result, load_image_tensor


def _import_ray() -> Any:
    try:
        import ray
        import ray.data
    except ImportError as exc:
        raise PoseAtlasError("--backend ray needs Ray: pip install -r requirements-cluster.txt") from exc
    return ray


def decode_batch(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Ray stage 1: paths -> uint8 (N, 3, 224, 224) pixels and a failure reason per row."""
    n = len(batch["image_id"])
    pixels = np.zeros((n, 3, CROP, CROP), dtype=np.uint8)
    reasons = np.full(n, "", dtype=object)
    for i, path in enumerate(batch["path"]):
        try:
            pixels[i] = load_image_tensor(str(path)).numpy()
        except ImageSkipped as exc:
            reasons[i] = exc.reason
        except Exception as exc:
            reasons[i] = f"unreadable image ({type(exc).__name__}: {exc})"
    return {"image_id": np.asarray(batch["image_id"]), "pixels": pixels, "reason": reasons}


class SceneActor:
    """Ray stage 2: one model per actor; uint8 pixels -> scene statistics."""

    def __init__(
        self, arch: str, state: list[Any], indoor: np.ndarray, entropy_base: float | None, amp: bool = True
    ) -> None:
        import ray

        from analysis.scenes.checkpoint import build_model
        from analysis.scenes.pipeline import SceneClassifier

        state_dict = ray.get(state[0])
        model = build_model(arch)
        model.load_state_dict(state_dict)
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.clf = SceneClassifier(model, device, amp=amp)
        self.indoor = indoor
        self.base = entropy_base

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        ids = np.asarray(batch["image_id"])
        reasons = np.asarray(batch["reason"], dtype=object)
        ok = reasons == ""
        pixels = torch.from_numpy(np.ascontiguousarray(batch["pixels"][ok]))
        if self.clf.device.type == "cuda":
            pixels = pixels.pin_memory()
        res = batch_result(ids[ok].tolist(), self.clf.logits(pixels), [], self.indoor, self.base)
        n = len(ids)
        entropy = np.full(n, np.nan)
        top_ids = np.zeros((n, 5), dtype=np.int16)
        top_probs = np.zeros((n, 5), dtype=np.float32)
        p_indoor = np.full(n, np.nan)
        entropy[ok], top_ids[ok], top_probs[ok], p_indoor[ok] = (
            res.entropy,
            res.top5_ids,
            res.top5_probs,
            res.p_indoor,
        )
        return {
            "image_id": ids,
            "reason": reasons,
            "entropy": entropy,
            "top5_ids": top_ids,
            "top5_probs": top_probs,
            "p_indoor": p_indoor,
        }


def iter_ray_results(
    items: Sequence[tuple[int, str]],
    model: nn.Module,
    arch: str,
    indoor: np.ndarray,
    *,
    address: str | None = None,
    batch_size: int = 64,
    entropy_base: float | None = None,
    num_actors: int | None = None,
) -> Iterator[BatchResult]:
    """Scene statistics of ``items`` computed on a Ray cluster, batch by batch.

    Connects to ``address`` (None: the ``RAY_ADDRESS`` environment variable, else a
    local Ray) unless Ray is already initialised in this process.  Batches arrive
    in any order; the runner sorts at the end.
    """
    if not items:
        return
    ray = _import_ray()
    started_here = False
    if not ray.is_initialized():
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=False)
        except Exception as exc:
            raise PoseAtlasError(f"cannot connect to the Ray cluster at {address or 'auto'}: {exc}") from exc
        started_here = True
    try:
        resources = ray.cluster_resources()
        n_gpus = int(resources.get("GPU", 0))
        n_cpus = max(1, int(resources.get("CPU", 1)))
        if num_actors is None:
            num_actors = n_gpus if n_gpus else max(1, n_cpus // 2)
        cpu_state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
        state_ref = ray.put(cpu_state)
        ds = ray.data.from_items([{"image_id": int(i), "path": str(p)} for i, p in items])
        ds = ds.map_batches(decode_batch, batch_size=batch_size, batch_format="numpy", num_cpus=1)
        ds = ds.map_batches(
            SceneActor,
            fn_constructor_kwargs={
                "arch": arch,
                "state": [state_ref],
                "indoor": np.asarray(indoor, dtype=bool),
                "entropy_base": entropy_base,
            },
            batch_size=batch_size,
            batch_format="numpy",
            concurrency=num_actors,
            num_gpus=1 if n_gpus else 0,
            num_cpus=0 if n_gpus else 1,
        )
        for out in ds.iter_batches(batch_size=None, batch_format="numpy"):
            reasons = np.asarray(out["reason"], dtype=object)
            ok = reasons == ""
            ids = np.asarray(out["image_id"])
            yield BatchResult(
                image_ids=[int(i) for i in ids[ok]],
                entropy=np.asarray(out["entropy"])[ok],
                top5_ids=np.asarray(out["top5_ids"])[ok],
                top5_probs=np.asarray(out["top5_probs"])[ok],
                p_indoor=np.asarray(out["p_indoor"])[ok],
                failed=[(int(i), str(r)) for i, r in zip(ids[~ok], reasons[~ok], strict=True)],
            )
    finally:
        if started_here:
            ray.shutdown()
