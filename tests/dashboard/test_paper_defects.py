"""Issue 9's smaller defects: n/a instead of zero, why Figure 8c is empty, stored and
computed CrowdIndex levels, the persons-per-image denominator, Table 4 by paper_name."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.definitions import CrowdConvention, CrowdIndexSource, PersonPopulation, SizeBucket
from dashboard.caches import load_caches
from dashboard.figures.crowding import (
    crowd_levels_both_table,
    crowd_levels_table,
    density_coverage,
    density_notes,
)
from dashboard.figures.people import people_axis
from dashboard.filters import Filters, apply_filters
from tests.analysis.test_population import real_cache  # noqa: F401  (fixture)
from tests.dashboard.dashboard_helpers import DEMO_LABEL as L
from tests.dashboard.dashboard_helpers import app, charts, open_view, texts


def test_segm_on_a_dataset_without_segmentation_is_na_not_zero(app_env):
    at = open_view(app({"ds": "demo-crowd,demo-sparse", "area": "segm"}), "size")
    assert not at.exception
    assert "no segmentation area in this dataset: demo-crowd" in texts(at)
    for chart in charts(at):  # never drawn (as zero bars or a flat line)
        assert {t["name"] for t in chart} == {"demo-sparse"}
    counts, shares = (at.dataframe[i].value.set_index("dataset") for i in (0, 1))  # size buckets, shares
    for table in (counts, shares):  # n/a on the screen: --, never None or 0
        cells = table.loc[L["demo-crowd"], ["small", "medium", "large"]]
        assert (cells.isna() | (cells == "--")).all()
    assert counts.loc["demo-sparse", ["small", "medium", "large"]].sum() > 0
    assert f"n/a: {L['demo-crowd']} (no segm area in the annotations)" in texts(at)


@pytest.fixture(scope="module")
def caches(real_cache):  # noqa: F811
    root, docs = real_cache
    return load_caches(root), docs


def _small(doc: dict, population: str) -> pd.DataFrame:
    ann = pd.DataFrame(doc["annotations"])
    ann = ann[~ann["iscrowd"].astype(bool)]
    labelled = ann["keypoints"].map(lambda k: sum(1 for v in k[2::3] if v > 0))
    keep = labelled >= 0 if population == "all" else ann["num_keypoints"] > 0
    area = ann["bbox"].map(lambda b: b[2] * b[3])
    return ann.assign(labelled=labelled)[keep & (area < 32**2)]


@pytest.mark.parametrize("population", ["all", "keypoints"])
def test_coco_small_person_density_is_explained(caches, population):
    c, docs = caches
    f = apply_filters(
        c.images, c.persons, Filters(datasets=("coco-val",), population=PersonPopulation.parse(population))
    )
    small = f.persons[f.persons["bucket"].to_numpy() == 0]
    coverage = density_coverage(small, ["coco-val"]).iloc[0]
    expected = _small(docs["coco-val"], population)
    assert coverage["small persons"] == len(expected)
    assert coverage["with density"] == int((expected["labelled"] > 0).sum())
    notes = density_notes(density_coverage(small, ["coco-val"]), population)
    # the real COCO fact behind Figure 8c's empty bars: no small person has a labelled joint
    assert (expected["labelled"] == 0).all()
    if population == "all":
        assert len(expected) > 0
        assert notes == [
            f"coco-val: none of its {len(expected)} small persons has a labelled joint, so none has "
            "a density (COCO labels no keypoints on persons below 32^2 segmentation area)"
        ]
    else:
        assert len(expected) == 0 and notes == ["coco-val: no small persons under persons=keypoints"]


def test_crowdindex_levels_from_stored_and_computed(caches):
    c, docs = caches
    names = ("crowdpose-xt", "crowdpose-mm", "coco-val")
    f = apply_filters(c.images, c.persons, Filters(datasets=names))
    stored = crowd_levels_table(f.images, list(names), CrowdIndexSource.STORED)
    assert set(stored["dataset"]) == {"crowdpose-xt", "crowdpose-mm"}  # COCO stores none: no rows, not zeros
    levels = CrowdConvention.PAPER.levels()
    for name in ("crowdpose-xt", "crowdpose-mm"):
        raw = pd.Series([img["crowdIndex"] for img in docs[name]["images"]], dtype=float)
        expected = pd.cut(
            raw, [-np.inf, levels.low, levels.high, np.inf], right=False, labels=list(levels.names)
        ).value_counts()
        got = stored[(stored["dataset"] == name) & (stored["convention"] == levels.label)]
        assert dict(zip(got["level"], got["count"], strict=True)) == {k: int(v) for k, v in expected.items()}
    both = crowd_levels_both_table(f.images, list(names))
    assert set(both["CrowdIndex"]) == {"computed", "stored"}
    assert set(both.loc[both["CrowdIndex"] == "computed", "dataset"]) == set(names)


def test_people_per_image_names_its_denominator():
    what, x_title, denominator = people_axis(Filters(bucket=SizeBucket.SMALL))
    assert what == "small persons"
    assert x_title == "small persons per image (images with ≥ 1)"
    assert "denominator: images with at least one small person (persons=keypoints)" in denominator
    assert people_axis(Filters())[1] == "persons per image"


def test_people_view_caption_and_axis_with_bucket_small(app_env):
    at = open_view(app({"ds": "demo-small", "bucket": "small", "persons": "all"}), "people")
    assert not at.exception
    out = texts(at)
    assert "denominator: images with at least one small person (persons=all)" in out
    assert "persons = all: every non-crowd person annotation" in out
    import plotly.io as pio

    fig = pio.from_json(at.get("plotly_chart")[0].proto.spec, skip_invalid=True)
    assert fig.layout.xaxis.title.text == "small persons per image (images with ≥ 1)"


def test_crowding_captions_say_crowdindex_ignores_the_population(app_env):
    at = open_view(app({"ds": "demo-crowd", "persons": "min4"}), "crowding")
    assert not at.exception
    out = texts(at)
    assert "CrowdIndex is an image property over all annotations; it does not follow the person population" in out
    assert "persons = min4" in out
