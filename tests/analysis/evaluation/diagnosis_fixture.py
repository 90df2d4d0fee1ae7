"""Deterministic predictions with every keypoint error type, for the diagnosis tests.

:func:`noisy_predictions` (jitter, misses, duplicates, background detections),
plus, for some persons, a prediction with left and right mirrored (inversions)
and one whose wrists sit on another person's wrists (swaps).  Coordinates are
rounded to 1/16 px so the float32 copy an evaluation stores equals the JSON
values coco-analyze reads.

The coco-analyze figures pinned in test_diagnose.py were computed on the file
``diagnosis_predictions(coco-mini val2017, seed=17)`` writes (run
``python -m tests.analysis.evaluation.diagnosis_fixture OUT.json`` to write it).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from tests.analysis.evaluation.reference import noisy_predictions

COCO_MIRROR = [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]
WRISTS = [9, 10]
SEED = 17


def diagnosis_predictions(doc: dict, seed: int = SEED) -> list[dict]:
    rng = np.random.default_rng(seed + 1000)
    preds = noisy_predictions(doc, seed, noise=0.05)
    by_image: dict[int, list[dict]] = {}
    for ann in doc["annotations"]:
        if not ann.get("iscrowd") and ann.get("num_keypoints", 0) > 0:
            by_image.setdefault(ann["image_id"], []).append(ann)
    for image_id, anns in sorted(by_image.items()):
        for i, ann in enumerate(anns):
            kp = np.asarray(ann["keypoints"], float).reshape(-1, 3)
            x, y, w, h = ann["bbox"]
            missing = kp[:, 2] <= 0
            kp[missing, 0] = x + w / 2
            kp[missing, 1] = y + h / 2
            scale = 0.02 * np.sqrt(max(w * h, 1.0))
            if rng.random() < 0.3:
                flipped = kp[COCO_MIRROR].copy()
                flipped[:, :2] += rng.normal(0, scale, (17, 2))
                preds.append(_record(image_id, flipped, rng))
            if len(anns) > 1 and rng.random() < 0.5:
                other = np.asarray(anns[(i + 1) % len(anns)]["keypoints"], float).reshape(-1, 3)
                moved = kp.copy()
                moved[:, :2] += rng.normal(0, scale, (17, 2))
                labelled = other[WRISTS, 2] > 0
                moved[np.array(WRISTS)[labelled], :2] = other[np.array(WRISTS)[labelled], :2]
                preds.append(_record(image_id, moved, rng))
    for p in preds:
        p["keypoints"] = [float(np.round(v * 16) / 16) for v in p["keypoints"]]
    return preds


def _record(image_id: int, kp: np.ndarray, rng: np.random.Generator) -> dict:
    out = kp.copy()
    out[:, 2] = 1.0
    return {
        "image_id": int(image_id),
        "category_id": 1,
        "keypoints": [float(v) for v in out.reshape(-1)],
        "score": float(np.round(rng.uniform(0.05, 1.0), 3)),
    }


if __name__ == "__main__":
    fixtures = Path(__file__).resolve().parents[3].parent / "shared/fixtures"
    fixture = fixtures / "coco-mini/annotations/person_keypoints_val2017.json"
    Path(sys.argv[1]).write_text(json.dumps(diagnosis_predictions(json.loads(fixture.read_text()))))
