"""Where a cache lives: :class:`CacheKey` and :data:`DEFAULT_CACHE_DIR`.

Kept apart from :mod:`analysis.cache` (which loads pyarrow, about 0.2 s) so that the
command-line parsers can name them without loading pyarrow; :mod:`analysis.cache`
re-exports both.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DEFAULT_CACHE_DIR = Path("data/cache")


@dataclass(frozen=True)
class CacheKey:
    """One cached dataset split."""

    dataset: str
    split: str

    def directory(self, root: Path) -> Path:
        return Path(root) / self.dataset / self.split

    def __str__(self) -> str:
        return f"{self.dataset}/{self.split}"
