"""Paths written into reports meant for a supplementary (``subset`` and ``compose``
``report.json``): relative to the registry's folder, never an absolute path of the
author's machine, with the file's SHA-256 beside it where the reader needs to check it."""

from __future__ import annotations

import os
from pathlib import Path, PurePath


def report_path(path: Path | str, registry: Path | str | None) -> str:
    """``path`` relative to the registry file's folder (POSIX separators); its file name
    alone when there is no registry or the two are on different drives."""
    if registry is None:
        return PurePath(path).name
    try:
        relative = os.path.relpath(Path(path).resolve(), Path(registry).resolve().parent)
    except ValueError:  # another drive (Windows)
        return PurePath(path).name
    return PurePath(relative).as_posix()
