"""Write several output files as one unit: all into a staging folder, swapped in at the end.

``with StagedFiles(out_dir) as staged: staged.add(name, write); ...`` writes every file
into ``.<out>.writing-<pid>`` beside ``out_dir``.  On success the files already in
``out_dir`` that are not replaced are hard-linked into the staging folder (copied where
links are impossible), and the staging folder replaces ``out_dir`` by two renames
(:func:`analysis.cache.contract.swap_in`, as the cache build does).  A failure or a kill at any
point leaves either every old file or every new one, never a mix, and never a partial
file.  What a killed run leaves (its staging folder, the old folder renamed aside, the
temporary files of older versions) is swept by the next run on the same folder.

Two exceptions, where the files are staged inside ``out_dir`` and renamed into place one
by one (each file still whole): when ``out_dir`` holds the current working folder
(renaming it would leave the user's shell in a deleted folder), and when the folder
above ``out_dir`` may not be written (a shared folder the user owns only part of).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from analysis.cache.contract import _process_alive, give_default_mode, swap_in

WRITING = "writing"
RETIRED = "old"


class StagedFiles:
    """``with StagedFiles(out_dir) as staged: staged.add(name, write); ...`` swaps them in on success."""

    def __init__(self, out_dir: Path) -> None:
        # Resolved: the swap renames the folder itself, never a link to it.
        self.out_dir = Path(os.path.abspath(out_dir)).resolve()
        self.staging = _sibling(self.out_dir, WRITING, os.getpid())
        self._names: list[str] = []
        self._one_by_one = _holds_working_folder(self.out_dir)

    def add(self, name: str, write: Callable[[BinaryIO], object]) -> None:
        """Write ``out_dir / name``'s content (``name`` may hold sub-folders) with ``write(file)``."""
        target = self.staging / name
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "wb") as fh:
            write(fh)
        give_default_mode(target)
        self._names.append(name)

    def __enter__(self) -> StagedFiles:
        sweep_stale(self.out_dir)
        if not self._one_by_one:
            try:
                self.out_dir.parent.mkdir(parents=True, exist_ok=True)
                self.staging.mkdir()
                return self
            except PermissionError:
                if not self.out_dir.is_dir():
                    raise
                self._one_by_one = True
        self.staging = self.out_dir / f".{WRITING}-{os.getpid()}"
        shutil.rmtree(self.staging, ignore_errors=True)
        self.staging.mkdir(parents=True)
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        try:
            if kind is None and self._one_by_one:
                for name in self._names:
                    (self.out_dir / name).parent.mkdir(parents=True, exist_ok=True)
                    os.replace(self.staging / name, self.out_dir / name)
            elif kind is None:
                if self.out_dir.is_dir():
                    _carry_over(self.out_dir, self.staging)
                    shutil.copymode(self.out_dir, self.staging)
                swap_in(self.staging, self.out_dir, _sibling(self.out_dir, RETIRED, os.getpid()))
            if kind is None:
                _remove_old_temporaries(self.out_dir, self._names)
        finally:
            shutil.rmtree(self.staging, ignore_errors=True)


def _holds_working_folder(out_dir: Path) -> bool:
    try:
        return Path.cwd().resolve().is_relative_to(out_dir)
    except OSError:  # the working folder is gone already
        return False


def _sibling(out_dir: Path, what: str, pid: int) -> Path:
    return out_dir.parent / f".{out_dir.name}.{what}-{pid}"


def sweep_stale(out_dir: Path) -> list[Path]:
    """Clean up after killed runs on ``out_dir``: their staging folders are removed; an old
    folder renamed aside whose new one never arrived is renamed back.  Returns what was removed
    or restored."""
    out_dir = Path(out_dir)
    done: list[Path] = []
    if not out_dir.parent.is_dir():
        return done
    inside = f".{WRITING}-"  # the staging folder of a one-by-one run, inside out_dir
    for folder in sorted(out_dir.glob(f"{inside}*")) if out_dir.is_dir() else []:
        pid = folder.name[len(inside) :]
        if pid.isdigit() and int(pid) != os.getpid() and not _process_alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)
            done.append(folder)
    for what in (WRITING, RETIRED):
        prefix = f".{out_dir.name}.{what}-"
        for folder in sorted(out_dir.parent.glob(f"{prefix}*")):
            pid = folder.name[len(prefix) :]
            if not pid.isdigit() or int(pid) == os.getpid() or _process_alive(int(pid)):
                continue
            if what == RETIRED and not out_dir.exists():
                os.replace(folder, out_dir)  # killed between the two renames: the old files come back
            else:
                shutil.rmtree(folder, ignore_errors=True)
            done.append(folder)
    return done


def _carry_over(out_dir: Path, staging: Path) -> None:
    """Link every file of ``out_dir`` that the staging folder does not replace into it."""
    for folder, dirs, files in os.walk(out_dir):
        rel = Path(folder).relative_to(out_dir)
        for name in dirs:
            source = Path(folder) / name
            if source.is_symlink():
                _copy_link(source, staging / rel / name)
            else:
                (staging / rel / name).mkdir(exist_ok=True)
        for name in files:
            source, target = Path(folder) / name, staging / rel / name
            if target.exists() or target.is_symlink():
                continue  # replaced by the new output
            if source.is_symlink():
                _copy_link(source, target)
                continue
            try:
                os.link(source, target)
            except OSError:  # another file system, or links not allowed
                shutil.copy2(source, target)


def _copy_link(source: Path, target: Path) -> None:
    if not (target.exists() or target.is_symlink()):
        os.symlink(os.readlink(source), target)


def _remove_old_temporaries(out_dir: Path, names: list[str]) -> None:
    """Temporary files earlier versions left beside these outputs (``.<name>.<random>.tmp``)."""
    for name in names:
        target = out_dir / name
        for tmp in target.parent.glob(f".{target.name}.*.tmp"):
            tmp.unlink(missing_ok=True)
