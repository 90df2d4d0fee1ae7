"""Dataset identity: registry keys and ad hoc flags reach the manifest; defaults depend
on the name alone; the dashboard draws and orders datasets by it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from analysis.build.run import build_split
from analysis.cache import contract as cache
from analysis.errors import PoseAtlasError
from analysis.identity import COLORS, HATCHES, DatasetIdentity, default_style, resolve
from analysis.registry import DatasetSpec, load_registry
from dashboard.caches import load_caches

REPO = Path(__file__).resolve().parents[2]
#: Okabe & Ito (2008) and Paul Tol's muted scheme, typed in from their publications.
COLOUR_BLIND_SAFE = {
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#CC79A7",
    "#56B4E9",
    "#D55E00",
    "#000000",
    "#F0E442",
    "#CC6677",
    "#332288",
    "#DDCC77",
    "#117733",
    "#88CCEE",
    "#882255",
    "#44AA99",
    "#999933",
    "#AA4499",
}


def raw_manifest(root: Path, key: cache.CacheKey) -> dict:
    """manifest.json as written on disk (plain JSON)."""
    return json.loads((key.directory(root) / cache.MANIFEST_FILE).read_text())


def tiny_file(folder: Path, name: str = "tiny.json") -> Path:
    doc = {
        "images": [{"id": 1, "file_name": "a.jpg", "width": 100, "height": 100}],
        "annotations": [
            {
                "id": 1,
                "image_id": 1,
                "category_id": 1,
                "iscrowd": 0,
                "bbox": [0, 0, 10, 10],
                "num_keypoints": 1,
                "keypoints": [5, 5, 2] + [0, 0, 0] * 16,
            }
        ],
        "categories": [{"id": 1, "name": "person", "keypoints": [f"j{i}" for i in range(17)], "skeleton": []}],
    }
    path = folder / name
    path.write_text(json.dumps(doc))
    return path


def test_palette_has_twelve_distinct_colour_blind_safe_colours():
    assert len(set(COLORS)) >= 12 and set(COLORS) <= COLOUR_BLIND_SAFE
    assert len(set(HATCHES)) >= 8
    names = [f"dataset-{i}" for i in range(400)]
    # a hash spreads names over every colour and hatch (no colour is unreachable)
    assert {default_style(n).color for n in names} == set(COLORS)
    assert {default_style(n).hatch for n in names} == set(HATCHES)


def test_defaults_depend_on_the_name_alone(tmp_path):
    src = tiny_file(tmp_path)
    root = tmp_path / "cache"
    build_split(DatasetSpec("coco", "val", src), root, progress=False)
    before = load_caches(root).identities["coco"]
    for other in ("aaa", "crowdpose", "zzz", "b1", "b2", "b3", "b4", "b5", "b6", "b7", "b8", "b9"):
        build_split(DatasetSpec(other, "val", src), root, progress=False)
    after = load_caches(root)
    assert after.identities["coco"] == before
    assert before.display_name == "coco" and before.paper_name is None
    # the same name in a fresh Python process gets the same style (no per-process hash seed)
    code = "from analysis.identity import default_style; s = default_style('coco'); print(s.color, s.hatch)"
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "123", "PATH": ""},
    ).stdout.split()
    assert out == [before.style.color, before.style.hatch]


def test_registry_identity_reaches_manifest_and_dashboard_without_rebuild(tmp_path):
    src = tiny_file(tmp_path)
    registry = tmp_path / "datasets.toml"
    registry.write_text(
        f'[[dataset]]\nname = "zeta"\nsplit = "val"\nannotations = "{src.name}"\n'
        'display_name = "Zeta Pose"\ncolor = "#882255"\nhatch = "x"\norder = 1\npaper_name = "COCO"\n'
        f'[[dataset]]\nname = "zeta"\nsplit = "train"\nannotations = "{src.name}"\n'
        f'[[dataset]]\nname = "alpha"\nsplit = "val"\nannotations = "{src.name}"\norder = 2\n'
    )
    specs = load_registry(registry)
    assert all(s.identity.display_name == "Zeta Pose" for s in specs if s.name == "zeta")  # shared by splits
    root = tmp_path / "cache"
    for spec in specs:
        build_split(spec, root, progress=False)
    manifest = raw_manifest(root, cache.CacheKey("zeta", "train"))
    assert manifest["identity"] == {
        "display_name": "Zeta Pose",
        "color": "#882255",
        "hatch": "x",
        "order": 1,
        "paper_name": "COCO",
    }
    caches = load_caches(root)
    assert caches.datasets == ["zeta", "alpha"]  # by order, not by name
    zeta = caches.identities["zeta"]
    assert (zeta.display_name, zeta.style.color, zeta.style.hatch, zeta.paper_name) == (
        "Zeta Pose",
        "#882255",
        "x",
        "COCO",
    )

    # a changed colour updates the manifest without rebuilding the tables
    built_at = raw_manifest(root, cache.CacheKey("zeta", "val"))["built_at"]
    registry.write_text(registry.read_text().replace("#882255", "#44AA99"))
    result = build_split(load_registry(registry)[0], root, progress=False)
    assert result.status == "up-to-date"
    again = raw_manifest(root, cache.CacheKey("zeta", "val"))
    assert again["identity"]["color"] == "#44AA99" and again["built_at"] == built_at


@pytest.mark.parametrize(
    "entry, message",
    [
        ('color = "red"', "color must be '#RRGGBB'"),
        ('hatch = "#"', "hatch must be one of"),
        ('order = "first"', "order must be an integer"),
        ('display_name = ""', "display_name must be a non-empty string"),
        ('colour = "#000000"', "unknown key(s) colour"),
    ],
)
def test_bad_identity_keys_are_one_clear_error(tmp_path, entry, message):
    registry = tmp_path / "datasets.toml"
    registry.write_text(f'[[dataset]]\nname = "a"\nsplit = "val"\nannotations = "x.json"\n{entry}\n')
    with pytest.raises(PoseAtlasError, match="dataset\\[0\\]") as info:
        load_registry(registry)
    assert message in str(info.value)


def test_conflicting_identity_between_splits_is_refused(tmp_path):
    registry = tmp_path / "datasets.toml"
    registry.write_text(
        '[[dataset]]\nname = "a"\nsplit = "val"\nannotations = "x.json"\ncolor = "#000000"\n'
        '[[dataset]]\nname = "a"\nsplit = "train"\nannotations = "x.json"\ncolor = "#0072B2"\n'
    )
    with pytest.raises(PoseAtlasError, match="color '#000000' and '#0072B2' disagree"):
        load_registry(registry)


def test_ad_hoc_build_flags(tmp_path):
    src = tiny_file(tmp_path)
    root = tmp_path / "cache"
    run = [
        sys.executable,
        "-m",
        "analysis",
        "build",
        "--name",
        "mini",
        "--split",
        "val",
        "--annotations",
        str(src),
        "--cache-dir",
        str(root),
        "--quiet",
    ]
    ok = subprocess.run(
        [*run, "--display-name", "COCO (79 images)", "--color", "#009E73", "--hatch", "/", "--order", "3"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0, ok.stderr
    assert raw_manifest(root, cache.CacheKey("mini", "val"))["identity"] == {
        "display_name": "COCO (79 images)",
        "color": "#009E73",
        "hatch": "/",
        "order": 3,
    }
    bad = subprocess.run([*run, "--color", "green"], cwd=REPO, capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.strip() == "error: build: color must be '#RRGGBB', got 'green'"
    # the failed call changed nothing
    assert raw_manifest(root, cache.CacheKey("mini", "val"))["identity"]["color"] == "#009E73"


def test_resolve_fills_only_what_is_unset():
    base = default_style("crowdpose")
    mixed = resolve("crowdpose", DatasetIdentity(color="#000000"))
    assert (mixed.style.color, mixed.style.hatch, mixed.display_name) == ("#000000", base.hatch, "crowdpose")
    solid = resolve("crowdpose", DatasetIdentity(hatch=""))
    assert solid.style.hatch == "" and solid.style.color == base.color
