"""AppTest: every view renders on the demo caches; the global controls change the figures."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.dashboard.dashboard_helpers import DEMO_LABEL as L
from tests.dashboard.dashboard_helpers import VIEWS, app, charts, open_view, texts


@pytest.mark.parametrize("view", VIEWS)
def test_view_renders_without_exceptions(app_env, view):
    at = open_view(app(), view)
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    if view in ("people", "size", "crowding", "scenes", "keypoints"):
        assert charts(at), f"{view} drew no figure"


def _bars(at, title_part="size bucket"):
    return {t["name"]: dict(zip(t["x"], t["y"], strict=True)) for t in charts(at)[0]}


def test_size_bucket_changes_figure_data(app_env):
    at = open_view(app(), "size")
    before = _bars(at)
    assert set(before) == {L["demo-crowd"], L["demo-small"], L["demo-sparse"]}
    assert any(v["large"] > 0 for v in before.values())
    at.sidebar.radio(key="g_bucket").set_value("small").run()
    after = _bars(at)
    for name, bars in after.items():
        assert bars["medium"] == 0 and bars["large"] == 0
        assert bars["small"] == before[name]["small"]
    assert at.query_params["bucket"] == ["small"] or at.query_params["bucket"] == "small"


def test_people_per_image_follows_bucket(app_env):
    at = open_view(app(), "people")
    total = {t["name"]: sum(x * y for x, y in zip(t["x"], t["y"], strict=True)) for t in charts(at)[0]}
    at.sidebar.radio(key="g_bucket").set_value("large").run()
    large = {t["name"]: sum(x * y for x, y in zip(t["x"], t["y"], strict=True)) for t in charts(at)[0]}
    assert all(large.get(k, 0) <= v for k, v in total.items())
    assert sum(large.values()) < sum(total.values())


def test_dataset_selection_changes_traces(app_env):
    at = open_view(app(), "people")
    assert {t["name"] for t in charts(at)[0]} == {L["demo-crowd"], L["demo-small"], L["demo-sparse"]}
    colour = {t["name"]: t["marker"]["color"] for t in charts(at)[0]}
    at.sidebar.multiselect(key="g_ds").set_value(["demo-small"]).run()
    traces = charts(at)[0]
    assert [t["name"] for t in traces] == [L["demo-small"]]
    assert traces[0]["marker"]["color"] == colour[L["demo-small"]]  # stable colour


def test_query_string_sets_controls(app_env):
    at = open_view(app({"ds": "demo-sparse", "bucket": "medium", "norm": "share"}), "size")
    assert at.sidebar.multiselect(key="g_ds").value == ["demo-sparse"]
    assert at.sidebar.radio(key="g_bucket").value == "medium"
    traces = charts(at)[0]
    assert [t["name"] for t in traces] == ["demo-sparse"]
    assert traces[0]["y"][1] == pytest.approx(1.0)  # share: all medium


def test_segm_source_on_dataset_without_segmentation(app_env):
    at = open_view(app({"ds": "demo-crowd,demo-sparse"}), "size")
    at.sidebar.selectbox(key="g_area").set_value("segm").run()
    assert "no segmentation area in this dataset: demo-crowd" in texts(at)
    names = {t["name"] for t in charts(at)[0]}
    assert names == {"demo-sparse"} or all(sum(t["y"]) == 0 for t in charts(at)[0] if t["name"] == "demo-crowd")


def test_edges_rebucket_without_rebuild(app_env):
    at = open_view(app({"ds": "demo-sparse"}), "size")
    before = _bars(at)["demo-sparse"]
    at.sidebar.number_input(key="g_ml").set_value(400.0).run()
    after = _bars(at)["demo-sparse"]
    assert after["large"] < before["large"] and after["medium"] > before["medium"]


def test_filter_that_leaves_nothing(app_env):
    at = open_view(app({"sm": "1", "bucket": "small"}), "size")
    assert not at.exception
    assert "No image matches the current filters" in texts(at)


def test_bad_edges_say_so(app_env):
    at = open_view(app(), "overview")
    at.sidebar.number_input(key="g_sm").set_value(200.0).run()
    assert not at.exception
    assert "edges must satisfy" in texts(at)


def test_no_caches_message(tmp_path, monkeypatch):
    monkeypatch.setenv("POSEATLAS_CACHE_DIR", str(tmp_path / "empty"))
    for view in ("overview", "browse"):
        at = open_view(app(), view)
        assert not at.exception
        assert "python -m analysis demo" in texts(at)


def test_scenes_missing_says_command(app_env):
    at = open_view(app(), "scenes")
    out = texts(at)
    assert "Scenes not computed for: demo-crowd" in out
    assert "python -m analysis scenes --name demo-crowd --split val" in out
    table = at.dataframe[0].value
    assert set(table["dataset"]) == {L["demo-small"], L["demo-sparse"]}
    assert "population variance (ddof=0)" in out


def test_scenes_not_computed_at_all(app_env):
    at = open_view(app({"ds": "demo-crowd"}), "scenes")
    assert not at.exception and not charts(at)
    assert "python -m analysis scenes --name demo-crowd" in texts(at)


def test_overview_cards_and_table(app_env):
    at = open_view(app(), "overview")
    table = at.dataframe[0].value
    assert list(table["dataset"]) == [L["demo-crowd"], L["demo-small"], L["demo-sparse"]]
    assert table.set_index("dataset").loc[L["demo-crowd"], "persons"] == 446
    labels = [m.label for m in at.metric]
    assert labels.count("per image") == 3


def test_browse_shows_images_and_ranges(app_env):
    at = open_view(app({"ds": "demo-sparse"}), "browse")
    assert not at.exception
    assert len(at.get("image")) > 0
    images = pd.read_parquet(app_env / "demo-sparse" / "val" / "images.parquet")
    top = int(images["n_persons"].max())
    at.slider(key="br_persons").set_value((top, top)).run()
    assert f"**{int((images['n_persons'] == top).sum())}** images match" in texts(at)


def test_source_control_hidden_when_all_null(app_env):
    at = open_view(app({"ds": "demo-crowd"}), "overview")
    assert not [w for w in at.sidebar.multiselect if w.key == "g_src"]
    at = open_view(app({"ds": "demo-small"}), "overview")
    src = at.sidebar.multiselect(key="g_src")
    assert set(src.options) >= {"sports", "street"}
    src.set_value(["sports"]).run()
    assert not at.exception
