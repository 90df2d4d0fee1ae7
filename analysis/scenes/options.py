"""What a scene run is asked to do: the options and the supported models.

Torch-free on purpose: the top-level CLI builds its parsers from these, and
``python -m analysis build`` must not pay for importing torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from analysis.errors import PoseAtlasError
from analysis.scenes.entropy import entropy_base_problem
from analysis.scenes.labels import DEFAULT_MODELS_DIR

DEFAULT_ARCH = "resnet18"
DEFAULT_BATCH_SIZE = 64
DEFAULT_SHARD_SIZE = 2048

#: Torchvision ResNets with their blocks per stage; CSAIL's keys match torchvision's.
RESNET_BLOCKS: dict[str, tuple[str, tuple[int, int, int, int]]] = {
    "resnet18": ("basic", (2, 2, 2, 2)),
    "resnet34": ("basic", (3, 4, 6, 3)),
    "resnet50": ("bottleneck", (3, 4, 6, 3)),
    "resnet101": ("bottleneck", (3, 4, 23, 3)),
    "resnet152": ("bottleneck", (3, 8, 36, 3)),
}
SUPPORTED_ARCHS = tuple(RESNET_BLOCKS)


@dataclass(frozen=True)
class SceneOptions:
    """How to compute scenes; every field has a sensible default.

    These defaults are the only ones: the CLI's flags take theirs from :data:`DEFAULTS`.
    """

    weights: Path | None = None  #: None: <models_dir>/<arch>_places365.pth.tar
    arch: str | None = None  #: None: read from the checkpoint (resnet18 for the default file)
    models_dir: Path = DEFAULT_MODELS_DIR  #: label files are looked up here after beside weights
    device: str = "auto"  #: auto | cpu | cuda[:N]
    batch_size: int = DEFAULT_BATCH_SIZE
    workers: int | None = None  #: DataLoader workers; None = default_workers()
    threads: int | None = None  #: torch intra-op threads for CPU inference; None = torch default
    entropy_base: float | None = None  #: None = e (nats)
    backend: str = "local"  #: local | ray
    address: str | None = None  #: Ray cluster address (backend ray)
    shard_size: int = DEFAULT_SHARD_SIZE  #: images per flushed shard
    flush_seconds: float = 60.0  #: flush a shard at least this often (slow devices lose little)
    force: bool = False  #: recompute even when scenes.parquet is up to date
    progress: bool = True

    def validate(self) -> None:
        """Raise :class:`PoseAtlasError` naming the first option out of range."""
        if self.batch_size < 1:
            raise PoseAtlasError(f"--batch-size must be at least 1, got {self.batch_size}")
        if self.workers is not None and self.workers < 0:
            raise PoseAtlasError(f"--workers must be >= 0, got {self.workers}")
        if self.shard_size < 1:
            raise PoseAtlasError(f"shard size must be at least 1, got {self.shard_size}")
        problem = entropy_base_problem(self.entropy_base)
        if problem:
            raise PoseAtlasError(f"--entropy-base: {problem}")

    def weights_path(self) -> Path:
        if self.weights is not None:
            return Path(self.weights)
        return Path(self.models_dir) / f"{self.arch or DEFAULT_ARCH}_places365.pth.tar"


#: The defaults of every scenes option (the CLI's flags show and use these).
DEFAULTS = SceneOptions()
