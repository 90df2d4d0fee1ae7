"""Draw person boxes and skeletons on an image, coloured by size bucket (PIL, no streamlit)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont

from analysis.build.image_paths import resolve_image_file
from analysis.definitions import SizeBucket
from dashboard.paths import ImageRoots
from dashboard.predictions import STATUS_STYLES, MatchStatus, keypoint_boxes

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


def _scaled(image: Image.Image, max_side: int, source_size: tuple[int, int] | None) -> tuple[Image.Image, float]:
    """An RGB copy of ``image`` at most ``max_side`` along the longer side of the full-size
    image (``source_size``, or its own size), and the scale from full-size coordinates."""
    img = image.convert("RGB")
    full = source_size or img.size
    scale = min(1.0, max_side / max(full))
    size = (max(1, int(full[0] * scale)), max(1, int(full[1] * scale)))
    return (img if img.size == size else img.resize(size)), scale


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
    img, scale = _scaled(image, max_side, source_size)
    draw = ImageDraw.Draw(img)
    width = max(1, round(2 * max(scale, 0.5)))
    if crowd_boxes is not None:
        for x, y, w, h in np.asarray(crowd_boxes, dtype=float) * scale:
            draw.rectangle([x, y, x + w, y + h], outline=CROWD_COLOR, width=1)
    for i, (x, y, w, h) in enumerate(np.asarray(boxes, dtype=float) * scale):
        bucket = SizeBucket.of(int(buckets[i]))
        color = UNKNOWN_COLOR if bucket is None else bucket.color
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


# --------------------------------------------------------------------------- predictions


def _dashed_segment(
    draw: ImageDraw.ImageDraw,
    p0: tuple[float, float],
    p1: tuple[float, float],
    dash: Sequence[int],
    fill: str,
    width: int,
) -> None:
    """A line from p0 to p1 in the on/off pattern ``dash`` (pixels; empty: solid)."""
    if not dash:
        draw.line([p0, p1], fill=fill, width=width)
        return
    (x0, y0), (x1, y1) = p0, p1
    length = float(np.hypot(x1 - x0, y1 - y0))
    if length == 0:
        return
    ux, uy = (x1 - x0) / length, (y1 - y0) / length
    pos, i = 0.0, 0
    while pos < length:
        step = float(dash[i % len(dash)])
        if i % 2 == 0:
            end = min(pos + step, length)
            draw.line([(x0 + ux * pos, y0 + uy * pos), (x0 + ux * end, y0 + uy * end)], fill=fill, width=width)
        pos += step
        i += 1


def _dashed_box(
    draw: ImageDraw.ImageDraw,
    box: Sequence[float] | npt.NDArray[np.float64],
    dash: Sequence[int],
    fill: str,
    width: int,
) -> None:
    x, y, w, h = box
    corners = [(x, y), (x + w, y), (x + w, y + h), (x, y + h), (x, y)]
    for a, b in itertools.pairwise(corners):
        _dashed_segment(draw, a, b, dash, fill, width)


def _panel(
    image: Image.Image,
    scale: float,
    boxes: np.ndarray,
    keypoints: np.ndarray | None,
    statuses: Sequence[MatchStatus] | npt.NDArray[np.object_],
    oks: np.ndarray,
    skeleton: Sequence[tuple[int, int]],
    title: str,
) -> Image.Image:
    img = image.copy()
    draw = ImageDraw.Draw(img)
    label_font = ImageFont.load_default(size=max(9, round(img.width / 45)))
    title_font = ImageFont.load_default(size=max(11, round(img.width / 30)))
    width = max(1, round(2 * max(scale, 0.5)))
    for i, status in enumerate(statuses):
        style = STATUS_STYLES[status]
        color, dash = style["color"], style["dash"]
        box = np.asarray(boxes[i], dtype=float) * scale
        _dashed_box(draw, box, dash, color, width)
        if keypoints is not None:
            kp = np.asarray(keypoints[i], dtype=float).reshape(-1, 3)
            xy = kp[:, :2] * scale
            shown = np.nan_to_num(kp[:, 2]) > 0
            for a, b in skeleton:
                if a < len(kp) and b < len(kp) and shown[a] and shown[b]:
                    _dashed_segment(draw, tuple(xy[a]), tuple(xy[b]), dash, color, width)
            r = max(1.5, 2.0 * scale)
            for (px, py), ok in zip(xy, shown, strict=True):
                if ok:
                    draw.ellipse([px - r, py - r, px + r, py + r], fill=color)
        if np.isfinite(oks[i]):
            text = f"{oks[i]:.2f}"
            left, top, right, bottom = draw.textbbox((0, 0), text, font=label_font)
            tx, ty = box[0], max(0.0, box[1] - (bottom - top) - 3)
            left, top, right, bottom = draw.textbbox((tx, ty), text, font=label_font)
            draw.rectangle([left - 1, top - 1, right + 1, bottom + 1], fill="white")
            draw.text((tx, ty), text, fill=color, font=label_font)
    left, top, right, bottom = draw.textbbox((4, 4), title, font=title_font)
    draw.rectangle([left - 3, top - 3, right + 3, bottom + 3], fill="white")
    draw.text((4, 4), title, fill="black", font=title_font)
    return img


def draw_matches(
    image: Image.Image,
    gt_boxes: np.ndarray,
    gt_keypoints: np.ndarray | None,
    gt_status: Sequence[MatchStatus] | npt.NDArray[np.object_],
    gt_oks: np.ndarray,
    det_keypoints: np.ndarray,
    det_status: Sequence[MatchStatus] | npt.NDArray[np.object_],
    det_oks: np.ndarray,
    skeleton: Sequence[tuple[int, int]],
    max_side: int = 480,
    source_size: tuple[int, int] | None = None,
) -> Image.Image:
    """Ground truth (left) beside a model's predictions (right), coloured by match status.

    Each person or detection gets its status's colour and line style
    (``dashboard.predictions.STATUS_STYLES``) and its OKS as a label.

    Args:
        gt_boxes: (G, 4) x, y, w, h; gt_keypoints: (G, 3K) x, y, v (or None).
        gt_status, gt_oks: (G,) status and OKS of the match (NaN: none).
        det_keypoints: (D, 3K) x, y, score; their box spans the predicted joints.
        det_status, det_oks: (D,) status and OKS of the match (NaN: none).
        skeleton: 0-based joint pairs.
        source_size: (width, height) of the full-size image the coordinates refer to,
            when ``image`` is an already reduced decode of it (default: its own size).
    """
    base, scale = _scaled(image, max_side, source_size)
    det_keypoints = np.asarray(det_keypoints, dtype=float)
    left = _panel(
        base,
        scale,
        np.asarray(gt_boxes, dtype=float).reshape(-1, 4),
        gt_keypoints,
        gt_status,
        np.asarray(gt_oks, dtype=float),
        skeleton,
        "ground truth",
    )
    right = _panel(
        base,
        scale,
        keypoint_boxes(det_keypoints),
        det_keypoints if len(det_keypoints) else None,
        det_status,
        np.asarray(det_oks, dtype=float),
        skeleton,
        "predictions",
    )
    gap = 6
    out = Image.new("RGB", (2 * base.width + gap, base.height), "white")
    out.paste(left, (0, 0))
    out.paste(right, (base.width + gap, 0))
    return out
