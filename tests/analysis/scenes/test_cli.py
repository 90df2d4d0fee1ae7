"""CLI adapters: fetch places365 from a local server, scenes through argparse."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import orjson
import pandas as pd
import pytest

from analysis.errors import PoseAtlasError
from analysis.scenes.cli import (
    add_fetch_places365_arguments,
    add_scenes_parser,
    compute_scenes_for_cache,
    options_from_args,
    run_fetch_places365,
)
from analysis.scenes.runner import SceneOptions

from .conftest import ROOT, jpeg_bytes, make_cache
from .http_server import Behaviour, serve


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="analysis")
    sub = parser.add_subparsers(dest="command", required=True)
    add_scenes_parser(sub)
    fetch = sub.add_parser("fetch")
    fetch_sub = fetch.add_subparsers(dest="what", required=True)
    add_fetch_places365_arguments(fetch_sub.add_parser("places365"))
    return parser


def test_scenes_flags_parse() -> None:
    args = _parser().parse_args(
        [
            "scenes",
            "--name",
            "coco",
            "--split",
            "val",
            "--weights",
            "w.pth",
            "--arch",
            "resnet50",
            "--device",
            "cpu",
            "--batch-size",
            "8",
            "--workers",
            "0",
            "--cache-dir",
            "c",
            "--backend",
            "ray",
            "--address",
            "auto",
            "--entropy-base",
            "2",
            "--force",
        ]
    )
    opts = options_from_args(args)
    assert opts == SceneOptions(
        weights=Path("w.pth"),
        arch="resnet50",
        device="cpu",
        batch_size=8,
        workers=0,
        backend="ray",
        address="auto",
        entropy_base=2.0,
        force=True,
    )
    args = _parser().parse_args(["scenes", "--name", "a", "--split", "b", "--entropy-base", "e"])
    assert options_from_args(args).entropy_base is None
    with pytest.raises(SystemExit):
        _parser().parse_args(["scenes", "--name", "a", "--split", "b", "--entropy-base", "1"])
    with pytest.raises(SystemExit):
        _parser().parse_args(["scenes", "--name", "a", "--split", "b", "--batch-size", "0"])


@pytest.mark.slow
def test_fetch_places365_then_scenes(tmp_path: Path, models_dir: Path, capsys) -> None:
    files = {p.name: p.read_bytes() for p in models_dir.iterdir() if p.is_file()}
    b = Behaviour(files)
    target = tmp_path / "models"
    with serve(b) as url:
        args = _parser().parse_args(
            ["fetch", "places365", "--models-dir", str(target), "--base-url", url, "--no-progress"]
        )
        assert run_fetch_places365(args) == 0
        n_requests = len(b.requests)
        assert run_fetch_places365(args) == 0  # already there: nothing downloaded again
        assert len(b.requests) == n_requests
    out = capsys.readouterr().out
    assert "model id: resnet18@" in out
    assert sorted(p.name for p in target.iterdir()) == sorted(files)

    make_cache(tmp_path, {"a.jpg": jpeg_bytes(1), "b.jpg": jpeg_bytes(2)}, dataset="toy", split="val")
    args = _parser().parse_args(
        [
            "scenes",
            "--name",
            "toy",
            "--split",
            "val",
            "--cache-dir",
            str(tmp_path / "cache"),
            "--models-dir",
            str(target),
            "--workers",
            "0",
            "--no-progress",
        ]
    )
    assert args.func(args) == 0
    assert "scenes: " in capsys.readouterr().out
    assert len(pd.read_parquet(tmp_path / "cache" / "toy" / "val" / "scenes.parquet")) == 2


def test_fetch_unknown_file_is_a_clear_error(tmp_path: Path) -> None:
    with serve(Behaviour({})) as url:
        args = _parser().parse_args(
            ["fetch", "places365", "--models-dir", str(tmp_path), "--base-url", url, "--no-progress"]
        )
        with pytest.raises(PoseAtlasError, match="resnet18_places365.pth.tar failed: HTTP 404"):
            run_fetch_places365(args)


def test_compute_scenes_for_cache(tmp_path: Path, models_dir: Path) -> None:
    make_cache(tmp_path, {"a.jpg": jpeg_bytes(3)}, dataset="ds", split="train")
    path = compute_scenes_for_cache(
        tmp_path / "cache", "ds", "train", SceneOptions(models_dir=models_dir, workers=0, progress=False)
    )
    assert path == tmp_path / "cache" / "ds" / "train" / "scenes.parquet"
    manifest = orjson.loads((path.parent / "manifest.json").read_bytes())
    assert manifest["scenes"]["n_ok"] == 1


@pytest.mark.slow
def test_module_entry_reports_errors_in_one_line(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "analysis.scenes",
            "scenes",
            "--name",
            "nope",
            "--split",
            "val",
            "--cache-dir",
            str(tmp_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "no cache at" in proc.stderr


@pytest.mark.slow
def test_top_level_build_with_scenes(tmp_path: Path, checkpoint: Path, capsys) -> None:
    """`python -m analysis build --scenes` builds registered splits, then their scenes."""
    from analysis.cli import main

    assert main(["demo", "--data-dir", str(tmp_path / "demo"), "--cache-dir", str(tmp_path / "unused"), "--quiet"]) == 0
    registry = tmp_path / "datasets.toml"
    registry.write_text(
        '[[dataset]]\nname = "sparse"\nsplit = "val"\n'
        'annotations = "demo/demo-sparse/annotations.json"\nimages = "demo/demo-sparse/images"\n'
        '[[dataset]]\nname = "noimages"\nsplit = "val"\nannotations = "demo/demo-crowd/annotations.json"\n'
    )
    capsys.readouterr()
    code = main(
        [
            "build",
            "--registry",
            str(registry),
            "--cache-dir",
            str(tmp_path / "cache"),
            "--quiet",
            "--scenes",
            "--weights",
            str(checkpoint),
            "--workers",
            "0",
            "--no-progress",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "scenes: skipped for noimages/val (no image folder registered)" in out
    scenes = pd.read_parquet(tmp_path / "cache" / "sparse" / "val" / "scenes.parquet")
    images = pd.read_parquet(tmp_path / "cache" / "sparse" / "val" / "images.parquet")
    assert sorted(scenes["image_id"]) == sorted(images["image_id"])
    # A forced rebuild of the annotations keeps the scene results.
    assert (
        main(
            [
                "build",
                "--registry",
                str(registry),
                "--cache-dir",
                str(tmp_path / "cache"),
                "--quiet",
                "--only",
                "sparse",
                "--force",
            ]
        )
        == 0
    )
    assert (tmp_path / "cache" / "sparse" / "val" / "scenes.parquet").is_file()
