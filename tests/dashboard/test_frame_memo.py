"""The size view's counts kept per filtered frame (``dashboard.frame_memo.kept``, issue 20) equal
a per-person count on generated frames, asked again, for other arguments, and for a new frame
after the first one is freed."""

from __future__ import annotations

import gc

import numpy as np
import pandas as pd

from analysis.definitions import SizeBucket
from dashboard import frame_memo
from dashboard.figures.size import area_hist_table, bucket_table, relative_size_table

NAMES = ["a", "b", "c"]


def _persons(seed: int, n: int = 3000) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    area = rng.lognormal(7.0, 1.5, n)
    area[rng.random(n) < 0.05] = np.nan  # unknown areas
    bucket = np.where(np.isnan(area), -1, np.digitize(area, [32.0**2, 96.0**2])).astype(np.int8)
    series = rng.choice(NAMES, n, p=[0.5, 0.3, 0.2])
    return pd.DataFrame(
        {
            "series": pd.Categorical(series, categories=["c", "b", "a", "unused"]),  # codes in another order
            "area": area,
            "bucket": bucket,
            "image_area": rng.uniform(1e3, 4e5, n),
        }
    )


def _bucket_loop(frame: pd.DataFrame, name: str) -> list[float]:
    counts = dict.fromkeys((b.code for b in SizeBucket), 0)
    for series, code in zip(frame["series"].astype(str), frame["bucket"], strict=True):
        if series == name and code >= 0:
            counts[int(code)] += 1
    return [float(counts[b.code]) for b in SizeBucket]


def _histogram_loop(values: np.ndarray, series: pd.Series, name: str, left: np.ndarray, right: np.ndarray) -> list:
    """Per bin [left, right), the last one closed, counted person by person."""
    counts = [0] * len(left)
    for value, s in zip(values, series.astype(str), strict=True):
        if s != name or not np.isfinite(value):
            continue
        for i, (lo, hi) in enumerate(zip(left, right, strict=True)):
            if lo <= value < hi or (i == len(left) - 1 and value == hi):
                counts[i] += 1
                break
    return counts


def _check(frame: pd.DataFrame, names: list[str]) -> None:
    table = bucket_table(frame, names)
    shares = bucket_table(frame, names, normalise="share")
    for name in names:
        expected = _bucket_loop(frame, name)
        assert table[name].tolist() == expected
        assert np.allclose(shares[name].to_numpy(), np.array(expected) / sum(expected))
    area = frame["area"].to_numpy()
    for axis in ("log", "sqrt"):
        hist = area_hist_table(frame, names, axis=axis)
        for name in names:
            valid = np.where(area > 0, area, np.nan)
            assert hist[name].tolist() == _histogram_loop(
                valid, frame["series"], name, hist["left"].to_numpy(), hist["right"].to_numpy()
            )
    relative = np.clip(np.sqrt(area / frame["image_area"].to_numpy()), 0.0, 1.0)
    rel = relative_size_table(frame, names)
    for name in names:
        assert rel[name].tolist() == _histogram_loop(
            relative, frame["series"], name, rel["left"].to_numpy(), rel["right"].to_numpy()
        )


def test_kept_counts_equal_a_per_person_count_asked_again_and_for_other_arguments():
    frame = _persons(0)
    for _ in range(2):  # the second time from the kept counts
        _check(frame, NAMES)
    _check(frame, ["c", "a"])  # other series, another order: not the kept counts of NAMES
    fresh = bucket_table(frame.copy(), NAMES)  # another frame object: computed afresh
    pd.testing.assert_frame_equal(bucket_table(frame, NAMES), fresh)


def test_a_new_frame_never_gets_a_freed_frames_counts(young_heap):
    for seed in range(4):  # ids of freed frames are reused
        frame = _persons(seed, n=500 + 100 * seed)
        _check(frame, NAMES)
        key = id(frame)
        del frame
        gc.collect()
        assert not any(k[0] == key for k in frame_memo._KEPT)


def test_kept_returns_the_computed_value_once_per_key():
    frame = pd.DataFrame({"x": [1, 2]})
    calls = []

    def compute():
        calls.append(1)
        return len(calls)

    assert frame_memo.kept(frame, ("k",), compute) == 1
    assert frame_memo.kept(frame, ("k",), compute) == 1
    assert frame_memo.kept(frame, ("other",), compute) == 2


