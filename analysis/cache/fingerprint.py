"""Content fingerprints of files: what decides "unchanged" (the one rule, :meth:`FileFingerprint.matches`).

A fingerprint is recorded for the annotation file of a build (``manifest.json``,
``inputs.annotations``) and for the predictions file of an evaluation
(``evaluation.json``, ``predictions``); both files store it with these four keys.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import msgspec


def file_sha256(path: Path, chunk_size: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks (bounded memory for multi-GB files)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


class FileFingerprint(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """An input file as it was read.

    ``mtime_ns`` and ``sha256`` are optional because a synthetic input has no file
    (the demo) and a build records the hash only while it reads the bytes anyway.
    """

    path: str  #: absolute
    size: int  #: bytes
    mtime_ns: int | None = None
    sha256: str | None = None

    @classmethod
    def of(
        cls, path: Path, data: bytes | bytearray | None = None, stat: os.stat_result | None = None
    ) -> FileFingerprint:
        """The fingerprint of ``path``; with ``data`` (its bytes) the SHA-256 of those bytes too.

        ``stat`` is the file's stat taken while ``data`` was read (else it is taken now).
        """
        stat = stat or path.stat()
        return cls(
            path=str(path.resolve()),
            size=stat.st_size,
            mtime_ns=stat.st_mtime_ns,
            sha256=hashlib.sha256(data).hexdigest() if data is not None else None,
        )

    def matches(self, path: Path, *, read: bool = True) -> bool:
        """Whether ``path`` still holds the file this fingerprint describes.

        The rule: the same size, and then the same mtime, or (a touched file, when
        ``read``) the same SHA-256 of its content.  With ``read=False`` a touched
        file does not match (the caller reads and hashes it itself).

        Raises:
            OSError: ``path`` cannot be stat'ed (missing, unreadable folder).
        """
        stat = Path(path).stat()
        if stat.st_size != self.size:
            return False
        if stat.st_mtime_ns == self.mtime_ns:
            return True
        return read and self.sha256 is not None and file_sha256(Path(path)) == self.sha256
