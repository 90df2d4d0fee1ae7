"""Independent references for the evaluation tests: pycocotools / xtcocotools runs and
a generator of noisy predictions.  Nothing here imports analysis.evaluation."""

from __future__ import annotations

import contextlib
import copy
import io
import json
import os
from pathlib import Path

import numpy as np
import pytest

from analysis.build.run import build_split
from analysis.cache.contract import CacheKey
from analysis.registry import DatasetSpec

COCO_SIGMAS = np.array(
    [
        0.026,
        0.025,
        0.025,
        0.035,
        0.035,
        0.079,
        0.079,
        0.072,
        0.072,
        0.062,
        0.062,
        0.107,
        0.107,
        0.087,
        0.087,
        0.089,
        0.089,
    ]
)
CROWDPOSE_SIGMAS = np.array(
    [
        0.079,
        0.079,
        0.072,
        0.072,
        0.062,
        0.062,
        0.107,
        0.107,
        0.087,
        0.087,
        0.089,
        0.089,
        0.079,
        0.079,
    ]
)
SLICES_BY_RANGE = ("all", "small", "medium", "large")


def build(
    tmp_path: Path, doc_or_path: dict | Path, name: str = "ds", split: str = "val"
) -> tuple[Path, CacheKey, Path]:
    """Build a cache of an annotation document (written to tmp) or file; (cache root, key, annotation path)."""
    if isinstance(doc_or_path, dict):
        path = tmp_path / f"{name}-{split}.json"
        path.write_text(json.dumps(doc_or_path))
    else:
        path = Path(doc_or_path)
    root = tmp_path / "cache"
    build_split(DatasetSpec(name, split, path), root, progress=False)
    return root, CacheKey(name, split), path


def noisy_predictions(
    doc: dict,
    seed: int,
    noise: float = 0.08,
    extra_fp: float = 0.3,
    drop: float = 0.2,
    duplicate: float = 0.1,
    n_joints: int | None = None,
) -> list[dict]:
    """Predictions near each labelled person: jittered in proportion to the person's size,
    some persons missed, some predicted twice, plus false positives anywhere in the image.
    Scores are random (ties included on purpose: they test the tie order)."""
    rng = np.random.default_rng(seed)
    k = n_joints or len(doc["categories"][0]["keypoints"])
    images = {im["id"]: im for im in doc["images"]}
    preds = []
    for ann in doc["annotations"]:
        if ann.get("iscrowd") or rng.random() < drop:
            continue
        x, y, w, h = ann["bbox"]
        kp = np.asarray(ann["keypoints"], float).reshape(-1, 3)[:k]
        missing = kp[:, 2] <= 0
        kp[missing, 0] = x + rng.random(missing.sum()) * w
        kp[missing, 1] = y + rng.random(missing.sum()) * h
        for _ in range(2 if rng.random() < duplicate else 1):
            scale = noise * np.sqrt(max(w * h, 1.0)) * rng.exponential(1.0)
            out = kp.copy()
            out[:, :2] += rng.normal(0, scale, (k, 2))
            out[:, 2] = rng.uniform(0.05, 1.0, k)
            preds.append(_record(ann["image_id"], out, rng))
    ids = list(images)
    for _ in range(int(extra_fp * len(doc["annotations"])) + 1):
        im = images[ids[rng.integers(len(ids))]]
        wd, ht = im.get("width") or 640, im.get("height") or 480
        cx, cy, s = rng.uniform(0, wd), rng.uniform(0, ht), rng.uniform(5, 150)
        out = np.stack([cx + rng.normal(0, s, k), cy + rng.normal(0, 2 * s, k), rng.uniform(0.05, 1, k)], 1)
        preds.append(_record(im["id"], out, rng))
    return preds


def _record(image_id: int, kp: np.ndarray, rng: np.random.Generator) -> dict:
    # Scores on a coarse grid: equal scores happen, within and across images.
    return {
        "image_id": int(image_id),
        "category_id": 1,
        "keypoints": [float(v) for v in kp.reshape(-1)],
        "score": float(np.round(rng.uniform(0.05, 1.0), 2)),
    }


