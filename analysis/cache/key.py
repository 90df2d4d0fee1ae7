"""Where a cache lives: :class:`CacheKey` and :data:`DEFAULT_CACHE_DIR`.

Kept apart from :mod:`analysis.cache.contract` (which loads pyarrow, about 0.2 s) so that the
command-line parsers can name them without loading pyarrow; :mod:`analysis.cache.contract`
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

    @classmethod
    def checked(cls, dataset: object, split: object) -> CacheKey:
        """A key from user input (``--name``, ``--split``): both must be plain names (no ``..``,
        no ``/``), else :class:`PoseAtlasError`, so that a key never leads outside its cache root."""
        from analysis.names import validate_name

        return cls(validate_name(dataset, "dataset name"), validate_name(split, "split name"))

    def directory(self, root: Path) -> Path:
        return Path(root) / self.dataset / self.split

    def __str__(self) -> str:
        return f"{self.dataset}/{self.split}"
