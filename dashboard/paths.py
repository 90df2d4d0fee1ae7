"""Where the app reads from: the cache root and the allowed image roots (no streamlit)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from analysis.build.image_paths import image_root_problem
from analysis.cache.contract import DEFAULT_CACHE_DIR
from analysis.errors import PoseAtlasError
from analysis.registry import DEFAULT_REGISTRY, load_registry

CACHE_ENV = "POSEATLAS_CACHE_DIR"
#: Extra image folders the user allows Browse to open (``os.pathsep``-separated);
#: ``python -m dashboard --image-root DIR`` sets it.
IMAGE_ROOTS_ENV = "POSEATLAS_IMAGE_ROOTS"
#: The registry, relative to the working folder as for ``python -m analysis`` (an installed
#: package has no repository to find files in).
REGISTRY = DEFAULT_REGISTRY


def cache_root() -> Path:
    """``$POSEATLAS_CACHE_DIR`` or ``data/cache`` under the working folder (the CLI's default)."""
    value = os.environ.get(CACHE_ENV)
    return Path(value).resolve() if value else DEFAULT_CACHE_DIR.resolve()


def data_root() -> Path:
    """The working folder's data/ (where ``python -m analysis demo`` writes): images under it may
    always be opened."""
    return DEFAULT_CACHE_DIR.parent.resolve()


@dataclass(frozen=True)
class ImageRoots:
    """The folders Browse may open images under, and the configured ones it refused.

    Allowed: the working folder's data/, every image folder registered in
    data/datasets.toml, and ``$POSEATLAS_IMAGE_ROOTS``; never a cache's manifest
    alone, never ``/`` or a system folder (:mod:`analysis.build.image_paths`).
    """

    allowed: tuple[Path, ...]
    refused: tuple[str, ...] = ()  #: one line per configured root that was refused

    def admits(self, folder: Path | None) -> bool:
        """Whether images under ``folder`` (a split's recorded image root) may be opened."""
        if folder is None or image_root_problem(folder):
            return False
        resolved = Path(folder).resolve()
        return any(resolved.is_relative_to(root) for root in self.allowed)


def image_roots(environ: Mapping[str, str] | None = None, registry: Path = REGISTRY) -> ImageRoots:
    """The allowed image roots from the registry and the user's configuration (see ImageRoots)."""
    environ = os.environ if environ is None else environ
    candidates: list[tuple[str, Path]] = [("data/", data_root())]
    try:
        candidates += [(f"{registry}: {s.name}/{s.split}", s.images) for s in load_registry(registry) if s.images]
    except PoseAtlasError as exc:
        return ImageRoots((data_root().resolve(),), (f"registry not read: {exc}",))
    for text in filter(None, environ.get(IMAGE_ROOTS_ENV, "").split(os.pathsep)):
        candidates.append((f"${IMAGE_ROOTS_ENV}", Path(text)))
    allowed, refused = [], []
    for origin, folder in candidates:
        problem = image_root_problem(folder)
        if problem:
            refused.append(f"{origin}: {problem}")
        else:
            allowed.append(Path(folder).resolve())
    return ImageRoots(tuple(dict.fromkeys(allowed)), tuple(refused))


def cache_stamp(root: Path) -> tuple[tuple[str, int], ...]:
    """Modification times of every manifest and scenes file: a rebuild changes it."""
    if not root.is_dir():
        return ()
    files = sorted([*root.glob("*/*/manifest.json"), *root.glob("*/*/scenes.parquet")])
    stamp = []
    for path in files:
        try:
            stamp.append((str(path.relative_to(root)), path.stat().st_mtime_ns))
        except OSError:
            continue
    return tuple(stamp)
