"""AppTest: the Models view and Browse with a model's predictions, on the demo caches
(whose synthetic models the demo evaluates through the real engine), checked against
pycocotools run here on the demo's annotation and results files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dashboard.figures.models import REPORTED_LABEL
from tests.dashboard.cocoeval_matches import run as coco_run
from tests.dashboard.dashboard_helpers import app, charts, open_view, texts

MODELS = ("synthetic-precise", "synthetic-coarse")


def _files(cache: Path, dataset: str, model: str) -> tuple[Path, Path]:
    data = cache.parent / "data" / dataset
    return data / "annotations.json", data / "predictions" / f"{model}.json"


def _table5(at):
    table = at.dataframe[0].value
    assert list(table.columns[:3]) == ["model", "dataset", "AP"]
    return table.set_index("model")


@pytest.mark.slow
def test_models_view_table5_equals_pycocotools(app_env):
    at = open_view(app({"ds": "demo-small"}), "models")
    assert not at.exception, [e.value for e in at.exception]
    table = _table5(at)
    assert set(table.index) == set(MODELS)
    for model in MODELS:
        # AP over all persons does not depend on the size definition: pycocotools' own AP.
        ref = coco_run(*_files(app_env, "demo-small", model))
        assert table.loc[model, "AP"] == pytest.approx(100 * ref.ap[0], abs=1e-9)
    out = texts(at)
    assert REPORTED_LABEL in out.lower() or REPORTED_LABEL in str(at.dataframe[1].value.columns)
    reported = at.dataframe[1].value
    assert REPORTED_LABEL in reported.columns and not set(reported[REPORTED_LABEL]) & set(MODELS)
    assert "sigmas" in out and "OKS area" in out
    assert "2 of 2 stored evaluations shown" in out  # all by default, and said
    bars = charts(at)[0]
    assert {t["name"] for t in bars} == set(MODELS)


def test_size_definition_reslices_like_pycocotools(app_env):
    """Sidebar: segm area (the demo's OKS area too) and edges 24 / 100: re-sliced from stored
    OKS pairs, equal to pycocotools with the same half-open ranges on the file's area."""
    at = open_view(app({"ds": "demo-small"}), "models")
    at.sidebar.selectbox(key="g_area").set_value("segm").run()
    at.sidebar.number_input(key="g_sm").set_value(24.0).run()
    at.sidebar.number_input(key="g_ml").set_value(100.0).run()
    assert not at.exception, [e.value for e in at.exception]
    table = _table5(at)
    for model in MODELS:
        ref = coco_run(*_files(app_env, "demo-small", model), area="segm", edges=(24.0**2, 100.0**2))
        assert None not in ref.ap[:3] and ref.ap[3] is None  # the demo has no large person here
        for column, a in (("AP", 0), ("AP^S", 1), ("AP^M", 2)):
            assert table.loc[model, column] == pytest.approx(100 * ref.ap[a], abs=1e-9), (model, column)
        assert table.loc[model, "AP^L"] == "--"  # an empty slice on the screen: --, never None
    assert "re-sliced" in texts(at)


@pytest.mark.slow
def test_pr_curve_equals_pycocotools_precision(app_env):
    at = open_view(app({"ds": "demo-small"}), "models")
    curves = {t["name"]: np.asarray(t["y"], dtype=float) for t in charts(at)[1]}
    for model in MODELS:
        ref = coco_run(*_files(app_env, "demo-small", model))
        np.testing.assert_allclose(curves[model], 100 * ref.precision[0, :, 0], atol=1e-9)


def test_no_evaluation_says_the_command(app_env):
    at = open_view(app({"ds": "demo-sparse"}), "models")
    assert not at.exception
    out = texts(at)
    assert "No stored evaluation for demo-sparse/val" in out
    assert "python -m analysis evaluate --name demo-sparse --split val" in out


def _missed_small_images(cache: Path, dataset: str, model: str) -> set[int]:
    """Images with a counted person of bbox area < 32^2 unmatched at OKS 0.5 (pycocotools, range all)."""
    gt_file, results = _files(cache, dataset, model)
    ref = coco_run(gt_file, results)
    doc = json.loads(gt_file.read_text())
    small = {a["id"] for a in doc["annotations"] if a["bbox"][2] * a["bbox"][3] < 32.0**2}
    g = ref.gt
    hit = g[(g["matched"] == 0) & ~g["ignored"] & g["ann_id"].isin(small)]
    return set(hit["image_id"].tolist())


def test_browse_with_a_model_and_missed_small_persons(app_env):
    at = open_view(app({"ds": "demo-small,demo-sparse"}), "browse")
    model = "synthetic-precise"
    label = next(o for o in at.selectbox(key="br_model").options if o.startswith(model))
    at.selectbox(key="br_model").set_value(label).run()
    assert not at.exception, [e.value for e in at.exception]
    n_images = len(json.loads(_files(app_env, "demo-small", model)[0].read_text())["images"])
    assert f"**{n_images}** images match" in texts(at)  # the model's split only
    assert len(at.get("image")) > 0
    assert "missed" in texts(at) and "false positive" in texts(at)
    at.checkbox(key="br_missed_small").check().run()
    expected = _missed_small_images(app_env, "demo-small", model)
    assert 0 < len(expected) < n_images
    assert f"**{len(expected)}** images match" in texts(at)
    names = {i["id"]: i["file_name"] for i in json.loads(_files(app_env, "demo-small", model)[0].read_text())["images"]}
    captions = [e.proto.imgs[0].caption for e in at.get("image")]
    assert len(captions) == min(12, len(expected))  # first page
    assert {c.split(" · ")[1] for c in captions} <= {names[i] for i in expected}
    # every demo image has its file: the switch keeps them all and leaves nothing out
    at.checkbox(key="br_with_files").check().run()
    assert not at.exception, [e.value for e in at.exception]
    assert f"**{len(expected)}** images match" in texts(at) and "without a file left out" not in texts(at)


def test_stale_evaluation_is_flagged_with_the_command(demo_cache, tmp_path, monkeypatch):
    """Change the annotations and rebuild: the stored evaluations are kept but flagged stale."""
    import shutil
    import subprocess
    import sys

    from tests.dashboard.dashboard_helpers import REPO

    cache_dir, data = tmp_path / "cache", tmp_path / "data"
    shutil.copytree(demo_cache / "demo-small", cache_dir / "demo-small")
    shutil.copytree(demo_cache.parent / "data" / "demo-small", data / "demo-small")
    annotations = data / "demo-small" / "annotations.json"
    doc = json.loads(annotations.read_text())
    doc["annotations"][0]["keypoints"][0] += 1.0  # one joint moved by a pixel
    annotations.write_text(json.dumps(doc))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "analysis",
            "build",
            "--name",
            "demo-small",
            "--split",
            "val",
            "--annotations",
            str(annotations),
            "--images",
            str(data / "demo-small" / "images"),
            "--cache-dir",
            str(cache_dir),
        ],
        cwd=REPO,
        check=True,
        capture_output=True,
    )
    monkeypatch.setenv("POSEATLAS_CACHE_DIR", str(cache_dir))
    at = open_view(app(), "models")
    assert not at.exception, [e.value for e in at.exception]
    warnings = "\n".join(w.value for w in at.warning)
    for model in MODELS:
        assert f"{model} (demo-small/val): the annotations changed since this evaluation" in warnings
    codes = "\n".join(c.value for c in at.code)
    predictions = demo_cache.parent / "data" / "demo-small" / "predictions" / "synthetic-coarse.json"
    assert (
        f"python -m analysis evaluate --name demo-small --split val --predictions {predictions} "
        f"--model synthetic-coarse --cache-dir {cache_dir}"
    ) in codes


