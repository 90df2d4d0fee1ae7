"""Issue 19, item 5: a damaged Places365 checkpoint is never reused silently nor loaded with
``weights_only=False`` advice; a truncated images.parquet is one line naming it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from analysis.errors import PoseAtlasError
from analysis.scenes.cli import compute_scenes_for_cache, run_fetch_places365
from analysis.scenes.runner import SceneOptions

from .conftest import jpeg_bytes, make_cache
from .http_server import Behaviour, serve
from .test_cli import _parser


def test_a_damaged_checkpoint_says_force_and_force_fetches_it_again(tmp_path: Path, models_dir: Path) -> None:
    files = {p.name: p.read_bytes() for p in models_dir.iterdir() if p.is_file()}
    target = tmp_path / "models"
    shutil.copytree(models_dir, target)
    checkpoint = target / "resnet18_places365.pth.tar"
    checkpoint.write_bytes(checkpoint.read_bytes()[:1000])  # an interrupted copy
    with serve(Behaviour(files)) as url:
        argv = ["fetch", "places365", "--models-dir", str(target), "--base-url", url, "--no-progress"]
        with pytest.raises(PoseAtlasError) as caught:
            run_fetch_places365(_parser().parse_args(argv))
        message = str(caught.value)
        assert "run again with --force to download it again" in message and str(checkpoint) in message
        assert "weights_only" not in message and "trust the source" not in message
        assert len(message.splitlines()) == 1
        assert run_fetch_places365(_parser().parse_args([*argv, "--force"])) == 0
    assert checkpoint.read_bytes() == files[checkpoint.name]


def test_scenes_on_a_truncated_images_table_is_one_line(tmp_path: Path, models_dir: Path) -> None:
    make_cache(tmp_path, {"a.jpg": jpeg_bytes(1)}, dataset="ds", split="val")
    images = tmp_path / "cache" / "ds" / "val" / "images.parquet"
    images.write_bytes(images.read_bytes()[:-200])
    with pytest.raises(PoseAtlasError, match=f"{images}: unreadable parquet file"):
        compute_scenes_for_cache(
            tmp_path / "cache", "ds", "val", SceneOptions(models_dir=models_dir, workers=0, progress=False)
        )
    assert not (tmp_path / "cache" / "ds" / "val" / "scenes.parquet").exists()
