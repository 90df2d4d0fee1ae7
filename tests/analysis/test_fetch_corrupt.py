"""`fetch coco-2017` never reuses a damaged archive (issue 11, item 14), against a local server."""

from __future__ import annotations

import io
import json
import zipfile

from analysis.cli import main
from tests.analysis.helpers import coco_doc


def good_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for split in ("val2017", "train2017"):
            archive.writestr(f"annotations/person_keypoints_{split}.json", json.dumps(coco_doc()))
    return buffer.getvalue()


def test_damaged_archive_left_by_an_earlier_run_is_fetched_again(tmp_path, http_root, capsys):
    root, base = http_root
    (root / "ann.zip").write_bytes(good_zip())
    archive = tmp_path / "data" / "raw" / "coco" / "annotations_trainval2017.zip"
    archive.parent.mkdir(parents=True)
    archive.write_bytes(good_zip()[:200])  # truncated
    args = [
        "fetch",
        "coco-2017",
        "--data-dir",
        str(tmp_path / "data"),
        "--registry",
        str(tmp_path / "r.toml"),
        "--url",
        f"{base}/ann.zip",
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "archive present but damaged" in out and "registered coco/val2017" in out
    assert archive.read_bytes() == good_zip()
    assert json.loads((archive.parent / "annotations" / "person_keypoints_val2017.json").read_text()) == coco_doc()


def test_corrupt_download_is_removed_and_the_next_run_downloads_anew(tmp_path, http_root, capsys):
    root, base = http_root
    damaged = bytearray(good_zip())
    start = damaged.index(b"annotations/person_keypoints_val2017.json") + 60
    damaged[start : start + 40] = b"\xff" * 40  # corrupt the first member's compressed data
    (root / "ann.zip").write_bytes(bytes(damaged))
    archive = tmp_path / "data" / "raw" / "coco" / "annotations_trainval2017.zip"
    args = [
        "fetch",
        "coco-2017",
        "--data-dir",
        str(tmp_path / "data"),
        "--registry",
        str(tmp_path / "r.toml"),
        "--url",
        f"{base}/ann.zip",
    ]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "does not decompress" in err and "run the same command again" in err
    assert not archive.exists() and not (tmp_path / "r.toml").exists()
    (root / "ann.zip").write_bytes(good_zip())  # the server has a good copy now
    assert main(args) == 0
    assert "downloaded" in capsys.readouterr().out
