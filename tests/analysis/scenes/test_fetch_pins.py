"""fetch places365: the label files from the official origin must be the pinned ones."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from analysis.errors import PoseAtlasError
from analysis.scenes import fetch
from tests.analysis.scenes.http_server import Behaviour, serve


def _official_from(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    # The local server stands in for both official origins (no base_url: the pins apply).
    monkeypatch.setattr(fetch, "MODELS_URL", url)
    monkeypatch.setattr(fetch, "LABELS_URL", url)


def test_pins_match_the_official_label_files(fixtures_dir: Path):
    # The fixtures hold the files of CSAILVision/places365 at the pinned commit.
    for name, pin in fetch.PINS.items():
        data = (fixtures_dir / "places365" / name).read_bytes()
        assert (len(data), hashlib.sha256(data).hexdigest()) == (pin.size, pin.sha256)


def test_official_labels_are_accepted(tmp_path: Path, fixtures_dir: Path, monkeypatch):
    files = {name: (fixtures_dir / "places365" / name).read_bytes() for name in fetch.PINS}
    files[fetch.CHECKPOINTS["resnet18"]] = b"weights"
    with serve(Behaviour(files)) as url:
        _official_from(monkeypatch, url)
        paths = fetch.fetch_places365("resnet18", tmp_path, progress=False)
    assert {p.name: p.read_bytes() for p in paths.values()} == files


def test_tampered_label_file_is_refused(tmp_path: Path, fixtures_dir: Path, monkeypatch):
    files = {name: (fixtures_dir / "places365" / name).read_bytes() for name in fetch.PINS}
    original = files[fetch.IO_FILE]
    files[fetch.IO_FILE] = original.replace(b" 1\n", b" 2\n", 1)  # same size, one label flipped
    assert len(files[fetch.IO_FILE]) == len(original) and files[fetch.IO_FILE] != original
    files[fetch.CHECKPOINTS["resnet18"]] = b"weights"
    with serve(Behaviour(files)) as url:
        _official_from(monkeypatch, url)
        with pytest.raises(PoseAtlasError, match=f"{fetch.IO_FILE} has the wrong SHA-256"):
            fetch.fetch_places365("resnet18", tmp_path, progress=False)
    assert not (tmp_path / fetch.IO_FILE).exists()
