"""Which image files may be opened: one rule for the build's image check, scenes and Browse.

An image is ``root / file_name`` where ``root`` is a split's image folder and
``file_name`` comes from the annotation file (untrusted).  It may be opened only
when the name is relative without ``..`` parts and the path, with every symlink
followed, stays inside the root.  Image roots themselves are never ``/`` or a
system folder (``/etc``, ``/proc``, ...), whoever names them.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path, PurePosixPath, PureWindowsPath

from analysis.errors import PoseAtlasError

#: Folders that hold no images: refused as roots, and so is anything inside them.
SYSTEM_TREES = tuple(
    Path(p)
    for p in (
        "/etc",
        "/proc",
        "/sys",
        "/dev",
        "/usr",
        "/bin",
        "/sbin",
        "/boot",
        "/root",
        "/lib",
        "/lib32",
        "/lib64",
        "/libx32",
        "/run",
        "/var/run",
        "/var/log",
        "/var/lib",
    )
)
#: Too wide to be an image folder themselves (their sub-folders are fine).
TOO_WIDE = tuple(Path(p) for p in ("/", "/home", "/var", "/tmp", "/opt", "/mnt", "/media", "/srv"))


def image_root_problem(root: Path | str) -> str | None:
    """Why ``root`` cannot be an image folder (None when it can).

    The folder is judged after symlinks are resolved: ``/`` and the wide top-level
    folders themselves, and system folders and anything inside them, are refused.
    """
    resolved = Path(root).expanduser().resolve()
    if resolved in TOO_WIDE or resolved == Path.home().resolve():
        return f"image folder {root} is {resolved}: far too wide; name the folder that holds the images"
    for tree in SYSTEM_TREES:
        if resolved == tree or resolved.is_relative_to(tree):
            return f"image folder {root} is inside the system folder {tree}: refused"
    return None


def check_image_root(root: Path | str, where: str = "") -> Path:
    """``root`` when it may be an image folder, else :class:`PoseAtlasError` (``where`` prefixes)."""
    problem = image_root_problem(root)
    if problem:
        raise PoseAtlasError(f"{where}: {problem}" if where else problem)
    return Path(root)


def file_name_problem(file_name: str) -> str | None:
    """Why an annotation's ``file_name`` can never be opened under an image root (None: it may)."""
    if not file_name or "\0" in file_name:
        return "empty file name" if not file_name else "NUL byte in file name"
    posix, windows = PurePosixPath(file_name), PureWindowsPath(file_name)
    if posix.is_absolute() or windows.is_absolute() or windows.drive:
        return "absolute file name"
    if ".." in posix.parts or ".." in windows.parts:
        return "'..' in file name"
    return None


def resolve_image_file(root: Path | str, file_name: str) -> Path | None:
    """``root / file_name`` with symlinks resolved, or None when it may not be opened.

    None for names with ``..`` or absolute names, for paths whose symlinks lead
    outside ``root`` (the root itself may be a symlink), and for anything that is
    not a regular file (a FIFO would block its reader for good; a device, a
    folder).  A missing file is returned (existence is for the caller to report).
    """
    if file_name_problem(file_name):
        return None
    base = Path(root).resolve()
    path = (base / file_name).resolve()
    if not path.is_relative_to(base):
        return None
    try:
        mode = path.stat().st_mode
    except OSError:
        return path  # missing (or unreadable): the caller says so
    return path if stat.S_ISREG(mode) else None


def present_files(root: Path) -> set[str]:
    """Relative names (``/``-separated) of the files under ``root`` that may be opened.

    Symlinks are followed only when they resolve inside ``root`` (the rule of
    :func:`resolve_image_file`); folders that are symlinks are not descended.
    """
    base = Path(root).resolve()
    present: set[str] = set()
    stack = [(base, "")]
    while stack:
        folder, prefix = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            name = prefix + entry.name
            if entry.is_symlink():
                if resolve_image_file(base, name) is not None and entry.is_file():
                    present.add(name)
            elif entry.is_dir():
                stack.append((Path(entry.path), name + "/"))
            elif entry.is_file():
                present.add(name)
    return present