def _quiet():
    return contextlib.redirect_stdout(io.StringIO())


def pycocotools_slices(
    gt_doc: dict,
    preds: list[dict],
    sigmas: np.ndarray,
    edges: tuple[float, float] = (32.0, 96.0),
    size_area: str = "segm",
) -> dict:
    """pycocotools COCOeval(iouType="keypoints") with areaRng = our half-open buckets.

    ``size_area`` is the persons' area the buckets compare: "segm" (the file's ``area``,
    plain pycocotools: what PoseAtlas gives under ``--size-area segm``) or "bbox" (w*h:
    PoseAtlas' DEFAULT size area; the OKS still uses the file's ``area``, as PoseAtlas'
    default ``--oks-area segm`` does; see :func:`size_area_after_oks`).  Compare PoseAtlas'
    medium / large with the size area its ``definitions`` name, never another one.

    Returns {slice: {"AP", "AP50", "AP75", "AR"}} for all / small / medium / large,
    None where pycocotools reports -1.
    """
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    lo, hi = edges[0] ** 2, edges[1] ** 2
    with _quiet():
        gt = COCO()
        gt.dataset = copy.deepcopy(gt_doc)
        gt.createIndex()
        dt = gt.loadRes(copy.deepcopy(preds))
        ev = COCOeval(gt, dt, iouType="keypoints")
        ev.params.kpt_oks_sigmas = np.asarray(sigmas, float)
        ev.params.areaRng = [[0, 1e10], [0, np.nextafter(lo, 0)], [lo, np.nextafter(hi, 0)], [hi, 1e10]]
        ev.params.areaRngLbl = list(SLICES_BY_RANGE)
        ev.evaluate()
        if size_area == "bbox":
            size_area_after_oks(ev, {a["id"]: a["bbox"][2] * a["bbox"][3] for a in gt_doc["annotations"]})
        elif size_area != "segm":
            raise ValueError(f"size_area {size_area!r}: 'segm' or 'bbox'")
        ev.accumulate()
    return {name: _range_metrics(ev, a) for a, name in enumerate(SLICES_BY_RANGE)}


def _range_metrics(ev, a: int) -> dict:
    """AP / AP50 / AP75 / AR of area range ``a`` of an accumulated COCOeval (None: no ground truth)."""
    p = ev.eval["precision"][:, :, 0, a, 0]
    r = ev.eval["recall"][:, 0, a, 0]
    if (p == -1).all():
        return {"AP": None, "AP50": None, "AP75": None, "AR": None}
    return {
        "AP": float(np.mean(p[p > -1])),
        "AP50": float(np.mean(p[0])),
        "AP75": float(np.mean(p[5])),
        "AR": float(np.mean(r[r > -1])),
    }


def rerun_images(ev) -> None:
    """Re-run a COCOeval's per-image step on its stored OKS (the tail of its own ``evaluate()``,
    same loop over categories, area ranges and images; pycocotools and xtcocotools alike)."""
    p = ev.params
    p.imgIds = list(np.unique(p.imgIds))
    ev.evalImgs = [
        ev.evaluateImg(img, cat, area_range, p.maxDets[-1])
        for cat in p.catIds
        for area_range in p.areaRng
        for img in p.imgIds
    ]
    ev._paramsEval = copy.deepcopy(p)


def size_area_after_oks(ev, area_by_ann: dict[int, float]) -> None:
    """Give every person another area for the area ranges only, after ``ev.evaluate()``.

    pycocotools reads a person's ``area`` twice: as the OKS scale (``computeOks``, run
    first, over all images) and for the area-range test (``evaluateImg``).  Setting
    ``area`` between the two and re-running the per-image step evaluates with OKS
    area = the file's ``area`` and size area = ``area_by_ann`` (PoseAtlas' default
    ``--oks-area segm --size-area bbox``), with the tool's own matching and accumulation.
    """
    for persons in ev._gts.values():
        for g in persons:
            g["area"] = area_by_ann[g["id"]]
    rerun_images(ev)


