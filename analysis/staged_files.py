"""Write several output files as one: all to temporary names first, renamed into place at the end.

A failure while writing leaves no partial file and no earlier good output destroyed.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import BinaryIO


class StagedFiles:
    """``with StagedFiles(out_dir) as staged: staged.add(name, write); ...`` renames on success."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = Path(out_dir)
        self._staged: list[tuple[Path, Path]] = []

    def add(self, name: str, write: Callable[[BinaryIO], object]) -> None:
        """Write ``out_dir / name``'s content to a temporary sibling with ``write(file)``."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=self.out_dir)
        tmp = Path(tmp_name)
        self._staged.append((tmp, self.out_dir / name))
        with os.fdopen(fd, "wb") as fh:
            write(fh)
        # mkstemp creates 0600 files; give the result the usual umask-based mode.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)

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
