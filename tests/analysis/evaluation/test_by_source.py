"""``evaluate --by source`` and ``--source-predictions`` on a composed benchmark, against
pycocotools run on each source's part of the composed split file (split here, by the
images' ``source`` field), and predictions mapped by file name on the test side."""

from __future__ import annotations

import json
import os
from pathlib import Path

import orjson
import pandas as pd
import pytest

from analysis.build.loading import SourceRule
from tests.analysis.dataset_helpers import build, run_cli
from tests.analysis.evaluation.reference import COCO_SIGMAS, assert_metrics_equal, noisy_predictions, pycocotools_slices
from tests.conftest import require_fixtures

SEGM = ("--oks-area", "segm", "--size-area", "segm")


def _part(doc: dict, source: str) -> dict:
    """The images of one source and their annotations: what pycocotools gets for that part."""
    ids = {im["id"] for im in doc["images"] if im["source"] == source}
    return {
        **doc,
        "images": [im for im in doc["images"] if im["id"] in ids],
        "annotations": [a for a in doc["annotations"] if a["image_id"] in ids],
    }


@pytest.fixture(scope="module")
def composed(tmp_path_factory):
    """coco-mini (train -> train, val -> val) and mmpose's COCO sample (split 1:1) composed
    with every image kept, the val split built with a source rule."""
    fixtures = require_fixtures()
    tmp = tmp_path_factory.mktemp("by-source")
    files = {
        ("cm", "train"): fixtures / "coco-mini/annotations/person_keypoints_train2017.json",
        ("cm", "val"): fixtures / "coco-mini/annotations/person_keypoints_val2017.json",
        ("mm", "test"): fixtures / "mmpose/coco/test_coco.json",
    }
    registry = tmp / "datasets.toml"
    registry.write_text(
        "".join(f'[[dataset]]\nname = "{n}"\nsplit = "{s}"\nannotations = "{p}"\n\n' for (n, s), p in files.items())
    )
    for (n, s), p in files.items():
        build(tmp / "cache", n, s, p)
    config = tmp / "compose.toml"
    config.write_text(
        'name = "both"\npopulation = "all"\nkeep_without_small = 1.0\nseed = 1\n'
        '[[source]]\ndataset = "cm"\ntrain = ["train"]\nval = ["val"]\n'
        '[[source]]\ndataset = "mm"\ntrain = ["test"]\nsplit_ratio = [0.5, 0.5]\n'
    )
    from analysis.cli import main

    assert (
        main(
            [
                "compose",
                "--config",
                str(config),
                "--out",
                str(tmp / "out"),
                "--registry",
                str(registry),
                "--cache-dir",
                str(tmp / "cache"),
                "--quiet",
            ]
        )
        == 0
    )
    build(tmp / "built", "both", "val", tmp / "out" / "val.json", source_rule=SourceRule())
    doc = orjson.loads((tmp / "out" / "val.json").read_bytes())
    assert {im["source"] for im in doc["images"]} == {"cm", "mm"}
    originals = {n: json.loads(p.read_text()) for (n, s), p in files.items() if s != "train"}
    originals["cm-train"] = json.loads(files["cm", "train"].read_text())
    return tmp, doc, originals


def _evaluate(capsys, tmp: Path, *extra) -> tuple[int, str, str]:
    return run_cli(
        capsys, "evaluate", "--name", "both", "--split", "val", "--cache-dir", tmp / "built", "--quiet", *SEGM, *extra
    )


def test_by_source_equals_pycocotools_per_part(composed, capsys, tmp_path):
    tmp, doc, _ = composed
    preds = noisy_predictions(doc, seed=4)
    path = tmp_path / "model.json"
    path.write_text(json.dumps(preds))
    code, stdout, stderr = _evaluate(capsys, tmp, "--predictions", path, "--model", "m", "--by", "source", "--json")
    assert code == 0, stderr
    result = json.loads(stdout)
    assert set(result["by_source"]) == {"cm", "mm"}
    for source in ("cm", "mm"):
        part = _part(doc, source)
        part_preds = [p for p in preds if p["image_id"] in {im["id"] for im in part["images"]}]
        reference = pycocotools_slices(part, part_preds, COCO_SIGMAS)
        ours = result["by_source"][source]
        assert ours["images"] == len(part["images"])
        for name in ("all", "small", "medium", "large"):
            assert_metrics_equal(ours["slices"][name], reference[name], what=f"{source} {name}")
        n_gt = sum(1 for a in part["annotations"] if not a["iscrowd"] and a["num_keypoints"] > 0)
        assert ours["slices"]["all"]["n_gt"] == n_gt
    # The whole split is unchanged by --by.
    whole = pycocotools_slices(doc, preds, COCO_SIGMAS)
    assert_metrics_equal(result["slices"]["all"], whole["all"], what="all")
    # The printed tables: one per source, after the full one; the CSV table has a row per source too.
    csv = tmp_path / "table.csv"
    code, stdout, _ = _evaluate(
        capsys, tmp, "--predictions", path, "--model", "m", "--by", "source", "--table-csv", csv
    )
    assert code == 0
    table = pd.read_csv(csv, comment="#").set_index("model")
    assert list(table.index) == ["m", "m (source cm)", "m (source mm)"]
    for source in ("cm", "mm"):
        assert table.loc[f"m (source {source})", "AP"] == pytest.approx(
            100 * result["by_source"][source]["slices"]["all"]["AP"], abs=0.05
        )  # printed to 0.1
    n_cm = sum(im["source"] == "cm" for im in doc["images"])
    assert f"source cm ({n_cm} images):" in stdout and "source mm (" in stdout


