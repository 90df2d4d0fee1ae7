"""Every bad-image case: convertible ones convert, others are skipped and listed."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
import pytest
from PIL import Image

from analysis.errors import PoseAtlasError
from analysis.scenes.pipeline import ImageSkipped, open_rgb, to_rgb
from analysis.scenes.runner import SceneOptions, compute_scenes

from .conftest import jpeg_bytes


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def _jpeg(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def bad_image_set() -> dict[str, bytes | None]:
    rgb = Image.open(io.BytesIO(jpeg_bytes(1))).convert("RGB")
    gray16 = Image.fromarray((np.linspace(0, 65535, 320 * 240).reshape(240, 320)).astype(np.uint16))
    good = jpeg_bytes(2)
    return {
        "good.jpg": good,
        "gray.jpg": _jpeg(rgb.convert("L")),
        "cmyk.jpg": _jpeg(rgb.convert("CMYK")),
        "gray16.png": _png(gray16),
        "rgba.png": _png(rgb.convert("RGBA")),
        "palette.png": _png(rgb.convert("P")),
        "truncated.jpg": good[: len(good) // 2],
        "garbage.jpg": b"this is not an image at all" * 20,
        "empty.jpg": b"",
        "missing.jpg": None,
    }


CONVERTIBLE = {"good.jpg", "gray.jpg", "cmyk.jpg", "gray16.png", "rgba.png", "palette.png"}
SKIPPED = {
    "truncated.jpg": "truncated",
    "garbage.jpg": "not a readable image",
    "empty.jpg": "not a readable image",
    "missing.jpg": "missing file",
}


def test_modes_convert() -> None:
    gray16 = Image.fromarray(np.array([[0, 257 * 100, 65535]], dtype=np.uint16))
    assert gray16.mode in ("I;16", "I")
    out = np.asarray(to_rgb(gray16))
    assert out.shape == (1, 3, 3) and out[0, :, 0].tolist() == [0, 100, 255]
    rgba = Image.new("RGBA", (2, 1), (10, 20, 30, 0))
    assert np.asarray(to_rgb(rgba))[0, 0].tolist() == [255, 255, 255]  # transparent -> white
    cmyk = Image.new("CMYK", (1, 1), (0, 0, 0, 0))
    assert to_rgb(cmyk).mode == "RGB"


def test_open_rgb_reasons(tmp_path: Path) -> None:
    for name, content in bad_image_set().items():
        path = tmp_path / name
        if content is not None:
            path.write_bytes(content)
        if name in CONVERTIBLE:
            img = open_rgb(path)
            assert img.mode == "RGB", name
        else:
            with pytest.raises(ImageSkipped, match=SKIPPED[name]):
                open_rgb(path)


@pytest.mark.slow
def test_run_goes_on_and_lists_failures(cache_factory, models_dir: Path) -> None:
    cache_dir = cache_factory(bad_image_set())
    out = compute_scenes(cache_dir, SceneOptions(models_dir=models_dir, workers=2, batch_size=4, progress=False))
    images = pd.read_parquet(cache_dir / "images.parquet")
    by_name = dict(zip(images["file_name"], images["image_id"], strict=True))
    df = pd.read_parquet(out)
    assert sorted(df["image_id"]) == sorted(by_name[n] for n in CONVERTIBLE)
    assert df["entropy"].notna().all()
    scenes = orjson.loads((cache_dir / "manifest.json").read_bytes())["scenes"]
    assert scenes["n_ok"] == len(CONVERTIBLE) and scenes["n_failed"] == len(SKIPPED)
    failures = {f["file_name"]: f for f in scenes["failures"]}
    assert set(failures) == set(SKIPPED)
    for name, reason in SKIPPED.items():
        assert reason in failures[name]["reason"]
        assert failures[name]["image_id"] == by_name[name]


def test_names_leaving_the_image_folder_are_refused_not_opened(cache_factory, models_dir: Path, tmp_path: Path) -> None:
    """`..` names, absolute names and symlinks out of the folder: listed as refused failures
    (the build's image check and Browse apply the same rule), the good images still classified."""
    outside = tmp_path / "outside.jpg"
    outside.write_bytes(jpeg_bytes(7))
    images = {
        "good.jpg": jpeg_bytes(1),
        "../outside.jpg": None,
        str(outside): None,
        "link.jpg": None,
        "sub/inner-link.jpg": None,
        "sub/real.jpg": None,
    }
    cache_dir = cache_factory(images)
    img_dir = tmp_path / "images"
    (img_dir / "link.jpg").symlink_to(outside)  # leads out: refused
    (img_dir / "sub").mkdir()
    (img_dir / "sub" / "real.jpg").write_bytes(jpeg_bytes(2))
    (img_dir / "sub" / "inner-link.jpg").symlink_to(img_dir / "good.jpg")  # stays inside: fine
    compute_scenes(cache_dir, SceneOptions(models_dir=models_dir, workers=0, batch_size=4, progress=False))
    scenes = orjson.loads((cache_dir / "manifest.json").read_bytes())["scenes"]
    failures = {f["file_name"]: f["reason"] for f in scenes["failures"]}
    assert set(failures) == {"../outside.jpg", str(outside), "link.jpg"}
    assert "'..' in file name" in failures["../outside.jpg"]
    assert "absolute file name" in failures[str(outside)]
    assert "symlink leading outside" in failures["link.jpg"]
    assert scenes["n_ok"] == 3  # good.jpg, sub/real.jpg, sub/inner-link.jpg


def test_system_folder_as_recorded_image_root_is_refused(cache_factory, models_dir: Path) -> None:
    cache_dir = cache_factory({"a.jpg": jpeg_bytes(1)})
    manifest = orjson.loads((cache_dir / "manifest.json").read_bytes())
    for root in ("/", "/etc"):
        manifest["inputs"]["images"]["path"] = root
        (cache_dir / "manifest.json").write_bytes(orjson.dumps(manifest))
        with pytest.raises(PoseAtlasError, match="image folder"):
            compute_scenes(cache_dir, SceneOptions(models_dir=models_dir, workers=0, progress=False))