def test_small_persons_give_the_density_tables_of_the_full_selection():
    from analysis.definitions import density_levels
    from dashboard.figures.crowding import density_coverage, density_table, small_persons

    frame = _persons(5)
    frame["crowding"] = np.where(
        np.random.default_rng(5).random(len(frame)) < 0.2, np.nan, np.random.default_rng(6).uniform(0, 3, len(frame))
    )
    full = frame[frame["bucket"] == SizeBucket.SMALL.code]  # every column, as the view selected before
    for _ in range(2):  # the second time the kept selection
        small = small_persons(frame)
        assert small.index.equals(full.index) and list(small.columns) == ["series", "crowding"]
        levels = density_levels(0.5, 1.5)
        pd.testing.assert_frame_equal(density_table(small, NAMES, levels), density_table(full, NAMES, levels))
        pd.testing.assert_frame_equal(density_coverage(small, NAMES), density_coverage(full, NAMES))
        edited = density_table(small, NAMES, levels)
        edited.loc[:, "count"] = -1  # a caller's edit never reaches the kept table
    other = density_table(small, NAMES, density_levels(0.2, 1.0))  # other edges: not the kept table
    pd.testing.assert_frame_equal(other, density_table(full.copy(), NAMES, density_levels(0.2, 1.0)))


def _images(seed: int, n: int = 2000) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    stored = rng.uniform(0, 1, n)
    stored[rng.random(n) < 0.5] = np.nan  # only some files store one
    return pd.DataFrame(
        {
            "series": pd.Categorical(rng.choice(NAMES, n)),
            "crowd_index": rng.uniform(0, 1.2, n),
            "crowd_index_stored": stored,
        }
    )


def test_kept_crowdindex_counts_and_levels_equal_a_per_image_count_and_stay_unchanged_by_callers():
    from analysis.definitions import CrowdIndexSource
    from dashboard.figures.crowding import crowd_index_table, crowd_levels_both_table, crowd_levels_table

    images = _images(7)
    fresh_levels = {v: crowd_levels_table(images.copy(), NAMES, v) for v in CrowdIndexSource}
    for _ in range(2):  # the second time from the kept counts
        for value in CrowdIndexSource:
            table = crowd_index_table(images, NAMES, value=value)
            for name in NAMES:
                ci = images.loc[images["series"] == name, value.column].dropna().to_numpy()
                expected = [
                    int(((ci >= lo) & (ci < hi)).sum()) for lo, hi in zip(table["left"], table["right"], strict=True)
                ]
                assert table[name].tolist() == expected
            levels = crowd_levels_table(images, NAMES, value)
            pd.testing.assert_frame_equal(levels, fresh_levels[value])
            levels.loc[:, "count"] = -1  # a caller's edit never reaches the kept table
        both = crowd_levels_both_table(images, NAMES)  # inserts a column into what it gets
        assert set(both["CrowdIndex"]) == {v.value for v in CrowdIndexSource}


def test_kept_scene_rows_and_aggregates_equal_a_fresh_computation():
    from analysis.scenes.aggregates import scene_aggregates
    from dashboard.figures.scenes import aggregates_by_dataset, with_series

    rng = np.random.default_rng(11)
    images = _images(11, n=600)
    scenes = pd.DataFrame(
        {
            "image_index": rng.permutation(1000)[:800],  # some filtered images have no scene row
            "entropy": rng.uniform(0, 4, 800),
            "p_indoor": rng.uniform(0, 1, 800),
            "top1_id": rng.integers(0, 365, 800),
        }
    )
    for top_k in (5, 10, 5):  # a top_k asked before: the kept aggregates
        part = with_series(scenes, images)
        assert part is with_series(scenes, images)  # kept: the aggregates below are kept with it
        in_images = scenes[scenes["image_index"].isin(images.index)]
        assert part["image_index"].tolist() == in_images["image_index"].tolist()
        assert part["series"].astype(str).tolist() == [str(images.at[i, "series"]) for i in in_images["image_index"]]
        assert part["series"].dtype == images["series"].dtype  # categorical: grouped by codes
        aggs = aggregates_by_dataset(part, NAMES, top_k=top_k)
        for name in NAMES:
            rows = part[part["series"].astype(str) == name]
            assert aggs[name] == scene_aggregates(rows.copy(), None, top_k)
    other = scenes.copy()
    other["image_index"] = other["image_index"][::-1].to_numpy()  # another scenes frame: not the kept rows
    assert (
        with_series(other, images)["image_index"].tolist()
        == other.loc[other["image_index"].isin(images.index), "image_index"].tolist()
    )
