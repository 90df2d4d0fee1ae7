"""Browse's tiles (dashboard.browse_tiles): where an image's file is or why it is not
opened, what is drawn on it, and the page's captions and notices."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from analysis.definitions import SizeBucket
from dashboard.browse_tiles import (
    draw_ground_truth,
    legend_caption,
    locate_image,
    missing_roots_info,
    refused_roots_warning,
)
from dashboard.paths import ImageRoots
from dashboard.thumbnails import open_thumbnail


def test_locate_image_names_why_a_file_is_not_opened(tmp_path: Path):
    allowed, other = tmp_path / "allowed", tmp_path / "other"
    (allowed / "img").mkdir(parents=True)
    other.mkdir()
    (allowed / "img" / "a.jpg").write_bytes(b"x")
    roots = ImageRoots((allowed.resolve(),))
    found = locate_image("coco", "val", "img/a.jpg", allowed, roots)
    assert found.path == (allowed / "img" / "a.jpg").resolve() and not found.problem
    assert locate_image("coco", "val", "a.jpg", None, roots).no_root == "coco/val"
    refused = locate_image("coco", "val", "a.jpg", other, roots)
    assert refused.path is None and refused.refused_root == f"coco/val ({other})"
    assert refused.problem == "image folder not allowed"
    outside = locate_image("coco", "val", "../other/a.jpg", allowed, roots)
    assert outside.path is None and "outside the image folder" in outside.problem


def test_ground_truth_is_drawn_in_its_bucket_colour(tmp_path: Path):
    path = tmp_path / "white.png"
    Image.new("RGB", (100, 80), "white").save(path)
    persons = pd.DataFrame(
        {
            "image_index": [7, 8],
            "instance_row": [1, 0],
            "bbox_x": [10.0, 50.0],
            "bbox_y": [10.0, 10.0],
            "bbox_w": [20.0, 20.0],
            "bbox_h": [30.0, 30.0],
            "bucket": np.array([SizeBucket.SMALL.code, SizeBucket.LARGE.code], np.int8),
        }
    )
    crowd = pd.DataFrame({"image_index": [], "bbox_x": [], "bbox_y": [], "bbox_w": [], "bbox_h": []})
    keypoints = np.zeros((2, 3))  # one joint, unlabelled
    drawn = draw_ground_truth(open_thumbnail(path), persons, crowd, 7, keypoints, [])
    small = tuple(int(SizeBucket.SMALL.color[i : i + 2], 16) for i in (1, 3, 5))
    assert drawn.getpixel((10, 25)) == small  # the left edge of the image-7 person's box
    assert drawn.getpixel((50, 25)) == (255, 255, 255)  # the image-8 person is not on this image


def test_captions_and_notices():
    assert legend_caption() == (
        "Boxes and skeletons coloured by size bucket: :orange[■] small :green[■] medium "
        ":blue[■] large; grey: unknown area; purple: crowd regions."
    )
    model = legend_caption("m1 on coco/val", "area bbox; 20 detections*")
    assert model.startswith("m1 on coco/val: ground truth (left)") and model.endswith("detections\\*.")
    assert refused_roots_warning([]) is None and missing_roots_info(()) is None
    assert "not an allowed image root: a/val (/x), b/val (/y)." in refused_roots_warning(
        ["b/val (/y)", "a/val (/x)", "b/val (/y)"]
    )
    assert missing_roots_info(["c/val", "c/val"]).startswith("No image folder recorded for c/val. Rebuild")
