"""Per-joint rates by size bucket (dashboard.figures.keypoints.joint_rate_groups) on the real
CrowdPose and COCO files, against pandas; CrowdPose gets the labelled rate only."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.cache.contract import CacheKey
from analysis.definitions import PersonPopulation, VisibilityConvention
from dashboard.caches import keypoint_schema, load_caches, load_keypoints
from dashboard.figures.keypoints import joint_rate_groups, joint_rates_figure
from dashboard.filters import Filters, apply_filters
from tests.analysis.test_population import real_cache  # noqa: F401  (fixture)


@pytest.fixture(scope="module")
def caches(real_cache):  # noqa: F811
    root, docs = real_cache
    return load_caches(root), docs, root


def expected_rates(doc: dict, population: str) -> pd.DataFrame:
    """Labelled and v == 2 rates per (bucket, joint index), from the JSON with pandas."""
    ann = pd.DataFrame(doc["annotations"])
    ann = ann[~ann["iscrowd"].astype(bool)]
    flags = np.array(ann["keypoints"].map(lambda k: k[2::3]).tolist(), dtype=float)  # (N, K)
    if population == "keypoints":
        keep = (ann["num_keypoints"] > 0).to_numpy()
        ann, flags = ann[keep], flags[keep]
    area = ann["bbox"].map(lambda b: b[2] * b[3])
    bucket = pd.cut(area, [0, 32**2, 96**2, np.inf], right=False, labels=["small", "medium", "large"])
    long = pd.DataFrame(flags).assign(bucket=bucket.to_numpy()).melt(id_vars="bucket", var_name="joint", value_name="v")
    return long.groupby(["bucket", "joint"], observed=True).agg(
        labelled=("v", lambda v: (v > 0).mean()), visible=("v", lambda v: (v == 2).mean())
    )


@pytest.mark.parametrize(
    "name, population",
    [("coco-val", "all"), ("coco-val", "keypoints"), ("crowdpose-xt", "keypoints"), ("crowdpose-mm", "all")],
)
def test_joint_rates_match_pandas(caches, name, population):
    c, docs, root = caches
    f = apply_filters(c.images, c.persons, Filters(datasets=(name,), population=PersonPopulation.parse(population)))
    mine = f.persons[(f.persons["dataset"] == name).to_numpy()]
    groups = joint_rate_groups(
        name,
        mine,
        lambda split: load_keypoints(root, CacheKey(name, split)),
        lambda split, k: keypoint_schema(c.manifest(name, split).keypoint_schema, k)[0],
        lambda split: VisibilityConvention.for_split(
            c.manifest(name, split).keypoint_schema.name, c.manifest(name, split).definitions.visibility
        ),
    )
    assert len(groups) == 1
    g = groups[0]
    crowdpose = name.startswith("crowdpose")
    assert g.rule is (VisibilityConvention.NOT_VISIBILITY if crowdpose else VisibilityConvention.COCO)
    assert len(g.joints) == (14 if crowdpose else 17)
    expected = expected_rates(docs[name], population)
    for (bucket, joint), row in expected.iterrows():
        got = g.table[(g.table["bucket"] == bucket) & (g.table["joint"] == g.joints[joint])].iloc[0]
        assert got["labelled"] == pytest.approx(row["labelled"]), (bucket, joint)
        if crowdpose:
            assert np.isnan(got["visible"])
        else:
            assert got["visible"] == pytest.approx(row["visible"]), (bucket, joint)
    fig = joint_rates_figure(g.table, dataset=name, show_visible=not crowdpose)
    assert {tr.yaxis for tr in fig.data} == ({"y"} if crowdpose else {"y", "y2"})
