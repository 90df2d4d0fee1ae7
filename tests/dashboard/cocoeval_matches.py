"""pycocotools as an independent reference for the dashboard's evaluation tests.

Runs ``COCOeval(iouType="keypoints")`` on a ground-truth file and a results file and
returns, for the ``all`` area range, the precision array and per-person / per-detection
matches at an OKS threshold.  Optionally the ground truth's ``area`` is replaced
(e.g. by w*h) and the area ranges set to half-open buckets (upper bound
``np.nextafter(hi, 0)``, since pycocotools' ranges are closed at both ends).
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval


@dataclass
class Reference:
    precision: np.ndarray  #: (10, 101, A) precision of category 1, maxDets 20, per area range
    ap: list[float | None]  #: AP per area range (None: no ground truth)
    gt: pd.DataFrame  #: ann_id, image_id, matched (det index or 0), ignored at the threshold, range all
    dt_matched: dict[int, int]  #: detection index (1-based, loadRes order) -> matched ann id (0: none)


def run(
    gt_file: Path,
    results_file: Path,
    *,
    area: str = "segm",
    threshold: float = 0.5,
    edges: tuple[float, float] = (32.0**2, 96.0**2),
) -> Reference:
    doc = json.loads(Path(gt_file).read_text())
    if area == "bbox":
        doc = copy.deepcopy(doc)
        for ann in doc["annotations"]:
            ann["area"] = ann["bbox"][2] * ann["bbox"][3]
    results = json.loads(Path(results_file).read_text())
    lo, hi = edges
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = doc
        coco.createIndex()
        dets = coco.loadRes(results)
        ev = COCOeval(coco, dets, "keypoints")
        ev.params.areaRng = [[0, 1e10], [0, np.nextafter(lo, 0)], [lo, np.nextafter(hi, 0)], [hi, 1e10]]
        ev.params.areaRngLbl = ["all", "small", "medium", "large"]
        ev.evaluate()
        ev.accumulate()
    precision = ev.eval["precision"][:, :, 0, :, 0]
    ap = [
        float(precision[:, :, a][precision[:, :, a] > -1].mean()) if (precision[:, :, a] > -1).any() else None
        for a in range(precision.shape[2])
    ]
    t = int(np.flatnonzero(np.isclose(ev.params.iouThrs, threshold))[0])
    rows, dt_matched = [], {}
    for e in ev.evalImgs:
        if e is None or e["aRng"] != [0, 1e10]:
            continue
        for ann_id, match, ignored in zip(e["gtIds"], e["gtMatches"][t], e["gtIgnore"], strict=True):
            rows.append({"ann_id": ann_id, "image_id": e["image_id"], "matched": int(match), "ignored": bool(ignored)})
        for det_id, match in zip(e["dtIds"], e["dtMatches"][t], strict=True):
            dt_matched[int(det_id)] = int(match)
    return Reference(precision, ap, pd.DataFrame(rows), dt_matched)
