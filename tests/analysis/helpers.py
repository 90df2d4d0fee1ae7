"""Hand-made COCO keypoint documents for tests."""

from __future__ import annotations

import copy
import json
from pathlib import Path


def coco_doc(n_joints: int = 17) -> dict:
    """Three images (one empty), four annotations (one iscrowd), worked-out values.

    image 1: persons 11 (large) and 12 (small) and crowd region 13;
    image 2: person 21 (medium, no segmentation area); image 3: nobody.
    """
    names = [f"j{i}" for i in range(n_joints)]

    def kps(points: list[tuple[float, float, int]]) -> list[float]:
        flat = []
        for i in range(n_joints):
            flat.extend(points[i] if i < len(points) else (0, 0, 0))
        return flat

    return {
        "images": [
            {"id": 1, "file_name": "a/one.jpg", "width": 640, "height": 480},
            {"id": 2, "file_name": "b/two.jpg", "width": 320, "height": 240},
            {"id": 3, "file_name": "a/three.jpg", "width": 100, "height": 100},
        ],
        "annotations": [
            {
                "id": 11,
                "image_id": 1,
                "category_id": 1,
                "iscrowd": 0,
                "bbox": [0, 0, 100, 200],
                "area": 15000.0,
                "num_keypoints": 4,
                "keypoints": kps([(10, 10, 2), (20, 20, 2), (30, 30, 1), (40, 40, 2)]),
            },
            {
                "id": 12,
                "image_id": 1,
                "category_id": 1,
                "iscrowd": 0,
                "bbox": [50, 50, 20, 30],
                "area": 400.0,
                "num_keypoints": 2,
                "keypoints": kps([(55, 55, 2), (60, 60, 1)]),
            },
            {
                "id": 13,
                "image_id": 1,
                "category_id": 1,
                "iscrowd": 1,
                "bbox": [300, 300, 50, 50],
                "area": 2000.0,
                "num_keypoints": 0,
                "keypoints": kps([]),
            },
            {
                "id": 21,
                "image_id": 2,
                "category_id": 1,
                "iscrowd": 0,
                "bbox": [10, 10, 40, 60],
                "num_keypoints": 5,
                "keypoints": kps([(11, 11, 2), (12, 12, 2), (13, 13, 2), (14, 14, 2), (15, 15, 2)]),
            },
        ],
        "categories": [{"id": 1, "name": "person", "keypoints": names, "skeleton": [[1, 2]]}],
    }


def write_doc(path: Path, doc: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))
    return path


def mutated(doc: dict, fn) -> dict:
    out = copy.deepcopy(doc)
    fn(out)
    return out
