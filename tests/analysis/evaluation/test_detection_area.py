"""AP^S under ``--size-area crowdpose``: by default an unmatched detection is sized by its
keypoint box, unscaled, as xtcocotools' ``loadRes`` sizes it, so the size slices equal
xtcocotools run in the same test on the real CrowdPose fixture; ``--detection-area scaled``
(0.53 times that box, like the persons) is the explicit variant and equals xtcocotools with
its detections' areas scaled the same way."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np

from analysis.cli import main
from tests.analysis.evaluation.reference import (
    CROWDPOSE_SIGMAS,
    SLICES_BY_RANGE,
    _quiet,
    assert_metrics_equal,
    build,
    noisy_predictions,
    require_xtcocotools,
)
from tests.conftest import require_fixtures

CROWDPOSE = "xtcocoapi/example_crowdpose_val.json"


def xtcocotools_size_slices(doc: dict, preds: list[dict], det_scale: float = 1.0) -> dict:
    """xtcocotools' COCOeval(iouType="keypoints", CrowdPose sigmas, use_area=True) with the
    persons' area 0.53*w*h (CrowdPose's), half-open 32² / 96² ranges, and each detection's
    area as its ``loadRes`` sets it (times ``det_scale``)."""
    require_xtcocotools()
    from xtcocotools.coco import COCO
    from xtcocotools.cocoeval import COCOeval

    gt_doc = copy.deepcopy(doc)
    for ann in gt_doc["annotations"]:
        ann["area"] = 0.53 * ann["bbox"][2] * ann["bbox"][3]
    lo, hi = 32.0**2, 96.0**2
    with _quiet():
        gt = COCO()
        gt.dataset = gt_doc
        gt.createIndex()
        dt = gt.loadRes(copy.deepcopy(preds))
        for ann in dt.anns.values():
            ann["area"] *= det_scale
        ev = COCOeval(gt, dt, "keypoints", sigmas=CROWDPOSE_SIGMAS, use_area=True)
        ev.params.areaRng = [[0, 1e10], [0, np.nextafter(lo, 0)], [lo, np.nextafter(hi, 0)], [hi, 1e10]]
        ev.params.areaRngLbl = list(SLICES_BY_RANGE)
        ev.evaluate()
        ev.accumulate()
    out = {}
    for a, name in enumerate(SLICES_BY_RANGE):
        p, r = ev.eval["precision"][:, :, 0, a, 0], ev.eval["recall"][:, 0, a, 0]
        out[name] = (
            None
            if (p == -1).all()
            else {
                "AP": float(np.mean(p[p > -1])),
                "AP50": float(np.mean(p[0])),
                "AP75": float(np.mean(p[5])),
                "AR": float(np.mean(r[r > -1])),
            }
        )
    return out


def test_crowdpose_size_slices_equal_xtcocotools_by_default(tmp_path: Path, capsys) -> None:
    path = require_fixtures() / CROWDPOSE
    doc = json.loads(path.read_text())
    root, key, _ = build(tmp_path, path, name="crowdpose")
    preds = noisy_predictions(doc, 0, extra_fp=1.0)
    (tmp_path / "p.json").write_text(json.dumps(preds))
    args = [
        "evaluate",
        "--name",
        key.dataset,
        "--split",
        key.split,
        "--predictions",
        str(tmp_path / "p.json"),
        "--cache-dir",
        str(root),
        "--quiet",
        "--json",
        "--size-area",
        "crowdpose",
    ]
    assert main(args) == 0
    default = json.loads(capsys.readouterr().out)
    assert default["definitions"]["detection_area"] == "keypoint-box"
    assert main([*args, "--detection-area", "scaled"]) == 0
    scaled = json.loads(capsys.readouterr().out)
    assert scaled["definitions"]["detection_area"] == "scaled"
    reference = xtcocotools_size_slices(doc, preds)
    reference_scaled = xtcocotools_size_slices(doc, preds, det_scale=0.53)
    differs = False
    for name in SLICES_BY_RANGE:
        ours = {k: v for k, v in default["slices"][name].items() if k != "n_gt"}
        ours_scaled = {k: v for k, v in scaled["slices"][name].items() if k != "n_gt"}
        ref = reference[name] or dict.fromkeys(ours)
        assert_metrics_equal(ours, ref, what=f"default {name}")
        assert_metrics_equal(ours_scaled, reference_scaled[name] or dict.fromkeys(ours), what=f"scaled {name}")
        differs |= ours != ours_scaled
    assert differs  # the fixture has detections the two rules place in different buckets
