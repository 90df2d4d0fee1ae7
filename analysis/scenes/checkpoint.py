"""Load Places365 checkpoints the CSAIL way, safely.

CSAIL's PyTorch checkpoints (``resnet18_places365.pth.tar`` ...) are dicts
``{"epoch", "arch", "state_dict", "best_prec1"}`` whose state-dict keys carry the
``module.`` prefix of ``nn.DataParallel``; the old files were pickled by Python 2
and need ``encoding="latin1"``.  We read them with ``torch.load(weights_only=True)``
(a restricted unpickler: tensors, dicts, numbers and strings only), so a file that
is not such a checkpoint is refused with a clear error and never runs arbitrary
pickled code.  A bare state dict (the same keys without the wrapper) is accepted
too.

The architecture comes from the file's ``arch`` entry where present, else from the
state dict's shapes (block type and count per stage); an explicit ``arch`` that
contradicts the file is an error.
"""

from __future__ import annotations

import pickle
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from analysis.cache.fingerprint import file_sha256
from analysis.errors import PoseAtlasError
from analysis.scenes.labels import N_CLASSES
from analysis.scenes.options import RESNET_BLOCKS, SUPPORTED_ARCHS

SHA_PREFIX = 12


@dataclass(frozen=True)
class LoadedModel:
    """A Places365 classifier in eval mode on CPU, with what identifies it."""

    model: nn.Module
    arch: str
    sha256: str
    path: Path

    @property
    def model_id(self) -> str:
        """``arch@sha256-prefix``: the ``model`` column of scenes.parquet."""
        return f"{self.arch}@{self.sha256[:SHA_PREFIX]}"


def build_model(arch: str, num_classes: int = N_CLASSES) -> nn.Module:
    """An untrained torchvision ResNet of ``arch`` with ``num_classes`` outputs."""
    import torchvision.models as tvm

    if arch not in RESNET_BLOCKS:
        raise PoseAtlasError(f"unsupported architecture {arch!r}; supported: {', '.join(SUPPORTED_ARCHS)}")
    return getattr(tvm, arch)(weights=None, num_classes=num_classes)


def _torch_load(path: Path) -> Any:
    """``torch.load(weights_only=True)``, retrying with latin1 for Python-2 pickles."""
    last: BaseException | None = None
    extras: tuple[dict[str, Any], ...] = ({}, {"encoding": "latin1"})
    for extra in extras:
        try:
            return torch.load(path, map_location="cpu", weights_only=True, **extra)
        except UnicodeDecodeError as exc:  # Python 2 str pickles
            last = exc
            continue
        except (
            pickle.UnpicklingError,
            RuntimeError,
            EOFError,
            ValueError,
            AttributeError,
            TypeError,
            ImportError,
            KeyError,
            IndexError,
        ) as exc:
            raise PoseAtlasError(
                f"{path}: not a Places365 checkpoint (a weights-only load refused it: {_first_line(exc)})"
            ) from exc
    raise PoseAtlasError(f"{path}: not a Places365 checkpoint ({_first_line(last)})")


