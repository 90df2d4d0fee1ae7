"""Browse's logic (dashboard.browsing): what a histogram click opens, ranges, labels."""

from __future__ import annotations

import pandas as pd
import pytest

from dashboard.browsing import (
    BROWSE_HANDOFF,
    BrowseHandoff,
    BrowseRanges,
    BrowseRequest,
    browse_images,
    browse_request,
    clamp,
    handoff_widgets,
    image_label,
    page_count,
    page_rows,
)
from tests.dashboard.dashboard_helpers import app, charts, open_view, texts

SERIES = ["coco", "crowdpose", "smallpose"]


def test_click_on_one_bar_asks_for_its_series_only():
    event = {"selection": {"points": [{"x": 3, "y": 10, "curve_number": 1, "customdata": "crowdpose"}]}}
    assert browse_request(event, SERIES) == BrowseRequest(("crowdpose",), (3.0, 3.0))
    # plotly may send customdata as a one-element list, or leave it out (then the trace index decides)
    listed = {"selection": {"points": [{"x": 2, "curve_number": 0, "customdata": ["smallpose"]}]}}
    assert browse_request(listed, SERIES).series == ("smallpose",)
    bare = {"selection": {"points": [{"x": 2, "curve_number": 2}]}}
    assert browse_request(bare, SERIES).series == ("smallpose",)


def test_box_selection_over_two_series_and_padding():
    event = {
        "selection": {
            "points": [
                {"x": 0.2, "curve_number": 2, "customdata": "smallpose"},
                {"x": 0.45, "curve_number": 0, "customdata": "coco"},
            ]
        }
    }
    request = browse_request(event, SERIES, pad=0.025)
    assert request.series == ("coco", "smallpose")  # in series order
    assert request.span == pytest.approx((0.175, 0.475))


@pytest.mark.parametrize(
    "event",
    [
        None,
        {},
        {"selection": {}},
        {"selection": {"points": []}},
        {"selection": {"points": [{"x": 1, "curve_number": 7}]}},
    ],
)
def test_no_request_without_a_usable_point(event):
    assert browse_request(event, SERIES) is None


def test_browse_images_by_series_and_clamp():
    images = pd.DataFrame(
        {"series": ["a", "b", "a"], "n_selected": [1, 5, 9], "crowd_index": [0.0, 0.5, 1.0], "entropy": [1.0, 2.0, 3.0]}
    )
    assert browse_images(images, series=["a"]).index.tolist() == [0, 2]
    assert browse_images(images, series=["a"], persons=(2, 9)).index.tolist() == [2]
    assert clamp((3, 20), 0, 10) == (3, 10)
    assert clamp((12, 20), 0, 10) == (10, 10)
    assert clamp((5, 2), 0, 10) == (0, 10)


@pytest.mark.parametrize(
    "series, persons, crowd_index, entropy",
    [
        (None, None, None, None),
        (["s1"], None, None, None),
        (["s0", "s2", "unknown"], (1, 3), None, None),
        ([], None, (0.2, 0.9), (0.5, 3.0)),
        (None, (0, 10), (0.0, 2.0), None),  # ranges covering every image
    ],
)
def test_browse_images_equal_a_per_row_selection(series, persons, crowd_index, entropy):
    """On a categorical series column (codes compared, an unused category included) the
    chosen rows equal a per-row check of every condition."""
    import numpy as np

    rng = np.random.default_rng(4)
    n = 500
    images = pd.DataFrame(
        {
            "series": pd.Categorical(rng.choice(["s0", "s1", "s2"], n), categories=["s2", "s0", "s1", "unused"]),
            "n_selected": rng.integers(0, 6, n),
            "crowd_index": rng.uniform(0, 1.5, n),
            "entropy": np.where(rng.uniform(size=n) < 0.1, np.nan, rng.uniform(0, 4, n)),
        }
    )
    got = browse_images(images, series=series, persons=persons, crowd_index=crowd_index, entropy=entropy)

    def passes(row: pd.Series) -> bool:
        ok = series is None or str(row["series"]) in series
        for column, bounds in (("n_selected", persons), ("crowd_index", crowd_index), ("entropy", entropy)):
            ok = ok and (bounds is None or bounds[0] <= row[column] <= bounds[1])
        return bool(ok)

    expected = [i for i, row in images.iterrows() if passes(row)]
    assert got.index.tolist() == expected
    pd.testing.assert_frame_equal(got, images.loc[expected])


