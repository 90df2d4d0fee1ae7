"""Errors the CLI reports as one clear line (no traceback) with a non-zero exit."""

from __future__ import annotations

from pathlib import Path


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
