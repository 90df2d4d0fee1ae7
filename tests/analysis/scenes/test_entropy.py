"""Entropy and dataset aggregates against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from analysis.scenes.aggregates import (
    effective_number,
    entropy_mean_variance,
    entropy_table,
    histogram_entropy,
    indoor_share,
    labels_from_manifest,
    scene_aggregates,
    top_categories,
)
from analysis.scenes.entropy import convert_entropy, entropy, scene_stats_from_logits


def test_uniform_over_365_is_ln_365() -> None:
    assert entropy(np.full(365, 1 / 365)) == pytest.approx(math.log(365), abs=1e-12)
    assert entropy(np.full(365, 1 / 365), base=2) == pytest.approx(math.log2(365), abs=1e-12)
    assert entropy(np.full(365, 1 / 365), base=365) == pytest.approx(1.0, abs=1e-12)


def test_one_hot_is_zero_and_zeros_are_ignored() -> None:
    p = np.zeros(365)
    p[42] = 1.0
    assert entropy(p) == 0.0
    assert entropy([0.5, 0.5, 0.0]) == pytest.approx(math.log(2))
    assert entropy([[0.5, 0.5], [1.0, 0.0]]).tolist() == pytest.approx([math.log(2), 0.0])


def test_base_conversion_and_bad_base() -> None:
    assert convert_entropy(math.log(4), None, 2) == pytest.approx(2.0)
    with pytest.raises(ValueError):
        entropy([1.0], base=1)


def test_stats_from_logits() -> None:
    indoor = np.zeros(365, dtype=bool)
    indoor[[1, 2]] = True
    uniform = np.zeros(365)
    peaked = np.full(365, -1e4)
    peaked[[2, 7]] = [0.0, 0.0]  # two equal classes: p = 0.5 each, tie -> lower id first
    stats = scene_stats_from_logits(np.stack([uniform, peaked]), indoor)
    assert stats["entropy"] == pytest.approx([math.log(365), math.log(2)], abs=1e-9)
    assert stats["top5_ids"].dtype == np.int16
    assert stats["top5_ids"][0].tolist() == [0, 1, 2, 3, 4]
    assert stats["top5_ids"][1][:2].tolist() == [2, 7]
    assert stats["top5_probs"][1][:2].tolist() == pytest.approx([0.5, 0.5])
    assert stats["p_indoor"] == pytest.approx([2 / 365, 0.5])
    bits = scene_stats_from_logits(np.stack([peaked]), indoor, base=2)
    assert bits["entropy"] == pytest.approx([1.0])


def _scenes(entropies: list[float], top1: list[int], p_indoor: list[float]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "entropy": entropies,
            "top5_ids": [[t, (t + 1) % 365, 0, 0, 0] for t in top1],
            "p_indoor": p_indoor,
        }
    )


def test_aggregates_hand_computed() -> None:
    # H: 1, 2, 3, 6 -> mean 3, population variance (4+1+0+9)/4 = 3.5, sample 14/3
    df = _scenes([1.0, 2.0, 3.0, 6.0], [5, 5, 9, 3], [0.9, 0.5, 0.2, 0.1])
    names = [f"c{i}" for i in range(365)]
    agg = scene_aggregates(df, names, top_k=2)
    assert agg.n_images == 4
    assert agg.entropy_mean == pytest.approx(3.0)
    assert agg.entropy_variance == pytest.approx(3.5)
    assert agg.variance_ddof == 0
    assert scene_aggregates(df, names, ddof=1).entropy_variance == pytest.approx(14 / 3)
    assert [(c.class_id, c.name, c.count, c.share) for c in agg.top_categories] == [
        (5, "c5", 2, 0.5),
        (3, "c3", 1, 0.25),  # tie 3 vs 9 -> lower id first
    ]
    # p_indoor >= 0.5 counts as indoor: 2 of 4
    assert agg.indoor_share == 0.5 and agg.outdoor_share == 0.5
    assert agg.mean_p_indoor == pytest.approx(0.425)
    # top-1 histogram {5: 2, 9: 1, 3: 1} -> H = -(.5 ln .5 + 2 * .25 ln .25)
    h = -(0.5 * math.log(0.5) + 2 * 0.25 * math.log(0.25))
    assert agg.top1_entropy == pytest.approx(h)
    assert agg.top1_effective_number == pytest.approx(math.exp(h))
    assert agg.n_categories_seen == 3
    assert agg.entropy_unit == "nats"
    assert agg.top_table().columns.tolist() == ["class_id", "name", "count", "share"]


def test_aggregates_units_and_conversion() -> None:
    df = _scenes([math.log(2), math.log(8)], [1, 2], [0.0, 1.0])
    agg = scene_aggregates(df, None, to_base=2)
    assert agg.entropy_mean == pytest.approx(2.0)  # bits: 1 and 3
    assert agg.entropy_unit == "bits"
    assert agg.top1_entropy == pytest.approx(1.0)  # two equally frequent classes: 1 bit
    assert agg.top1_effective_number == pytest.approx(2.0)
    assert agg.top_categories[0].name == "class_1"
    table = entropy_table({"A": agg, "B": scene_aggregates(df)})
    assert table["dataset"].tolist() == ["A", "B"]
    assert table.loc[1, "entropy_mean"] == pytest.approx((math.log(2) + math.log(8)) / 2)


def test_aggregates_of_nothing() -> None:
    df = _scenes([], [], [])
    agg = scene_aggregates(df)
    assert agg.n_images == 0 and math.isnan(agg.entropy_mean) and math.isnan(agg.top1_entropy)
    assert agg.top_categories == ()
    assert math.isnan(indoor_share(df))
    assert top_categories(df).empty


def test_small_helpers() -> None:
    assert entropy_mean_variance([2.0]) == (2.0, 0.0)
    assert math.isnan(entropy_mean_variance([2.0], ddof=1)[1])
    assert histogram_entropy([3, 3, 0]) == pytest.approx(math.log(2))
    assert effective_number([1, 1, 1, 1]) == pytest.approx(4.0)
    assert labels_from_manifest(None) is None


def test_labels_from_manifest(tmp_path) -> None:
    from analysis.cache.manifest import ScenesFacts, read_manifest
    from tests.analysis.scenes.conftest import make_cache

    manifest = read_manifest(make_cache(tmp_path, {"a.jpg": b"x"}))
    assert labels_from_manifest(manifest) is None  # no scene run yet
    manifest.scenes = ScenesFacts(model="m", categories=["a", "b"])
    assert labels_from_manifest(manifest) == ["a", "b"]
