"""Series by dataset, dataset/split or source: keys, counts against pandas, styles and
labels from the dataset identity, captions listing the splits."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.identity import DatasetIdentity, resolve
from dashboard.figures.people import people_per_image_table
from dashboard.figures.size import bucket_table
from dashboard.filters import Filters, apply_filters
from dashboard.series import SeriesBy, series_order, series_styles, splits_used
from tests.dashboard.dashboard_helpers import DEMO_LABEL as L
from tests.dashboard.dashboard_helpers import app, charts, open_view, texts


@pytest.fixture
def two_splits(frames):
    """The hand-made frames plus a second split of dataset a."""
    images, persons = frames
    images = images.astype({"dataset": str, "source": object})
    extra = pd.DataFrame(
        {
            "dataset": ["a", "a"],
            "split": ["train", "train"],
            "image_id": [7, 8],
            "width": [100.0, 100.0],
            "height": [100.0, 100.0],
            "n_persons": [1, 2],
            "crowd_index": [0.0, 0.3],
            "crowd_index_stored": [np.nan, np.nan],
            "source": [None, None],
            "entropy": [np.nan, np.nan],
        }
    )
    images = pd.concat([images, extra], ignore_index=True)
    more = pd.DataFrame(
        {
            "dataset": ["a", "a", "a"],
            "split": ["train"] * 3,
            "image_index": [6, 7, 7],
            "bbox_w": [10.0, 50.0, 100.0],
            "bbox_h": [10.0, 50.0, 100.0],
            "segm_area": [np.nan] * 3,
            "crowding": [0.0] * 3,
            "num_keypoints": [5.0] * 3,
            "n_labelled": [5] * 3,
            "image_area": [1e4] * 3,
            "instance_row": [0, 1, 2],
        }
    )
    persons = pd.concat([persons.astype({"dataset": str}), more], ignore_index=True)
    for df in (images, persons):
        df["dataset"] = df["dataset"].astype("category")
    return images, persons


def test_series_by_split_counts_like_pandas(two_splits):
    images, persons = two_splits
    f = apply_filters(images, persons, Filters(datasets=("a", "b"), series=SeriesBy.SPLIT))
    keys = series_order(f.images, SeriesBy.SPLIT, ["a", "b"])
    assert keys == ["a/train", "a/val", "b/val"]
    ppi = people_per_image_table(f.images, keys)
    for key in keys:
        name, split = key.split("/")
        n = images.loc[(images["dataset"] == name) & (images["split"] == split), "n_persons"]
        assert ppi[key].tolist() == np.bincount(n, minlength=len(ppi)).tolist()
    sizes = bucket_table(f.persons, keys)
    # a/train: areas 100 (small), 2500 (medium), 10000 (large)
    assert sizes["a/train"].tolist() == [1, 1, 1]
    assert splits_used(f.images, ["a", "b"]) == "splits: a train+val, b val"


def test_series_by_source(frames):
    images, persons = frames
    f = apply_filters(images, persons, Filters(datasets=("a", "b"), series=SeriesBy.SOURCE))
    keys = series_order(f.images, SeriesBy.SOURCE, ["b", "a"])
    assert keys == ["b: x", "b: y", "a: (no source)"]  # dataset order first, then source name
    sizes = bucket_table(f.persons, keys)
    # b/x is image 3 (areas 500, 2000, 20000), b/y image 4 (area 30)
    assert sizes["b: x"].tolist() == [1, 1, 1] and sizes["b: y"].tolist() == [1, 0, 0]


def test_series_styles_follow_the_dataset_identity(two_splits):
    images, persons = two_splits
    f = apply_filters(images, persons, Filters(datasets=("a", "b"), series=SeriesBy.SPLIT))
    identities = {"a": resolve("a", DatasetIdentity(display_name="Alpha", color="#882255")), "b": resolve("b")}
    styles = series_styles(["a/train", "a/val", "b/val"], f.images, identities)
    assert styles["a/train"]["label"] == "Alpha/train" and styles["a/val"]["label"] == "Alpha/val"
    assert styles["a/train"]["color"] == styles["a/val"]["color"] == "#882255"
    assert styles["b/val"]["color"] == identities["b"].style.color
    by_dataset = apply_filters(images, persons, Filters(datasets=("a",)))
    whole = series_styles(["a"], by_dataset.images, identities)["a"]
    assert (whole["label"], whole["color"], whole["pattern"]) == ("Alpha", "#882255", identities["a"].style.hatch)


def test_series_control_in_the_app(app_env):
    at = open_view(app({"ds": "demo-small", "series": "source"}), "size")
    assert not at.exception
    names = {t["name"] for t in charts(at)[0]}
    assert names == {f"{L['demo-small']}: sports", f"{L['demo-small']}: street"}
    assert "one series per dataset source (sub-dataset)" in texts(at)
    assert "splits: demo-small val" in texts(at)
    assert at.query_params["series"] == "source"
