"""`python -m analysis evaluate`: the --json document, stored results and their reuse, stale
evaluations after a rebuild, re-slicing from stored pairs, matches for drawing, Table 5 exports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.build.run import build_split
from analysis.cache.contract import read_images, read_instances
from analysis.cli import main
from analysis.definitions import AreaSource, CrowdIndexSource, SizeDefinition, SizeEdges
from analysis.evaluation.definitions import EvaluationDefinitions
from analysis.evaluation.run import EvaluationRequest, evaluate_files
from analysis.evaluation.slices import SLICE_NAMES, evaluate_stored, matches_at
from analysis.evaluation.store import list_evaluations, read_evaluation
from analysis.info import info_json, info_lines
from analysis.registry import DatasetSpec
from tests.analysis.evaluation.reference import REPO_ROOT, build, noisy_predictions, pycocotools_slices
from tests.conftest import require_fixtures

COCO_MINI = "coco-mini/annotations/person_keypoints_val2017.json"


@pytest.fixture
def mini(tmp_path: Path):
    path = require_fixtures() / COCO_MINI
    doc = json.loads(path.read_text())
    root, key, _ = build(tmp_path, path, name="mini")
    files = []
    for seed in range(2):
        f = tmp_path / f"model{seed}.json"
        f.write_text(json.dumps(noisy_predictions(doc, seed)))
        files.append(f)
    return tmp_path, root, key, doc, files


def _args(root, key, *files, extra=()):
    return ["evaluate", "--name", key.dataset, "--split", key.split, "--predictions", *map(str, files),
            "--cache-dir", str(root), "--quiet", *extra]  # fmt: skip


def test_json_document_shape_and_values(mini, capsys) -> None:
    _tmp_path, root, key, doc, files = mini
    assert main(_args(root, key, files[0], extra=["--json", "--size-area", "segm"])) == 0
    out = capsys.readouterr().out
    document = json.loads(out)  # exactly one JSON document on stdout
    assert set(document) == {"model", "definitions", "slices"}
    assert document["model"] == "model0"
    assert list(document["slices"]) == list(SLICE_NAMES)
    for name, values in document["slices"].items():
        assert set(values) == {"AP", "AP50", "AP75", "AR", "n_gt"}, name
        for k in ("AP", "AP50", "AP75", "AR"):
            assert values[k] is None or 0.0 <= values[k] <= 1.0
        assert (values["AP"] is None) == (values["n_gt"] == 0)
    # coco-mini has no small person by segmentation area: null, never -1.
    assert document["slices"]["small"] == {"AP": None, "AP50": None, "AP75": None, "AR": None, "n_gt": 0}
    defs = document["definitions"]
    assert defs["oks_area"] == "segm" and defs["size_area"] == "segm" and defs["sigma_source"] == "schema"
    assert defs["crowd_levels"] == "code" and defs["crowd_edges"] == [0.2, 0.8]
    assert defs["crowd_index"] == "computed"  # COCO stores no crowdIndex
    reference = pycocotools_slices(doc, json.loads(files[0].read_text()), np.array(defs["sigmas"]))
    assert document["slices"]["all"]["AP"] == pytest.approx(reference["all"]["AP"], abs=1e-9)


def test_several_files_print_a_list_and_a_table(mini, capsys) -> None:
    _tmp_path, root, key, _doc, files = mini
    assert main(_args(root, key, *files, extra=["--json", "--model", "A", "--model", "B"])) == 0
    documents = json.loads(capsys.readouterr().out)
    assert [d["model"] for d in documents] == ["A", "B"]
    assert main(_args(root, key, *files, extra=["--model", "A", "--model", "B"])) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith("mini/val: COCO keypoint protocol")
    n_gt_all = documents[0]["slices"]["all"]["n_gt"]
    assert f"all (n_gt {n_gt_all})" in lines[1]
    row_a = next(line for line in lines if line.startswith("A "))
    assert f"{100 * documents[0]['slices']['all']['AP']:.1f}" in row_a
    assert "stored result reused" in out  # the --json run stored them


def test_a_label_that_slugs_like_a_stored_one_is_refused(mini, capsys) -> None:
    """'Model A', then 'model a' with another file: refused (both are folder model-a),
    naming the stored label; the first evaluation is kept. The same label replaces."""
    _tmp_path, root, key, _doc, files = mini
    assert main(_args(root, key, files[0], extra=["--model", "Model A"])) == 0
    before = read_evaluation(root, key, "Model A")
    capsys.readouterr()
    assert main(_args(root, key, files[1], extra=["--model", "model a"])) != 0
    err = capsys.readouterr().err
    assert "'Model A'" in err and "model-a" in err and "Traceback" not in err
    assert [r.model for r in list_evaluations(root, key)] == ["Model A"]
    assert read_evaluation(root, key, "Model A").record.predictions == before.record.predictions
    assert main(_args(root, key, files[1], extra=["--model", "Model A"])) == 0  # the same label replaces


def test_an_unchanged_file_is_reused_and_re_sliced_from_stored_pairs(mini, capsys) -> None:
    tmp_path, root, key, doc, files = mini
    first = evaluate_files(root, key, files[:1], progress=False)[0]
    assert not first.reused
    again = evaluate_files(root, key, files[:1], progress=False)[0]
    assert again.reused and again.record.slices == first.record.slices
    # Other size edges: reused pairs, re-sliced; equal to a fresh evaluation with those edges.
    request = EvaluationRequest(size=SizeDefinition(AreaSource.BBOX, SizeEdges(40.0**2, 80.0**2)))
    resliced = evaluate_files(root, key, files[:1], request=request, progress=False)[0]
    assert resliced.reused
    fresh_root, fresh_key, _ = build(tmp_path / "fresh", require_fixtures() / COCO_MINI, name="mini")
    fresh = evaluate_files(fresh_root, fresh_key, files[:1], request=request, progress=False)[0]
    assert not fresh.reused
    assert resliced.result.to_json() == fresh.result.to_json()
    assert resliced.result.slices["medium"].n_gt != first.result.slices["medium"].n_gt
    # Other sigmas change OKS: evaluated again.
    other = evaluate_files(root, key, files[:1], request=EvaluationRequest(oks_area=AreaSource.BBOX), progress=False)
    assert not other[0].reused
    # A changed predictions file is evaluated again.
    files[0].write_text(json.dumps(noisy_predictions(doc, 7)))
    assert not evaluate_files(root, key, files[:1], progress=False)[0].reused


def test_evaluate_stored_matches_the_cli_and_says_what_is_fixed(mini) -> None:
    _tmp_path, root, key, _doc, files = mini
    outcome = evaluate_files(root, key, files[:1], progress=False)[0]
    stored = read_evaluation(root, key, "model0")
    images, instances = read_images(root, key), read_instances(root, key)
    result = evaluate_stored(stored, images, instances, stored.definitions)
    assert result.to_json() == outcome.result.to_json()
    assert result.note == ""
    for name in SLICE_NAMES:
        precision = result.slices[name].precision
        assert precision.shape == (10, 101)
        assert np.isnan(precision).all() == (result.slices[name].n_gt == 0)
        if result.slices[name].n_gt:
            assert np.mean(precision) == pytest.approx(result.slices[name].ap, abs=1e-15)
    # Asking for other sigmas cannot re-match stored pairs: the stored ones are used, and said so.
    asked = EvaluationDefinitions(sigmas=(0.1,) * 17, oks_area=AreaSource.BBOX, crowd_index=CrowdIndexSource.COMPUTED)
    resliced = evaluate_stored(stored, images, instances, asked)
    assert resliced.definitions.sigmas == stored.definitions.sigmas
    assert resliced.definitions.oks_area is AreaSource.SEGM
    assert "evaluate` again" in resliced.note
    assert resliced.slices["all"].ap == result.slices["all"].ap


def test_stored_layout_and_definitions_round_trip(mini) -> None:
    _tmp_path, root, key, _doc, files = mini
    evaluate_files(root, key, files, ["first model", "second"], progress=False)
    folder = root / "mini" / "val" / "evaluations"
    assert sorted(p.name for p in folder.iterdir()) == ["first-model", "second"]
    for sub in folder.iterdir():
        assert sorted(p.name for p in sub.iterdir()) == ["detections.parquet", "evaluation.json", "oks.parquet"]
    records = list_evaluations(root, key)
    assert [r.model for r in records] == ["first model", "second"]
    record = records[0]
    assert record.predictions.sha256 and record.predictions.size == files[0].stat().st_size
    assert not record.stale
    stored = read_evaluation(root, key, "first model")
    det, oks = stored.detections, stored.oks
    assert det["det_id"].is_unique and (det["keypoints"].map(len) == 51).all()
    assert str(det["keypoints"].iloc[0].dtype) == "float32"
    # Every (detection, person) pair of the same image, once.
    instances = read_instances(root, key, columns=["ann_id", "image_id"])
    expected_pairs = det.merge(instances, on="image_id")
    assert len(oks) == len(expected_pairs)
    assert set(zip(oks["det_id"], oks["ann_id"], strict=True)) == set(
        zip(expected_pairs["det_id"], expected_pairs["ann_id"], strict=True)
    )
    assert ((oks["oks"] >= 0) & (oks["oks"] <= 1)).all()
    # A detection's area is the box around its predicted keypoints.
    kp = np.stack(det["keypoints"].to_numpy()).reshape(len(det), 17, 3).astype(np.float64)
    box = (kp[:, :, 0].max(1) - kp[:, :, 0].min(1)) * (kp[:, :, 1].max(1) - kp[:, :, 1].min(1))
    np.testing.assert_allclose(det["area"], box, rtol=1e-5)
    assert EvaluationDefinitions.from_record(stored.definitions.to_record()) == stored.definitions
    assert EvaluationDefinitions.from_json(json.dumps(stored.definitions.to_json()).encode()) == stored.definitions


def test_a_rebuild_carries_evaluations_over_and_flags_changed_annotations_stale(tmp_path: Path) -> None:
    path = require_fixtures() / COCO_MINI
    doc = json.loads(path.read_text())
    annotations = tmp_path / "mini.json"
    annotations.write_text(json.dumps(doc))
    root = tmp_path / "cache"
    spec = DatasetSpec("mini", "val", annotations)
    build_split(spec, root, progress=False)
    key = build(tmp_path, annotations, name="mini")[1]
    preds = tmp_path / "p.json"
    preds.write_text(json.dumps(noisy_predictions(doc, 0)))
    evaluate_files(root, key, [preds], progress=False)
    build_split(spec, root, force=True, progress=False)  # same annotations, rebuilt
    (record,) = list_evaluations(root, key)
    assert not record.stale
    assert evaluate_files(root, key, [preds], progress=False)[0].reused
    doc["annotations"][0]["keypoints"][0] += 3  # the annotations change: rebuild
    annotations.write_text(json.dumps(doc))
    build_split(spec, root, progress=False)
    (record,) = list_evaluations(root, key)
    assert record.stale
    stale = read_evaluation(root, key, record.model)
    assert stale.record.stale
    images, instances = read_images(root, key), read_instances(root, key)
    assert (
        "stale: evaluated against other annotations"
        in evaluate_stored(stale, images, instances, stale.definitions).note
    )
    info = json.loads(info_json(tmp_path / "no-registry.toml", root))
    (listed,) = next(c for c in info["cached"] if c["name"] == "mini")["evaluations"]
    assert listed["model"] == "p" and listed["stale"]
    assert any("evaluation: p: AP " in line and "[stale" in line for line in info_lines(tmp_path / "none.toml", root))
    again = evaluate_files(root, key, [preds], progress=False)[0]
    assert not again.reused and not list_evaluations(root, key)[0].stale
    info = json.loads(info_json(tmp_path / "none.toml", root))
    (listed,) = next(c for c in info["cached"] if c["name"] == "mini")["evaluations"]
    assert not listed["stale"] and listed["AP"] == again.result.slices["all"].ap


def test_matches_at_colours_persons_and_detections(mini) -> None:
    _tmp_path, root, key, _doc, files = mini
    evaluate_files(root, key, files[:1], progress=False)
    stored = read_evaluation(root, key, "model0")
    instances = read_instances(root, key)
    detections, persons = matches_at(stored, instances, 0.5)
    assert len(detections) == len(stored.detections) and len(persons) == len(instances)
    matched = detections.dropna(subset=["matched_ann_id"])
    assert (matched["oks"] >= 0.5).all()
    assert matched["matched_ann_id"].is_unique or instances["iscrowd"].any()
    # The two frames agree: every matched person names a detection that names it back.
    hits = persons.dropna(subset=["matched_det_id"])
    back = detections.set_index("det_id").loc[hits["matched_det_id"].astype(int), "matched_ann_id"]
    assert (back.to_numpy() == hits["ann_id"].to_numpy()).all()
    # AP50's true positives are exactly the matched detections on persons that are not ignored.
    ignored = set(persons.loc[persons["ignored"], "ann_id"])
    n_tp = int((~matched["matched_ann_id"].isin(ignored)).sum())
    n_gt = int((~persons["ignored"]).sum())
    result = evaluate_stored(stored, read_images(root, key), instances, stored.definitions)
    assert n_gt == result.slices["all"].n_gt
    recall50 = n_tp / n_gt
    precision = result.slices["all"].precision[0]
    reached = np.linspace(0, 1, 101) <= recall50 + 1e-12
    assert (precision[~reached] == 0).all() and (precision[reached] > 0).all()
    assert isinstance(detections["matched_ann_id"].dtype, pd.Int64Dtype)


def test_table_exports(mini, capsys) -> None:
    tmp_path, root, key, _doc, files = mini
    csv, tex = tmp_path / "t5.csv", tmp_path / "t5.tex"
    assert main(_args(root, key, *files, extra=["--table-csv", str(csv), "--table-latex", str(tex), "--json"])) == 0
    documents = json.loads(capsys.readouterr().out)
    lines = csv.read_text().splitlines()
    assert lines[0].startswith("# mini/val: COCO keypoint protocol")
    frame = pd.read_csv(csv, comment="#", index_col="model")
    assert list(frame.index) == ["model0", "model1"]
    for document in documents:
        row = frame.loc[document["model"]]
        assert row["AP"] == pytest.approx(round(100 * document["slices"]["all"]["AP"], 1))
        assert row["n_gt AP^L"] == document["slices"]["large"]["n_gt"]
        assert np.isnan(row["AP^S_Mo"]) == (document["slices"]["small/moderate"]["AP"] is None)
    latex = tex.read_text()
    assert "\\toprule" in latex and "\\midrule" in latex and "\\bottomrule" in latex
    best = max(documents, key=lambda d: d["slices"]["all"]["AP"])
    assert f"\\textbf{{{100 * best['slices']['all']['AP']:.1f}}}" in latex


def test_the_evaluate_command_runs_as_a_process(mini) -> None:
    _tmp_path, root, key, _doc, files = mini
    proc = subprocess.run(
        [sys.executable, "-m", "analysis", *_args(root, key, files[0], extra=["--json"])],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["model"] == "model0"


def test_defaults_on_crowdpose_are_its_evaluators(tmp_path: Path, capsys) -> None:
    """A CrowdPose file (no 'area', stored crowdIndex, 14 joints): by default its sigmas,
    0.53*w*h for OKS, the stored crowdIndex and the evaluation code's 0.2 / 0.8."""
    path = require_fixtures() / "xtcocoapi/example_crowdpose_val.json"
    doc = json.loads(path.read_text())
    root, key, _ = build(tmp_path, path, name="crowdpose")
    preds = tmp_path / "p.json"
    preds.write_text(json.dumps(noisy_predictions(doc, 0)))
    assert main(_args(root, key, preds, extra=["--json"])) == 0
    defs = json.loads(capsys.readouterr().out)["definitions"]
    assert defs["sigma_source"] == "schema" and defs["sigmas"] == [
        0.079, 0.079, 0.072, 0.072, 0.062, 0.062, 0.107, 0.107, 0.087, 0.087, 0.089, 0.089, 0.079, 0.079,
    ]  # fmt: skip
    assert defs["oks_area"] == "crowdpose" and defs["crowd_index"] == "stored"
    assert defs["crowd_levels"] == "code" and defs["crowd_edges"] == [0.2, 0.8]
    assert defs["size_area"] == "bbox" and defs["size_edges"] == [1024.0, 9216.0]
    assert main(_args(root, key, preds, extra=["--size-area", "segm"])) == 2
    assert "--size-area segm" in capsys.readouterr().err
