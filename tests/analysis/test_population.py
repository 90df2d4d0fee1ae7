"""The person population (analysis.definitions.PersonPopulation) and `info`'s counts per
population, against independent pandas computations on the real CrowdPose and COCO files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.build.run import build_split
from analysis.definitions import PersonPopulation, PopulationKind
from analysis.registry import DatasetSpec

REPO = Path(__file__).resolve().parents[2]
REAL_FILES = {
    "crowdpose-xt": "xtcocoapi/example_crowdpose_val.json",
    "crowdpose-mm": "mmpose/crowdpose/test_crowdpose.json",
    "coco-val": "coco-mini/annotations/person_keypoints_val2017.json",
    "coco-train": "coco-mini/annotations/person_keypoints_train2017.json",
}


def expected_counts(doc: dict, population: str) -> dict[str, int]:
    """Persons and bbox S/M/L of one raw file, written out with pandas from the JSON."""
    ann = pd.DataFrame(doc["annotations"])
    ann = ann[~ann.get("iscrowd", pd.Series(0, index=ann.index)).astype(bool)]
    labelled = ann["keypoints"].map(lambda k: sum(1 for v in k[2::3] if v > 0))
    stored = ann["num_keypoints"] if "num_keypoints" in ann else pd.Series(np.nan, index=ann.index)
    stored = stored.astype(float).fillna(labelled)
    rule = {"all": pd.Series(True, index=ann.index), "keypoints": stored > 0, "labelled": labelled >= 1}
    keep = rule[population] if population in rule else labelled >= int(population[3:])
    area = ann.loc[keep, "bbox"].map(lambda b: b[2] * b[3])
    bucket = pd.cut(area, [0, 32**2, 96**2, np.inf], right=False, labels=["small", "medium", "large"])
    counts = bucket.value_counts()
    return {"persons": int(keep.sum()), **{b: int(counts.get(b, 0)) for b in ("small", "medium", "large")}}


def test_parse_and_format_round_trip():
    for text in ("all", "keypoints", "labelled", "min1", "min4", "min17"):
        assert str(PersonPopulation.parse(text)) == text
    assert PersonPopulation.parse(" MIN4 ") == PersonPopulation(PopulationKind.MIN_LABELLED, 4)
    assert PersonPopulation() == PersonPopulation.parse("keypoints")
    for bad in ("", "min", "min0", "min-1", "minx", "some", "keypoint"):
        with pytest.raises(ValueError):
            PersonPopulation.parse(bad)
    with pytest.raises(ValueError):
        PersonPopulation(PopulationKind.ALL, 3)


def test_mask_hand_made():
    # stored num_keypoints (NaN: field absent) and labelled joints of five persons
    stored = np.array([0.0, 0.0, np.nan, np.nan, 12.0])
    labelled = np.array([0, 3, 0, 2, 14])
    assert PersonPopulation.parse("all").mask(stored, labelled).tolist() == [True] * 5
    # CrowdPose-style: stored 0 although 3 joints are labelled -> not in `keypoints`
    assert PersonPopulation.parse("keypoints").mask(stored, labelled).tolist() == [False, False, False, True, True]
    assert PersonPopulation.parse("labelled").mask(stored, labelled).tolist() == [False, True, False, True, True]
    assert PersonPopulation.parse("min3").mask(stored, labelled).tolist() == [False, True, False, False, True]


@pytest.fixture(scope="module")
def real_cache(tmp_path_factory):
    from tests.conftest import require_fixtures

    fixtures = require_fixtures()
    root = tmp_path_factory.mktemp("population") / "cache"
    docs = {}
    for name, relative in REAL_FILES.items():
        docs[name] = json.loads((fixtures / relative).read_text())
        build_split(DatasetSpec(name, "val", fixtures / relative), root, progress=False)
    # the same COCO file without the num_keypoints field: the labelled count stands in
    stripped = json.loads((fixtures / REAL_FILES["coco-val"]).read_text())
    for ann in stripped["annotations"]:
        ann.pop("num_keypoints", None)
    path = root.parent / "no-num-keypoints.json"
    path.write_text(json.dumps(stripped))
    docs["coco-no-nk"] = stripped
    build_split(DatasetSpec("coco-no-nk", "val", path), root, progress=False)
    return root, docs


@pytest.mark.slow
def test_info_counts_every_population_like_pandas(real_cache):
    root, docs = real_cache
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "analysis",
            "info",
            "--json",
            "--cache-dir",
            str(root),
            "--registry",
            str(root / "none.toml"),
        ],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    )
    cached = {c["name"]: c["populations"] for c in json.loads(out.stdout)["cached"]}
    assert set(cached) == set(docs)
    for name, doc in docs.items():
        for population in ("all", "keypoints", "labelled", "min4"):
            assert cached[name][population] == expected_counts(doc, population), (name, population)
    # the real files do differ by population (else this test could not fail)
    assert cached["coco-val"]["all"]["persons"] > cached["coco-val"]["keypoints"]["persons"]
    assert cached["coco-val"]["all"]["small"] > cached["coco-val"]["keypoints"]["small"]
    text = subprocess.run(
        [sys.executable, "-m", "analysis", "info", "--cache-dir", str(root), "--registry", str(root / "none.toml")],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    counts = expected_counts(docs["coco-val"], "keypoints")
    assert (
        f"persons=keypoints: {counts['persons']} persons; bbox S/M/L "
        f"{counts['small']} / {counts['medium']} / {counts['large']}"
    ) in text
    assert PersonPopulation.parse("keypoints").description in text
