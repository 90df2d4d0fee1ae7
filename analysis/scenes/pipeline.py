"""Image decoding, the official Places365 preprocessing, and batched inference.

Preprocessing is the official demo's, step for step, so that our probabilities
equal a straightforward ``PIL.Image.open`` + torchvision transforms + model run:

    RGB conversion -> Resize((256, 256)) (PIL bilinear) -> CenterCrop(224)
    -> ToTensor -> Normalize(ImageNet mean, std)

The PIL steps run in DataLoader workers, which hand uint8 tensors (3 x 224 x 224,
4x smaller than float) to the main process; ``ToTensor``'s ``/255`` and
``Normalize`` then run batched on the inference device with the very same float32
operations, so the result is bit-identical to the per-image transforms.  EXIF
orientation is ignored, as in the official demo.

Images the model cannot take as they are get converted (:func:`to_rgb`):
grayscale, palette, CMYK, YCbCr -> RGB; 16-bit grayscale -> 8-bit (value/257)
-> RGB; images with alpha are composited onto white.  What cannot be read
(missing, not an image, truncated) raises :class:`ImageSkipped` with a reason,
and the run goes on without it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch import nn
from torch.utils.data import DataLoader, Dataset

from analysis.errors import PoseAtlasError
from analysis.scenes.entropy import scene_stats_from_logits

RESIZE = (256, 256)
CROP = 224
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
PREPROCESSING = (
    "RGB (alpha composited on white, 16-bit scaled to 8-bit); Resize((256, 256)) PIL bilinear; "
    "CenterCrop(224); ToTensor; Normalize(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))"
)

_SIXTEEN_BIT = {"I;16", "I;16L", "I;16B", "I;16N"}
_ALPHA = {"RGBA", "LA", "PA", "RGBa", "La"}


class ImageSkipped(Exception):
    """An image that cannot be used; ``reason`` goes into the manifest."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def to_rgb(img: Image.Image) -> Image.Image:
    """Convert any PIL image to 8-bit RGB (see module docstring for the rules)."""
    mode = img.mode
    if mode == "RGB":
        return img
    if mode in _SIXTEEN_BIT or mode in ("I", "F"):
        a = np.asarray(img).astype(np.float64)
        if mode in _SIXTEEN_BIT or (mode == "I" and a.size and a.max() > 255):
            a = np.clip(a, 0, 65535) / 257.0
        elif mode == "F" and a.size and a.max() <= 1.0:
            a = a * 255.0
        gray = np.clip(np.rint(a), 0, 255).astype(np.uint8)
        return Image.fromarray(gray, mode="L").convert("RGB")
    if (
        mode in _ALPHA
        or (mode == "P" and "transparency" in img.info)
        or (mode in ("L", "RGB") and "transparency" in img.info)
    ):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    try:
        return img.convert("RGB")
    except (ValueError, OSError) as exc:
        raise ImageSkipped(f"cannot convert image mode {mode} to RGB: {exc}") from exc


def open_rgb(path: Path | str) -> Image.Image:
    """Decode ``path`` fully and return it as RGB.

    Raises:
        ImageSkipped: missing file, not an image, truncated or otherwise unreadable.
    """
    path = Path(path)
    if not path.is_file():
        return _skip("missing file")
    try:
        with open(path, "rb") as f:
            im = Image.open(f)
            im.load()
        return to_rgb(im)
    except ImageSkipped:
        raise
    except UnidentifiedImageError:
        return _skip("not a readable image (unknown format or corrupt header)")
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        text = str(exc)
        if "truncated" in text.lower():
            return _skip(f"truncated image ({text})")
        return _skip(f"unreadable image ({type(exc).__name__}: {text})")


def _skip(reason: str) -> Image.Image:
    raise ImageSkipped(reason)


def preprocess_uint8(img: Image.Image) -> torch.Tensor:
    """Resize((256, 256)) + CenterCrop(224) of an RGB image as a uint8 (3, 224, 224) tensor."""
    import torchvision.transforms.functional as F
    from torchvision.transforms import InterpolationMode

    img = F.resize(img, list(RESIZE), interpolation=InterpolationMode.BILINEAR)
    img = F.center_crop(img, [CROP, CROP])
    return F.pil_to_tensor(img)


def load_image_tensor(path: Path | str) -> torch.Tensor:
    """:func:`open_rgb` then :func:`preprocess_uint8`."""
    return preprocess_uint8(open_rgb(path))


class SceneImages(Dataset):
    """(image_id, path) items -> (image_id, uint8 tensor or None, failure reason)."""

    def __init__(self, items: Sequence[tuple[int, str]]) -> None:
        self.items = list(items)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> tuple[int, torch.Tensor | None, str]:
        image_id, path = self.items[i]
        try:
            return image_id, load_image_tensor(path), ""
        except ImageSkipped as exc:
            return image_id, None, exc.reason
        except Exception as exc:
            return image_id, None, f"unreadable image ({type(exc).__name__}: {exc})"


