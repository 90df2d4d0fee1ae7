"""AppTest: the Models view's source part on demo-small (two sources, street and sports),
checked against pycocotools run here on each source's images of the demo's files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.dashboard.cocoeval_matches import run as coco_run
from tests.dashboard.dashboard_helpers import app, open_view

MODELS = ("synthetic-precise", "synthetic-coarse")


def _part_files(cache: Path, model: str, source: str, tmp_path: Path) -> tuple[Path, Path]:
    data = cache.parent / "data" / "demo-small"
    doc = json.loads((data / "annotations.json").read_text())
    ids = {im["id"] for im in doc["images"] if im["file_name"].startswith(f"{source}/")}
    assert ids
    part = {
        **doc,
        "images": [im for im in doc["images"] if im["id"] in ids],
        "annotations": [a for a in doc["annotations"] if a["image_id"] in ids],
    }
    results = [r for r in json.loads((data / "predictions" / f"{model}.json").read_text()) if r["image_id"] in ids]
    gt, res = tmp_path / f"gt-{source}.json", tmp_path / f"res-{source}-{model}.json"
    gt.write_text(json.dumps(part))
    res.write_text(json.dumps(results))
    return gt, res


@pytest.mark.slow
def test_models_view_per_source_equals_pycocotools_on_the_part(app_env, tmp_path):
    at = open_view(app({"ds": "demo-small"}), "models")
    box = at.selectbox(key="models_source")
    assert box.options == ["all sources", "sports", "street"]
    whole = at.dataframe[0].value.set_index("model")
    for source in ("street", "sports"):
        box.set_value(source).run()
        assert not at.exception, [e.value for e in at.exception]
        table = at.dataframe[0].value.set_index("model")
        assert set(table["dataset"]) == {f"demo-small/val (source {source})"}
        for model in MODELS:
            ref = coco_run(*_part_files(app_env, model, source, tmp_path))
            assert table.loc[model, "AP"] == pytest.approx(100 * ref.ap[0], abs=1e-9), (source, model)
            assert table.loc[model, "AP"] != pytest.approx(whole.loc[model, "AP"], abs=1e-9)
        assert any(f"images of source **{source}**" in c.value for c in at.caption)
        box = at.selectbox(key="models_source")
