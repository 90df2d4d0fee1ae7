"""analysis.download against a local HTTP server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import os
import zipfile
from pathlib import Path

import pytest

from analysis.download import download, part_path, unpack_zip
from analysis.errors import PoseAtlasError

from .http_server import Behaviour, serve

DATA = os.urandom(300_000)


def test_plain_download(tmp_path: Path) -> None:
    b = Behaviour({"f.bin": DATA})
    with serve(b) as url:
        dest = download(f"{url}/f.bin", tmp_path / "sub" / "f.bin", progress=False, chunk_size=4096)
    assert dest.read_bytes() == DATA
    assert not part_path(dest).exists()


def test_interrupted_download_resumes_with_range(tmp_path: Path) -> None:
    b = Behaviour({"f.bin": DATA}, cut_after=100_000)
    dest = tmp_path / "f.bin"
    with serve(b) as url:
        with pytest.raises(PoseAtlasError, match="run the same command again to resume") as err:
            download(f"{url}/f.bin", dest, progress=False, chunk_size=4096)
        assert f"{url}/f.bin" in str(err.value)
        assert not dest.exists()
        kept = part_path(dest).stat().st_size
        assert 0 < kept <= 100_000  # what arrived before the cut (a last partial chunk may be lost)
        download(f"{url}/f.bin", dest, progress=False, sha256=hashlib.sha256(DATA).hexdigest())
    assert dest.read_bytes() == DATA
    assert b.requests[-1] == ("/f.bin", f"bytes={kept}-")


def test_server_ignoring_range_starts_over(tmp_path: Path) -> None:
    dest = tmp_path / "f.bin"
    part_path(dest).write_bytes(b"x" * 1000)
    with serve(Behaviour({"f.bin": DATA}, ignore_range=True)) as url:
        download(f"{url}/f.bin", dest, progress=False)
    assert dest.read_bytes() == DATA


def test_partial_answer_from_another_offset_restarts_cleanly(tmp_path: Path) -> None:
    # The .part holds the first 1,000 bytes; the server answers 206 from byte 0 again.
    # Appending would give 1,000 duplicated bytes: the download must start over instead.
    dest = tmp_path / "f.bin"
    part_path(dest).write_bytes(DATA[:1000])
    b = Behaviour({"f.bin": DATA}, range_start=0)
    with serve(b) as url:
        download(f"{url}/f.bin", dest, progress=False)
    assert dest.read_bytes() == DATA
    assert b.requests == [("/f.bin", "bytes=1000-"), ("/f.bin", None)]


def test_partial_answer_from_the_right_offset_is_appended(tmp_path: Path) -> None:
    dest = tmp_path / "f.bin"
    part_path(dest).write_bytes(DATA[:1000])
    b = Behaviour({"f.bin": DATA})
    with serve(b) as url:
        download(f"{url}/f.bin", dest, progress=False)
    assert dest.read_bytes() == DATA
    assert b.requests == [("/f.bin", "bytes=1000-")]


def test_complete_part_is_finished(tmp_path: Path) -> None:
    dest = tmp_path / "f.bin"
    part_path(dest).write_bytes(DATA)
    with serve(Behaviour({"f.bin": DATA})) as url:
        download(f"{url}/f.bin", dest, progress=False, expected_size=len(DATA))
    assert dest.read_bytes() == DATA


def test_size_mismatch_is_an_error(tmp_path: Path) -> None:
    dest = tmp_path / "f.bin"
    with serve(Behaviour({"f.bin": DATA})) as url:
        with pytest.raises(PoseAtlasError, match=r"wrong size: got 300000 bytes, expected 12345") as err:
            download(f"{url}/f.bin", dest, progress=False, expected_size=12345)
    assert url in str(err.value)
    assert not dest.exists() and not part_path(dest).exists()


def test_sha256_mismatch_is_an_error(tmp_path: Path) -> None:
    with serve(Behaviour({"f.bin": DATA})) as url:
        with pytest.raises(PoseAtlasError, match="wrong SHA-256"):
            download(f"{url}/f.bin", tmp_path / "f.bin", progress=False, sha256="0" * 64)
    assert not (tmp_path / "f.bin").exists()


def test_http_error_names_url_and_status(tmp_path: Path) -> None:
    with serve(Behaviour({})) as url:
        with pytest.raises(PoseAtlasError, match=r"download of .*/missing.bin failed: HTTP 404"):
            download(f"{url}/missing.bin", tmp_path / "m.bin", progress=False)
    assert not (tmp_path / "m.bin").exists()


def test_network_failure(tmp_path: Path) -> None:
    with serve(Behaviour({})) as url:
        pass  # server closed: nothing listens on that port any more
    with pytest.raises(PoseAtlasError, match="failed"):
        download(f"{url}/f.bin", tmp_path / "f.bin", progress=False)


def test_unpack_zip(tmp_path: Path) -> None:
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("annotations/a.json", "{}")
        zf.writestr("annotations/b.json", "[]")
    out = unpack_zip(archive, tmp_path / "out", ["annotations/b.json"])
    assert [p.read_text() for p in out] == ["[]"]
    assert not (tmp_path / "out" / "annotations" / "a.json").exists()
    with pytest.raises(PoseAtlasError, match="no member"):
        unpack_zip(archive, tmp_path / "out", ["nope"])
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("../escape.txt", "x")
    with pytest.raises(PoseAtlasError, match="escape"):
        unpack_zip(evil, tmp_path / "out")
    (tmp_path / "notzip.zip").write_bytes(b"nope")
    with pytest.raises(PoseAtlasError, match="not a readable zip"):
        unpack_zip(tmp_path / "notzip.zip", tmp_path / "out")
