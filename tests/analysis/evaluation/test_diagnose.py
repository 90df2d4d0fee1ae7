"""The keypoint error diagnosis against coco-analyze, an independent per-detection loop and hand-made cases."""

from __future__ import annotations

import contextlib
import copy
import io
import json
import math
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from analysis.cache import contract as cache
from analysis.cache.manifest import read_manifest
from analysis.cache.split import open_cached_split
from analysis.cli import main
from analysis.definitions import AreaSource, SizeDefinition, SizeEdges
from analysis.evaluation.compute import gt_keypoints
from analysis.evaluation.context import resolve_definitions
from analysis.evaluation.definitions import GT_COLUMNS
from analysis.evaluation.diagnose import JOINT_CLASSES, KEYPOINT_ERRORS, STEPS, diagnose_stored, mirror_index
from analysis.evaluation.run import EvaluationRequest, evaluate_files
from analysis.evaluation.slices import SLICE_NAMES
from analysis.evaluation.store import DETECTIONS_FILE, evaluations_dir, read_evaluation
from tests.analysis.evaluation.diagnosis_fixture import COCO_MIRROR, diagnosis_predictions
from tests.analysis.evaluation.reference import COCO_SIGMAS, _quiet, bbox_area_copy, build, pycocotools_range
from tests.analysis.evaluation.test_hand_made import NAMES, detection, doc, person
from tests.conftest import require_fixtures

COCO_MINI_VAL = "coco-mini/annotations/person_keypoints_val2017.json"


def _diagnose(root, key, request: EvaluationRequest, model: str = "m", oks: float = 0.75):
    facts = open_cached_split(root, key)
    images = cache.read_images(root, key)
    instances = cache.read_instances(root, key, columns=GT_COLUMNS)
    definitions = resolve_definitions(request, facts, images, instances)
    keypoints = gt_keypoints(root, key, len(instances), facts.n_joints)
    names = read_manifest(root, key).keypoint_schema.joint_names
    return diagnose_stored(read_evaluation(root, key, model), images, instances, keypoints, names, definitions, oks)


def _evaluate(tmp_path: Path, root, key, preds: list[dict], request: EvaluationRequest):
    path = tmp_path / "m.json"
    path.write_text(json.dumps(preds))
    evaluate_files(root, key, [path], ["m"], request, progress=False)


