"""Shared fixtures for the scenes tests: a random CSAIL-format checkpoint, label files, caches."""

from __future__ import annotations

import io
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from analysis.cache.contract import SCHEMA_VERSION
from analysis.cache.manifest import (
    BuildOptions,
    Counts,
    Definitions,
    FileFingerprint,
    ImageCheck,
    Inputs,
    KeypointSchemaRecord,
    Manifest,
    TableFile,
    VisibilityConvention,
    table_file,
    write_manifest,
)
from analysis.definitions import AreaSource
from analysis.schema import COCO17

ROOT = Path(__file__).resolve().parents[3]
SHARED = ROOT.parent / "shared" / "fixtures"
COCO_VAL = SHARED / "coco-mini" / "val2017"
PLACES = SHARED / "places365"


def write_labels(folder: Path) -> Path:
    """Synthetic Places365-shaped label files (365 classes; every third one indoor)."""
    folder.mkdir(parents=True, exist_ok=True)
    cats = [f"/{chr(97 + i % 26)}/scene_{i:03d} {i}" for i in range(365)]
    io_lines = [f"/{chr(97 + i % 26)}/scene_{i:03d} {1 if i % 3 == 0 else 2}" for i in range(365)]
    (folder / "categories_places365.txt").write_text("\n".join(cats) + "\n")
    (folder / "IO_places365.txt").write_text("\n".join(io_lines) + "\n")
    return folder


def make_checkpoint(path: Path, arch: str = "resnet18", *, seed: int = 0, with_arch: bool = True) -> Path:
    """A randomly initialised ResNet saved the CSAIL way, with a peaked-enough classifier."""
    import torch
    import torchvision

    from analysis.scenes.checkpoint import save_csail_checkpoint

    torch.manual_seed(seed)
    model = getattr(torchvision.models, arch)(weights=None, num_classes=365)
    with torch.no_grad():
        model.fc.weight.mul_(6.0)  # random init is nearly uniform; make top-5 meaningful
    return save_csail_checkpoint(model, path, arch, with_arch=with_arch)


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """data/models stand-in: resnet18 checkpoint + synthetic label files."""
    folder = tmp_path_factory.mktemp("models")
    make_checkpoint(folder / "resnet18_places365.pth.tar")
    write_labels(folder)
    return folder


@pytest.fixture(scope="session")
def checkpoint(models_dir: Path) -> Path:
    return models_dir / "resnet18_places365.pth.tar"


def jpeg_bytes(seed: int, size: tuple[int, int] = (320, 240)) -> bytes:
    from PIL import Image

    rng = np.random.default_rng(seed)
    # smooth random image (JPEG-friendly), different per seed
    small = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
    img = Image.fromarray(small).resize(size, Image.Resampling.BICUBIC)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def make_cache(
    root: Path,
    images: dict[str, bytes | Path | None],
    *,
    dataset: str = "toy",
    split: str = "val",
    with_images: bool = True,
) -> Path:
    """A minimal cache (images.parquet + manifest.json) over files in ``root/images``.

    ``images`` maps file name -> bytes to write, an existing file to copy in, or None
    (listed but not written: a missing file).
    """
    img_dir = root / "images"
    img_dir.mkdir(parents=True, exist_ok=True)
    names = []
    for name, content in images.items():
        if isinstance(content, bytes):
            (img_dir / name).write_bytes(content)
            names.append(name)
        elif isinstance(content, Path):
            # copied in: absolute names and symlinks out of the image folder are refused
            shutil.copyfile(content, img_dir / name)
            names.append(name)
        else:
            names.append(name)
    cache_dir = root / "cache" / dataset / split
    cache_dir.mkdir(parents=True, exist_ok=True)
    df = pd.DataFrame(
        {
            "dataset": dataset,
            "split": split,
            "image_id": np.arange(1, len(names) + 1, dtype=np.int64) * 10,
            "file_name": names,
            "width": 0,
            "height": 0,
        }
    )
    # The contract's types for the columns the scene run reads (its reader checks them).
    table = pa.Table.from_pandas(df, preserve_index=False)
    table = table.set_column(table.schema.get_field_index("file_name"), "file_name", pa.array(names, pa.string()))
    pq.write_table(table, cache_dir / "images.parquet")
    write_manifest(
        minimal_manifest(
            dataset, split, img_dir if with_images else None, len(names), table_file(cache_dir / "images.parquet")
        ),
        cache_dir,
    )
    return cache_dir


def minimal_manifest(dataset: str, split: str, images: Path | None, n_images: int, table: TableFile) -> Manifest:
    """A valid manifest for a hand-made cache that has only images.parquet (no persons)."""
    return Manifest(
        dataset=dataset,
        split=split,
        schema_version=SCHEMA_VERSION,
        code_version="test",
        built_at="",
        options=BuildOptions(images=str(images) if images else None),
        inputs=Inputs(
            annotations=FileFingerprint(path="/none", size=0, mtime_ns=0),
            images=ImageCheck(path=str(images) if images else None, exists=images is not None),
        ),
        keypoint_schema=KeypointSchemaRecord(
            name="coco17", joint_names=list(COCO17.joint_names), skeleton=[tuple(p) for p in COCO17.skeleton]
        ),
        definitions=Definitions(
            crowd_index="",
            crowding="",
            visibility=VisibilityConvention.COCO,
            visibility_rule=VisibilityConvention.COCO.rule,
            area_sources=[AreaSource.BBOX],
            default_size="",
            crowd_levels=[],
            density_levels="",
        ),
        counts=Counts(
            images=n_images,
            annotations=0,
            persons=0,
            crowd_regions=0,
            images_without_persons=n_images,
            reference_persons=0,
            images_with_stored_crowd_index=0,
            joints=17,
            skipped=0,
        ),
        tables={"images.parquet": table},
    )


@pytest.fixture
def cache_factory(tmp_path: Path) -> Callable[..., Path]:
    def factory(images: dict[str, bytes | Path | None], **kw) -> Path:
        return make_cache(tmp_path, images, **kw)

    return factory


def fixture_photos(n_coco: int = 4) -> list[Path]:
    """A handful of real photos from ../shared/fixtures (skips the test when absent)."""
    if not COCO_VAL.is_dir() or not PLACES.is_dir():
        message = f"real fixtures not found at {SHARED} (../shared beside the checkout)"
        if os.environ.get("CI"):
            pytest.fail(message + "; CI must have them")
        pytest.skip(message)
    return sorted(COCO_VAL.glob("*.jpg"))[:n_coco] + sorted(PLACES.glob("*.jpg"))
