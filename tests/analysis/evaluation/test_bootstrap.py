"""Image bootstrap of every slice: a replicate equals pycocotools on the annotation file that
lists each drawn image as often as it was drawn, under new ids; hand-made cases."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from analysis.cache.contract import read_images, read_instances
from analysis.cli import main
from analysis.definitions import AreaSource, CrowdIndexSource
from analysis.evaluation.bootstrap import all_replicates, image_weights, percentile_interval
from analysis.evaluation.run import EvaluationRequest, evaluate_files
from analysis.evaluation.slices import crowd_level_of_images, slice_matches
from analysis.evaluation.store import BootstrapSettings, read_evaluation
from tests.analysis.evaluation.reference import (
    COCO_SIGMAS,
    assert_metrics_equal,
    bbox_area_copy,
    build,
    noisy_predictions,
    pycocotools_range,
    pycocotools_slices,
    require_xtcocotools,
)
from tests.conftest import require_fixtures

METRICS = ("AP", "AP50", "AP75", "AR")


def _distinct_scores(preds: list[dict], seed: int) -> list[dict]:
    """Distinct scores: with ties inside one image, pycocotools interleaves the copies'
    detections (a1 a2 a1' a2'), which the weighted accumulation does not (see the guide)."""
    order = np.random.default_rng(seed).permutation(len(preds))
    return [{**p, "score": float(0.01 + 0.98 * (r + 1) / (len(preds) + 1))} for p, r in zip(preds, order, strict=True)]


def _duplicated(doc: dict, preds: list[dict], image_ids: np.ndarray, multiplicity: np.ndarray):
    """The replicate as files: image i listed multiplicity[i] times under new ids, in id order
    (copies of one image next to each other, so ties across images keep their order)."""
    images = {im["id"]: im for im in doc["images"]}
    anns_of: dict[int, list[dict]] = {}
    for a in doc["annotations"]:
        anns_of.setdefault(a["image_id"], []).append(a)
    preds_of: dict[int, list[dict]] = {}
    for p in preds:
        preds_of.setdefault(p["image_id"], []).append(p)
    out = {**copy.deepcopy({k: v for k, v in doc.items() if k not in ("images", "annotations")})}
    out["images"], out["annotations"] = [], []
    new_preds, new_ids_of = [], {}
    next_image, next_ann = 1, 1
    for image_id, k in zip(image_ids.tolist(), multiplicity.tolist(), strict=True):
        for _ in range(k):
            out["images"].append({**images[image_id], "id": next_image})
            new_ids_of.setdefault(image_id, []).append(next_image)
            for a in anns_of.get(image_id, []):
                out["annotations"].append({**a, "id": next_ann, "image_id": next_image})
                next_ann += 1
            new_preds += [{**p, "image_id": next_image} for p in preds_of.get(image_id, [])]
            next_image += 1
    return out, new_preds, new_ids_of


def _replicates(root, key, model: str, settings: BootstrapSettings):
    stored = read_evaluation(root, key, model)
    images, instances = read_images(root, key), read_instances(root, key)
    used, _, matches = slice_matches(stored, images, instances, stored.definitions)
    ids = np.sort(images["image_id"].to_numpy(np.int64))
    return all_replicates(matches, ids, settings), ids, crowd_level_of_images(images, used)


def _as_metrics(row: np.ndarray) -> dict:
    return {m: (None if np.isnan(v) else float(v)) for m, v in zip(METRICS, row, strict=True)}


@pytest.mark.parametrize(
    "relative", ["coco-mini/annotations/person_keypoints_val2017.json", "mmpose/coco/test_coco.json"]
)
def test_replicate_equals_pycocotools_on_duplicated_file(tmp_path: Path, relative: str) -> None:
    doc = bbox_area_copy(json.loads((require_fixtures() / relative).read_text()))
    root, key, _ = build(tmp_path, doc)
    preds = _distinct_scores(noisy_predictions(doc, 5), 5)
    (tmp_path / "m.json").write_text(json.dumps(preds))
    settings = BootstrapSettings(B=3, seed=11, confidence=0.9)
    evaluate_files(root, key, [tmp_path / "m.json"], ["m"], EvaluationRequest(sigmas="coco"), False, settings)
    reps, ids, level_of = _replicates(root, key, "m", settings)
    weights = image_weights(len(ids), settings)
    assert weights.sum(axis=1).tolist() == [len(ids)] * 3
    for b in range(settings.B):
        assert weights[b].max() >= 2  # some image drawn twice: the case under test
        dup_doc, dup_preds, new_ids = _duplicated(doc, preds, ids, weights[b])
        reference = pycocotools_slices(dup_doc, dup_preds, COCO_SIGMAS)
        for s in ("all", "small", "medium", "large"):
            assert_metrics_equal(_as_metrics(reps[s][b]), reference[s], what=f"replicate {b} {s}")
        for code, s in enumerate(("crowd/easy", "crowd/medium", "crowd/hard")):
            img_ids = [n for i in ids[level_of.reindex(ids).to_numpy() == code] for n in new_ids.get(int(i), [])]
            reference = pycocotools_range(dup_doc, dup_preds, COCO_SIGMAS, (0, 1e10), img_ids=img_ids)
            assert_metrics_equal(_as_metrics(reps[s][b]), reference, what=f"replicate {b} {s}")


def test_crowd_levels_equal_xtcocotools_on_duplicated_file(tmp_path: Path) -> None:
    """CrowdPose's own evaluator on the duplicated file (stored crowdIndex, 0.53*w*h OKS area)."""
    require_xtcocotools()
    from tests.analysis.evaluation.reference import xtcocotools_crowd

    path = require_fixtures() / "xtcocoapi/example_crowdpose_val.json"
    doc = json.loads(path.read_text())
    root, key, _ = build(tmp_path, doc)
    preds = _distinct_scores(noisy_predictions(doc, 2), 2)
    (tmp_path / "m.json").write_text(json.dumps(preds))
    settings = BootstrapSettings(B=3, seed=4, confidence=0.9)
    request = EvaluationRequest(sigmas="crowdpose", oks_area=AreaSource.CROWDPOSE, crowd_index=CrowdIndexSource.STORED)
    evaluate_files(root, key, [tmp_path / "m.json"], ["m"], request, False, settings)
    reps, ids, _ = _replicates(root, key, "m", settings)
    weights = image_weights(len(ids), settings)
    for b in range(settings.B):
        dup_doc, dup_preds, _ = _duplicated(doc, preds, ids, weights[b])
        dup_path = tmp_path / f"dup-{b}.json"
        dup_path.write_text(json.dumps(dup_doc))
        ref = xtcocotools_crowd(dup_path, dup_preds, tmp_path)
        for s, level in (("crowd/easy", "easy"), ("crowd/medium", "medium"), ("crowd/hard", "hard")):
            ours = reps[s][b][0]
            expected = ref[level]
            if expected < 0:
                assert np.isnan(ours), f"replicate {b} {s}: ours {ours}, xtcocotools has no ground truth"
            else:  # xtcocotools rounds easy / medium / hard to 4 decimals
                assert round(ours, 4) == pytest.approx(expected, abs=1e-12), f"replicate {b} {s}: {ours}, {expected}"
        assert_metrics_equal(_as_metrics(reps["all"][b]), ref, what=f"replicate {b} all")