def bbox_area_copy(doc: dict) -> dict:
    """A copy of the ground truth whose ``area`` is the bbox w*h."""
    out = copy.deepcopy(doc)
    for ann in out["annotations"]:
        ann["area"] = float(ann["bbox"][2] * ann["bbox"][3])
    return out


def require_xtcocotools():
    """xtcocotools, or skip locally / fail under CI (the Makefile builds it)."""
    try:
        import xtcocotools.coco
        import xtcocotools.cocoeval  # noqa: F401
    except Exception as exc:  # an ABI mismatch raises ValueError, not ImportError
        if os.environ.get("CI"):
            pytest.fail(f"xtcocotools must import under CI: {exc}")
        pytest.skip(f"xtcocotools not importable: {exc}")


def xtcocotools_crowd(gt_path: Path, preds: list[dict], tmp_path: Path) -> dict:
    """xtcocotools' COCOeval(..., "keypoints_crowd", sigmas=CrowdPose's, use_area=False) stats."""
    require_xtcocotools()
    from xtcocotools.coco import COCO
    from xtcocotools.cocoeval import COCOeval

    res = tmp_path / "xt-results.json"
    res.write_text(json.dumps(preds))
    with _quiet():
        gt = COCO(str(gt_path))
        dt = gt.loadRes(str(res))
        ev = COCOeval(gt, dt, "keypoints_crowd", sigmas=CROWDPOSE_SIGMAS, use_area=False)
        ev.anno_file = (str(gt_path), str(res))
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    s = ev.stats
    return {"AP": s[0], "AP50": s[1], "AP75": s[2], "AR": s[3], "easy": s[6], "medium": s[7], "hard": s[8]}


def pycocotools_range(
    gt_doc: dict,
    preds: list[dict],
    sigmas: np.ndarray,
    area_range: tuple[float, float],
    ignore_ann_ids: set[int] | frozenset[int] = frozenset(),
    det_area: dict[int, float] | None = None,
    img_ids: list[int] | None = None,
) -> dict:
    """One pycocotools keypoint evaluation over a custom slice.

    Persons in ``ignore_ann_ids`` get ``num_keypoints`` 0, which pycocotools
    ignores without changing their OKS (that uses the keypoints' own v); the
    detections whose 1-based result index is in ``det_area`` get that ``area``
    (pycocotools ignores an unmatched detection whose area is outside the
    range); ``img_ids`` restricts the images (crowd levels, as xtcocotools does).
    """
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    doc = copy.deepcopy(gt_doc)
    for ann in doc["annotations"]:
        if ann["id"] in ignore_ann_ids:
            ann["num_keypoints"] = 0
    with _quiet():
        gt = COCO()
        gt.dataset = doc
        gt.createIndex()
        dt = gt.loadRes(copy.deepcopy(preds))
        for det_id, area in (det_area or {}).items():
            dt.anns[det_id]["area"] = area
        ev = COCOeval(gt, dt, iouType="keypoints")
        ev.params.kpt_oks_sigmas = np.asarray(sigmas, float)
        ev.params.areaRng = [list(area_range)]
        ev.params.areaRngLbl = ["slice"]
        if img_ids is not None:
            ev.params.imgIds = sorted(img_ids)
        ev.evaluate()
        ev.accumulate()
    p = ev.eval["precision"][:, :, 0, 0, 0]
    r = ev.eval["recall"][:, 0, 0, 0]
    if (p == -1).all():
        return {"AP": None, "AP50": None, "AP75": None, "AR": None}
    return {
        "AP": float(np.mean(p)),
        "AP50": float(np.mean(p[0])),
        "AP75": float(np.mean(p[5])),
        "AR": float(np.mean(r)),
    }


def assert_metrics_equal(ours: dict, ref: dict, tol: float = 1e-9, what: str = "") -> None:
    """AP / AP50 / AP75 / AR equal to ``tol``; None on both sides for an empty slice."""
    for key in ("AP", "AP50", "AP75", "AR"):
        a, b = ours[key], ref[key]
        if b is None:
            assert a is None, f"{what} {key}: ours {a}, reference has no ground truth"
        else:
            assert a is not None and abs(a - b) <= tol, f"{what} {key}: ours {a}, reference {b}"


