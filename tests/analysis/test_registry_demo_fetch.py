"""The registry, the embedded demo, `fetch coco-2017` against a local server, and `info`."""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from analysis.cache import contract as cache
from analysis.cache.manifest import read_manifest
from analysis.cli import main
from analysis.errors import PoseAtlasError
from analysis.registry import load_registry
from tests.analysis.helpers import coco_doc, write_doc


def test_registry_builds_only_what_changed(tmp_path, capsys):
    data = tmp_path / "data"
    write_doc(data / "raw" / "a.json", coco_doc())
    write_doc(data / "raw" / "b.json", coco_doc(n_joints=14))
    registry = data / "datasets.toml"
    registry.write_text(
        '# comment kept\n[[dataset]]\nname = "alpha"\nsplit = "val"\nannotations = "raw/a.json"\n'
        'source = { field = "file_name", pattern = "^(?P<source>[^/]+)/" }\n\n'
        '[[dataset]]\nname = "beta"\nsplit = "test"\nannotations = "raw/b.json"\nkeypoint_schema = "crowdpose14"\n'
    )
    args = ["build", "--registry", str(registry), "--cache-dir", str(tmp_path / "cache"), "--quiet"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "alpha/val: built" in out and "beta/test: built" in out
    images = cache.read_images(tmp_path / "cache", cache.CacheKey("alpha", "val"))
    assert sorted(images["source"]) == ["a", "a", "b"]
    beta = read_manifest(tmp_path / "cache", cache.CacheKey("beta", "test"))
    assert beta.keypoint_schema.name == "crowdpose14"

    write_doc(data / "raw" / "b.json", {**coco_doc(n_joints=14), "images": coco_doc()["images"][:2]})
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "alpha/val: up-to-date" in out and "beta/test: built - 2 images" in out


@pytest.mark.parametrize(
    "content, problem",
    [
        ('[[dataset]]\nname = "a"\n', "'split' is required"),
        ('[[dataset]]\nname = "a"\nsplit = "v"\nannotations = "x"\ncolour = 1\n', "unknown key(s) colour"),
        ('[[dataset]]\nname = "../a"\nsplit = "v"\nannotations = "x"\n', "invalid dataset name"),
        (
            '[[dataset]]\nname = "a"\nsplit = "v"\nannotations = "x"\nkeypoint_schema = "nope"\n',
            "unknown keypoint schema",
        ),
        (
            '[[dataset]]\nname = "a"\nsplit = "v"\nannotations = "x"\nsource = { pattern = "(" }\n',
            "invalid source pattern",
        ),
        ("[[dataset]\n", "not valid TOML"),
    ],
)
def test_bad_registry_is_a_clear_error(tmp_path, content, problem):
    registry = tmp_path / "datasets.toml"
    registry.write_text(content)
    with pytest.raises(PoseAtlasError, match=re.escape(problem)):
        load_registry(registry)


def test_registered_file_missing_is_reported_and_others_still_build(tmp_path, capsys):
    write_doc(tmp_path / "ok.json", coco_doc())
    registry = tmp_path / "datasets.toml"
    registry.write_text(
        '[[dataset]]\nname = "gone"\nsplit = "v"\nannotations = "missing.json"\n'
        '[[dataset]]\nname = "ok"\nsplit = "v"\nannotations = "ok.json"\n'
    )
    code = main(["build", "--registry", str(registry), "--cache-dir", str(tmp_path / "c"), "--quiet"])
    captured = capsys.readouterr()
    assert code == 2 and "gone/v: annotation file not found" in captured.err
    assert "ok/v: built" in captured.out


@pytest.mark.slow
def test_demo_is_deterministic_synthetic_and_contrasting(tmp_path, capsys):
    assert main(["demo", "--data-dir", str(tmp_path / "d1"), "--cache-dir", str(tmp_path / "c1"), "--quiet"]) == 0
    assert main(["demo", "--data-dir", str(tmp_path / "d2"), "--cache-dir", str(tmp_path / "c2"), "--quiet"]) == 0
    for name in ("demo-sparse", "demo-crowd", "demo-small"):
        a = (tmp_path / "d1" / name / "annotations.json").read_bytes()
        assert a == (tmp_path / "d2" / name / "annotations.json").read_bytes()
    assert "SYNTHETIC" in (tmp_path / "d1" / "README.md").read_text()

    keys = cache.list_caches(tmp_path / "c1")
    assert [k.dataset for k in keys] == ["demo-crowd", "demo-small", "demo-sparse"]
    stats = {}
    for key in keys:
        manifest = read_manifest(tmp_path / "c1", key)
        assert manifest.synthetic is True and manifest.inputs.images.n_missing == 0
        images = cache.read_images(tmp_path / "c1", key)
        inst = cache.read_instances(tmp_path / "c1", key)
        persons = inst[~inst["iscrowd"]]
        stats[key.dataset] = (
            images["n_persons"].mean(),
            float(np.median(persons["bbox_area"])),
            images["crowd_index"].mean(),
        )
        first = Path(manifest.inputs.images.path) / images["file_name"].iloc[0]
        with Image.open(first) as img:
            assert img.format == "JPEG" and img.size == (480, 360)
    # Few large people; crowds; many small people.
    assert stats["demo-sparse"][0] < 3 < stats["demo-crowd"][0]
    assert stats["demo-small"][1] < 32**2 < stats["demo-sparse"][1]
    assert stats["demo-crowd"][2] > stats["demo-sparse"][2]
    crowd_images = cache.read_images(tmp_path / "c1", cache.CacheKey("demo-crowd", "val"))
    assert crowd_images["crowd_index_stored"].notna().all()
    small_images = cache.read_images(tmp_path / "c1", cache.CacheKey("demo-small", "val"))
    assert set(small_images["source"]) == {"street", "sports"}


def test_fetch_coco_from_local_server_registers_val_and_train(tmp_path, http_root, capsys):
    root, base = http_root
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("annotations/person_keypoints_val2017.json", __import__("json").dumps(coco_doc()))
        archive.writestr("annotations/person_keypoints_train2017.json", __import__("json").dumps(coco_doc()))
        archive.writestr("annotations/instances_val2017.json", "{}")
    (root / "ann.zip").write_bytes(buffer.getvalue())
    data = tmp_path / "data"
    registry = data / "datasets.toml"
    registry.parent.mkdir()
    registry.write_text("# my registry\n")
    args = ["fetch", "coco-2017", "--data-dir", str(data), "--registry", str(registry), "--url", f"{base}/ann.zip"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "registered coco/val2017" in out and "registered coco/train2017" in out
    assert not (data / "raw" / "coco" / "annotations" / "instances_val2017.json").exists()
    specs = {(s.name, s.split): s for s in load_registry(registry)}
    assert set(specs) == {("coco", "val2017"), ("coco", "train2017")}
    assert specs[("coco", "val2017")].annotations.is_file()
    assert registry.read_text().startswith("# my registry\n")
    assert main(args) == 0  # idempotent
    assert "already registered coco/val2017" in capsys.readouterr().out
    assert main(["build", "--registry", str(registry), "--cache-dir", str(tmp_path / "c"), "--quiet"]) == 0
    assert "coco/val2017: built" in capsys.readouterr().out


def test_fetch_coco_error_is_clean(tmp_path, http_root, capsys):
    _, base = http_root
    args = [
        "fetch",
        "coco-2017",
        "--data-dir",
        str(tmp_path / "d"),
        "--registry",
        str(tmp_path / "r.toml"),
        "--url",
        f"{base}/missing.zip",
    ]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "missing.zip" in err and "404" in err
    assert not (tmp_path / "r.toml").exists()


def test_official_coco_constants_are_consistent():
    from analysis import fetch_coco

    assert fetch_coco.COCO_2017_URL.endswith("annotations_trainval2017.zip")
    assert len(fetch_coco.COCO_2017_SHA256) == len(hashlib.sha256().hexdigest())


def test_info_reports_registered_and_cached(tmp_path, capsys):
    write_doc(tmp_path / "a.json", coco_doc())
    registry = tmp_path / "datasets.toml"
    registry.write_text('[[dataset]]\nname = "alpha"\nsplit = "val"\nannotations = "a.json"\n')
    assert main(["info", "--registry", str(registry), "--cache-dir", str(tmp_path / "c")]) == 0
    assert "alpha/val: not built" in capsys.readouterr().out
    main(["build", "--registry", str(registry), "--cache-dir", str(tmp_path / "c"), "--quiet"])
    capsys.readouterr()
    assert main(["info", "--registry", str(registry), "--cache-dir", str(tmp_path / "c")]) == 0
    out = capsys.readouterr().out
    assert "alpha/val: up to date" in out and "3 images, 3 persons" in out and "crowd_index: CrowdIndex" in out
    write_doc(tmp_path / "a.json", {**coco_doc(), "images": coco_doc()["images"][:2]})
    main(["info", "--registry", str(registry), "--cache-dir", str(tmp_path / "c")])
    assert "alpha/val: stale" in capsys.readouterr().out