def test_by_source_needs_a_source_rule(composed, capsys, tmp_path):
    tmp, doc, _ = composed
    build(tmp_path / "plain", "plain", "val", tmp / "out" / "val.json")
    path = tmp_path / "model.json"
    path.write_text(json.dumps(noisy_predictions(doc, seed=1)))
    code, _, stderr = run_cli(
        capsys,
        "evaluate",
        "--name",
        "plain",
        "--split",
        "val",
        "--cache-dir",
        tmp_path / "plain",
        "--predictions",
        path,
        "--by",
        "source",
        "--quiet",
    )
    assert code == 2 and "--by source" in stderr and "source rule" in stderr


def test_predictions_on_the_source_files_are_mapped(composed, capsys, tmp_path):
    tmp, doc, originals = composed
    # A model's results on each source's own files (ids of those files), coco-mini's train file included.
    made = {
        "cm": noisy_predictions(originals["cm"], seed=7) + noisy_predictions(originals["cm-train"], seed=8),
        "mm": noisy_predictions(originals["mm"], seed=9),
    }
    paths = []
    for source, preds in made.items():
        path = tmp_path / f"{source}.json"
        path.write_text(json.dumps(preds))
        paths.append(f"{source}={path}")
    mapped = tmp_path / "mapped.json"
    code, stdout, stderr = _evaluate(
        capsys,
        tmp,
        "--source-predictions",
        paths[0],
        "--source-predictions",
        paths[1],
        "--mapped-out",
        mapped,
        "--by",
        "source",
        "--json",
    )
    assert code == 0, stderr
    result = json.loads(stdout)
    # Independent mapping: by file name (the composed file_name is <source>/<original file_name>).
    composed_id = {im["file_name"]: im["id"] for im in doc["images"]}
    expected, not_mapped = [], {}
    for source, preds in made.items():
        files = {
            im["id"]: im["file_name"]
            for key in ([source, "cm-train"] if source == "cm" else [source])
            for im in originals[key]["images"]
        }
        for p in preds:
            new = composed_id.get(f"{source}/{files[p['image_id']]}")
            if new is None:
                not_mapped[source] = not_mapped.get(source, 0) + 1
            else:
                expected.append({**p, "image_id": new})
    assert orjson.loads(mapped.read_bytes()) == expected
    assert not_mapped["cm"] >= len(made["cm"]) - len(noisy_predictions(originals["cm"], seed=7))  # train images
    for source in ("cm", "mm"):
        left = not_mapped.get(source, 0)
        assert f"{source}: {len(made[source]) - left} of {len(made[source])} records" in stderr
    reference = pycocotools_slices(doc, expected, COCO_SIGMAS)
    for name in ("all", "small", "medium", "large"):
        assert_metrics_equal(result["slices"][name], reference[name], what=name)
    part = _part(doc, "mm")
    in_part = {im["id"] for im in part["images"]}
    reference = pycocotools_slices(part, [p for p in expected if p["image_id"] in in_part], COCO_SIGMAS)
    assert_metrics_equal(result["by_source"]["mm"]["slices"]["all"], reference["all"], what="mm")


def test_mapping_refusals(composed, capsys, tmp_path):
    tmp, _, originals = composed
    path = tmp_path / "p.json"
    path.write_text(json.dumps(noisy_predictions(originals["mm"], seed=1)))
    before = path.read_bytes()
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    for extra, needle in [
        (("--source-predictions", f"nope={path}", "--mapped-out", tmp_path / "m.json"), "its sources: cm, mm"),
        (("--source-predictions", f"mm={path}"), "needs --mapped-out"),
        (("--source-predictions", str(path), "--mapped-out", tmp_path / "m.json"), "SOURCE=FILE"),
        ((), "--predictions"),
        # the evaluate reader's checks: a FIFO is refused before it is opened (it would block)
        (
            ("--source-predictions", f"mm={fifo}", "--mapped-out", tmp_path / "m.json"),
            f"{fifo}: not a regular file (a pipe or device)",
        ),
        (("--source-predictions", f"mm={path}", "--mapped-out", path), "is a source predictions file of this run"),
    ]:
        code, _, stderr = _evaluate(capsys, tmp, *extra)
        assert code == 2 and needle in stderr, stderr
    assert not (tmp_path / "m.json").exists() and path.read_bytes() == before