REPO_ROOT = Path(__file__).resolve().parents[3]


def ten_slices(
    tool: str,
    gt_path: Path,
    preds: list[dict],
    sigmas: np.ndarray,
    tmp_path: Path,
    size_area: dict[int, float],
    small_level: dict[int, int],
    det_level: dict[int, int],
    image_level: dict[int, int],
    edges: tuple[float, float] = (32.0, 96.0),
) -> dict:
    """Every PoseAtlas slice by pycocotools (``tool`` "pycocotools") or xtcocotools
    ("xtcocotools") COCOeval(iouType="keypoints"), read from files as the tools read them.

    The OKS uses the file's ``area``; the size buckets ``size_area`` (by ann id, see
    :func:`size_area_after_oks`).  The density slices are the small range with the
    persons of other levels ignored and the detections of other levels given an area
    outside it; the crowd levels restrict the images.  The levels are inputs:
    ``small_level`` person ann id -> density level, ``det_level`` result id (1-based
    file index, as ``loadRes`` numbers them) -> density level, ``image_level`` image
    id -> crowd level.

    Returns:
        {slice name: {"AP", "AP50", "AP75", "AR"}} for the ten slices.
    """
    if tool == "xtcocotools":
        require_xtcocotools()
        from xtcocotools.coco import COCO
        from xtcocotools.cocoeval import COCOeval
    else:
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval
    res = tmp_path / f"{tool}-results.json"
    res.write_text(json.dumps(preds))
    lo, hi = edges[0] ** 2, edges[1] ** 2
    small = [0.0, float(np.nextafter(lo, 0))]
    with _quiet():
        gt = COCO(str(gt_path))
        dt = gt.loadRes(str(res))
        if tool == "xtcocotools":
            ev = COCOeval(gt, dt, "keypoints", sigmas=np.asarray(sigmas, float), use_area=True)
        else:
            ev = COCOeval(gt, dt, iouType="keypoints")
            ev.params.kpt_oks_sigmas = np.asarray(sigmas, float)
        ev.params.areaRng = [[0, 1e10]]
        ev.evaluate()  # the OKS of every pair, once
        ev.params.areaRng = [[0, 1e10], small, [lo, np.nextafter(hi, 0)], [hi, 1e10]]
        ev.params.areaRngLbl = list(SLICES_BY_RANGE)
        size_area_after_oks(ev, size_area)
        ev.accumulate()
        out = {name: _range_metrics(ev, a) for a, name in enumerate(SLICES_BY_RANGE)}

        persons = [g for gs in ev._gts.values() for g in gs]
        dets = [d for ds in ev._dts.values() for d in ds]
        ignore = {g["id"]: g["ignore"] for g in persons}
        det_area = {d["id"]: d["area"] for d in dets}
        ev.params.areaRng = [small]
        for code, name in enumerate(("small/sparse", "small/moderate", "small/dense")):
            for g in persons:
                g["ignore"] = ignore[g["id"]] or small_level.get(g["id"]) != code
            for d in dets:
                d["area"] = det_area[d["id"]] if det_level[d["id"]] == code else 1e12
            rerun_images(ev)
            ev.accumulate()
            out[name] = _range_metrics(ev, 0)
        for g in persons:
            g["ignore"] = ignore[g["id"]]
        for d in dets:
            d["area"] = det_area[d["id"]]

        ev.params.areaRng = [[0, 1e10]]
        every_image = list(ev.params.imgIds)
        for code, name in enumerate(("crowd/easy", "crowd/medium", "crowd/hard")):
            ev.params.imgIds = [i for i in every_image if image_level[i] == code]
            if not ev.params.imgIds:
                out[name] = {"AP": None, "AP50": None, "AP75": None, "AR": None}
                continue
            rerun_images(ev)
            ev.accumulate()
            out[name] = _range_metrics(ev, 0)
    return out
