"""Where the app reads from: the cache root and the allowed image roots (no streamlit)."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
CACHE_ENV = "POSEATLAS_CACHE_DIR"


def cache_root() -> Path:
    """``$POSEATLAS_CACHE_DIR`` or ``data/cache`` under the repository root."""
    value = os.environ.get(CACHE_ENV)
    return Path(value).resolve() if value else REPO_ROOT / "data" / "cache"


def data_root() -> Path:
    """The repository's data/ folder: images under it may always be opened."""
    return REPO_ROOT / "data"


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
