"""A deterministic, COCO-train-sized synthetic person-keypoints annotation file.

The file imitates ``person_keypoints_train2017.json``: the same top-level keys,
the same record fields in the same order, values formatted the way COCO's file
formats them (integer keypoints, boxes and polygons with two decimals), persons
per image skewed (many images with 1-3 persons, a few crowds of up to ~30, some
images empty), log-normal box areas spanning small / medium / large, keypoints
around the box with small persons often unlabelled, ~1% ``iscrowd`` regions
with uncompressed RLE segmentations (ids above 2**32 as in COCO), and the
annotations in an order not grouped by image.

At the default size (60,000 images, 260,000 annotations, 17 joints, 30-point
polygons) the file is about 190 MB and takes a few seconds to write
(vectorised numpy, serialised by orjson).

``ensure_synthetic_coco(...)`` caches the file in ``benchmarks/.data/`` (git
ignored) under a name keyed by the parameters and regenerates it only when
missing; ``write_synthetic_coco(path, ...)`` always writes ``path`` (atomically).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import orjson

#: Bump when the generated content changes, so cached files are regenerated.
GENERATOR_VERSION = 2

DATA_DIR = Path(__file__).resolve().parent / ".data"

COCO_KEYPOINTS = [
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
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
]
COCO_SKELETON = [
    [16, 14],
    [14, 12],
    [17, 15],
    [15, 13],
    [12, 13],
    [6, 12],
    [7, 13],
    [6, 7],
    [6, 8],
    [7, 9],
    [8, 10],
    [9, 11],
    [2, 3],
    [1, 2],
    [1, 3],
    [2, 4],
    [3, 5],
    [4, 6],
    [5, 7],
]
# A standing person, joints as fractions of the box (x from the left, y from the top).
_COCO_TEMPLATE = np.array(
    [
        (0.50, 0.08),
        (0.54, 0.06),
        (0.46, 0.06),
        (0.58, 0.08),
        (0.42, 0.08),
        (0.70, 0.21),
        (0.30, 0.21),
        (0.80, 0.36),
        (0.20, 0.36),
        (0.84, 0.50),
        (0.16, 0.50),
        (0.62, 0.53),
        (0.38, 0.53),
        (0.63, 0.73),
        (0.37, 0.73),
        (0.64, 0.94),
        (0.36, 0.94),
    ]
)
_LICENSES = [
    (1, "Attribution-NonCommercial-ShareAlike License", "http://creativecommons.org/licenses/by-nc-sa/2.0/"),
    (2, "Attribution-NonCommercial License", "http://creativecommons.org/licenses/by-nc/2.0/"),
    (3, "Attribution-NonCommercial-NoDerivs License", "http://creativecommons.org/licenses/by-nc-nd/2.0/"),
    (4, "Attribution License", "http://creativecommons.org/licenses/by/2.0/"),
    (5, "Attribution-ShareAlike License", "http://creativecommons.org/licenses/by-sa/2.0/"),
    (6, "Attribution-NoDerivs License", "http://creativecommons.org/licenses/by-nd/2.0/"),
    (7, "No known copyright restrictions", "http://flickr.com/commons/usage/"),
    (8, "United States Government Work", "http://www.usa.gov/copyright.shtml"),
]
MAX_PERSONS_PER_IMAGE = 30
EMPTY_IMAGE_FRACTION = 0.05
CROWD_FRACTION = 0.01


def default_path(
    n_images: int = 60000,
    n_persons: int = 260000,
    n_joints: int = 17,
    polygon_points: int = 30,
    seed: int = 0,
    data_dir: Path | None = None,
) -> Path:
    """Where the cached file for these parameters lives."""
    name = f"synthetic-coco-v{GENERATOR_VERSION}-i{n_images}-p{n_persons}-j{n_joints}-poly{polygon_points}-s{seed}.json"
    return Path(data_dir or DATA_DIR) / name


def ensure_synthetic_coco(
    n_images: int = 60000,
    n_persons: int = 260000,
    n_joints: int = 17,
    polygon_points: int = 30,
    seed: int = 0,
    data_dir: Path | None = None,
    verbose: bool = True,
) -> tuple[Path, dict[str, Any]]:
    """Return (path, stats) of the cached file for these parameters, writing it if missing."""
    path = default_path(n_images, n_persons, n_joints, polygon_points, seed, data_dir)
    stats_path = path.with_suffix(".stats.json")
    if path.exists() and stats_path.exists():
        return path, orjson.loads(stats_path.read_bytes())
    if verbose:
        print(f"generating {path.name} ({n_images:,} images, {n_persons:,} annotations) ...", flush=True)
    stats = write_synthetic_coco(path, n_images, n_persons, n_joints, polygon_points, seed)
    _atomic_write_bytes(stats_path, orjson.dumps(stats, option=orjson.OPT_INDENT_2))
    if verbose:
        print(f"  wrote {stats['bytes'] / 1e6:.1f} MB in {stats['seconds']:.1f} s", flush=True)
    return path, stats


def ensure_synthetic_coco_in_child(n_images: int, n_persons: int, seed: int = 0) -> tuple[Path, dict[str, Any]]:
    """:func:`ensure_synthetic_coco`, a missing file generated in a child process: a
    benchmark runner must stay small, because a child's kernel peak-RSS figure (ru_maxrss)
    starts from the parent's RSS at fork/vfork time."""
    if not default_path(n_images, n_persons, seed=seed).with_suffix(".stats.json").exists():
        subprocess.run(
            [
                *(sys.executable, "-m", "benchmarks.synthetic_coco"),
                *("--images", str(n_images), "--persons", str(n_persons), "--seed", str(seed)),
            ],
            cwd=Path(__file__).resolve().parents[1],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return ensure_synthetic_coco(n_images, n_persons, seed=seed)


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _persons_per_image(rng: np.random.Generator, n_images: int, n_persons: int) -> np.ndarray:
    """Skewed counts: ~5% empty, most 1-3, a long tail capped at 30, summing to n_persons."""
    n_empty = round(EMPTY_IMAGE_FRACTION * n_images)
    if n_persons < n_images - n_empty:  # too few persons to fill every non-empty image
        n_empty = n_images - n_persons
    n_full = n_images - n_empty
    if n_full * MAX_PERSONS_PER_IMAGE < n_persons:
        raise ValueError(
            f"{n_persons} persons do not fit in {n_images} images (at most {MAX_PERSONS_PER_IMAGE} per image)"
        )
    counts = np.zeros(n_images, dtype=np.int64)
    if n_full == 0:
        return counts
    z = rng.standard_normal(n_full)
    target_mean = n_persons / n_full
    lo, hi = -3.0, 4.0  # bisect the log-normal's location to hit the mean
    for _ in range(40):
        mu = (lo + hi) / 2
        c = np.clip(np.rint(np.exp(mu + 1.0 * z)), 1, MAX_PERSONS_PER_IMAGE)
        if c.mean() < target_mean:
            lo = mu
        else:
            hi = mu
    c = c.astype(np.int64)
    # Exact total: add to / take from random images that can take it.
    while (diff := n_persons - int(c.sum())) != 0:
        ok = np.flatnonzero(c < MAX_PERSONS_PER_IMAGE) if diff > 0 else np.flatnonzero(c > 1)
        pick = rng.choice(ok, size=min(abs(diff), len(ok)), replace=False)
        c[pick] += 1 if diff > 0 else -1
    full_idx = rng.permutation(n_images)[:n_full]
    counts[full_idx] = c
    return counts


def _image_sizes(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    kind = rng.random(n)
    common_h = np.array([480, 427, 426, 425, 424, 360, 428, 512, 383, 400, 478, 640])
    w = np.full(n, 640, dtype=np.int64)
    h = common_h[rng.integers(0, len(common_h), n)]
    portrait = (kind >= 0.72) & (kind < 0.92)
    h[portrait] = 640
    w[portrait] = rng.choice(np.array([480, 427, 426, 425, 360, 383, 512]), portrait.sum())
    other = kind >= 0.92
    w[other] = rng.integers(300, 641, other.sum())
    h[other] = rng.integers(200, 641, other.sum())
    return w, h


def _template(n_joints: int, rng: np.random.Generator) -> np.ndarray:
    if n_joints == len(_COCO_TEMPLATE):
        return _COCO_TEMPLATE.copy()
    t = np.random.default_rng(12345).random((n_joints, 2))
    return 0.15 + 0.7 * t


def write_synthetic_coco(
    path: str | os.PathLike[str],
    n_images: int = 60000,
    n_persons: int = 260000,
    n_joints: int = 17,
    polygon_points: int = 30,
    seed: int = 0,
) -> dict[str, Any]:
    """Write the synthetic COCO file to ``path`` (atomically) and return its statistics.

    ``n_persons`` counts every annotation, the ~1% ``iscrowd`` regions included.
    The same arguments always give the same bytes.
    """
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    path = Path(path)

    # ---- images -------------------------------------------------------------------
    img_w, img_h = _image_sizes(rng, n_images)
    image_ids = rng.choice(max(600_000, 2 * n_images), size=n_images, replace=False) + 1
    licenses = rng.integers(1, 9, n_images)
    counts = _persons_per_image(rng, n_images, n_persons)
    n_ann = int(counts.sum())
    img_of = np.repeat(np.arange(n_images), counts)  # image index of each annotation
    k_of = counts[img_of]  # persons in that annotation's image

    # ---- crowd regions (~1%, only in images with >= 4 annotations when possible) ----
    n_crowd = round(CROWD_FRACTION * n_ann)
    eligible = np.flatnonzero(k_of >= 4)
    if len(eligible) < n_crowd:
        eligible = np.arange(n_ann)
    is_crowd = np.zeros(n_ann, dtype=bool)
    is_crowd[rng.choice(eligible, size=n_crowd, replace=False)] = True

    W = img_w[img_of].astype(np.float64)
    H = img_h[img_of].astype(np.float64)

    # ---- boxes: log-normal areas, people shrink in crowded images ----------------
    log_area = rng.normal(8.4 - 0.45 * np.log(k_of), 1.5)
    area = np.exp(log_area)
    area[is_crowd] = np.exp(rng.normal(10.2, 0.6, n_crowd))
    aspect = np.exp(rng.normal(np.log(2.1), 0.4, n_ann))  # h / w
    aspect[is_crowd] = np.exp(rng.normal(np.log(0.7), 0.3, n_crowd))
    area = np.clip(area, 20.0, 0.8 * W * H)
    bw = np.sqrt(area / aspect)
    bh = bw * aspect
    bw = np.clip(bw, 3.0, W - 1.0)
    bh = np.clip(bh, 3.0, H - 1.0)
    # Persons of one image gather around a centre: crowded images overlap.
    cx_img = rng.uniform(0.25, 0.75, n_images)
    cy_img = rng.uniform(0.35, 0.65, n_images)
    spread = rng.uniform(0.08, 0.35, n_images)
    cx = (cx_img[img_of] + spread[img_of] * rng.standard_normal(n_ann)) * W
    cy = (cy_img[img_of] + 0.6 * spread[img_of] * rng.standard_normal(n_ann)) * H
    x0 = np.clip(cx - bw / 2, 0.0, W - bw)
    y0 = np.clip(cy - bh / 2, 0.0, H - bh)

    # ---- polygons (non-crowd): a noisy star shape inside the box; box = its extent --
    P = polygon_points
    ang = np.linspace(0, 2 * np.pi, P, endpoint=False)[None, :] + rng.uniform(0, 0.2, (n_ann, 1))
    rad = rng.uniform(0.55, 1.0, (n_ann, P))
    px = 0.5 + 0.5 * rad * np.cos(ang)
    py = 0.5 + 0.5 * rad * np.sin(ang)
    px = (px - px.min(1, keepdims=True)) / np.ptp(px, 1, keepdims=True)  # span [0, 1]
    py = (py - py.min(1, keepdims=True)) / np.ptp(py, 1, keepdims=True)
    poly_x = np.round(x0[:, None] + px * bw[:, None], 2)
    poly_y = np.round(y0[:, None] + py * bh[:, None], 2)
    poly = np.empty((n_ann, 2 * P))
    poly[:, 0::2] = poly_x
    poly[:, 1::2] = poly_y
    # Shoelace area of the polygon (COCO's area is the mask area of the polygon).
    segm_area = 0.5 * np.abs(np.sum(poly_x * np.roll(poly_y, -1, 1) - np.roll(poly_x, -1, 1) * poly_y, axis=1))
    bx = poly_x.min(1)
    by = poly_y.min(1)
    bw = np.round(poly_x.max(1) - bx, 2)
    bh = np.round(poly_y.max(1) - by, 2)
    # Crowd regions: a plain box.
    bx[is_crowd] = np.floor(x0[is_crowd])
    by[is_crowd] = np.floor(y0[is_crowd])
    bw[is_crowd] = np.floor(bw[is_crowd])
    bh[is_crowd] = np.floor(bh[is_crowd])

    # ---- keypoints -------------------------------------------------------------
    J = n_joints
    tmpl = _template(J, rng)
    flip = rng.random(n_ann) < 0.3  # facing away: left/right swap in image space
    u = np.where(flip[:, None], 1.0 - tmpl[None, :, 0], tmpl[None, :, 0])
    u = u + rng.normal(0, 0.07, (n_ann, J))
    v_ = tmpl[None, :, 1] + rng.normal(0, 0.04, (n_ann, J))
    kx = np.rint(bx[:, None] + u * bw[:, None])
    ky = np.rint(by[:, None] + v_ * bh[:, None])
    kx = np.clip(kx, 0, W[:, None] - 1)
    ky = np.clip(ky, 0, H[:, None] - 1)
    # Small persons are often not annotated at all (COCO: ~40% have no keypoints).
    p_any = 1.0 / (1.0 + np.exp(-(np.log(np.maximum(bw * bh, 1.0)) - 7.2) / 0.7))
    has_any = rng.random(n_ann) < p_any
    p_joint = rng.uniform(0.45, 1.0, n_ann)
    labelled = has_any[:, None] & (rng.random((n_ann, J)) < p_joint[:, None])
    labelled[is_crowd] = False
    vis = np.where(labelled, np.where(rng.random((n_ann, J)) < 0.8, 2, 1), 0)
    kx = np.where(labelled, kx, 0).astype(np.int64)
    ky = np.where(labelled, ky, 0).astype(np.int64)
    kps = np.empty((n_ann, 3 * J), dtype=np.int64)
    kps[:, 0::3] = kx
    kps[:, 1::3] = ky
    kps[:, 2::3] = vis
    num_kp = labelled.sum(1)

    # ---- ids and order -----------------------------------------------------------
    ann_ids = rng.choice(max(2_300_000, 2 * n_ann), size=n_ann, replace=False) + 1
    crowd_pos = np.flatnonzero(is_crowd)
    # COCO's crowd regions have 12-digit ids (900100000000 + ...): above 2**32.
    ann_ids[crowd_pos] = 900100000000 + np.sort(rng.choice(max(10**9, 2 * n_crowd), size=n_crowd, replace=False))
    order = rng.permutation(n_ann)  # not grouped by image, as in COCO's file

    # ---- RLE for crowd regions (uncompressed, column-major, valid for pycocotools) --
    rle: dict[int, dict[str, Any]] = {}
    for i in crowd_pos:
        h, w = int(H[i]), int(W[i])
        xa, ya = int(bx[i]), int(by[i])
        xb = min(w, xa + max(1, int(bw[i])))
        yb_full = min(h, ya + max(1, int(bh[i])))
        ncol = xb - xa
        top = ya + rng.integers(0, max(1, (yb_full - ya) // 4), ncol)
        bot = np.maximum(top + 1, yb_full - rng.integers(0, max(1, (yb_full - ya) // 4), ncol))
        runs = bot - top
        zeros = np.empty(ncol + 1, dtype=np.int64)
        zeros[0] = xa * h + top[0]
        zeros[1:-1] = (h - bot[:-1]) + top[1:]
        zeros[-1] = (h - bot[-1]) + (w - xb) * h
        c = np.empty(2 * ncol + 1, dtype=np.int64)
        c[0::2] = zeros
        c[1::2] = runs
        rle[int(i)] = {"counts": c.tolist(), "size": [h, w]}
        segm_area[i] = float(runs.sum())
        bx[i], by[i], bw[i], bh[i] = xa, int(top.min()), ncol, int(bot.max() - top.min())

    # ---- records (field order as in COCO's file) ----------------------------------
    area_l = np.round(segm_area, 5).tolist()
    bbox = np.stack([bx, by, bw, bh], 1)
    crowd_l = is_crowd.astype(np.int64).tolist()
    num_l = num_kp.tolist()
    img_l = image_ids[img_of].tolist()
    id_l = ann_ids.tolist()
    annotations = []
    append = annotations.append
    for i in order.tolist():
        append(
            {
                "segmentation": rle[i] if crowd_l[i] else [poly[i]],
                "num_keypoints": num_l[i],
                "area": area_l[i],
                "iscrowd": crowd_l[i],
                "keypoints": kps[i],
                "image_id": img_l[i],
                "bbox": bbox[i],
                "category_id": 1,
                "id": id_l[i],
            }
        )

    days = rng.integers(0, 5 * 365, n_images)
    secs = rng.integers(0, 86400, n_images)
    base = np.datetime64("2013-01-01T00:00:00")
    dates = (base + days.astype("timedelta64[D]") + secs.astype("timedelta64[s]")).astype(str)
    farm = rng.integers(1, 10, n_images).tolist()
    srv = rng.integers(1000, 9999, n_images).tolist()
    pid = rng.integers(10**9, 10**10, n_images).tolist()
    img_id_l = image_ids.tolist()
    w_l, h_l, lic_l = img_w.tolist(), img_h.tolist(), licenses.tolist()
    images = []
    for j in range(n_images):
        fname = f"{img_id_l[j]:012d}.jpg"
        images.append(
            {
                "license": lic_l[j],
                "file_name": fname,
                "coco_url": f"http://images.cocodataset.org/train2017/{fname}",
                "height": h_l[j],
                "width": w_l[j],
                "date_captured": dates[j].replace("T", " "),
                "flickr_url": f"http://farm{farm[j]}.staticflickr.com/{srv[j]}/{pid[j]}_z.jpg",
                "id": img_id_l[j],
            }
        )

    names = COCO_KEYPOINTS if len(COCO_KEYPOINTS) == J else [f"joint_{j}" for j in range(J)]
    skeleton = COCO_SKELETON if len(COCO_KEYPOINTS) == J else [[j, j + 1] for j in range(1, J)]
    doc = {
        "info": {
            "description": "PoseAtlas synthetic COCO-like person keypoints (benchmark)",
            "url": "https://example.invalid/poseatlas",
            "version": "1.0",
            "year": 2017,
            "contributor": "PoseAtlas benchmarks",
            "date_created": "2017/09/01",
        },
        "licenses": [{"url": u_, "id": i_, "name": n_} for i_, n_, u_ in _LICENSES],
        "images": images,
        "annotations": annotations,
        "categories": [
            {
                "supercategory": "person",
                "id": 1,
                "name": "person",
                "keypoints": names,
                "skeleton": skeleton,
            }
        ],
    }
    data = orjson.dumps(doc, option=orjson.OPT_SERIALIZE_NUMPY)
    _atomic_write_bytes(path, data)

    small = (bw * bh < 32**2) & ~is_crowd
    large = (bw * bh > 96**2) & ~is_crowd
    return {
        "path": str(path),
        "bytes": len(data),
        "seconds": round(time.perf_counter() - t0, 2),
        "generator_version": GENERATOR_VERSION,
        "params": {
            "n_images": n_images,
            "n_persons": n_persons,
            "n_joints": n_joints,
            "polygon_points": polygon_points,
            "seed": seed,
        },
        "n_images": n_images,
        "n_annotations": n_ann,
        "n_crowd": n_crowd,
        "n_non_crowd": n_ann - n_crowd,
        "n_empty_images": int((counts == 0).sum()),
        "max_per_image": int(counts.max()) if n_images else 0,
        "share_images_1_to_3": round(float(((counts >= 1) & (counts <= 3)).mean()), 4),
        "share_small_bbox": round(float(small.sum() / max(1, n_ann - n_crowd)), 4),
        "share_large_bbox": round(float(large.sum() / max(1, n_ann - n_crowd)), 4),
        "share_no_keypoints": round(float((num_kp[~is_crowd] == 0).mean()), 4),
        "n_labelled_joints": int(labelled.sum()),
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=int, default=60000)
    ap.add_argument("--persons", type=int, default=260000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, help="write here instead of the cache")
    args = ap.parse_args(argv)
    if args.out:
        stats = write_synthetic_coco(args.out, args.images, args.persons, seed=args.seed)
    else:
        _, stats = ensure_synthetic_coco(args.images, args.persons, seed=args.seed)
    print(orjson.dumps(stats, option=orjson.OPT_INDENT_2).decode())


if __name__ == "__main__":
    main()