def _one_image_doc() -> dict:
    kp = [10 + i for i in range(17) for _ in range(1)]
    keypoints = []
    for i, x in enumerate(kp):
        keypoints += [float(x), float(20 + 3 * i), 2]
    ann = {"id": 1, "image_id": 7, "category_id": 1, "iscrowd": 0, "bbox": [5, 10, 60, 80], "area": 4800.0,
           "num_keypoints": 17, "keypoints": keypoints}  # fmt: skip
    return {
        "images": [{"id": 7, "file_name": "a.jpg", "width": 100, "height": 120}],
        "annotations": [ann, {**ann, "id": 2, "bbox": [20, 10, 50, 90], "area": 4500.0}],
        "categories": [{"id": 1, "name": "person", "keypoints": [f"k{i}" for i in range(17)], "skeleton": []}],
    }


def test_one_image_interval_collapses_to_the_point(tmp_path: Path) -> None:
    doc = _one_image_doc()
    root, key, _ = build(tmp_path, doc)
    preds = noisy_predictions(doc, 1, drop=0.0)
    (tmp_path / "m.json").write_text(json.dumps(preds))
    settings = BootstrapSettings(B=50, seed=0, confidence=0.95)
    result = evaluate_files(root, key, [tmp_path / "m.json"], ["m"], EvaluationRequest(sigmas="coco"), False, settings)[
        0
    ].result
    point = result.slices["all"]
    assert point.ap is not None
    for metric, value in zip(METRICS, (point.ap, point.ap50, point.ap75, point.ar), strict=True):
        assert point.ci[metric] == (value, value)
    # A slice without persons has no interval at all.
    assert result.slices["small"].n_gt == 0 and result.slices["small"].ci == dict.fromkeys(METRICS)


def test_percentile_interval_is_numpy_linear_quantile() -> None:
    values = np.array([0.3, np.nan, 0.1, 0.7, 0.2, 0.5])
    lo, hi = percentile_interval(values, 0.8)
    # Linear interpolation between order statistics, by hand: 5 defined values, positions 0.1*4 and 0.9*4.
    ordered = [0.1, 0.2, 0.3, 0.5, 0.7]
    assert lo == pytest.approx(ordered[0] + 0.4 * (ordered[1] - ordered[0]), abs=1e-15)
    assert hi == pytest.approx(ordered[3] + 0.6 * (ordered[4] - ordered[3]), abs=1e-15)
    assert percentile_interval(np.array([np.nan, np.nan]), 0.95) is None


def test_weights_are_seeded_and_draw_every_image_unit() -> None:
    a = image_weights(40, BootstrapSettings(B=200, seed=3, confidence=0.95))
    b = image_weights(40, BootstrapSettings(B=200, seed=3, confidence=0.95))
    c = image_weights(40, BootstrapSettings(B=200, seed=4, confidence=0.95))
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert (a.sum(axis=1) == 40).all()
    # Multinomial(40, 1/40): each image's mean multiplicity is 1.
    assert abs(a.mean() - 1.0) < 1e-12 and 0.8 < a.var() < 1.2