# --- coco-analyze parity ---------------------------------------------------------------------------
#
# Obtained by running coco-analyze (matteorr/coco-analyze @ 9eb8a0a, its pycocotools/cocoanalyze.py and
# cocoeval.py) under Python 3 in a scratch folder outside this repository, with the smallest changes that let
# it run there: np.float -> float, an integer `num` for np.linspace in Params, its package renamed so that
# the installed pycocotools' mask module is used, skimage (only for image plots) not imported.  Input: the
# coco-mini val2017 annotations and `python -m tests.analysis.evaluation.diagnosis_fixture preds.json`, the
# 20 best detections per image (as its run_analysis.py cuts); COCOanalyze(gt, dt, "keypoints") with its
# default areaRng [[32^2, 1e5^2], [32^2, 96^2], [96^2, 1e5^2]], analyze(check_kpts, check_scores,
# check_bckgd), summarize().  "ap" is the mean over its 10 per-threshold "auc" values of each step
# ("baseline", "miss", "swap", "inversion", "jitter", "score", "bckgd_false_pos", "false_neg"); "ap75" is
# its value at OKS 0.75 (its false_neg rows label thresholds in reverse: read at the label 0.70).  "joints"
# sums its per-detection good/jitter/inversion/swap/miss flags over detections whose localisation match
# (OKS 0.1) lies in the range (its medium and large totals also count detections matched to persons outside
# the range: 279/83/54/35/96 and 287/71/35/21/73).
#
# Score step: coco-analyze soft-NMSes every range with the keypoints corrected for the LAST range ("large";
# cocoanalyze.py find_score_errors calls _soft_nms after its loop over ranges).  Its own figures for "all"
# and "medium" are 0.8505666103 / 0.9058828161 and 0.9086523077 / 0.9658994471; with one scratch line that
# re-applies the range's own corrections before _soft_nms they become the values pinned below, which is what
# this module computes ("large" is unaffected: 0.8009680968 / 0.8504950495 either way).
COCO_ANALYZE = {
    "all": {
        "joints": {"good": 313, "jitter": 92, "inversion": 55, "swap": 24, "miss": 91}, "matched": 62,
        "ap": [0.2771458886, 0.3883531664, 0.4177306362, 0.475278645, 0.524969315, 0.8517828978, 0.8554455446, 1.0],
        "ap75": [0.2713126113, 0.4594313566, 0.4880791654, 0.5752113437, 0.5761398154, 0.9065280064, 0.9108910891,
                 1.0],
    },
    "medium": {
        "joints": {"good": 164, "jitter": 47, "inversion": 29, "swap": 25, "miss": 45}, "matched": 33,
        "ap": [0.5345170235, 0.6344524472, 0.6946113444, 0.7517408043, 0.8064373623, 0.9113115455, 0.9138613861,
               1.0],
        "ap75": [0.5523882677, 0.7477042056, 0.8068020746, 0.8618891113, 0.8644322951, 0.9676761794, 0.9702970297,
                 1.0],
    },
    "large": {
        "joints": {"good": 137, "jitter": 41, "inversion": 26, "swap": 14, "miss": 47}, "matched": 29,
        "ap": [0.1635643248, 0.2575598143, 0.2818070491, 0.3340767286, 0.3739064236, 0.8009680968, 0.801980198, 1.0],
        "ap75": [0.1478188305, 0.2957003381, 0.3147852886, 0.4158325341, 0.4158325341, 0.8504950495, 0.8514851485,
                 1.0],
    },
}  # fmt: skip


def test_equals_coco_analyze_on_its_ranges(tmp_path: Path) -> None:
    """coco-analyze's 'all' (area >= 32^2) is our medium bucket with edges 32, 1e5; its medium and
    large are ours with the COCO edges; both on the 'area' field, as it does."""
    gt_path = require_fixtures() / COCO_MINI_VAL
    root, key, _ = build(tmp_path, gt_path)
    preds = diagnosis_predictions(json.loads(gt_path.read_text()))
    for edges, pairs in (((32.0, 1e5), {"all": "medium"}), ((32.0, 96.0), {"medium": "medium", "large": "large"})):
        size = SizeDefinition(AreaSource.SEGM, SizeEdges(edges[0] ** 2, edges[1] ** 2))
        request = EvaluationRequest(sigmas="coco", oks_area=AreaSource.SEGM, size=size)
        _evaluate(tmp_path, root, key, preds, request)
        diagnosis = _diagnose(root, key, request)
        for theirs, ours in pairs.items():
            expected, got = COCO_ANALYZE[theirs], diagnosis.slices[ours]
            assert got.joints == expected["joints"], theirs
            assert got.matched_detections == expected["matched"], theirs
            for step, ap, ap75 in zip(STEPS, expected["ap"], expected["ap75"], strict=True):
                assert got.ap[step] == pytest.approx(ap, abs=1e-9), (theirs, step)
                assert got.ap_at_oks[step] == pytest.approx(ap75, abs=1e-9), (theirs, step)


# --- an independent per-detection reference ---------------------------------------------------------


