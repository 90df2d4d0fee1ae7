"""analysis.api on the demo caches, against counts taken from the raw annotation files
and against pycocotools on the demo's stored predictions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from analysis import api
from analysis.errors import PoseAtlasError
from tests.analysis.evaluation.reference import pycocotools_slices

REPO = Path(__file__).resolve().parents[2]
# One worker runs this module, so the module's demo build below is made once, not once per worker.
pytestmark = pytest.mark.xdist_group("api-demo")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("api-demo")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "analysis",
            "demo",
            "--data-dir",
            str(base / "data"),
            "--cache-dir",
            str(base / "cache"),
            "--quiet",
            "--no-scenes",
        ],
        cwd=REPO,
        check=True,
        capture_output=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    return base


def _raw(demo: Path, dataset: str) -> dict:
    return json.loads((demo / "data" / dataset / "annotations.json").read_text())


def _is_person(ann: dict, population: str) -> bool:
    labelled = sum(v > 0 for v in ann["keypoints"][2::3])
    if ann.get("iscrowd", 0):
        return False
    return {"all": True, "keypoints": ann.get("num_keypoints", labelled) > 0, "labelled": labelled > 0}[population]


def test_splits_lists_every_demo_split_with_raw_counts(demo: Path):
    frame = api.splits(demo / "cache").set_index("key")
    assert set(frame.index) == {"demo-sparse/val", "demo-small/val", "demo-crowd/val"}
    for key, row in frame.iterrows():
        raw = _raw(demo, key.split("/")[0])
        assert row["images"] == len(raw["images"])
        assert row["persons"] == sum(not a.get("iscrowd", 0) for a in raw["annotations"])
        assert row["synthetic"]


@pytest.mark.parametrize("population", ["all", "keypoints", "labelled"])
def test_open_split_persons_follow_the_population(demo: Path, population: str):
    raw = _raw(demo, "demo-crowd")
    split = api.open_split(
        "demo-crowd", "val", population=api.PersonPopulation.parse(population), cache_dir=demo / "cache"
    )
    expected = Counter(a["image_id"] for a in raw["annotations"] if _is_person(a, population))
    assert len(split.persons) == sum(expected.values())
    got = dict(zip(split.images["image_id"], split.images["n_selected"], strict=True))
    assert got == {im["id"]: expected.get(im["id"], 0) for im in raw["images"]}
    assert f"persons = {population}" in split.description


def test_open_split_size_bucket_is_the_bbox_area_rule(demo: Path):
    raw = _raw(demo, "demo-small")
    edges = api.SizeEdges(24.0**2, 64.0**2)  # areas, px^2
    small = api.open_split(
        "demo-small", "val", size=api.SizeDefinition(edges=edges), bucket="small", cache_dir=demo / "cache"
    )
    areas = [a["bbox"][2] * a["bbox"][3] for a in raw["annotations"] if _is_person(a, "keypoints")]
    assert len(small.persons) == sum(area < 24.0**2 for area in areas) > 0
    assert np.allclose(np.sort(small.persons["area"]), np.sort([a for a in areas if a < 24.0**2]))


def test_open_split_of_an_uncached_split_says_so(demo: Path):
    with pytest.raises(PoseAtlasError, match="not cached"):
        api.open_split("demo-crowd", "train", cache_dir=demo / "cache")


#: the person area that scales OKS, as the COCO ``area`` field pycocotools reads
AREA_OF = {
    "segm": lambda a: a["area"],
    "bbox": lambda a: a["bbox"][2] * a["bbox"][3],
    "crowdpose": lambda a: 0.53 * a["bbox"][2] * a["bbox"][3],
}


@pytest.mark.slow
def test_table5_matches_pycocotools_on_the_stored_predictions(demo: Path):
    # Re-sliced by the area that scales OKS: pycocotools has one area for both.
    for dataset in ("demo-small", "demo-crowd"):
        stored = json.loads(
            (demo / "cache" / dataset / "val" / "evaluations" / "synthetic-coarse" / "evaluation.json").read_text()
        )["definitions"]
        area = stored["oks_area"]
        table = api.table5(
            [f"{dataset}/val"], size=api.SizeDefinition(area_source=api.AreaSource(area)), cache_dir=demo / "cache"
        )
        assert sorted(table["model"]) == ["synthetic-coarse", "synthetic-precise"]
        doc = _raw(demo, dataset)
        for ann in doc["annotations"]:
            ann["area"] = AREA_OF[area](ann)
        for _, row in table.iterrows():
            preds = json.loads((demo / "data" / dataset / "predictions" / f"{row['model']}.json").read_text())
            ref = pycocotools_slices(doc, preds, np.array(stored["sigmas"]))
            # demo-crowd (CrowdPose joints): its size slices are xtcocotools' business
            # (tests/analysis/evaluation); "all" is plain COCO matching
            slices = (("AP", "all"), ("AP^S", "small"), ("AP^M", "medium"), ("AP^L", "large"))
            for column, name in slices if dataset == "demo-small" else slices[:1]:
                if ref[name]["AP"] is None:
                    assert np.isnan(row[column]), (dataset, row["model"], column)
                else:
                    assert row[column] == pytest.approx(100 * ref[name]["AP"], abs=1e-6), (
                        dataset,
                        row["model"],
                        column,
                    )
    both = api.table5(["demo-small/val", "demo-crowd/val"], ["synthetic-coarse"], cache_dir=demo / "cache")
    assert list(both["model"]) == ["synthetic-coarse"] * 2
    assert list(both["dataset"]) == ["demo-small/val", "demo-crowd/val"]
    with pytest.raises(PoseAtlasError, match="no stored evaluation of nope"):
        api.table5(["demo-crowd/val"], ["nope"], cache_dir=demo / "cache")


def test_evaluations_lists_the_stored_ones(demo: Path):
    frame = api.evaluations(["demo-crowd/val"], cache_dir=demo / "cache")
    assert sorted(frame["model"]) == ["synthetic-coarse", "synthetic-precise"]
    for _, row in frame.iterrows():
        preds = json.loads((demo / "data" / "demo-crowd" / "predictions" / f"{row['model']}.json").read_text())
        assert row["records"] == len(preds) and not row["stale"]


def test_view_items_table_is_the_raw_people_per_image_histogram(demo: Path):
    items = api.view_items("people", "ds=demo-sparse,demo-crowd&persons=all", cache_dir=demo / "cache")
    table = items.tables["people-per-image"]
    for dataset in ("demo-sparse", "demo-crowd"):
        raw = _raw(demo, dataset)
        per_image = Counter({im["id"]: 0 for im in raw["images"]})
        per_image.update(a["image_id"] for a in raw["annotations"] if _is_person(a, "all"))
        expected = Counter(per_image.values())
        got = {int(k): int(v) for k, v in zip(table["persons per image"], table[dataset], strict=True) if v}
        assert got == dict(expected)
    assert "persons = all" in items.captions["people-per-image"]
    fig = api.figure("people", "people-per-image", "ds=demo-sparse", cache_dir=demo / "cache")
    assert {t.name for t in fig.data} >= {"demo-sparse"} or len(fig.data) == 1
    with pytest.raises(PoseAtlasError, match="has no figure 'nope'.*people-per-image"):
        api.figure("people", "nope", cache_dir=demo / "cache")
    with pytest.raises(PoseAtlasError, match="unknown view"):
        api.view_items("nope", cache_dir=demo / "cache")