def test_cli_json_gains_ci_only_when_asked(tmp_path: Path, capsys) -> None:
    def _cli(*args: str, root: Path) -> SimpleNamespace:
        code = main(["evaluate", "--cache-dir", str(root), "--quiet", *args])
        out = capsys.readouterr()
        return SimpleNamespace(returncode=code, stdout=out.out, stderr=out.err)

    doc = json.loads((require_fixtures() / "mmpose/coco/test_coco.json").read_text())
    root, key, _ = build(tmp_path, doc)
    preds = noisy_predictions(doc, 3)
    (tmp_path / "m.json").write_text(json.dumps(preds))
    base = ["--name", key.dataset, "--split", key.split, "--json"]
    plain = _cli(*base, "--predictions", str(tmp_path / "m.json"), "--model", "m", root=root)
    assert plain.returncode == 0, plain.stderr
    plain_doc = json.loads(plain.stdout)
    assert "bootstrap" not in plain_doc and all("ci" not in s for s in plain_doc["slices"].values())
    # On the stored evaluation, without the predictions file.
    boot = _cli(*base, "--model", "m", "--bootstrap", "200", "--bootstrap-seed", "9", "--confidence", "0.9", root=root)
    assert boot.returncode == 0, boot.stderr
    boot_doc = json.loads(boot.stdout)
    assert boot_doc["bootstrap"] == {"B": 200, "seed": 9, "confidence": 0.9, "unit": "image"}
    for name, s in boot_doc["slices"].items():
        assert {k: v for k, v in s.items() if k != "ci"} == plain_doc["slices"][name]
        assert set(s["ci"]) == set(METRICS)
        if s["AP"] is not None and s["n_gt"] > 3:
            lo, hi = s["ci"]["AP"]
            assert 0 <= lo <= hi <= 1
    again = _cli(*base, "--model", "m", "--bootstrap", "200", "--bootstrap-seed", "9", "--confidence", "0.9", root=root)
    assert json.loads(again.stdout) == boot_doc
    stored = read_evaluation(root, key, "m").record
    assert stored.bootstrap == BootstrapSettings(200, 9, 0.9)
    assert list(stored.slices["all"].ci["AP"]) == boot_doc["slices"]["all"]["ci"]["AP"]
    bad = _cli(*base, "--model", "m", "--bootstrap", "0", root=root)
    assert bad.returncode != 0 and "Traceback" not in bad.stderr and "--bootstrap" in bad.stderr


def test_table5_latex_carries_intervals_and_few_person_marks(tmp_path: Path) -> None:
    from analysis.evaluation.table5 import TABLE5_COLUMNS, table5_frame, table5_latex

    doc = json.loads((require_fixtures() / "coco-mini/annotations/person_keypoints_val2017.json").read_text())
    root, key, _ = build(tmp_path, doc)
    (tmp_path / "m.json").write_text(json.dumps(noisy_predictions(doc, 1)))
    settings = BootstrapSettings(B=100, seed=1, confidence=0.95)
    result = evaluate_files(root, key, [tmp_path / "m.json"], ["m"], EvaluationRequest(sigmas="coco"), False, settings)[
        0
    ].result
    frame = table5_frame([("m", result)])
    row = {}
    for style in ("bracket", "pm", "none"):
        latex = table5_latex(frame, "cap", style, columns=tuple(TABLE5_COLUMNS))
        row[style] = next(line for line in latex.splitlines() if line.startswith("m & ")).split(" & ")[1:]
    for i, (column, name) in enumerate(TABLE5_COLUMNS.items()):
        m = result.slices[name]
        if m.ap is None:
            assert row["bracket"][i].strip(" \\") == "--"
            continue
        lo, hi = (100 * v for v in m.ci["AP"])
        cell = row["bracket"][i].replace("\\textbf{", "").removesuffix(" \\\\")  # the interval under the value
        value = f"{100 * m.ap:.1f}" + ("}" if "textbf" in row["bracket"][i] else "")
        expected = (
            f"\\begin{{tabular}}[t]{{@{{}}c@{{}}}}{value}\\\\{{\\scriptsize [{lo:.1f},\\,{hi:.1f}]}}\\end{{tabular}}"
        )
        assert cell == expected, (column, cell)
        assert f"$\\pm$ {(hi - lo) / 2:.1f}" in row["pm"][i]
        assert "[" not in row["none"][i] and "pm" not in row["none"][i]
    latex = table5_latex(frame, "cap", columns=tuple(TABLE5_COLUMNS))
    counts = next(line for line in latex.splitlines() if line.startswith("$n_{gt}$"))
    for cell, name in zip(counts.split(" & ")[1:], TABLE5_COLUMNS.values(), strict=True):
        n = result.slices[name].n_gt
        assert cell.strip(" \\").removesuffix("}").endswith("$^\\dagger$") == (0 < n < 30), (name, n, cell)
    assert "fewer than 30 persons" in latex