def test_image_label_counts_the_population():
    row = pd.Series({"dataset": "coco", "split": "val", "file_name": "x.jpg", "n_selected": 1, "crowd_index": 0.25})
    assert image_label(row, "small persons") == "coco/val · x.jpg · 1 small person · CI 0.25"
    assert image_label(row.replace(1, 3), "persons").endswith("3 persons · CI 0.25")


def test_people_click_opens_browse_for_the_clicked_dataset_only(app_env):
    """The people view's figure sends each bar's dataset; Browse then lists that dataset only."""
    at = open_view(app({"ds": "demo-sparse,demo-small"}), "people")
    traces = charts(at)[0]
    assert [t["customdata"][0] for t in traces] == ["demo-sparse", "demo-small"]  # selection order
    at.session_state[BROWSE_HANDOFF] = BrowseHandoff(("demo-sparse",))  # what a click on a demo-sparse bar stores
    at.switch_page("views/browse.py")
    at.run()
    assert not at.exception
    assert at.multiselect(key="br_series").value == ["demo-sparse"]
    sparse = pd.read_parquet(app_env / "demo-sparse" / "val" / "images.parquet")
    assert f"**{len(sparse)}** images match" in texts(at)  # not demo-small's 48 as well
    at.multiselect(key="br_series").set_value([]).run()  # cleared: every selected dataset again
    small = pd.read_parquet(app_env / "demo-small" / "val" / "images.parquet")
    assert f"**{len(sparse) + len(small)}** images match" in texts(at)


def test_a_click_hands_browse_one_request_it_turns_into_its_widgets():
    click = BrowseRequest(("crowdpose", "gone"), (2.7, 5.9))
    people = BrowseHandoff.of_persons(click)
    assert people == BrowseHandoff(("crowdpose", "gone"), persons=(2, 5))  # whole persons, truncated
    assert handoff_widgets(people, SERIES) == {"br_series": ["crowdpose"], "br_persons": (2, 5)}
    crowding = BrowseHandoff.of_crowd_index(BrowseRequest(("coco",), (-0.025, 0.4251)))
    assert crowding.crowd_index == (0.0, 0.4251)
    assert handoff_widgets(crowding, SERIES) == {"br_series": ["coco"], "br_ci": (0.0, 0.43)}


def test_browse_ranges_pages_and_entropy_filter():
    images = pd.DataFrame(
        {"n_selected": [0, 4, 2], "crowd_index": [0.1, float("nan"), 0.734], "entropy": [float("nan")] * 3}
    )
    ranges = BrowseRanges.of(images)
    assert ranges == BrowseRanges(persons=4, crowd_index=0.74, entropy=None)
    assert ranges.entropy_filter((0.0, 1.0)) is None
    empty = BrowseRanges.of(pd.DataFrame({"n_selected": [0], "crowd_index": [float("nan")], "entropy": [2.5]}))
    assert empty == BrowseRanges(persons=1, crowd_index=0.02, entropy=2.51)
    assert empty.entropy_filter((0.0, 2.51)) is None and empty.entropy_filter((1.0, 2.51)) == (1.0, 2.51)
    shown = pd.DataFrame({"i": range(25)})
    assert [page_count(n) for n in (1, 12, 13, 25)] == [1, 1, 2, 3]
    number, rows = page_rows(shown, 3)
    assert number == 3 and rows["i"].tolist() == [24]
    assert page_rows(shown, 9)[0] == 3 and page_rows(shown, 0)[1]["i"].tolist() == list(range(12))
