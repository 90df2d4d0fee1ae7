"""Size buckets and level edges at their exact boundaries."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.definitions import (
    AreaSource,
    CrowdConvention,
    SizeBucket,
    SizeEdges,
    density_levels,
    person_area,
    size_bucket_codes,
)


def test_buckets_at_exact_coco_edges():
    edges = SizeEdges()
    areas = [0.0, 1023.999, 1024.0, 1024.001, 9215.999, 9216.0, 1e9, np.nan]
    assert size_bucket_codes(areas, edges).tolist() == [0, 0, 1, 1, 1, 2, 2, -1]
    assert [SizeBucket.of(c) for c in size_bucket_codes(areas, edges)] == [
        "small",
        "small",
        "medium",
        "medium",
        "medium",
        "large",
        "large",
        None,
    ]


def test_size_bucket_code_of_names_and_color():
    # COCO's areas: small < 32^2 <= medium < 96^2 <= large, one area well inside each bucket
    inside = {SizeBucket.SMALL: 10.0**2, SizeBucket.MEDIUM: 50.0**2, SizeBucket.LARGE: 200.0**2}
    codes = size_bucket_codes(list(inside.values()), SizeEdges())
    assert [b.code for b in inside] == codes.tolist() == [0, 1, 2]
    assert all(SizeBucket.of(b.code) is b for b in SizeBucket)
    assert SizeBucket.of(-1) is None and SizeBucket.of(3) is None
    assert SizeBucket.names() == ("small", "medium", "large")
    colors = [b.color for b in SizeBucket]
    assert len(set(colors)) == 3 and all(c.startswith("#") and len(c) == 7 for c in colors)


def test_custom_edges_are_honoured():
    edges = SizeEdges(small_medium=100.0, medium_large=400.0)
    assert size_bucket_codes([99, 100, 399, 400], edges).tolist() == [0, 1, 1, 2]


def test_codes_equal_a_binary_search_and_a_loop_on_generated_values():
    """Bucket and level codes (two comparisons) equal ``np.searchsorted`` over the two edges,
    the computation they replaced, and a per-value loop: edges, their neighbours, zero,
    infinities and NaN included."""
    rng = np.random.default_rng(7)
    edges = SizeEdges(small_medium=1024.0, medium_large=9216.0)
    levels = CrowdConvention.EVAL_CODE.levels()
    for low, high, codes_of in (
        (edges.small_medium, edges.medium_large, lambda v: size_bucket_codes(v, edges)),
        (levels.low, levels.high, levels.codes),
    ):
        special = [low, high, np.nextafter(low, -np.inf), np.nextafter(high, np.inf), 0.0, -0.0, np.inf, -np.inf]
        values = np.concatenate([rng.lognormal(np.log(high) / 2, 2.0, 5000), special, [np.nan] * 5])
        rng.shuffle(values)
        got = codes_of(values)
        searched = np.searchsorted(np.array([low, high]), values, side="right").astype(np.int8)
        searched[np.isnan(values)] = -1
        looped = [-1 if np.isnan(v) else 0 if v < low else 1 if v < high else 2 for v in values]
        assert got.dtype == np.int8
        assert got.tolist() == searched.tolist() == looped


@pytest.mark.parametrize("low, high", [(0, 10), (10, 10), (20, 10), (-1, 5)])
def test_invalid_edges_are_rejected(low, high):
    with pytest.raises(ValueError):
        SizeEdges(low, high)


def test_area_sources():
    w, h, segm = np.array([10.0, 4.0]), np.array([20.0, 5.0]), np.array([150.0, np.nan])
    np.testing.assert_allclose(person_area(w, h, segm, AreaSource.BBOX), [200.0, 20.0])
    np.testing.assert_allclose(person_area(w, h, segm, AreaSource.CROWDPOSE), [106.0, 10.6])
    # segm never falls back to the box: NaN stays NaN.
    out = person_area(w, h, segm, AreaSource.SEGM)
    assert out[0] == 150.0 and np.isnan(out[1])


def test_crowd_conventions_and_density_levels():
    values = [0.0, 0.1, 0.15, 0.2, 0.79, 0.8, 3.0, np.nan]
    assert CrowdConvention.PAPER.levels().labels(values).tolist() == [
        "easy",
        "medium",
        "medium",
        "medium",
        "medium",
        "hard",
        "hard",
        None,
    ]
    assert CrowdConvention.EVAL_CODE.levels().labels(values).tolist() == [
        "easy",
        "easy",
        "easy",
        "medium",
        "medium",
        "hard",
        "hard",
        None,
    ]
    assert density_levels().codes([0.05, 0.5, 0.9]).tolist() == [0, 1, 2]
    assert "0.2" in CrowdConvention.EVAL_CODE.levels().description


def test_command_line_defaults_and_prose_follow_the_constants():
    """Help texts, defaults and definition prose are generated from the one constant each."""
    from analysis.datasets.subset import ALGORITHM
    from analysis.definitions import (
        COCO_SIZE_SIDES,
        CROWD_INDEX_DEFINITION,
        CROWD_INDEX_MIN_KEYPOINTS,
        DENSITY_EDGES,
        SizeEdges,
        density_levels,
        edges_text,
    )
    from analysis.evaluation.definitions import level_edges_from_text, size_edges_from_sides

    # COCO's published edges: 32^2 and 96^2 px; the command line's "32,96" means the same.
    assert SizeEdges() == SizeEdges(32.0 * 32.0, 96.0 * 96.0) == size_edges_from_sides(edges_text(COCO_SIZE_SIDES))
    assert edges_text(COCO_SIZE_SIDES) == "32,96" and edges_text(DENSITY_EDGES) == "0.1,0.8"
    assert level_edges_from_text(edges_text(DENSITY_EDGES)) == density_levels()
    assert f"num_keypoints >= {CROWD_INDEX_MIN_KEYPOINTS}," in CROWD_INDEX_DEFINITION
    assert "B = clip(N // 40, 10, 100)" in ALGORITHM
