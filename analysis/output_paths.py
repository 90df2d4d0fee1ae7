"""Where a command may write: the one check every writing command runs before any work.

No command writes over one of its inputs or into the cache root (except through the
cache's own writers).  The protected inputs are

- every annotation file registered in the registry or recorded in a cache manifest
  (the source of every built split under the cache root),
- the command's own input files (predictions files, a config, a spec),
- everything inside the cache root.

Paths are compared after resolving symbolic links and ``..``, and with
:func:`os.path.samefile` (a hard link to an input is the input).  Every output path
is also checked to be writable before the work starts: a folder where a file should
go, a file where a folder should go, or a folder the user cannot write to is refused
up front, not after minutes of work.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from analysis.errors import PoseAtlasError


@dataclass(frozen=True)
class ProtectedInputs:
    """Files no output may replace and folders no output may go into.

    Attributes:
        files: (resolved path, what it is, the ``dataset/split`` it is the source of, or
            None) of each protected file.
        roots: (resolved folder, what it is) of each folder written only by its own writers.
    """

    files: tuple[tuple[Path, str, str | None], ...] = ()
    roots: tuple[tuple[Path, str], ...] = field(default_factory=tuple)

    @classmethod
    def gather(
        cls,
        cache_root: Path | None = None,
        registry: Path | None = None,
        inputs: Iterable[tuple[Path, str]] = (),
    ) -> ProtectedInputs:
        """The annotation files registered in ``registry`` and recorded in the manifests
        under ``cache_root``, the cache root itself, and the command's own ``inputs``
        ((path, what) pairs).  An unreadable registry or manifest protects nothing
        more (the command that needs it reports it)."""
        files: list[tuple[Path, str, str | None]] = [(_resolved(p), what, None) for p, what in inputs]
        files += _registered(registry)
        roots = []
        if cache_root is not None:
            files += _recorded(cache_root)
            roots.append((_resolved(cache_root), "the cache root (written only by build, scenes and evaluate)"))
        return cls(tuple(files), tuple(roots))

    def except_sources_of(self, splits: Iterable[str]) -> ProtectedInputs:
        """Without the files that are the source of only these splits (``dataset/split``):
        a command's own earlier outputs (``subset`` writing ``NAME-subset-k`` again) may be
        replaced; a file that is also another split's source stays protected."""
        own = set(splits)
        kept_elsewhere = {path for path, _, owner in self.files if owner not in own}
        files = tuple(f for f in self.files if f[2] not in own or f[0] in kept_elsewhere)
        return ProtectedInputs(files, self.roots)

    def problem(self, path: Path) -> str | None:
        """Why ``path`` may not be written, or None."""
        target = _resolved(path)
        for root, what in self.roots:
            if target == root or target.is_relative_to(root):
                return f"is inside {root}, {what}"
        for protected, what, _ in self.files:
            if target == protected or _same_file(target, protected):
                return f"is {what} ({protected}); writing there would destroy it"
        return None


def check_output_file(path: Path, protected: ProtectedInputs, flag: str) -> Path:
    """Refuse an output file that would replace a protected input or cannot be written.

    Args:
        path: the file the command will write (replacing it if present).
        protected: what may not be written over.
        flag: the option that named it (``--table-csv``), for the message.

    Returns:
        ``path`` unchanged.

    Raises:
        PoseAtlasError: one line naming the option, the path and the problem.
    """
    path = Path(path)
    problem = protected.problem(path)
    if problem:
        raise PoseAtlasError(f"{flag} {path}: {problem}; choose another file")
    if path.is_dir():
        raise PoseAtlasError(f"{flag} {path}: is a folder; give a file name")
    if path.exists() and not path.is_file():
        raise PoseAtlasError(f"{flag} {path}: not a regular file; give a file name")
    _check_writable_folder(path.parent, flag, path)
    return path


def check_output_dir(folder: Path, names: Iterable[str], protected: ProtectedInputs, flag: str) -> Path:
    """Refuse an output folder whose files (``folder / name`` for each name) would replace
    a protected input, leave the folder, or cannot be written.

    ``names`` are relative paths (``view/stem.png``); each must stay under ``folder`` once
    resolved (no ``..``, no absolute path, no link out of it).

    Returns:
        ``folder`` unchanged.

    Raises:
        PoseAtlasError: one line naming the option, the path and the problem.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise PoseAtlasError(f"{flag} {folder}: is a file, not a folder; give a folder")
    problem = protected.problem(folder)
    if problem:
        raise PoseAtlasError(f"{flag} {folder}: {problem}; choose another folder")
    base = _resolved(folder)
    for name in names:
        target = folder / name
        resolved = _resolved(target)
        if Path(name).is_absolute() or not resolved.is_relative_to(base) or resolved == base:
            raise PoseAtlasError(f"{flag} {folder}: output {name!r} would be written outside it ({resolved})")
        problem = protected.problem(target)
        if problem:
            raise PoseAtlasError(f"{flag} {folder}: {target} {problem}; choose another folder")
        if target.is_dir():
            raise PoseAtlasError(f"{flag} {folder}: {target} is a folder where a file is to be written")
    _check_writable_folder(folder, flag, folder)
    return folder


def _check_writable_folder(folder: Path, flag: str, named: Path) -> None:
    """The nearest existing ancestor of ``folder`` is a folder this user can write to."""
    existing = Path(folder)
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if existing.exists() and not existing.is_dir():
        raise PoseAtlasError(f"{flag} {named}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise PoseAtlasError(f"{flag} {named}: folder {existing} is not writable")


def _resolved(path: Path) -> Path:
    return Path(os.path.abspath(Path(path).expanduser())).resolve()


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # either does not exist
        return False


def _registered(registry: Path | None) -> list[tuple[Path, str, str | None]]:
    if registry is None:
        return []
    from analysis.registry import load_registry

    try:
        specs = load_registry(registry)
    except PoseAtlasError:
        return []
    return [
        (_resolved(s.annotations), f"the annotation file registered for {s.name}/{s.split}", f"{s.name}/{s.split}")
        for s in specs
    ]


def _recorded(cache_root: Path) -> list[tuple[Path, str, str | None]]:
    from analysis.cache import contract as cache
    from analysis.cache.manifest import read_manifest

    found: list[tuple[Path, str, str | None]] = []
    for key in cache.list_caches(cache_root):
        try:
            manifest = read_manifest(cache_root, key)
        except PoseAtlasError:
            continue
        if manifest is not None and manifest.inputs.annotations.path:
            found.append(
                (
                    _resolved(Path(manifest.inputs.annotations.path)),
                    f"the annotation file {key} was built from",
                    str(key),
                )
            )
    return found
