"""Reports meant for a supplementary hold no absolute path of the author's machine: the
compose report's config and image folders and the subset report's annotation file are
relative to the registry (with SHA-256 where a reader checks the file); composed files
drop the sources' stored crowdIndex (computed on other joints) and the report counts it."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import orjson

from tests.analysis.dataset_helpers import build, run_cli
from tests.analysis.test_compose import _compose, _load
from tests.conftest import require_fixtures

CONFIG = """
name = "crowd"
keep_without_small = 1.0
[[source]]
dataset = "crowdpose"
train = ["val"]
split_ratio = [0.5, 0.5]
"""


def _strings(value: object):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _no_absolute_path(report: dict, folder: Path) -> None:
    """No value is an absolute path, nor names this run's folder."""
    for text in _strings(report):
        assert not os.path.isabs(text) and str(folder.resolve()) not in text and str(folder) not in text, text


def test_compose_report_paths_and_the_dropped_crowd_index(tmp_path: Path, capsys) -> None:
    fixtures = require_fixtures()
    source = fixtures / "xtcocoapi/example_crowdpose_val.json"
    registry = tmp_path / "reg" / "datasets.toml"
    registry.parent.mkdir()
    registry.write_text(
        f'[[dataset]]\nname = "crowdpose"\nsplit = "val"\nannotations = "{source}"\n'
        f'images = "{fixtures / "xtcocoapi"}"\n'
    )
    build(tmp_path / "cache", "crowdpose", "val", source, images=fixtures / "xtcocoapi")
    code, _, stderr, out = _compose(capsys, tmp_path, registry, tmp_path / "cache", CONFIG)
    assert code == 0, stderr
    report = orjson.loads((out / "report.json").read_bytes())
    _no_absolute_path(report, tmp_path)
    assert report["config"] == "../compose.toml"  # compose.toml is written beside reg/
    assert report["config_sha256"] == hashlib.sha256((tmp_path / "compose.toml").read_bytes()).hexdigest()
    row = report["sources"][0]
    assert (registry.parent / row["images_dir"]).resolve() == (fixtures / "xtcocoapi").resolve()
    with_index = sum("crowdIndex" in im for im in json.loads(source.read_text())["images"])
    assert with_index > 0 and row["crowd_index_dropped"] == with_index
    for name in ("train", "val"):
        assert not any("crowdIndex" in im for im in _load(out, name)["images"])


def test_subset_report_names_the_annotation_file_relative_to_the_registry(tmp_path: Path, capsys) -> None:
    source = require_fixtures() / "coco-mini/annotations/person_keypoints_val2017.json"
    registry = tmp_path / "datasets.toml"
    registry.write_text(f'[[dataset]]\nname = "mini"\nsplit = "val"\nannotations = "{source}"\n')
    build(tmp_path / "cache", "mini", "val", source)
    code, _, stderr = run_cli(
        capsys,
        "subset",
        "--name",
        "mini",
        "--split",
        "val",
        "--persons",
        "20",
        "--count",
        "1",
        "--out",
        tmp_path / "subsets",
        "--registry",
        registry,
        "--cache-dir",
        tmp_path / "cache",
        "--quiet",
    )
    assert code == 0, stderr
    report = orjson.loads((tmp_path / "subsets" / "report.json").read_bytes())
    _no_absolute_path(report, tmp_path)
    annotations = report["annotations"]
    assert Path(os.path.normpath(tmp_path / annotations["path"])) == Path(os.path.normpath(source.resolve()))
    assert annotations["sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()
