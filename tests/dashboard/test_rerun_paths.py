"""The per-rerun fast paths (issue 20) give exactly what the direct per-row computations give:
distinct (dataset, split) pairs from categorical codes vs ``drop_duplicates``, the top-1 scene
class precomputed at load vs read from each row's ``top5_ids``, and the filter state kept per
rerun (``data.resolved``) vs ``resolve`` called afresh, on the demo caches and generated data."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from analysis.cache import contract as cache
from analysis.definitions import (
    AreaSource,
    PersonPopulation,
    PopulationKind,
    SizeBucket,
    SizeDefinition,
    SizeEdges,
    size_bucket_codes,
)
from analysis.scenes.aggregates import TOP1_COLUMN, top1_histogram, top1_ids
from dashboard.caches import load_caches
from dashboard.filters import POPULATION_ONLY_COLUMNS, Filters
from dashboard.series import SeriesBy, distinct_pairs, series_keys, splits_used


def _pairs_by_pandas(frame: pd.DataFrame, first: str, second: str) -> set[tuple[str, str]]:
    """The per-row reference: every row's pair as text (a missing value named ``nan``), deduplicated."""
    values = frame[[first, second]].astype(object)
    values = values.where(values.notna(), "nan").astype(str)
    return set(zip(values[first], values[second], strict=True))


def test_distinct_pairs_equal_drop_duplicates_on_generated_frames():
    rng = np.random.default_rng(3)
    n = 20_000
    frame = pd.DataFrame(
        {
            "dataset": rng.choice(["a", "b", "c"], n),
            "split": rng.choice(["train", "val", "test"], n, p=[0.7, 0.3, 0.0]),  # test never occurs
            "source": rng.choice(np.array(["x", "y", None], dtype=object), n),
        }
    )
    for first, second in (("dataset", "split"), ("dataset", "source")):
        plain = distinct_pairs(frame, first, second)
        as_category = distinct_pairs(frame.astype("category"), first, second)
        expected = _pairs_by_pandas(frame, first, second)
        assert set(plain) == expected and len(plain) == len(expected)
        assert set(as_category) == expected and len(as_category) == len(expected)
    # unused categories and a missing value on the categorical path
    cat = frame.astype("category")
    cat["split"] = cat["split"].cat.add_categories(["unused"])
    cat.loc[0, "split"] = np.nan
    assert set(distinct_pairs(cat, "dataset", "split")) == _pairs_by_pandas(cat, "dataset", "split")


@pytest.mark.parametrize("grouped", [False, True])
def test_distinct_pairs_come_in_order_of_first_occurrence(grouped):
    """Categorical pairs (found from the starts of runs of equal rows) come in the order of
    their first row, as ``drop_duplicates`` keeps them: on shuffled rows (a run per row) and
    on rows grouped by dataset and split as the dashboard's frames are (a few long runs, one
    pair in two separate runs), a missing value included."""
    rng = np.random.default_rng(8)
    n = 30_000
    frame = pd.DataFrame(
        {
            "dataset": rng.choice(["c", "a", "b"], n),
            "split": rng.choice(np.array(["val", "train", None], dtype=object), n, p=[0.3, 0.65, 0.05]),
        }
    )
    if grouped:
        frame = frame.sort_values(["dataset", "split"], kind="stable", na_position="first").reset_index(drop=True)
        frame = pd.concat([frame, frame.iloc[:5]], ignore_index=True)  # the first pair again in a later run
    expected = [(_text(d), _text(s)) for d, s in frame.drop_duplicates().itertuples(index=False, name=None)]
    assert distinct_pairs(frame.astype("category"), "dataset", "split") == expected
    assert distinct_pairs(frame, "dataset", "split") == expected


def _text(value: object) -> str:
    return "nan" if pd.isna(value) else str(value)


@pytest.fixture(scope="module")
def loaded(demo_cache):
    return load_caches(demo_cache)


def test_distinct_pairs_and_captions_on_the_demo_caches(loaded):
    images = loaded.images
    assert set(distinct_pairs(images, "dataset", "split")) == _pairs_by_pandas(images, "dataset", "split")
    names = list(loaded.datasets)
    expected = []
    for name in names:  # the caption as the per-row computation writes it
        splits = sorted(images.loc[images["dataset"].astype(str) == name, "split"].astype(str).unique())
        expected.append(f"{name} {'+'.join(splits)}")
    assert splits_used(images, names) == "splits: " + ", ".join(expected)
    with_series = images.assign(series=series_keys(images, SeriesBy.SPLIT))
    assert set(distinct_pairs(with_series, "dataset", "series")) == _pairs_by_pandas(with_series, "dataset", "series")


