"""FileFingerprint: the one "unchanged" rule (size, then mtime, then SHA-256), and the stored forms it reads."""

from __future__ import annotations

import hashlib
import os

import msgspec
import pytest

from analysis.cache.fingerprint import FileFingerprint
from analysis.cache.manifest import Inputs


def _touch_later(path, seconds=10):
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + seconds * 10**9))


def test_matches_follows_size_then_mtime_then_content(tmp_path):
    path = tmp_path / "a.json"
    path.write_bytes(b"[1, 2, 3]")
    recorded = FileFingerprint.of(path, path.read_bytes())
    assert recorded.sha256 == hashlib.sha256(b"[1, 2, 3]").hexdigest()
    assert recorded.size == 9 and recorded.path == str(path.resolve())
    assert recorded.matches(path)
    _touch_later(path)  # touched, same bytes: only the hash can tell, and it says unchanged
    assert recorded.matches(path)
    assert not recorded.matches(path, read=False)  # without reading, a touched file is not trusted
    path.write_bytes(b"[1, 2, 4]")  # same size, other bytes
    _touch_later(path, 20)
    assert not recorded.matches(path)
    path.write_bytes(b"[1, 2]")
    assert not recorded.matches(path)
    path.unlink()
    with pytest.raises(OSError):
        recorded.matches(path)


def test_without_a_hash_a_touched_file_does_not_match(tmp_path):
    path = tmp_path / "a.json"
    path.write_bytes(b"{}")
    recorded = FileFingerprint.of(path)
    assert recorded.sha256 is None and recorded.matches(path)
    _touch_later(path)
    assert not recorded.matches(path)


def test_reads_the_stored_forms_written_before_the_merge():
    # manifest.json: mtime_ns required, sha256 possibly null; evaluation.json: sha256 before mtime_ns.
    manifest_inputs = b'{"annotations": {"mtime_ns": 5, "path": "/a.json", "sha256": null, "size": 3}}'
    assert msgspec.json.decode(manifest_inputs, type=Inputs).annotations == FileFingerprint("/a.json", 3, 5, None)
    predictions = {"path": "/p.json", "size": 7, "sha256": "ab", "mtime_ns": 9}
    assert msgspec.convert(predictions, type=FileFingerprint) == FileFingerprint("/p.json", 7, 9, "ab")
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({**predictions, "other": 1}, type=FileFingerprint)
