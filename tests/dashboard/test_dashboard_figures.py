"""Figure builders: the data they plot equals an independent pandas computation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.definitions import AreaSource, CrowdConvention, SizeBucket, SizeDefinition, SizeEdges, density_levels
from dashboard.figures import crowding, keypoints, people, scenes, size
from dashboard.filters import Filters, apply_filters
from dashboard.summaries import dataset_summary


def filtered(frames, **kw):
    images, persons = frames
    return apply_filters(images, persons, Filters(datasets=("a", "b", "c"), **kw))


def test_bucket_counts_match_pandas(frames):
    f = filtered(frames)
    fig = size.size_buckets(f.persons, ["a", "b"])
    area = f.persons["bbox_w"] * f.persons["bbox_h"]
    expected = pd.cut(area, [0, 32**2, 96**2, np.inf], right=False, labels=["small", "medium", "large"])
    want = expected.groupby([f.persons["dataset"].astype(str), expected], observed=False).size()
    for trace in fig.data:
        assert list(trace.x) == ["small", "medium", "large"]
        assert list(trace.y) == [want[(trace.name, b)] for b in ("small", "medium", "large")]
    # edges honoured: 32x32 = 1024 is medium, 96x96 = 9216 is large (upper bucket on the edge)
    a = dict(zip(fig.data[0].x, fig.data[0].y, strict=True))
    assert a == {"small": 1, "medium": 1, "large": 1}


def test_bucket_shares_and_custom_edges(frames):
    edges = SizeEdges(20.0**2, 50.0**2)
    f = filtered(frames, size=SizeDefinition(AreaSource.BBOX, edges))
    table = size.bucket_table(f.persons, ["b"], normalise="share")
    area = np.array([500.0, 2000.0, 20000.0, 30.0])
    want = np.array([(area < 400).sum(), ((area >= 400) & (area < 2500)).sum(), (area >= 2500).sum()]) / 4
    np.testing.assert_allclose(table["b"].to_numpy(), want)
    assert table["b"].sum() == pytest.approx(1.0)


def test_crowdpose_area_source_scales_bbox(frames):
    f = filtered(frames, size=SizeDefinition(AreaSource.CROWDPOSE))
    np.testing.assert_allclose(f.persons["area"], 0.53 * f.persons["bbox_w"] * f.persons["bbox_h"])
    # 0.53 * 32 * 32 falls below 32^2 (medium -> small), 0.53 * 96 * 96 below 96^2 (large -> medium)
    assert size.bucket_table(f.persons, ["a"])["a"].tolist() == [2, 1, 0]


def test_segm_source_reports_missing_datasets(frames):
    f = filtered(frames, size=SizeDefinition(AreaSource.SEGM))
    assert f.no_area == ("c",)  # c has no segm at all: reported, not re-sourced
    assert f.unknown_area == {"b": 1}  # one b person lacks segm
    assert "c" not in set(f.persons["dataset"].astype(str))
    table = size.bucket_table(f.persons, ["b"])
    assert table["b"].sum() == 3  # the unknown-area person is not counted


def test_bucket_filter_recounts_persons_per_image(frames):
    f = filtered(frames, bucket=SizeBucket.SMALL)
    # small persons by image: img0 1 (100), img3 1 (500), img4 1 (30), img5 1 (50)
    assert f.images.index.tolist() == [0, 3, 4, 5]
    assert f.images["n_selected"].tolist() == [1, 1, 1, 1]
    assert (f.persons["bucket"] == 0).all()


def test_people_per_image_matches_value_counts(frames):
    f = filtered(frames)
    for norm in ("count", "share"):
        fig = people.people_per_image(f.images, ["a", "b"], normalise=norm)
        for trace in fig.data:
            sub = f.images[f.images["dataset"] == trace.name]["n_persons"]
            want = sub.value_counts(normalize=norm == "share").reindex(range(len(trace.x)), fill_value=0)
            np.testing.assert_allclose(trace.y, want.to_numpy())
            assert list(trace.x) == list(range(4))  # up to the largest crowd (3)
    side = people.people_per_image(f.images, ["a"], mode="side", log_y=True)
    assert side.layout.barmode == "group" and side.layout.yaxis.type == "log"


def test_area_distribution_histogram_and_edges(frames):
    f = filtered(frames)
    edges = SizeEdges()
    for axis in ("log", "sqrt"):
        table = size.area_hist_table(f.persons, ["a", "b"], axis=axis, n_bins=10)
        for name in ("a", "b"):
            sub = f.persons[f.persons["dataset"] == name]["area"]
            bins = np.append(table["left"].to_numpy(), table["right"].to_numpy()[-1])
            want = pd.cut(sub, bins, right=False).value_counts(sort=False).to_numpy()
            np.testing.assert_array_equal(table[name].to_numpy(), want)
        fig = size.area_distribution(f.persons, ["a", "b"], edges=edges, axis=axis)
        lines = sorted(s.x0 for s in fig.layout.shapes)
        want_x = [32**2, 96**2] if axis == "log" else [32.0, 96.0]
        np.testing.assert_allclose(lines, want_x)


def test_relative_size(frames):
    f = filtered(frames)
    table = size.relative_size_table(f.persons, ["a"], n_bins=10)
    rel = np.sqrt(np.array([100.0, 1024.0, 9216.0]) / 10000.0)  # 0.1, 0.32, 0.96
    want = np.histogram(rel, bins=np.linspace(0, 1, 11))[0]
    np.testing.assert_array_equal(table["a"].to_numpy(), want)


def test_crowd_index_hist_and_levels(frames):
    f = filtered(frames)
    table = crowding.crowd_index_table(f.images, ["a", "b"], bin_width=0.1)
    ci = f.images["crowd_index"]
    for name in ("a", "b"):
        v = ci[f.images["dataset"] == name].dropna()
        want = np.bincount(np.floor(v / 0.1 + 1e-9).astype(int), minlength=len(table))
        np.testing.assert_array_equal(table[name].to_numpy(), want)
    levels = crowding.crowd_levels_table(f.images, ["a", "b"])
    paper = levels[levels["convention"] == CrowdConvention.PAPER.levels().label]
    code = levels[levels["convention"] == CrowdConvention.EVAL_CODE.levels().label]
    # a: 0.0, 0.15, 0.0 -> paper: easy 2 medium 1; eval code (0.2): easy 3
    assert paper[paper["dataset"] == "a"]["count"].tolist() == [2, 1, 0]
    assert code[code["dataset"] == "a"]["count"].tolist() == [3, 0, 0]
    # b: 0.9 hard, 0.5 medium
    assert paper[paper["dataset"] == "b"]["count"].tolist() == [0, 1, 1]
    fig = crowding.crowd_levels(f.images, ["a", "b"], normalise="share")
    assert len(fig.data) == 4


def test_density_of_small_persons(frames):
    f = filtered(frames)
    small = f.persons[f.persons["bucket"] == 0]
    levels = density_levels(0.1, 0.8)
    table = crowding.density_table(small, ["a", "b"], levels)
    # small: a crowding 0.0 -> sparse; b: 0.05 (sparse), 1.2 (dense)
    assert table[table["dataset"] == "a"]["count"].tolist() == [1, 0, 0]
    assert table[table["dataset"] == "b"]["count"].tolist() == [1, 0, 1]


def test_agreement_table(frames):
    f = filtered(frames)
    table = crowding.agreement_table(f.images, ["a", "b"])
    assert table["dataset"].tolist() == ["b"]
    row = table.iloc[0]
    assert row["images with stored"] == 2 and row["agree (2 decimals)"] == 1
    assert row["max |diff|"] == pytest.approx(0.01)
    fig = crowding.agreement_figure(f.images)
    assert np.nansum(fig.data[0].z) == 2


def test_scene_aggregates_population_variance():
    df = pd.DataFrame(
        {
            "dataset": ["coco"] * 4 + ["x"] * 2,
            "entropy": [1.0, 2.0, 3.0, 4.0, 2.0, 2.0],
            "top5_ids": [[1, 2, 3, 4, 5]] * 3 + [[7, 1, 2, 3, 4]] + [[9, 1, 2, 3, 4]] * 2,
            "p_indoor": [0.9, 0.1, 0.6, 0.2, 0.5, 0.4],
        }
    )
    aggs = scenes.aggregates_by_dataset(df, ["coco", "x"])
    t = scenes.table4(aggs, {"coco": "COCO"}).set_index("dataset")
    assert t.loc["coco", "entropy_mean"] == pytest.approx(2.5)
    assert t.loc["coco", "entropy_variance"] == pytest.approx(np.var([1, 2, 3, 4]))  # ddof=0
    assert t.loc["coco", "paper mean"] == 2.61 and np.isnan(t.loc["x", "paper mean"])
    # the paper's values come from the explicit paper_name only, never from a name prefix
    unnamed = scenes.table4(aggs).set_index("dataset")
    assert unnamed["paper mean"].isna().all()
    assert scenes.table4(aggs, {"x": "crowdpose"}).set_index("dataset").loc["x", "paper variance"] == 1.47
    fig = scenes.entropy_hist(df, ["coco", "x"], n_bins=4)
    assert sum(fig.data[0].y[:-1]) == 4
    top = scenes.top_categories_figure(aggs)
    assert list(top.data[0].x) == [0.75, 0.25]
    io = scenes.indoor_figure(aggs)
    assert list(io.data[0].y) == [0.5, 0.5]
    # keyed by series key, labelled by display name (a label lookup raised KeyError)
    styles = {"coco": {"label": "COCO"}, "x": {"label": "X (ours)/val"}}
    io = scenes.indoor_figure(aggs, styles=styles)
    assert list(io.data[0].x) == ["COCO", "X (ours)/val"] and list(io.data[0].y) == [0.5, 0.5]


def test_table4_prints_the_papers_layout_and_precision():
    """Table 4 as the paper prints it: dataset, mean, variance, the paper's values beside
    them at its 2 decimals (2.61, not 2.610); the other statistics in their own table;
    no -0.0 in the CSV."""
    from dashboard.exports import paper as export
    from dashboard.exports.items import TableItem
    from dashboard.exports.render import RenderOptions, table_files

    df = pd.DataFrame(
        {
            "dataset": ["coco"] * 3,
            "entropy": [1.0, 2.0, 3.0],
            "top5_ids": [[4, 1, 2, 3, 5]] * 3,
            "p_indoor": [0.9, 0.1, 0.6],
        }
    )
    aggs = scenes.aggregates_by_dataset(df, ["coco"])
    t4 = scenes.table4(aggs, {"coco": "COCO"})
    assert list(t4.columns) == ["dataset", "entropy_mean", "entropy_variance", "paper mean", "paper variance"]
    tex = table_files(TableItem("t4", t4, "c", labels={"coco": "COCO (ours)"}), RenderOptions())["t4.tex"].decode()
    assert "Dataset & Mean & Variance & Mean (paper) & Variance (paper) \\\\" in tex
    assert "COCO (ours) & 2.00 & 0.67 & 2.61 & 1.33 \\\\" in tex  # var([1, 2, 3], ddof=0) = 2/3
    stats = scenes.scene_statistics_table(aggs).set_index("dataset")
    assert stats.loc["coco", "n_images"] == 3 and stats.loc["coco", "indoor_share"] == pytest.approx(2 / 3)
    assert stats.loc["coco", "top1_entropy"] == 0  # one top-1 category: -sum p log p = -0.0
    assert b"-0.0" not in export.table_csv(stats.reset_index())


@pytest.mark.parametrize("axis", ["log", "sqrt"])
def test_area_axis_shows_the_empty_small_range(axis):
    """Figure 8b: with no person below 32^2 (persons=keypoints on COCO), the axis still
    shows the small range, so its emptiness is visible; an explicit range is kept."""
    from analysis.definitions import SizeEdges
    from dashboard.figures.size import area_distribution

    persons = pd.DataFrame({"dataset": ["a"] * 4, "area": [2000.0, 5000.0, 20000.0, 90000.0]})
    fig = area_distribution(persons, ["a"], edges=SizeEdges(), axis=axis, n_bins=8)
    lo, hi = fig.layout.xaxis.range
    if axis == "log":
        assert 10**lo <= 32.0**2 / 10 and 10**hi >= 90000.0  # a decade of the small range
    else:
        assert lo == 0 and hi >= 300.0
    fixed = area_distribution(persons, ["a"], edges=SizeEdges(), axis=axis, x_range=(100.0, 1e5))
    assert tuple(fixed.layout.xaxis.range) == ((2.0, 5.0) if axis == "log" else (100.0, 1e5))


def test_joint_rates_any_skeleton():
    vis = np.array([[2, 1, 0], [0, 0, 0], [2, 2, 1], [1, np.nan, 2]], dtype=float)
    buckets = np.array([0, 0, 2, -1])
    t = keypoints.joint_rates(vis, buckets, ["j0", "j1", "j2"])
    small = t[t["bucket"] == "small"]
    assert small["labelled"].tolist() == [0.5, 0.5, 0.0]
    assert small["visible"].tolist() == [0.5, 0.0, 0.0]
    large = t[t["bucket"] == "large"]
    assert large["visible"].tolist() == [1.0, 1.0, 0.0]
    assert (t[t["bucket"] == "medium"]["persons"] == 0).all()
    binary = keypoints.joint_rates(np.array([[1, 0]]), np.array([1]), ["a", "b"], binary_visibility=True)
    assert binary[binary["bucket"] == "medium"]["visible"].tolist() == [1.0, 0.0]
    fig = keypoints.joint_rates_figure(t, dataset="d")
    assert {tr.name.split(" ")[0] for tr in fig.data} == {"small", "large"}
    named = keypoints.joint_rates(vis, buckets, ["left_shoulder", "right_hip", "nose"])
    assert list(keypoints.joint_rates_figure(named, dataset="d").data[0].x) == ["left shoulder", "right hip", "nose"]


def test_dataset_summary(frames):
    f = filtered(frames)
    s = dataset_summary(f.images, f.persons, ["a", "b", "c"], no_area=()).set_index("dataset")
    assert s.loc["a", "images"] == 3 and s.loc["a", "persons"] == 3
    assert s.loc["a", "persons_per_image"] == pytest.approx(1.0)
    assert s.loc["b", "share_small"] == pytest.approx(0.5)
    assert s.loc["a", "mean_entropy"] == pytest.approx(1.5)
    assert np.isnan(s.loc["c", "mean_entropy"]) and np.isnan(s.loc["c", "mean_crowd_index"])