def _first_line(exc: BaseException | None) -> str:
    """The first line of an error, without PyTorch's advice to load with ``weights_only=False``
    (that would run whatever code the file holds: never suggested here)."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    safe = [line for line in lines if "weights_only" not in line and "trust the source" not in line]
    return safe[0] if safe else type(exc).__name__


def _state_dict_of(obj: Any, path: Path) -> tuple[dict[str, torch.Tensor], str | None]:
    if not isinstance(obj, dict):
        raise PoseAtlasError(
            f"{path}: not a Places365 checkpoint (expected a dict with 'state_dict', got {type(obj).__name__})"
        )
    arch = obj.get("arch")
    sd = obj.get("state_dict", obj)
    if (
        not isinstance(sd, dict)
        or not sd
        or not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in sd.items())
    ):
        raise PoseAtlasError(f"{path}: not a Places365 checkpoint (no 'state_dict' of named tensors)")
    clean = OrderedDict((k[len("module.") :] if k.startswith("module.") else k, v) for k, v in sd.items())
    return clean, arch if isinstance(arch, str) else None


def infer_arch(state_dict: dict[str, torch.Tensor]) -> str | None:
    """The torchvision ResNet whose block type and counts match ``state_dict``."""
    block = "bottleneck" if "layer1.0.conv3.weight" in state_dict else "basic"
    counts = []
    for stage in range(1, 5):
        ids = {int(k.split(".")[1]) for k in state_dict if k.startswith(f"layer{stage}.")}
        counts.append(len(ids))
    for arch, (kind, blocks) in RESNET_BLOCKS.items():
        if kind == block and tuple(counts) == blocks:
            return arch
    return None


def load_checkpoint(path: Path, arch: str | None = None) -> LoadedModel:
    """Load a CSAIL Places365 checkpoint into a torchvision ResNet (eval mode, CPU).

    Args:
        path: ``.pth.tar`` / ``.pth`` file (CSAIL dict or bare state dict).
        arch: expected architecture; None takes it from the file.

    Raises:
        PoseAtlasError: missing file, not a checkpoint, unknown or mismatching
            architecture, wrong number of classes, keys that do not fit.
    """
    path = Path(path)
    if not path.is_file():
        raise PoseAtlasError(
            f"weights file {path} not found; run `python -m analysis fetch places365` or pass --weights FILE"
        )
    state_dict, file_arch = _state_dict_of(_torch_load(path), path)
    shape_arch = infer_arch(state_dict)
    if file_arch is not None and file_arch not in RESNET_BLOCKS:
        raise PoseAtlasError(
            f"{path}: architecture {file_arch!r} is not supported (supported: {', '.join(SUPPORTED_ARCHS)})"
        )
    found = file_arch or shape_arch
    if found is None:
        raise PoseAtlasError(
            f"{path}: cannot tell the architecture (no 'arch' entry and the layers match "
            f"none of {', '.join(SUPPORTED_ARCHS)})"
        )
    if arch is not None and arch != found:
        raise PoseAtlasError(f"{path}: holds a {found} checkpoint, but --arch {arch} was asked")
    fc = state_dict.get("fc.weight")
    if fc is None or fc.ndim != 2 or fc.shape[0] != N_CLASSES:
        got = "no fc.weight" if fc is None else f"fc.weight of shape {tuple(fc.shape)}"
        raise PoseAtlasError(f"{path}: not a Places365 classifier ({got}, expected {N_CLASSES} classes)")

    model = build_model(found)
    # Old files predate BatchNorm's num_batches_tracked buffer; it is unused at eval.
    for name, buf in model.state_dict().items():
        if name.endswith("num_batches_tracked") and name not in state_dict:
            state_dict[name] = buf
    try:
        model.load_state_dict(state_dict, strict=True)
    except RuntimeError as exc:
        raise PoseAtlasError(f"{path}: weights do not fit a {found}: {_first_line(exc)}") from exc
    model.eval()
    return LoadedModel(model=model, arch=found, sha256=file_sha256(path), path=path)


def save_csail_checkpoint(model: nn.Module, path: Path, arch: str, *, with_arch: bool = True) -> Path:
    """Save ``model`` as CSAIL did (dict, ``module.`` prefixes, no num_batches_tracked).

    Used by tests and benchmarks to stand in for the real (45 MB+) files.
    """
    sd = OrderedDict(
        (f"module.{k}", v.detach().clone())
        for k, v in model.state_dict().items()
        if not k.endswith("num_batches_tracked")
    )
    ckpt: dict[str, Any] = {"epoch": 90, "state_dict": sd, "best_prec1": 54.65}
    if with_arch:
        ckpt["arch"] = arch
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(ckpt, path)
    return path
