"""The parity oracle: pycocotools ``COCO()`` plus a plain per-image Python loop.

This is how a paper's ad-hoc script computes the columns of the cache
contract's images and instances tables; it lives beside the tests (the build's
independent reference) and is also ``benchmarks.build``'s baseline.
It is deliberately written as a straightforward loop, independently of the
fast builder in ``analysis/``, so that it also serves as a reference
implementation the builder's tests compare against.

CrowdIndex, exactly as the README's "Definitions" section defines it:

- reference persons: non-iscrowd annotations whose stored ``num_keypoints`` is
  >= 4 (the count of labelled joints when the field is absent);
- N_a(i): labelled joints (v > 0) of person i;
- N_b(i): labelled joints (v > 0) of every *other* annotation of the image,
  iscrowd ones included, inside person i's bbox, edges included
  (bx <= x <= bx + w and by <= y <= by + h);
- CrowdIndex = mean over reference persons of N_b(i) / N_a(i); 0.0 when none.

Per person ``crowding`` is the same ratio N_b / N_a, NaN when N_a == 0 and for
iscrowd regions.

``python -m tests.reference.coco_reference FILE`` runs it and prints a summary.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import sys
import time
from typing import Any

import pandas as pd

MIN_REFERENCE_KEYPOINTS = 4


def load_coco(source: str | os.PathLike[str] | dict[str, Any], quiet: bool = True):
    """A pycocotools COCO object from a file path or an already loaded dict."""
    from pycocotools.coco import COCO

    out = io.StringIO() if quiet else sys.stdout
    with contextlib.redirect_stdout(out):
        if isinstance(source, dict):
            coco = COCO()
            coco.dataset = source
            coco.createIndex()
        else:
            coco = COCO(os.fspath(source))
    return coco


def _joints(ann: dict[str, Any]) -> list[tuple[float, float, float]]:
    """(x, y, v) of every joint of an annotation; [] when it has no keypoints."""
    kps = ann.get("keypoints") or []
    return [(kps[j], kps[j + 1], kps[j + 2]) for j in range(0, len(kps) - 2, 3)]


def _is_crowd(ann: dict[str, Any]) -> bool:
    return bool(ann.get("iscrowd", 0))


def _inside(x: float, y: float, box: list[float]) -> bool:
    bx, by, bw, bh = box
    return bx <= x <= bx + bw and by <= y <= by + bh


def person_crowding(anns: list[dict[str, Any]]) -> list[tuple[int, int]]:
    """(N_a, N_b) for every annotation of one image, in order (iscrowd ones too)."""
    result = []
    for i, ann in enumerate(anns):
        n_a = sum(1 for _, _, v in _joints(ann) if v > 0)
        n_b = 0
        box = ann.get("bbox")
        if box is not None and len(box) == 4:
            for k, other in enumerate(anns):
                if k == i:
                    continue
                for x, y, v in _joints(other):
                    if v > 0 and _inside(x, y, box):
                        n_b += 1
        result.append((n_a, n_b))
    return result


def is_reference_person(ann: dict[str, Any], n_labelled: int) -> bool:
    if _is_crowd(ann):
        return False
    stored = ann.get("num_keypoints")
    count = stored if stored is not None else n_labelled
    return count >= MIN_REFERENCE_KEYPOINTS


def crowd_index(anns: list[dict[str, Any]]) -> float:
    """CrowdIndex of one image given all its annotations."""
    ratios = []
    for ann, (n_a, n_b) in zip(anns, person_crowding(anns), strict=True):
        if is_reference_person(ann, n_a) and n_a > 0:
            ratios.append(n_b / n_a)
    if not ratios:
        return 0.0
    return sum(ratios) / len(ratios)


def reference_tables(source: str | os.PathLike[str] | dict[str, Any], coco=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(images, instances) DataFrames computed by pycocotools + a per-image loop.

    images: image_id, file_name, width, height, n_persons, n_crowd_regions,
    crowd_index, crowd_index_stored.
    instances: ann_id, image_id, iscrowd, bbox_x, bbox_y, bbox_w, bbox_h,
    bbox_area, segm_area, num_keypoints, n_labelled, n_visible, crowding, keypoints.
    """
    if coco is None:
        coco = load_coco(source)

    images: dict[str, list[Any]] = {
        k: []
        for k in (
            "image_id",
            "file_name",
            "width",
            "height",
            "n_persons",
            "n_crowd_regions",
            "crowd_index",
            "crowd_index_stored",
        )
    }
    inst: dict[str, list[Any]] = {
        k: []
        for k in (
            "ann_id",
            "image_id",
            "iscrowd",
            "bbox_x",
            "bbox_y",
            "bbox_w",
            "bbox_h",
            "bbox_area",
            "segm_area",
            "num_keypoints",
            "n_labelled",
            "n_visible",
            "crowding",
            "keypoints",
        )
    }

    seen: set[Any] = set()
    for img in coco.dataset.get("images", []):
        image_id = img["id"]
        if image_id in seen:  # some files repeat identical image records
            continue
        seen.add(image_id)
        anns = coco.imgToAnns.get(image_id, [])
        counts = person_crowding(anns)

        n_persons = 0
        n_crowd = 0
        ratios = []
        for ann, (n_a, n_b) in zip(anns, counts, strict=True):
            crowd = _is_crowd(ann)
            if crowd:
                n_crowd += 1
            else:
                n_persons += 1
                if is_reference_person(ann, n_a) and n_a > 0:
                    ratios.append(n_b / n_a)

            box = ann.get("bbox")
            if box is not None and len(box) == 4:
                bx, by, bw, bh = (float(v) for v in box)
            else:
                bx = by = bw = bh = math.nan
            kps = ann.get("keypoints") or []
            stored = ann.get("num_keypoints")
            area = ann.get("area")
            inst["ann_id"].append(ann["id"])
            inst["image_id"].append(image_id)
            inst["iscrowd"].append(int(crowd))
            inst["bbox_x"].append(bx)
            inst["bbox_y"].append(by)
            inst["bbox_w"].append(bw)
            inst["bbox_h"].append(bh)
            inst["bbox_area"].append(bw * bh)
            inst["segm_area"].append(None if area is None else float(area))
            inst["num_keypoints"].append(None if stored is None else int(stored))
            inst["n_labelled"].append(n_a)
            inst["n_visible"].append(sum(1 for _, _, v in _joints(ann) if v == 2))
            inst["crowding"].append(math.nan if crowd or n_a == 0 else n_b / n_a)
            inst["keypoints"].append([float(v) for v in kps])

        stored_ci = img.get("crowdIndex")
        images["image_id"].append(image_id)
        images["file_name"].append(img.get("file_name"))
        images["width"].append(img.get("width"))
        images["height"].append(img.get("height"))
        images["n_persons"].append(n_persons)
        images["n_crowd_regions"].append(n_crowd)
        images["crowd_index"].append(sum(ratios) / len(ratios) if ratios else 0.0)
        images["crowd_index_stored"].append(None if stored_ci is None else float(stored_ci))

    images_df = pd.DataFrame(images)
    instances_df = pd.DataFrame(inst)
    images_df["crowd_index_stored"] = images_df["crowd_index_stored"].astype("Float64")
    instances_df["segm_area"] = instances_df["segm_area"].astype("Float64")
    instances_df["num_keypoints"] = instances_df["num_keypoints"].astype("Int64")
    return images_df, instances_df


def main(argv: list[str] | None = None) -> None:
    import argparse

    ap = argparse.ArgumentParser(description="pycocotools COCO() + per-image loop (baseline)")
    ap.add_argument("annotations")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    coco = load_coco(args.annotations)
    t1 = time.perf_counter()
    images, instances = reference_tables(args.annotations, coco=coco)
    t2 = time.perf_counter()
    print(f"COCO(): {t1 - t0:.2f} s, loop: {t2 - t1:.2f} s, total {t2 - t0:.2f} s")
    print(f"{len(images)} images, {len(instances)} instances, mean crowd_index {images['crowd_index'].mean():.4f}")


if __name__ == "__main__":
    main()
