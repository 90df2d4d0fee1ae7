"""Resumable HTTP downloads with a progress bar, a size check and an atomic finish.

``download(url, dest)`` streams ``url`` into ``dest.part`` (``dest`` with ``.part``
appended to its suffix).  When a ``.part`` file is already there (an earlier
download was interrupted) it asks the server for the rest with an HTTP ``Range``
request; a server that ignores ``Range`` (answers 200), or answers 206 with a
``Content-Range`` that does not start where the ``.part`` file ends, makes it
start over.  The
finished file is checked against ``expected_size`` (else the server's
``Content-Length``) and, when given, a SHA-256 digest, and only then renamed onto
``dest``: ``dest`` either does not exist or is complete.

Every failure (HTTP error, network failure, size or digest mismatch) is raised as
a :class:`~analysis.errors.PoseAtlasError` naming the URL and the problem; the
``.part`` file is kept so that the next call resumes (except after a size or
digest mismatch, which removes it since its content cannot be trusted).
"""

from __future__ import annotations

import os
import zipfile
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

from tqdm import tqdm

from analysis.cache.fingerprint import file_sha256
from analysis.errors import PoseAtlasError

if TYPE_CHECKING:  # requests costs 0.1 s to import: only a download loads it
    import requests

#: Seconds to wait for a connection / between two received chunks.
TIMEOUT = (30, 120)


def part_path(dest: Path) -> Path:
    """Where an unfinished download of ``dest`` is kept."""
    dest = Path(dest)
    return dest.with_suffix(dest.suffix + ".part")


def _total_from_headers(resp: requests.Response, offset: int) -> int | None:
    """Full size of the resource from a 200 or 206 answer, when the server says."""
    if resp.status_code == 206:
        content_range = resp.headers.get("Content-Range", "")
        # "bytes START-END/TOTAL"
        total = content_range.rpartition("/")[2]
        if total.isdigit():
            return int(total)
        length = resp.headers.get("Content-Length")
        return offset + int(length) if length and length.isdigit() else None
    length = resp.headers.get("Content-Length")
    return int(length) if length and length.isdigit() else None


def _get(url: str, offset: int) -> requests.Response:
    import requests

    headers = {"Range": f"bytes={offset}-"} if offset else {}
    try:
        return requests.get(url, headers=headers, stream=True, timeout=TIMEOUT)
    except requests.RequestException as exc:
        raise PoseAtlasError(f"download of {url} failed: {exc}") from exc


def _range_start(resp: requests.Response) -> int | None:
    """First byte of a 206 answer (``Content-Range: bytes START-END/TOTAL``), None if unparsable."""
    unit, _, rest = resp.headers.get("Content-Range", "").partition(" ")
    start = rest.partition("-")[0]
    return int(start) if unit == "bytes" and start.isdigit() else None