def test_top1_precomputed_at_load_equals_the_top5_lists(loaded, demo_cache):
    scenes = loaded.scenes
    assert scenes is not None and TOP1_COLUMN in scenes.columns and "top5_ids" not in scenes.columns
    on_disk = pd.concat(
        [
            cache.read_scenes(demo_cache, cache.CacheKey(str(d), str(s)))
            for d, s in distinct_pairs(scenes, "dataset", "split")
        ],
        ignore_index=True,
    )
    assert on_disk["image_id"].tolist() == scenes["image_id"].tolist()
    direct = np.array([ids[0] for ids in on_disk["top5_ids"]], dtype=np.int64)
    assert top1_ids(scenes).tolist() == direct.tolist()
    assert top1_ids(on_disk).tolist() == direct.tolist()  # a frame without the column reads the lists
    some = scenes[scenes["dataset"].astype(str) == "demo-small"]
    assert (
        top1_histogram(some).tolist()
        == np.bincount(direct[(scenes["dataset"] == "demo-small").to_numpy()], minlength=365).tolist()
    )


FILTER_STATES = [
    Filters(),
    Filters(bucket=SizeBucket.SMALL),
    Filters(size=SizeDefinition(AreaSource.SEGM), population=PersonPopulation(PopulationKind.ALL)),
    Filters(series=SeriesBy.SPLIT, bucket=SizeBucket.LARGE),
]


def test_resolved_per_filter_state_equals_resolve(loaded, demo_cache, monkeypatch):
    from dashboard import data
    from dashboard.exports.state import resolve

    monkeypatch.setenv("POSEATLAS_CACHE_DIR", str(demo_cache))
    data._resolved.clear()
    for state in FILTER_STATES:
        f = Filters(**{**state.__dict__, "datasets": tuple(loaded.datasets)})
        kept = data.resolved(loaded, f)
        assert data.resolved(loaded, f) is kept  # the second rerun reuses it
        fresh = resolve(loaded, f)
        pd.testing.assert_frame_equal(kept[0].images, fresh[0].images)
        pd.testing.assert_frame_equal(kept[0].persons, fresh[0].persons)
        assert kept[0].filters == f and kept[0].no_area == fresh[0].no_area
        assert kept[1:] == fresh[1:]
    # another filter state never gets a kept result of the first
    a = data.resolved(loaded, Filters(datasets=tuple(loaded.datasets)))
    b = data.resolved(loaded, Filters(datasets=tuple(loaded.datasets), bucket=SizeBucket.SMALL))
    assert a[0].filters != b[0].filters and len(b[0].persons) < len(a[0].persons)


