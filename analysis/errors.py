"""Errors the CLI reports as one clear line (no traceback) with a non-zero exit."""

from __future__ import annotations

import errno
import sys
from collections.abc import Callable
from pathlib import Path

#: Exit status of a command stopped by an error the user can fix.
EXIT_USER_ERROR = 2
#: A full disk, an exceeded quota, a read-only file system: one line, not a traceback.
_DISK_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS)
#: Exit status after Ctrl-C (128 + SIGINT), as shells report it.
EXIT_INTERRUPTED = 130


class PoseAtlasError(Exception):
    """A problem the user can fix; its message is printed as-is by the CLI."""


class AnnotationError(PoseAtlasError):
    """Bad annotation input: names the file, the record and the problem."""

    def __init__(self, path: Path | str, record: str | None, problem: str) -> None:
        self.path = str(path)
        self.record = record
        self.problem = problem
        where = f"{self.path}: {record}: " if record else f"{self.path}: "
        super().__init__(where + problem)


def run_reporting_errors(command: Callable[[], int | None]) -> int:
    """Run a CLI command; a :class:`PoseAtlasError` becomes one ``error: ...`` line.

    The one error path of both entry points (``python -m analysis`` and
    ``python -m analysis.scenes``): the message on stderr, no traceback, exit
    status :data:`EXIT_USER_ERROR` (so does running out of memory, which every
    writer survives: outputs are staged and swapped in); Ctrl-C exits :data:`EXIT_INTERRUPTED` (every
    long command keeps finished work, so running it again goes on).
    """
    try:
        return int(command() or 0)
    except PoseAtlasError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except OSError as exc:
        if exc.errno not in _DISK_ERRNOS:
            raise
        where = f"{exc.filename}: " if exc.filename else ""
        print(
            f"error: {where}{exc.strerror or exc} while writing; free space (or choose another folder) and run "
            "the same command again: finished work is kept, nothing partial was written",
            file=sys.stderr,
        )
        return EXIT_USER_ERROR
    except MemoryError:  # numpy's _ArrayMemoryError too: one line, not a traceback
        print(
            "error: out of memory: the input is too large for the memory this process may use "
            "(free memory, raise the limit, or process a smaller file); nothing was written",
            file=sys.stderr,
        )
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("interrupted; run the same command again to go on", file=sys.stderr)
        return EXIT_INTERRUPTED
