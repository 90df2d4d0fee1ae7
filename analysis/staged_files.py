"""Write several output files as one: all to temporary names first, renamed into place at the end.

A failure while writing leaves no partial file and no earlier good output destroyed.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from analysis.cache import give_default_mode, temporary_sibling


class StagedFiles:
    """``with StagedFiles(out_dir) as staged: staged.add(name, write); ...`` renames on success."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = Path(out_dir)
        self._staged: list[tuple[Path, Path]] = []

    def add(self, name: str, write: Callable[[BinaryIO], object]) -> None:
        """Write ``out_dir / name``'s content to a temporary sibling with ``write(file)``."""
        target = self.out_dir / name
        tmp = temporary_sibling(target)
        self._staged.append((tmp, target))
        with open(tmp, "wb") as fh:
            write(fh)
        give_default_mode(tmp)

    def __enter__(self) -> StagedFiles:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        try:
            if kind is None:
                for tmp, target in self._staged:
                    os.replace(tmp, target)
        finally:
            for tmp, _ in self._staged:
                tmp.unlink(missing_ok=True)