def test_a_new_evaluation_is_picked_up_without_restart(demo_cache, tmp_path, monkeypatch):
    """The re-sliced results are cached on the evaluation files' modification times."""
    import shutil
    import subprocess
    import sys

    from tests.dashboard.dashboard_helpers import REPO

    cache_dir = tmp_path / "cache"
    shutil.copytree(demo_cache / "demo-small", cache_dir / "demo-small")
    monkeypatch.setenv("POSEATLAS_CACHE_DIR", str(cache_dir))
    at = open_view(app({"sm": "30"}), "models")  # a size definition that re-slices
    before = _table5(at).loc["synthetic-coarse", "AP"]
    precise = demo_cache.parent / "data" / "demo-small" / "predictions" / "synthetic-precise.json"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "analysis",
            "evaluate",
            "--name",
            "demo-small",
            "--split",
            "val",
            "--predictions",
            str(precise),
            "--model",
            "synthetic-coarse",
            "--cache-dir",
            str(cache_dir),
        ],
        cwd=REPO,
        check=True,
        capture_output=True,
    )
    at.run()
    after = _table5(at)
    assert after.loc["synthetic-coarse", "AP"] == pytest.approx(after.loc["synthetic-precise", "AP"], abs=1e-9)
    assert after.loc["synthetic-coarse", "AP"] != pytest.approx(before)


def test_stored_evaluations_table_counts_what_was_left_out(app_env):
    at = open_view(app({"ds": "demo-small"}), "models")
    stored = next(d.value for d in at.dataframe if "beyond 20 per image" in d.value.columns).set_index("model")
    for model in MODELS:
        records = json.loads(_files(app_env, "demo-small", model)[1].read_text())
        per_image = np.bincount([r["image_id"] - min(r["image_id"] for r in records) for r in records])
        assert stored.loc[model, "records"] == len(records)
        assert stored.loc[model, "evaluated"] == int(np.minimum(per_image, 20).sum())
        assert stored.loc[model, "beyond 20 per image"] == int(np.maximum(per_image - 20, 0).sum())
        assert stored.loc[model, "other categories"] == 0 and not stored.loc[model, "stale"]


@pytest.mark.slow
def test_pr_curve_of_a_slice_at_a_threshold_and_the_mean(app_env):
    """Small persons by segm area (the demo's OKS area, so pycocotools' area ranges apply)."""
    at = open_view(app({"ds": "demo-small", "area": "segm"}), "models")
    at.selectbox(key="models_pr_slice").set_value("small").run()
    at.selectbox(key="models_pr_oks").set_value("0.75").run()
    curves = {t["name"]: np.asarray(t["y"], dtype=float) for t in charts(at)[1]}
    at.selectbox(key="models_pr_oks").set_value("0.50:0.95").run()
    means = {t["name"]: np.asarray(t["y"], dtype=float) for t in charts(at)[1]}
    for model in MODELS:
        ref = coco_run(*_files(app_env, "demo-small", model), area="segm")
        np.testing.assert_allclose(curves[model], 100 * ref.precision[5, :, 1], atol=1e-9)
        np.testing.assert_allclose(means[model], 100 * ref.precision[:, :, 1].mean(axis=0), atol=1e-9)
        assert means[model].mean() == pytest.approx(100 * ref.ap[1], abs=1e-9)  # its area is the AP


def test_browse_model_choice_survives_a_dataset_change(app_env):
    at = open_view(app({"ds": "demo-small,demo-crowd"}), "browse")
    label = next(o for o in at.selectbox(key="br_model").options if o.startswith("synthetic-coarse (demo-small"))
    at.selectbox(key="br_model").set_value(label).run()
    at.sidebar.multiselect(key="g_ds").set_value(["demo-crowd"]).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="br_model").value == "none"
    assert len(at.get("image")) > 0
