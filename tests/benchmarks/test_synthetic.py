"""The benchmark's synthetic COCO file: deterministic, valid COCO that pycocotools loads,
COCO-like in content and formatting, cached by its parameters."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from benchmarks.synthetic_coco import (
    COCO_KEYPOINTS,
    default_path,
    ensure_synthetic_coco,
    write_synthetic_coco,
)
from tests.reference.coco_reference import load_coco, reference_tables

N_IMAGES, N_PERSONS = 300, 1300


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    path = tmp_path_factory.mktemp("synthetic") / "small.json"
    stats = write_synthetic_coco(path, n_images=N_IMAGES, n_persons=N_PERSONS, seed=3)
    return path, stats


def test_deterministic_and_seed_dependent(tmp_path, small):
    path, _ = small
    again = tmp_path / "again.json"
    write_synthetic_coco(again, n_images=N_IMAGES, n_persons=N_PERSONS, seed=3)
    assert again.read_bytes() == path.read_bytes()
    other = tmp_path / "other.json"
    write_synthetic_coco(other, n_images=N_IMAGES, n_persons=N_PERSONS, seed=4)
    assert other.read_bytes() != path.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["again.json", "other.json"]


def test_pycocotools_loads_it_with_the_requested_counts(small):
    path, stats = small
    coco = load_coco(path)
    assert len(coco.imgs) == N_IMAGES
    assert len(coco.anns) == N_PERSONS
    assert stats["n_images"] == N_IMAGES and stats["n_annotations"] == N_PERSONS
    assert set(coco.dataset) == {"info", "licenses", "images", "annotations", "categories"}
    (cat,) = coco.dataset["categories"]
    assert cat["keypoints"] == COCO_KEYPOINTS and len(cat["skeleton"]) == 19
    assert all(a["image_id"] in coco.imgs for a in coco.anns.values())
    for img in coco.dataset["images"]:
        assert set(img) == {"license", "file_name", "coco_url", "height", "width", "date_captured", "flickr_url", "id"}
        assert img["file_name"] == f"{img['id']:012d}.jpg"


def test_coco_like_content(small):
    path, stats = small
    doc = json.loads(path.read_text())
    anns = doc["annotations"]
    per_image = np.bincount([a["image_id"] for a in anns])
    per_image = per_image[[img["id"] for img in doc["images"]]]
    assert (per_image == 0).sum() == stats["n_empty_images"] > 0
    assert per_image.max() <= 30
    assert ((per_image >= 1) & (per_image <= 3)).mean() > 0.4
    crowd = [a for a in anns if a["iscrowd"]]
    assert len(crowd) == round(0.01 * N_PERSONS)
    sizes = {img["id"]: (img["height"], img["width"]) for img in doc["images"]}
    for a in crowd:
        seg = a["segmentation"]
        assert set(seg) == {"counts", "size"} and seg["size"] == list(sizes[a["image_id"]])
        assert a["id"] > 2**32 and a["num_keypoints"] == 0
        h, w = seg["size"]
        assert sum(seg["counts"]) == h * w
        rle = mask_utils.frPyObjects(seg, h, w)
        assert float(mask_utils.area(rle)) == a["area"]
    areas = []
    for a in anns:
        assert list(a) == [
            "segmentation",
            "num_keypoints",
            "area",
            "iscrowd",
            "keypoints",
            "image_id",
            "bbox",
            "category_id",
            "id",
        ]
        k = np.array(a["keypoints"])
        assert len(k) == 51 and all(isinstance(v, int) for v in a["keypoints"])
        assert set(k[2::3]) <= {0, 1, 2}
        assert a["num_keypoints"] == int((k[2::3] > 0).sum())
        assert (k[0::3][k[2::3] == 0] == 0).all()
        if not a["iscrowd"]:
            (poly,) = a["segmentation"]
            assert len(poly) == 60
            x, y, bw, bh = a["bbox"]
            assert min(poly[0::2]) == pytest.approx(x, abs=0.011)
            assert max(poly[0::2]) == pytest.approx(x + bw, abs=0.011)
            assert min(poly[1::2]) == pytest.approx(y, abs=0.011)
            areas.append(bw * bh)
    areas = np.array(areas)
    assert (areas < 32**2).mean() > 0.15 and (areas > 96**2).mean() > 0.08
    # Small persons often have no keypoints at all; large ones mostly do.
    nk = np.array([a["num_keypoints"] for a in anns if not a["iscrowd"]])
    assert (nk[areas < 32**2] == 0).mean() > (nk[areas > 96**2] == 0).mean() + 0.3
    # The reference finds crowded images in it.
    images, _ = reference_tables(path)
    assert (images["crowd_index"] > 0).mean() > 0.1


def test_numbers_are_formatted_like_cocos(small):
    path, _ = small
    text = path.read_text()
    for field in ("bbox", "segmentation"):
        for m in re.finditer(rf'"{field}":\[\[?([^\]]*)\]', text):
            assert not re.search(r"\.\d{3}", m.group(1)), m.group(0)[:200]
    assert not re.search(r'"keypoints":\[[^\]]*\.', text)


def test_size_per_annotation_matches_the_default_file_size(small):
    path, _ = small
    per_annotation = path.stat().st_size / N_PERSONS
    # ~190-200 MB for 260,000 annotations at the default size.
    assert 650 < per_annotation < 850


def test_cached_by_parameters_and_not_regenerated(tmp_path):
    path, stats = ensure_synthetic_coco(50, 120, data_dir=tmp_path, verbose=False)
    assert path == default_path(50, 120, data_dir=tmp_path)
    mtime = path.stat().st_mtime_ns
    again, stats2 = ensure_synthetic_coco(50, 120, data_dir=tmp_path, verbose=False)
    assert again == path and stats2 == stats and path.stat().st_mtime_ns == mtime
    other, _ = ensure_synthetic_coco(50, 120, seed=1, data_dir=tmp_path, verbose=False)
    assert other != path
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
