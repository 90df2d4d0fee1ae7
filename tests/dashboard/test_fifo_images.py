"""Issue 19, item 4: a FIFO in an image folder hung Browse for good (one blocked thread per
visit).  Only regular files are opened: the FIFO is refused at once, every other image still draws."""

from __future__ import annotations

import os
import threading

import pytest
from PIL import Image

from analysis.build.image_paths import present_files, resolve_image_file
from dashboard.thumbnails import ThumbnailError, open_thumbnail


def test_a_fifo_is_never_opened(tmp_path):
    root = tmp_path / "images"
    root.mkdir()
    Image.new("RGB", (40, 30), "red").save(root / "ok.jpg")
    os.mkfifo(root / "pipe.jpg")
    (root / "link.jpg").symlink_to(root / "pipe.jpg")
    assert resolve_image_file(root, "ok.jpg") == (root / "ok.jpg").resolve()
    assert resolve_image_file(root, "pipe.jpg") is None
    assert resolve_image_file(root, "link.jpg") is None
    assert resolve_image_file(root, "missing.jpg") == (root / "missing.jpg").resolve()  # reported by the caller
    assert present_files(root) == {"ok.jpg"}
    result: list = []

    def draw() -> None:
        try:
            open_thumbnail(root / "pipe.jpg")
        except ThumbnailError as exc:
            result.append(str(exc))

    thread = threading.Thread(target=draw, daemon=True)
    thread.start()
    thread.join(30)
    if thread.is_alive():
        with open(root / "pipe.jpg", "wb"):  # let the blocked open return so the process can end
            pass
        pytest.fail("open_thumbnail blocked on a FIFO")
    assert result == ["not a regular file (a pipe, device or folder): not opened"]
    assert open_thumbnail(root / "ok.jpg").source_size == (40, 30)