def _generated(n_images: int = 3_000, seed: int = 5) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Images of three datasets (c without any segmentation area, b with some missing) and their persons."""
    rng = np.random.default_rng(seed)
    ds = rng.choice(["a", "b", "c"], n_images)
    images = pd.DataFrame(
        {
            "dataset": pd.Categorical(ds),
            "split": pd.Categorical(rng.choice(["train", "val"], n_images)),
            "source": pd.Categorical(rng.choice(np.array(["x", "y", None], dtype=object), n_images)),
            "image_id": np.arange(n_images),
            "n_persons": rng.integers(0, 6, n_images),
        }
    )
    image_index = np.repeat(np.arange(n_images), images["n_persons"].to_numpy())
    n = len(image_index)
    w, h = rng.uniform(1, 200, n), rng.uniform(1, 200, n)
    segm = w * h * 0.6
    segm[ds[image_index] == "c"] = np.nan
    segm[(ds[image_index] == "b") & (rng.uniform(size=n) < 0.2)] = np.nan
    persons = pd.DataFrame(
        {
            "dataset": pd.Categorical(ds[image_index]),
            "split": images["split"].to_numpy()[image_index],
            "bbox_w": w,
            "bbox_h": h,
            "segm_area": segm,
            "num_keypoints": np.where(rng.uniform(size=n) < 0.1, np.nan, rng.integers(0, 18, n)).astype(np.float32),
            "n_labelled": rng.integers(0, 18, n).astype(np.int32),
            "image_index": image_index,
            "instance_row": np.arange(n),
        }
    )
    return images, persons


GENERATED_STATES = [
    Filters(datasets=("a", "b", "c")),
    Filters(datasets=("c", "a"), bucket=SizeBucket.SMALL, split="val"),
    Filters(
        datasets=("a", "b", "c"),
        size=SizeDefinition(AreaSource.SEGM),
        bucket=SizeBucket.MEDIUM,
        population=PersonPopulation(PopulationKind.MIN_LABELLED, 5),
        series=SeriesBy.SOURCE,
    ),
    Filters(
        datasets=("b",),
        sources=("x",),
        size=SizeDefinition(AreaSource.SEGM),
        population=PersonPopulation(PopulationKind.ALL),
    ),
]


@pytest.mark.parametrize("f", GENERATED_STATES)
def test_filters_equal_the_per_row_computation_on_generated_data(f):
    from dashboard.filters import apply_filters

    images, persons = _generated()
    got = apply_filters(images, persons, f)
    # the reference, row by row in plain pandas
    img_ok = images["dataset"].astype(str).isin(f.datasets)
    if f.split is not None:
        img_ok &= images["split"].astype(str) == f.split
    if f.sources is not None:
        img_ok &= images["source"].astype(object).isin(f.sources)
    p = persons[img_ok.to_numpy()[persons["image_index"]]].copy()
    k = f.population.kind
    if k is PopulationKind.KEYPOINTS:
        p = p[p["num_keypoints"].fillna(p["n_labelled"]) > 0]
    elif k is PopulationKind.LABELLED:
        p = p[p["n_labelled"] >= 1]
    elif k is PopulationKind.MIN_LABELLED:
        p = p[p["n_labelled"] >= f.population.min_labelled]
    source = f.size.area_source
    p["area"] = p["segm_area"] if source is AreaSource.SEGM else p["bbox_w"] * p["bbox_h"]
    missing = p["area"].isna().groupby(p["dataset"].astype(str)).agg(["sum", "size"])
    no_area = sorted(d for d, r in missing.iterrows() if r["size"] > 0 and r["sum"] == r["size"])
    unknown = {d: int(r["sum"]) for d, r in missing.iterrows() if 0 < r["sum"] < r["size"]}
    p = p[~p["dataset"].astype(str).isin(no_area)]
    bucket = np.select(
        [p["area"] < f.size.edges.small_medium, p["area"] < f.size.edges.medium_large, p["area"].notna()], [0, 1, 2], -1
    )
    p["bucket"] = bucket
    if f.bucket is not None:
        p = p[p["bucket"] == list(SizeBucket).index(f.bucket)]
    assert got.no_area == tuple(no_area) and got.unknown_area == unknown
    assert got.persons.index.tolist() == p.index.tolist()
    np.testing.assert_array_equal(got.persons["area"].to_numpy(), p["area"].to_numpy())
    assert got.persons["bucket"].tolist() == p["bucket"].tolist()
    # the other columns are the loaded rows', less those that only chose the population
    carried = persons.loc[p.index].drop(columns=list(POPULATION_ONLY_COLUMNS))
    pd.testing.assert_frame_equal(got.persons.drop(columns=["area", "bucket", "series"]), carried, check_exact=True)
    per_image = p.groupby("image_index").size()
    if f.bucket is not None:
        assert got.images.index.tolist() == per_image.index.tolist()
        assert got.images["n_selected"].tolist() == per_image.tolist()
    else:
        assert got.images.index.tolist() == np.flatnonzero(img_ok).tolist()
    assert (
        got.persons["series"].astype(str).tolist()
        == got.images.loc[got.persons["image_index"], "series"].astype(str).tolist()
    )


@pytest.mark.parametrize("series", list(SeriesBy))
@pytest.mark.parametrize("bucket", [None, *SizeBucket])
@pytest.mark.parametrize("categorical", [True, False])
def test_kept_images_equal_the_two_step_take(series, bucket, categorical):
    """The filtered images (taken once: the images of the bucket's persons) equal the two
    steps they replaced: every kept image with its series key, then the non-empty ones;
    the series categories (from all kept images) included."""
    from dashboard.filters import apply_filters, select_population

    images, persons = _generated()
    # every person of c, of a's train split and of a's source x is tiny: those series keep
    # their category with no image in the medium or large bucket
    of = persons["image_index"].to_numpy()
    tiny = (images["dataset"].astype(str).to_numpy()[of] == "c") | (
        (images["dataset"].astype(str).to_numpy()[of] == "a")
        & (
            (images["split"].astype(str).to_numpy()[of] == "train")
            | (images["source"].astype(object).to_numpy()[of] == "x")
        )
    )
    persons.loc[tiny, ["bbox_w", "bbox_h"]] = 1.0
    if not categorical:  # a dataset column of strings: its series categories come from the rows
        images = images.assign(dataset=images["dataset"].astype(str))
    f = Filters(datasets=("c", "a"), split="val" if bucket is SizeBucket.LARGE else None, bucket=bucket, series=series)
    population = select_population(images, persons, f)
    codes = size_bucket_codes(population.persons["area"].to_numpy(), f.size.edges)
    if bucket is None:
        n_selected = population.n_population
    else:
        chosen = population.persons["image_index"].to_numpy()[codes == bucket.code]
        n_selected = np.bincount(chosen, minlength=len(images))[population.keep]
    expected = images[population.keep].assign(n_selected=n_selected)
    expected["series"] = series_keys(expected, series)
    if bucket is not None:
        expected = expected[expected["n_selected"].to_numpy() > 0]
    got = apply_filters(images, persons, f, population)
    assert len(got.images) < population.keep.sum() or bucket is None
    pd.testing.assert_frame_equal(got.images, expected, check_exact=True)
    assert got.persons["series"].cat.categories.tolist() == expected["series"].cat.categories.tolist()
    if bucket in (SizeBucket.MEDIUM, SizeBucket.LARGE):  # a category without images: the test can tell
        assert set(got.images["series"].astype(str)) < set(got.images["series"].cat.categories)


def test_sources_kept_per_frame_equal_a_per_row_listing():
    """The sidebar's source list (kept per images frame and datasets) equals the non-null
    sources of the chosen datasets' rows, for each choice, asked twice; a caller's edit of
    the list never reaches the kept one."""
    from dashboard.filters import sources_of

    images, _ = _generated()
    for datasets in (("a", "b", "c"), ("b",), ("c", "a"), ()):
        expected = sorted(
            {str(s) for d, s in zip(images["dataset"], images["source"], strict=True) if d in datasets and pd.notna(s)}
        )
        first = sources_of(images, datasets)
        assert first == expected
        first.append("edited")
        assert sources_of(images, datasets) == expected


@pytest.mark.parametrize("f", GENERATED_STATES)
def test_filters_from_a_kept_population_equal_a_fresh_filter(f):
    # another state's population (other edges, bucket and series, same datasets, split,
    # sources, population and area source) gives exactly what filtering afresh gives
    from dashboard.filters import apply_filters, population_key, select_population

    images, persons = _generated()
    fresh = apply_filters(images, persons, f)
    other = replace(
        f,
        size=SizeDefinition(f.size.area_source, SizeEdges(300.0, 9_000.0)),
        bucket=None if f.bucket else SizeBucket.LARGE,
        series=SeriesBy.SPLIT,
    )
    population = select_population(images, persons, other)
    columns = list(population.persons.columns)
    assert population.key == population_key(f)
    for _ in range(2):  # used twice: the kept population is left as it was
        got = apply_filters(images, persons, f, population)
        pd.testing.assert_frame_equal(got.images, fresh.images, check_exact=True)
        pd.testing.assert_frame_equal(got.persons, fresh.persons, check_exact=True)
        assert (got.no_area, got.unknown_area, got.filters) == (fresh.no_area, fresh.unknown_area, fresh.filters)
        assert list(population.persons.columns) == columns
    # a population of other filter parts is not used
    wrong = select_population(images, persons, replace(f, datasets=("a",), population=PersonPopulation()))
    got = apply_filters(images, persons, f, wrong)
    pd.testing.assert_frame_equal(got.persons, fresh.persons, check_exact=True)


def test_distinct_pairs_kept_per_frame_while_it_lives(young_heap):
    """Issue 20: a view's captions ask for the same frame's pairs six times; the pairs are kept
    per frame object, and a frame allocated after another is freed never gets the freed one's."""
    import gc

    rng = np.random.default_rng(11)
    for i in range(30):
        names = [f"d{i}", f"e{i}"]
        frame = pd.DataFrame({"dataset": rng.choice(names, 500), "split": rng.choice(["train", "val"], 500)})
        frame = frame.astype("category")
        first = distinct_pairs(frame, "dataset", "split")
        assert set(first) == _pairs_by_pandas(frame, "dataset", "split")
        again = distinct_pairs(frame, "dataset", "split")
        assert again == first and again is not first  # a copy: a caller's edit cannot reach the kept list
        del frame, first, again
        gc.collect()
