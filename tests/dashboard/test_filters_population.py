"""Every view's frames follow the person population: persons per image, S/M/L, areas and
the persons behind density and keypoint rates, against pandas on the real CrowdPose and
COCO files; CrowdIndex does not change with it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.definitions import PersonPopulation, SizeBucket
from dashboard import query
from dashboard.caches import load_caches
from dashboard.figures.people import people_per_image_table
from dashboard.figures.size import bucket_table
from dashboard.filters import Filters, apply_filters
from tests.analysis.test_population import expected_counts, real_cache  # noqa: F401  (fixture)

POPULATIONS = ("all", "keypoints", "labelled", "min4", "min13")


def population_frame(doc: dict, population: str) -> pd.DataFrame:
    """Non-crowd annotations of the population, with image_id and bbox area (pandas)."""
    ann = pd.DataFrame(doc["annotations"])
    ann = ann[~ann.get("iscrowd", pd.Series(0, index=ann.index)).astype(bool)]
    labelled = ann["keypoints"].map(lambda k: sum(1 for v in k[2::3] if v > 0))
    stored = ann["num_keypoints"] if "num_keypoints" in ann else pd.Series(np.nan, index=ann.index)
    stored = stored.astype(float).fillna(labelled)
    rule = {"all": labelled >= 0, "keypoints": stored > 0, "labelled": labelled >= 1}
    keep = rule[population] if population in rule else labelled >= int(population[3:])
    out = ann[keep].copy()
    out["area"] = out["bbox"].map(lambda b: b[2] * b[3])
    return out


@pytest.fixture(scope="module")
def caches(real_cache):  # noqa: F811
    root, docs = real_cache
    return load_caches(root), docs


@pytest.mark.parametrize("population", POPULATIONS)
def test_persons_per_image_and_buckets_follow_the_population(caches, population):
    c, docs = caches
    names = tuple(sorted(docs))
    f = apply_filters(c.images, c.persons, Filters(datasets=names, population=PersonPopulation.parse(population)))
    assert f.filters.population.description in f.filters.description
    ppi = people_per_image_table(f.images, list(names))
    sizes = bucket_table(f.persons, list(names))
    for name, doc in docs.items():
        pop = population_frame(doc, population)
        image_ids = sorted({img["id"] for img in doc["images"]})
        per_image = pop.groupby("image_id").size().reindex(image_ids, fill_value=0)
        expected = np.bincount(per_image.to_numpy(), minlength=len(ppi))
        assert ppi[name].to_numpy().tolist() == expected.tolist(), (name, population)
        if population in ("all", "keypoints", "labelled", "min4"):  # the same numbers as `info`
            counts = expected_counts(doc, population)
            assert sizes[name].tolist() == [counts[b.value] for b in SizeBucket], (name, population)
        mine = f.persons[(f.persons["dataset"] == name).to_numpy()]
        assert sorted(mine["ann_id"].tolist()) == sorted(pop["id"].tolist())
        assert np.allclose(np.sort(mine["area"].to_numpy()), np.sort(pop["area"].to_numpy(dtype=float)))


@pytest.mark.parametrize("population", ("all", "keypoints", "min4"))
def test_small_bucket_denominator_follows_the_population(caches, population):
    c, docs = caches
    names = tuple(sorted(docs))
    f = apply_filters(
        c.images,
        c.persons,
        Filters(datasets=names, bucket=SizeBucket.SMALL, population=PersonPopulation.parse(population)),
    )
    for name, doc in docs.items():
        pop = population_frame(doc, population)
        small = pop[pop["area"] < 32**2].groupby("image_id").size()
        mine = f.images[(f.images["dataset"] == name).to_numpy()]
        got = dict(zip(mine["image_id"].tolist(), mine["n_selected"].tolist(), strict=True))
        assert got == {int(k): int(v) for k, v in small.items()}, (name, population)


def test_real_files_differ_by_population_and_crowd_index_does_not(caches):
    c, docs = caches
    names = tuple(sorted(docs))
    per = {
        p: apply_filters(c.images, c.persons, Filters(datasets=names, population=PersonPopulation.parse(p)))
        for p in POPULATIONS
    }
    coco = {p: int((f.persons["dataset"] == "coco-val").sum()) for p, f in per.items()}
    assert coco["all"] > coco["keypoints"] == coco["labelled"]  # COCO: num_keypoints == labelled count
    crowdpose = {p: int((f.persons["dataset"] == "crowdpose-xt").sum()) for p, f in per.items()}
    # CrowdPose's stored num_keypoints counts 12 body joints of 14: min13 differs from it
    assert crowdpose["min13"] < crowdpose["keypoints"]
    for f in per.values():  # the image property is the same whatever counts as a person
        assert f.images["crowd_index"].equals(per["all"].images["crowd_index"])


def test_url_key_persons():
    params = {"ds": "a", "persons": "min4"}
    controls = query.parse(params, ["a"], ["val"])
    assert controls.population == PersonPopulation.parse("min4")
    assert query.to_params(controls)["persons"] == "min4"
    for value in ("all", "keypoints", "labelled", "min1"):
        assert query.to_params(query.parse({"persons": value}, ["a"], []))["persons"] == value
    # the default, and what an invalid value falls back to
    assert query.parse({}, ["a"], []).population == PersonPopulation.parse("keypoints")
    assert query.parse({"persons": "min0"}, ["a"], []).population == PersonPopulation.parse("keypoints")


@pytest.mark.parametrize("sm, ml", [("1e200", "1e201"), ("32", "inf"), ("nan", "96"), ("32", "1e6")])
def test_huge_or_infinite_edges_fall_back(sm, ml):
    controls = query.parse({"sm": sm, "ml": ml}, ["a"], [])
    f = controls  # parsed without OverflowError
    assert f.size.edges.small_medium <= query.MAX_EDGE_PX**2
    assert np.isfinite(f.size.edges.medium_large) and f.size.edges.medium_large <= query.MAX_EDGE_PX**2