def download(
    url: str,
    dest: Path,
    *,
    expected_size: int | None = None,
    sha256: str | None = None,
    progress: bool = True,
    chunk_size: int = 1 << 20,
) -> Path:
    """Download ``url`` to ``dest``, resuming an earlier partial download.

    Args:
        url: http(s) URL.
        dest: final path; its parent is created.
        expected_size: bytes the finished file must have; when None the server's
            Content-Length (if any) is checked instead.
        sha256: hex digest the finished file must have (optional).
        progress: show a tqdm progress bar (bytes, rate, ETA) on stderr.
        chunk_size: bytes per read.

    Returns:
        ``dest``.

    Raises:
        PoseAtlasError: HTTP error status, network failure, size or digest mismatch.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = part_path(dest)
    resp, offset = _resumed_response(url, part, expected_size)
    with resp:
        if resp.status_code == 416 and offset:
            # Range not satisfiable: the .part is already complete (or bigger than
            # the file); check it below as a finished download.
            total: int | None = expected_size if expected_size is not None else offset
            _finish(url, part, dest, total, expected_size, sha256)
            return dest
        if resp.status_code not in (200, 206):
            raise PoseAtlasError(f"download of {url} failed: HTTP {resp.status_code} {resp.reason or ''}".rstrip())
        if resp.status_code == 200 and offset:
            offset = 0  # the server ignored Range: start over
        total = _total_from_headers(resp, offset)
        bar = tqdm(
            total=total,
            initial=offset,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            desc=dest.name,
            disable=not progress,
            leave=False,
        )
        _write_body(url, resp, part, "ab" if offset else "wb", bar, chunk_size)

    _finish(url, part, dest, total, expected_size, sha256)
    return dest


def _resumed_response(url: str, part: Path, expected_size: int | None) -> tuple[requests.Response, int]:
    """The server's answer for the bytes after the ``.part`` file (all of them when there is
    none, it is too big, or the server sends another range than the one asked for), and the
    offset asked for."""
    offset = part.stat().st_size if part.is_file() else 0
    if expected_size is not None and offset > expected_size:
        part.unlink()
        offset = 0

    resp = _get(url, offset)
    if resp.status_code == 206 and _range_start(resp) != offset:
        # The server sent another part than the one asked for: appending it would
        # corrupt the file.  Start over from byte 0.
        resp.close()
        part.unlink(missing_ok=True)
        offset = 0
        resp = _get(url, offset)
    return resp, offset


def _write_body(url: str, resp: requests.Response, part: Path, mode: str, bar: tqdm, chunk_size: int) -> None:
    """Append (``ab``) or write (``wb``) the response body to ``part``, synced to disk; a network
    failure says how far it got and that rerunning resumes."""
    import requests

    try:
        with open(part, mode) as f, bar:
            for chunk in resp.iter_content(chunk_size=chunk_size):
                if chunk:
                    f.write(chunk)
                    bar.update(len(chunk))
            f.flush()
            os.fsync(f.fileno())
    except requests.RequestException as exc:
        raise PoseAtlasError(
            f"download of {url} interrupted after {part.stat().st_size} bytes: {exc}; "
            f"run the same command again to resume"
        ) from exc


def _finish(
    url: str,
    part: Path,
    dest: Path,
    total: int | None,
    expected_size: int | None,
    sha256: str | None,
) -> None:
    size = part.stat().st_size if part.is_file() else 0
    want = expected_size if expected_size is not None else total
    if want is not None and size != want:
        if size < want and expected_size is None:
            # The connection ended early: keep the .part so the next call resumes.
            raise PoseAtlasError(
                f"download of {url} incomplete: got {size} of {want} bytes; run the same command again to resume"
            )
        part.unlink(missing_ok=True)
        raise PoseAtlasError(f"download of {url} has the wrong size: got {size} bytes, expected {want}")
    if sha256 is not None:
        digest = file_sha256(part)
        if digest.lower() != sha256.lower():
            part.unlink(missing_ok=True)
            raise PoseAtlasError(f"download of {url} has the wrong SHA-256: got {digest}, expected {sha256}")
    os.replace(part, dest)


class CorruptArchiveError(PoseAtlasError):
    """A zip archive that cannot be read (truncated, damaged, not a zip)."""


def unpack_zip(archive: Path, dest_dir: Path, members: list[str] | None = None) -> list[Path]:
    """Extract ``members`` (default: all) of a zip archive into ``dest_dir``.

    Each member is written to a temporary sibling and renamed into place, so an
    interrupted extraction never leaves a partial file.  Member names that would
    escape ``dest_dir`` (absolute paths, ``..``) are refused.

    Returns:
        The extracted file paths.

    Raises:
        CorruptArchiveError: not a zip file, or a member that does not decompress.
        PoseAtlasError: a missing member or an unsafe name.
    """
    archive, dest_dir = Path(archive), Path(dest_dir)
    try:
        zf = zipfile.ZipFile(archive)
    except (OSError, zipfile.BadZipFile) as exc:
        raise CorruptArchiveError(f"{archive}: not a readable zip archive: {exc}") from None
    out: list[Path] = []
    with zf:
        names = zf.namelist()
        wanted = names if members is None else members
        missing = [m for m in wanted if m not in names]
        if missing:
            raise PoseAtlasError(f"{archive}: no member(s) {', '.join(missing)}")
        root = dest_dir.resolve()
        for name in wanted:
            if name.endswith("/"):
                continue
            target = (dest_dir / name).resolve()
            if root not in target.parents:
                raise PoseAtlasError(f"{archive}: member {name!r} would escape {dest_dir}")
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.tmp")
            try:
                with zf.open(name) as src, open(tmp, "wb") as dst:
                    while chunk := src.read(1 << 20):
                        dst.write(chunk)
                os.replace(tmp, target)
            except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
                tmp.unlink(missing_ok=True)
                raise CorruptArchiveError(f"{archive}: member {name} does not decompress: {exc}") from None
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
            out.append(target)
    return out
