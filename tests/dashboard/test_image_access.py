"""Browse opens only allowed image files, and one bad image never stops the page
(issue 11, items 2 and 4)."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import orjson
import pandas as pd
import pytest
from PIL import Image

from analysis.cache import contract as cache
from dashboard.paths import IMAGE_ROOTS_ENV, image_roots
from dashboard.thumbnails import MAX_DECODE_PIXELS, ThumbnailError, open_thumbnail
from tests.dashboard.dashboard_helpers import app, open_view


def private_split(demo_cache: Path, tmp_path: Path, dataset: str = "demo-sparse") -> tuple[Path, Path]:
    """A copy of one demo split (cache + image folder) that a test may change: (cache root, images)."""
    root = tmp_path / "cache"
    src = cache.CacheKey(dataset, "val").directory(demo_cache)
    dst = cache.CacheKey(dataset, "val").directory(root)
    shutil.copytree(src, dst)
    images = tmp_path / "images"
    shutil.copytree(demo_cache.parent / "data" / dataset / "images", images)
    set_image_root(dst, str(images))
    return root, images


def set_image_root(split_dir: Path, value: str) -> None:
    manifest = orjson.loads((split_dir / cache.MANIFEST_FILE).read_bytes())
    manifest["inputs"]["images"]["path"] = value
    (split_dir / cache.MANIFEST_FILE).write_bytes(orjson.dumps(manifest))


def captions(at) -> list[str]:
    return [c.value for c in at.caption]


def browse(root: Path, monkeypatch: pytest.MonkeyPatch, image_root_env: str | None):
    monkeypatch.setenv("POSEATLAS_CACHE_DIR", str(root))
    if image_root_env is None:
        monkeypatch.delenv(IMAGE_ROOTS_ENV, raising=False)
    else:
        monkeypatch.setenv(IMAGE_ROOTS_ENV, image_root_env)
    at = open_view(app({"ds": "demo-sparse"}), "browse")
    assert not at.exception
    return at


def test_manifest_alone_does_not_allow_its_image_folder(demo_cache, tmp_path, monkeypatch):
    root, images = private_split(demo_cache, tmp_path)
    at = browse(root, monkeypatch, None)
    assert len(at.get("image")) == 0
    assert any("not an allowed image root" in w.value for w in at.warning)
    # the user's explicit configuration allows it
    at = browse(root, monkeypatch, str(images))
    assert len(at.get("image")) == 12


def test_manifest_naming_the_file_system_root_serves_nothing(demo_cache, tmp_path, monkeypatch):
    root, _ = private_split(demo_cache, tmp_path)
    split_dir = cache.CacheKey("demo-sparse", "val").directory(root)
    set_image_root(split_dir, "/")  # (the tables stay as built: the manifest vouches for them)
    # even when the user configures "/" as an image root, it is refused, and says so
    at = browse(root, monkeypatch, "/")
    assert len(at.get("image")) == 0
    warnings = " ".join(w.value for w in at.warning)
    assert "not an allowed image root" in warnings and "Image root refused" in warnings
    assert "far too wide" in warnings


def test_image_roots_from_registry_and_environment(tmp_path):
    allowed_dir = tmp_path / "imgs"
    allowed_dir.mkdir()
    registry = tmp_path / "datasets.toml"
    registry.write_text(
        '[[dataset]]\nname = "a"\nsplit = "val"\nannotations = "a.json"\nimages = "imgs"\n', encoding="utf-8"
    )
    roots = image_roots({IMAGE_ROOTS_ENV: f"/proc:{tmp_path / 'env'}"}, registry)
    assert allowed_dir.resolve() in roots.allowed and (tmp_path / "env").resolve() in roots.allowed
    assert any("/proc" in line for line in roots.refused)
    assert roots.admits(allowed_dir / "sub") and not roots.admits(tmp_path / "other")
    assert not roots.admits(Path("/etc")) and not roots.admits(None)


# ------------------------------------------------------------------ item 4: big and broken images


def png_bytes(size: tuple[int, int]) -> bytes:
    """A bilevel PNG: tiny in memory (1 bit per pixel) and on disk, whatever its pixel count."""
    out = io.BytesIO()
    Image.new("1", size).save(out, "PNG")
    return out.getvalue()


def test_thumbnail_of_a_big_jpeg_decodes_reduced(tmp_path):
    path = tmp_path / "big.jpg"
    Image.new("L", (11000, 11000), 128).save(path, "JPEG")  # 121 megapixels
    thumb = open_thumbnail(path, max_side=640)
    assert thumb.source_size == (11000, 11000)
    assert thumb.image.size == (640, 640) and thumb.image.mode == "RGB"
    # decoded at 1/8 scale (1375 px), the smallest JPEG scale still >= 640: 1.9 instead of 121 megapixels
    assert thumb.decoded_size == (1375, 1375)


def test_thumbnail_refuses_too_many_pixels_with_a_reason(tmp_path):
    over = tmp_path / "over.png"  # PNG cannot decode reduced: 60 megapixels > the 50 limit
    over.write_bytes(png_bytes((10000, 6000)))
    with pytest.raises(ThumbnailError, match=r"10000x6000 image \(60 megapixels\) is above the 50-megapixel"):
        open_thumbnail(over)
    assert MAX_DECODE_PIXELS == 50_000_000
    bomb = tmp_path / "bomb.png"  # 225 megapixels: Pillow's own decompression-bomb limit
    bomb.write_bytes(png_bytes((15000, 15000)))
    with pytest.raises(ThumbnailError, match="225000000 pixels"):
        open_thumbnail(bomb)
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(b"\xff\xd8\xff\xe0 not really")
    with pytest.raises(ThumbnailError, match=r"cannot decode image \(Truncated"):
        open_thumbnail(truncated)
    garbage = tmp_path / "garbage.jpg"
    garbage.write_bytes(b"garbage")
    with pytest.raises(ThumbnailError, match="not a readable image"):
        open_thumbnail(garbage)
    with pytest.raises(ThumbnailError, match="not found"):
        open_thumbnail(tmp_path / "absent.jpg")


def test_browse_draws_the_rest_of_the_page_around_a_decompression_bomb(demo_cache, tmp_path, monkeypatch):
    root, images = private_split(demo_cache, tmp_path)
    table = pd.read_parquet(cache.CacheKey("demo-sparse", "val").directory(root) / cache.IMAGES_FILE)
    first, second = table["file_name"].iloc[0], table["file_name"].iloc[1]
    (images / first).write_bytes(png_bytes((15000, 15000)))  # keeps its .jpg name: content decides
    (images / second).write_bytes(b"garbage")
    at = browse(root, monkeypatch, str(images))
    assert len(at.get("image")) == 10
    notes = captions(at)
    assert any(first in c and "225000000 pixels" in c for c in notes)
    assert any(second in c and "not a readable image" in c for c in notes)
