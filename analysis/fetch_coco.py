"""``python -m analysis fetch coco-2017``: the official COCO 2017 keypoint annotations."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from analysis.cache.fingerprint import file_sha256
from analysis.download import CorruptArchiveError, download, unpack_zip
from analysis.registry import register

COCO_2017_URL = "http://images.cocodataset.org/annotations/annotations_trainval2017.zip"
COCO_2017_SIZE = 252_907_541
COCO_2017_SHA256 = "113a836d90195ee1f884e704da6304dfaaecff1f023f49b6ca93c4aaae470268"
KEYPOINT_MEMBERS = {
    "val2017": "annotations/person_keypoints_val2017.json",
    "train2017": "annotations/person_keypoints_train2017.json",
}


def fetch_coco_2017(data_dir: Path, registry: Path, *, url: str | None = None, progress: bool = True) -> Iterator[str]:
    """Download (resumably) and unpack the keypoint files, then register val and train.

    ``url`` replaces the official address (a mirror, or a local server in tests);
    the official size and digest are then checked only for the official URL.

    Yields:
        One human-readable line per step.
    """
    raw = Path(data_dir) / "raw" / "coco"
    archive = raw / "annotations_trainval2017.zip"
    official = url is None

    def fetch() -> None:
        download(
            url or COCO_2017_URL,
            archive,
            expected_size=COCO_2017_SIZE if official else None,
            sha256=COCO_2017_SHA256 if official else None,
            progress=progress,
        )

    # An archive already here is reused only when it checks out (the official one:
    # size and SHA-256; another URL's: it unpacks); a damaged one is fetched again.
    reused = archive.is_file() and (
        not official or (archive.stat().st_size == COCO_2017_SIZE and file_sha256(archive) == COCO_2017_SHA256)
    )
    if reused:
        yield f"archive present: {archive}"
    else:
        archive.unlink(missing_ok=True)
        fetch()
        yield f"downloaded {archive}"
    try:
        unpack_zip(archive, raw, list(KEYPOINT_MEMBERS.values()))
    except CorruptArchiveError as exc:
        archive.unlink(missing_ok=True)
        if not reused:
            raise CorruptArchiveError(f"{exc}; removed it: run the same command again to download it anew") from None
        yield f"archive present but damaged ({exc}): downloading it again"
        fetch()
        unpack_zip(archive, raw, list(KEYPOINT_MEMBERS.values()))
    yield f"unpacked {', '.join(KEYPOINT_MEMBERS.values())} into {raw}"
    for split, member in KEYPOINT_MEMBERS.items():
        entry = {
            "name": "coco",
            "split": split,
            "annotations": os.path.relpath(raw / member, Path(registry).parent).replace(os.sep, "/"),
        }
        images = raw / split
        entry["images"] = os.path.relpath(images, Path(registry).parent).replace(os.sep, "/")
        added = register(registry, entry)
        yield f"{'registered' if added else 'already registered'} coco/{split} in {registry}"
    yield (
        "images are not downloaded (19 GB for train): get them from https://cocodataset.org/#download "
        f"and unpack into {raw}/val2017 and {raw}/train2017; then run: python -m analysis build"
    )