def collate(
    batch: list[tuple[int, torch.Tensor | None, str]],
) -> tuple[list[int], torch.Tensor, list[tuple[int, str]]]:
    """Stack the good images; list the failed ones with their reason."""
    ok_ids = [image_id for image_id, x, _ in batch if x is not None]
    tensors = [x for _, x, _ in batch if x is not None]
    stacked = torch.stack(tensors) if tensors else torch.empty((0, 3, CROP, CROP), dtype=torch.uint8)
    failed = [(image_id, reason) for image_id, x, reason in batch if x is None]
    return ok_ids, stacked, failed


def _worker_init(_: int) -> None:
    # Decoding is PIL work; keep torch from spawning threads in every worker.
    torch.set_num_threads(1)


def resolve_device(device: str) -> torch.device:
    """``auto`` -> CUDA when available, else CPU; ``cuda`` without a GPU is an error."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise PoseAtlasError(f"--device {device} asked, but torch sees no CUDA GPU")
    if device != "cpu" and not device.startswith("cuda"):
        raise PoseAtlasError(f"unknown device {device!r}; use auto, cpu or cuda")
    return torch.device(device)


def default_workers() -> int:
    """DataLoader workers: one per core beyond the first, at least 1, at most 32."""
    return max(1, min(32, (os.cpu_count() or 2) - 1))


class SceneClassifier:
    """A Places365 model on a device, taking uint8 batches and returning logits.

    channels_last and ``torch.inference_mode`` everywhere; on CUDA the input is
    copied ``non_blocking`` from pinned memory and the forward runs under float16
    autocast (logits are returned as float32).
    """

    def __init__(self, model: nn.Module, device: torch.device, *, amp: bool = True) -> None:
        self.device = device
        self.amp = amp and device.type == "cuda"
        self.model = model.to(device).eval().to(memory_format=torch.channels_last)
        self.mean = torch.tensor(IMAGENET_MEAN, dtype=torch.float32, device=device).view(-1, 1, 1)
        self.std = torch.tensor(IMAGENET_STD, dtype=torch.float32, device=device).view(-1, 1, 1)

    def normalize(self, batch: torch.Tensor) -> torch.Tensor:
        """uint8 (N, 3, H, W) -> ToTensor + Normalize, the same float32 ops torchvision uses."""
        x = batch.to(self.device, non_blocking=True)
        x = x.to(torch.float32).div(255)
        x.sub_(self.mean).div_(self.std)
        return x.contiguous(memory_format=torch.channels_last)

    @torch.inference_mode()
    def forward_normalized(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(self.device.type, dtype=torch.float16, enabled=self.amp):
            return self.model(x).float()

    @torch.inference_mode()
    def logits(self, batch: torch.Tensor) -> np.ndarray:
        """(N, 365) float32 logits of a uint8 batch (empty batch -> (0, 365))."""
        if batch.shape[0] == 0:
            return np.zeros((0, 365), dtype=np.float32)
        return self.forward_normalized(self.normalize(batch)).cpu().numpy()


@dataclass
class BatchResult:
    """Scene statistics of one batch, plus the images that failed in it."""

    image_ids: list[int]
    entropy: np.ndarray
    top5_ids: np.ndarray
    top5_probs: np.ndarray
    p_indoor: np.ndarray
    failed: list[tuple[int, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.image_ids) + len(self.failed)


def batch_result(
    ok_ids: list[int],
    logits: np.ndarray,
    failed: list[tuple[int, str]],
    indoor: np.ndarray,
    base: float | None,
) -> BatchResult:
    stats = scene_stats_from_logits(logits, indoor, base)
    return BatchResult(list(ok_ids), failed=list(failed), **stats)


def iter_local_results(
    items: Sequence[tuple[int, str]],
    model: nn.Module,
    indoor: np.ndarray,
    *,
    device: str = "auto",
    batch_size: int = 64,
    workers: int | None = None,
    threads: int | None = None,
    entropy_base: float | None = None,
) -> Iterator[BatchResult]:
    """Run the classifier over ``items`` in order, one :class:`BatchResult` per batch."""
    if not items:
        return
    dev = resolve_device(device)
    if threads:
        torch.set_num_threads(threads)
    n_workers = default_workers() if workers is None else workers
    loader = DataLoader(
        SceneImages(items),
        batch_size=batch_size,
        shuffle=False,
        num_workers=n_workers,
        collate_fn=collate,
        pin_memory=dev.type == "cuda",
        worker_init_fn=_worker_init if n_workers else None,
        prefetch_factor=4 if n_workers else None,
        persistent_workers=False,
    )
    clf = SceneClassifier(model, dev)
    for ok_ids, batch, failed in loader:
        yield batch_result(ok_ids, clf.logits(batch), failed, indoor, entropy_base)