def _matches_at(gt_doc, preds, area_range, ignore, det_area, img_ids, threshold) -> dict[int, int]:
    """{result id: annotation id} of pycocotools' keypoint matching at one OKS threshold."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    doc_ = copy.deepcopy(gt_doc)
    for ann in doc_["annotations"]:
        if ann["id"] in ignore:
            ann["num_keypoints"] = 0
    with _quiet():
        gt = COCO()
        gt.dataset = doc_
        gt.createIndex()
        dt = gt.loadRes(copy.deepcopy(preds))
        for det_id, area in (det_area or {}).items():
            dt.anns[det_id]["area"] = area
        ev = COCOeval(gt, dt, iouType="keypoints")
        ev.params.kpt_oks_sigmas = COCO_SIGMAS
        ev.params.areaRng = [list(area_range)]
        ev.params.iouThrs = np.array([threshold])
        if img_ids is not None:
            ev.params.imgIds = sorted(img_ids)
        ev.evaluate()
    out = {}
    scored = []  # (score, matched) of every detection the slice counts (not ignored) at the threshold
    for e in ev.evalImgs:
        if e is None:
            continue
        for i, (det_id, gt_id) in enumerate(zip(e["dtIds"], e["dtMatches"][0], strict=True)):
            if gt_id:
                out[int(det_id)] = int(gt_id)
            if not e["dtIgnore"][0][i]:
                scored.append((e["dtScores"][i], bool(gt_id)))
    _matches_at.scored = scored
    return out


def _ece_mce(scored: list[tuple[float, bool]]) -> tuple[float | None, float | None]:
    """ECE and MCE on ten equal-width bins of [0, 1] (a score of exactly 1 in the last), one detection at a time."""
    bins: dict[int, list[tuple[float, bool]]] = {}
    for score, hit in scored:
        bins.setdefault(min(max(int(score * 10), 0), 9), []).append((score, hit))
    if not scored:
        return None, None
    gaps = {b: abs(sum(h for _, h in v) / len(v) - sum(c for c, _ in v) / len(v)) for b, v in bins.items()}
    return sum(len(bins[b]) * g for b, g in gaps.items()) / len(scored), max(gaps.values())


def _reference(gt_doc, preds, area_range, ignore=frozenset(), det_area=None, img_ids=None):
    """The taxonomy and the keypoint corrections, one detection and one joint at a time, from the
    definitions (coco-analyze's rows: own joint, other persons, own mirror, others' mirrors; the first
    highest ks wins); AP after each keypoint step by pycocotools on the corrected predictions."""
    anns = {a["id"]: a for a in gt_doc["annotations"]}
    by_image: dict[int, list[dict]] = {}
    for a in gt_doc["annotations"]:
        by_image.setdefault(a["image_id"], []).append(a)
    matches = _matches_at(gt_doc, preds, area_range, ignore, det_area, img_ids, 0.1)

    def kept(a):
        return (
            not a.get("iscrowd")
            and a["num_keypoints"] > 0
            and a["id"] not in ignore
            and (area_range[0] <= a["area"] <= area_range[1])
            and (img_ids is None or a["image_id"] in img_ids)
        )

    counts = dict.fromkeys(JOINT_CLASSES, 0)
    fixes: dict[str, list[tuple[int, int, float, float]]] = {e: [] for e in KEYPOINT_ERRORS}
    for det_id, gt_id in matches.items():
        g = anns[gt_id]
        if g["num_keypoints"] == 0:
            continue
        pred = preds[det_id - 1]["keypoints"]
        others = [a for a in by_image[g["image_id"]] if a["id"] != gt_id]
        rows = [(g, False)] + [(a, False) for a in others] + [(g, True)] + [(a, True) for a in others]
        for j in range(17):
            if g["keypoints"][3 * j + 2] == 0:
                continue
            sims = []
            for a, mirrored in rows:
                jj = COCO_MIRROR[j] if mirrored else j
                gx, gy, gv = a["keypoints"][3 * jj : 3 * jj + 3]
                d2 = (gx - pred[3 * j]) ** 2 + (gy - pred[3 * j + 1]) ** 2
                sims.append(math.exp(-d2 / (2 * COCO_SIGMAS[j]) ** 2 / (a["area"] + np.spacing(1)) / 2) if gv else -1)
            best = max(max(sims), 0.0)
            first = sims.index(max(sims))
            if best < 0.5:
                cls, k = "miss", 0.5
            elif first == 0:
                cls, k = ("good", None) if best > 0.85 else ("jitter", 0.85)
                if best == 0.85:
                    continue
            elif first == len(others) + 1:
                cls, k = "inversion", best
            else:
                cls, k = "swap", best
            if kept(g):
                counts[cls] += 1
            if k is not None:
                gx, gy = g["keypoints"][3 * j], g["keypoints"][3 * j + 1]
                fixes[cls].append((det_id, j, gx + math.sqrt(-math.log(k) * 2 * g["area"] * COCO_SIGMAS[j] ** 2), gy))
    fixed = copy.deepcopy(preds)
    ap = {"base": pycocotools_range(gt_doc, fixed, COCO_SIGMAS, area_range, ignore, det_area, img_ids)}
    for error in KEYPOINT_ERRORS:
        for det_id, j, x, y in fixes[error]:
            fixed[det_id - 1]["keypoints"][3 * j : 3 * j + 2] = [x, y]
        ap[error] = pycocotools_range(gt_doc, fixed, COCO_SIGMAS, area_range, ignore, det_area, img_ids)
    # Per joint: the labelled joints of persons of the slice matched at OKS 0.5.
    per_joint = {name: [] for name in NAMES}
    matches_50 = _matches_at(gt_doc, preds, area_range, ignore, det_area, img_ids, 0.5)
    calibration = _ece_mce(_matches_at.scored)
    for det_id, gt_id in matches_50.items():
        g = anns[gt_id]
        if not kept(g):
            continue
        pred = preds[det_id - 1]["keypoints"]
        for j, name in enumerate(NAMES):
            gx, gy, gv = g["keypoints"][3 * j : 3 * j + 3]
            if gv:
                d2 = (gx - pred[3 * j]) ** 2 + (gy - pred[3 * j + 1]) ** 2
                per_joint[name].append(math.exp(-d2 / (2 * COCO_SIGMAS[j]) ** 2 / (g["area"] + np.spacing(1)) / 2))
    outside = {i for i, a in (det_area or {}).items() if not area_range[0] <= a <= area_range[1]}
    # pycocotools evaluates the 20 best of each image (score descending, file order on ties).
    ranked = sorted(range(len(preds)), key=lambda i: (preds[i]["image_id"], -preds[i]["score"], i))
    seen: dict[int, int] = {}
    evaluated = set()
    for i in ranked:
        seen[preds[i]["image_id"]] = seen.get(preds[i]["image_id"], 0) + 1
        if seen[preds[i]["image_id"]] <= 20:
            evaluated.add(i + 1)
    in_images = [i for i in evaluated if img_ids is None or preds[i - 1]["image_id"] in img_ids]
    loc_gt = set(matches.values())
    return {
        "joints": counts,
        "background_fp": sum(1 for i in in_images if i not in matches and i not in outside and (
            det_area is not None or area_range[0] <= _box_area(preds[i - 1]) <= area_range[1])),
        "false_negatives": sum(1 for a in gt_doc["annotations"] if kept(a) and a["id"] not in loc_gt),
        "ap": ap,
        "per_joint": per_joint,
        "calibration": calibration,
    }  # fmt: skip


def _box_area(pred: dict) -> float:
    kp = np.asarray(pred["keypoints"]).reshape(-1, 3)
    return float(np.ptp(kp[:, 0]) * np.ptp(kp[:, 1]))


def _assert_matches_reference(got, ref, what: str) -> None:
    assert got.joints == ref["joints"], what
    assert got.background_fp == ref["background_fp"], what
    assert got.false_negatives == ref["false_negatives"], what
    ece, mce = ref["calibration"]
    assert (got.calibration["ece"] is None) == (ece is None), what
    if ece is not None:
        assert got.calibration["ece"] == pytest.approx(ece, abs=1e-12), what
        assert got.calibration["mce"] == pytest.approx(mce, abs=1e-12), what
    for name, values in ref["per_joint"].items():
        mine = got.per_joint[name]
        assert mine["n"] == len(values), (what, name)
        if values:
            v = np.asarray(values)
            assert mine["ks_0.5"] == pytest.approx(np.mean(v >= 0.5)), (what, name)
            assert mine["ks_0.85"] == pytest.approx(np.mean(v >= 0.85)), (what, name)
            # The cache keeps ground-truth keypoints as float32 (the shrunk coordinates are not exact there).
            assert mine["mean_ks"] == pytest.approx(v.mean(), rel=1e-5), (what, name)
        else:
            assert mine["mean_ks"] is None, (what, name)
    for step in ("base", *KEYPOINT_ERRORS):
        expected = ref["ap"][step]
        if expected["AP"] is None:
            assert got.ap[step] is None, (what, step)
        else:
            assert got.ap[step] == pytest.approx(expected["AP"], abs=1e-9), (what, step)
            assert got.ap_at_oks[step] == pytest.approx(expected["AP75"], abs=1e-9), (what, step)


def _shrunk(gt_doc: dict, factor: float = 0.3) -> dict:
    """The annotations of odd image ids scaled by ``factor`` (coco-mini has no small person with
    keypoints; scaled, a third of its persons are small)."""
    out = copy.deepcopy(gt_doc)
    for ann in out["annotations"]:
        if ann["image_id"] % 2 == 0:
            continue
        ann["bbox"] = [v * factor for v in ann["bbox"]]
        ann["area"] = ann["area"] * factor**2
        ann["keypoints"] = [v * factor if i % 3 != 2 else v for i, v in enumerate(ann["keypoints"])]
        if isinstance(ann.get("segmentation"), list):
            ann["segmentation"] = [[v * factor for v in poly] for poly in ann["segmentation"]]
    return out


@pytest.mark.slow
def test_every_slice_equals_a_per_detection_reference(tmp_path: Path) -> None:
    """small (which coco-analyze lacks), the small density levels and the crowd levels, on coco-mini
    (odd images shrunk) with bbox areas (OKS and size), against :func:`_reference`."""
    gt_path = require_fixtures() / COCO_MINI_VAL
    gt_doc = bbox_area_copy(_shrunk(json.loads(gt_path.read_text())))
    root, key, _ = build(tmp_path, gt_doc)
    preds = diagnosis_predictions(gt_doc)
    request = EvaluationRequest(sigmas="coco", oks_area=AreaSource.BBOX)
    _evaluate(tmp_path, root, key, preds, request)
    diagnosis = _diagnose(root, key, request)
    small = (0.0, np.nextafter(32.0**2, 0))
    assert diagnosis.slices["small"].n_gt >= 10 and sum(diagnosis.slices["small"].joints.values()) >= 50
    _assert_matches_reference(diagnosis.slices["small"], _reference(gt_doc, preds, small), "small")
    _assert_matches_reference(diagnosis.slices["all"], _reference(gt_doc, preds, (0.0, 1e10)), "all")

    # Density and crowd membership from the cache (tested elsewhere), as test_exactness does.
    definitions = diagnosis.definitions
    instances = cache.read_instances(root, key)
    images = cache.read_images(root, key)
    det = pq.read_table(evaluations_dir(root, key) / "m" / DETECTIONS_FILE).to_pandas()
    small_person = (instances["bbox_w"] * instances["bbox_h"]).to_numpy() < 32.0**2
    person_level = definitions.density_edges.codes(instances["crowding"].to_numpy(float))
    det_level = definitions.density_edges.codes(det["density"].to_numpy(float))
    assert sum(diagnosis.slices[n].n_gt > 0 for n in ("small/sparse", "small/moderate", "small/dense")) >= 2
    for code, name in enumerate(("small/sparse", "small/moderate", "small/dense")):
        ignore = set(instances["ann_id"][~(small_person & (person_level == code))].tolist())
        in_level = det_level == code
        det_area = {int(i): 1e12 for i in det["det_id"][~in_level]}
        det_area.update(zip(det["det_id"][in_level].astype(int), det["area"][in_level], strict=True))
        _assert_matches_reference(diagnosis.slices[name], _reference(gt_doc, preds, small, ignore, det_area), name)
    image_level = definitions.crowd_convention.levels().codes(images["crowd_index"].to_numpy(float))
    for code, name in enumerate(("crowd/easy", "crowd/medium", "crowd/hard")):
        img_ids = set(images["image_id"][image_level == code].tolist())
        _assert_matches_reference(diagnosis.slices[name], _reference(gt_doc, preds, (0.0, 1e10), img_ids=img_ids), name)


# --- hand-made cases ---------------------------------------------------------------------------------

LEFT_WRIST, RIGHT_WRIST = 9, 10
# Two large persons side by side (bbox 100 x 200, area 20000): shoulders, wrists, hips.
A_JOINTS = {5: (130, 120), 6: (170, 120), 9: (120, 200), 10: (180, 200), 11: (135, 220), 12: (165, 220)}
B_JOINTS = {j: (x + 200, y) for j, (x, y) in A_JOINTS.items()}


def _two_persons():
    return [person(1, 1, (100, 100, 100, 200), A_JOINTS, area=20000.0),
            person(2, 1, (300, 100, 100, 200), B_JOINTS, area=20000.0)]  # fmt: skip


def _run(tmp_path: Path, gt: dict, preds: list[dict]):
    tmp_path.mkdir(parents=True, exist_ok=True)
    root, key, _ = build(tmp_path, gt)
    request = EvaluationRequest()
    _evaluate(tmp_path, root, key, preds, request)
    return _diagnose(root, key, request)


def test_swapped_wrists_are_an_inversion(tmp_path: Path) -> None:
    joints = dict(A_JOINTS)
    joints[LEFT_WRIST], joints[RIGHT_WRIST] = A_JOINTS[RIGHT_WRIST], A_JOINTS[LEFT_WRIST]
    d = _run(tmp_path, doc(_two_persons()), [detection(1, joints, 0.9)])
    assert d.slices["all"].joints == {"good": 4, "jitter": 0, "inversion": 2, "swap": 0, "miss": 0}
    # Two of six joints on the wrong side: OKS about 2/3, a miss at 0.75; once the inversion is corrected
    # (the wrists put back on their own side) it is a hit; person 2 is never detected, so recall stops at
    # 1/2 and AP at 0.75 goes from 0 to 51/101 (precision 1 at recall points 0, 0.01, ..., 0.5).
    s = d.slices["all"]
    assert (s.ap_at_oks["base"], s.ap_at_oks["swap"]) == (0.0, 0.0)
    assert s.ap_at_oks["inversion"] == pytest.approx(51 / 101)


def test_a_wrist_on_the_neighbours_wrist_is_a_swap(tmp_path: Path) -> None:
    joints = dict(A_JOINTS)
    joints[RIGHT_WRIST] = B_JOINTS[LEFT_WRIST]
    d = _run(tmp_path, doc(_two_persons()), [detection(1, joints, 0.9)])
    assert d.slices["all"].joints == {"good": 5, "jitter": 0, "inversion": 0, "swap": 1, "miss": 0}
    assert d.slices["all"].background_fp == 0 and d.slices["all"].false_negatives == 1  # person 2 never matched


def test_two_pixels_off_is_jitter_on_a_small_person_and_good_on_a_large_one(tmp_path: Path) -> None:
    """ks at the hips (sigma 0.107), d = 2 px: area 200 (10 x 20 box) -> exp(-4 / (2 * 200 * 0.0458))
    = 0.80 (jitter); area 20000 -> 0.998 (good)."""
    small_joints = {11: (505, 410), 12: (510, 410)}
    gt = doc([person(1, 1, (100, 100, 100, 200), {11: (135, 220), 12: (165, 220)}, area=20000.0),
              person(2, 1, (500, 400, 10, 20), small_joints, area=200.0)])  # fmt: skip
    preds = [detection(1, {11: (137, 220), 12: (167, 220)}, 0.9), detection(1, {11: (507, 410), 12: (512, 410)}, 0.8)]
    d = _run(tmp_path, gt, preds)
    assert d.slices["large"].joints == {"good": 2, "jitter": 0, "inversion": 0, "swap": 0, "miss": 0}
    assert d.slices["small"].joints == {"good": 0, "jitter": 2, "inversion": 0, "swap": 0, "miss": 0}


def test_a_detection_of_nobody_is_background(tmp_path: Path) -> None:
    nobody = detection(1, {5: (600, 450), 6: (620, 470)}, 0.95)
    d = _run(tmp_path, doc(_two_persons()), [detection(1, A_JOINTS, 0.9), nobody])
    s = d.slices["all"]
    assert (s.background_fp, s.matched_detections, s.false_negatives) == (1, 1, 1)
    assert s.joints["good"] == 6
    # Ignoring the background detection (ranked first) lifts AP; removing the missed person makes it 1.
    assert s.ap["background_fp"] > s.ap["score"] - 1e-12
    assert s.ap["false_negatives"] == pytest.approx(1.0)


def test_a_schema_without_left_right_names_has_no_inversion_class() -> None:
    assert mirror_index(["a", "b", "c"]) is None
    mirror = mirror_index(NAMES)
    assert mirror is not None and mirror.tolist() == COCO_MIRROR
    crowdpose = [
        "left_shoulder",
        "right_shoulder",
        "left_elbow",
        "right_elbow",
        "left_wrist",
        "right_wrist",
        "left_hip",
        "right_hip",
        "left_knee",
        "right_knee",
        "left_ankle",
        "right_ankle",
        "head",
        "neck",
    ]
    assert mirror_index(crowdpose).tolist() == [1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 12, 13]


# --- the command line --------------------------------------------------------------------------------


def _cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def test_cli_json_shape_text_and_evaluate_diagnose(tmp_path: Path) -> None:
    gt = doc(_two_persons())
    root, key, _ = build(tmp_path, gt)
    preds = tmp_path / "p.json"
    preds.write_text(json.dumps([detection(1, A_JOINTS, 0.9)]))
    common = ["--name", key.dataset, "--split", key.split, "--cache-dir", str(root)]
    code, out, _ = _cli("evaluate", *common, "--predictions", str(preds), "--model", "m1", "--json", "--diagnose")
    assert code == 0
    doc_ = json.loads(out)
    assert doc_["diagnosis"]["model"] == "m1" and set(doc_["diagnosis"]["slices"]) == set(SLICE_NAMES)
    code, out, _ = _cli("diagnose", *common, "--json", "--oks", "0.5")
    assert code == 0
    d = json.loads(out)
    assert d["model"] == "m1" and d["definitions"]["diagnosis_oks"] == 0.5
    s = d["slices"]["large"]
    assert s["joints"] == {"good": 6, "jitter": 0, "inversion": 0, "swap": 0, "miss": 0}
    assert set(s["ap"]) == set(STEPS) == set(s["ap_at_oks"])
    assert d["slices"]["small"]["ap"]["base"] is None  # no ground truth there
    code, out, _ = _cli("diagnose", *common)
    assert code == 0 and "Definitions:" in out and "small/dense" in out
    code, _, err = _cli("diagnose", *common, "--oks", "0.72")
    assert code != 0 and "--oks 0.72" in err and "Traceback" not in err
    code, _, err = _cli("diagnose", *common, "--model", "nobody")
    assert code != 0 and "nobody" in err
