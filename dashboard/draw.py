"""Draw person boxes and skeletons on an image, coloured by size bucket (PIL, no streamlit)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from analysis.image_paths import resolve_image_file
from dashboard.figures.common import BUCKET_COLORS
from dashboard.paths import ImageRoots

UNKNOWN_COLOR = "#777777"
CROWD_COLOR = "#CC79A7"


def safe_image_path(file_name: str, image_root: Path | None, roots: ImageRoots) -> Path | None:
    """``image_root / file_name`` resolved, or None when it may not be opened.

    The split's image root (from its manifest) must lie inside an allowed root
    (``roots``: registry, user configuration, the repository's data/), and the file
    must stay inside the image root after symlinks (:func:`resolve_image_file`).
    """
    if image_root is None or not roots.admits(image_root):
        return None
    return resolve_image_file(image_root, file_name)


def _bucket_name(code: int) -> str | None:
    return ("small", "medium", "large")[code] if 0 <= code <= 2 else None


def draw_persons(
    image: Image.Image,
    boxes: np.ndarray,
    buckets: np.ndarray,
    keypoints: np.ndarray | None,
    skeleton: Sequence[tuple[int, int]],
    crowd_boxes: np.ndarray | None = None,
    max_side: int = 640,
    source_size: tuple[int, int] | None = None,
) -> Image.Image:
    """A copy of ``image`` (scaled to ``max_side``) with every person drawn.

    Args:
        boxes: (P, 4) x, y, w, h.
        buckets: (P,) size-bucket codes (colour; -1 grey).
        keypoints: (P, 3K) x, y, v or None.
        skeleton: 0-based joint pairs.
        crowd_boxes: (C, 4) iscrowd regions, drawn dashed-looking in purple.
        source_size: (width, height) the coordinates refer to, when ``image`` is an
            already reduced decode of it (:func:`dashboard.thumbnails.open_thumbnail`).
    """
    img = image.convert("RGB")
    full = source_size or img.size
    scale = min(1.0, max_side / max(full))
    size = (max(1, int(full[0] * scale)), max(1, int(full[1] * scale)))
    if img.size != size:
        img = img.resize(size)
    draw = ImageDraw.Draw(img)
    width = max(1, int(round(2 * max(scale, 0.5))))
    if crowd_boxes is not None:
        for x, y, w, h in np.asarray(crowd_boxes, dtype=float) * scale:
            draw.rectangle([x, y, x + w, y + h], outline=CROWD_COLOR, width=1)
    for i, (x, y, w, h) in enumerate(np.asarray(boxes, dtype=float) * scale):
        color = BUCKET_COLORS.get(_bucket_name(int(buckets[i])) or "", UNKNOWN_COLOR)
        draw.rectangle([x, y, x + w, y + h], outline=color, width=width)
        if keypoints is None or i >= len(keypoints):
            continue
        kp = np.asarray(keypoints[i], dtype=float).reshape(-1, 3)
        xy = kp[:, :2] * scale
        labelled = np.nan_to_num(kp[:, 2]) > 0
        for a, b in skeleton:
            if a < len(kp) and b < len(kp) and labelled[a] and labelled[b]:
                draw.line([tuple(xy[a]), tuple(xy[b])], fill=color, width=width)
        r = max(1.5, 2.5 * scale)
        for (px, py), ok in zip(xy, labelled, strict=True):
            if ok:
                draw.ellipse([px - r, py - r, px + r, py + r], fill=color)
    return img
