"""Qualitative panels: ground truth beside a model's predictions for chosen images, cropped
around the chosen persons, as one paper figure.  Pure: images and frames in, ``go.Figure`` out
(the drawing is ``dashboard.draw.draw_matches``'s)."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import plotly.graph_objects as go
from PIL import Image, ImageDraw, ImageFont

from dashboard.draw import draw_matches
from dashboard.figures.common import empty_figure, finish
from dashboard.predictions import MatchStatus

#: Margin around the chosen persons' boxes, as a share of the union box's longer side.
CROP_PAD = 0.25
#: A crop is never smaller than this (px of the full-size image) along either side.
CROP_MIN_SIDE = 48.0


def crop_box(boxes: np.ndarray, image_size: tuple[int, int], pad: float = CROP_PAD,
             min_side: float = CROP_MIN_SIDE) -> tuple[int, int, int, int]:  # fmt: skip
    """(x0, y0, x1, y1) in full-size pixels: the union of ``boxes`` (x, y, w, h), grown by
    ``pad`` times its longer side on every side and to at least ``min_side``, inside the image.
    No box: the whole image."""
    width, height = image_size
    boxes = np.asarray(boxes, dtype=float).reshape(-1, 4)
    if not len(boxes):
        return 0, 0, int(width), int(height)
    x0, y0 = boxes[:, 0].min(), boxes[:, 1].min()
    x1, y1 = (boxes[:, 0] + boxes[:, 2]).max(), (boxes[:, 1] + boxes[:, 3]).max()
    margin = pad * max(x1 - x0, y1 - y0)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    half_w = max(x1 - x0 + 2 * margin, min_side) / 2
    half_h = max(y1 - y0 + 2 * margin, min_side) / 2
    left, top = max(0, int(np.floor(cx - half_w))), max(0, int(np.floor(cy - half_h)))
    right, bottom = min(int(width), int(np.ceil(cx + half_w))), min(int(height), int(np.ceil(cy + half_h)))
    return left, top, max(right, left + 1), max(bottom, top + 1)


def _placed(keypoints: np.ndarray | None, dx: float, dy: float, scale: float) -> np.ndarray | None:
    """Keypoints (x, y, v rows) moved by (-dx, -dy) and scaled (v kept)."""
    if keypoints is None:
        return None
    out = np.array(keypoints, dtype=float, copy=True).reshape(len(keypoints), -1)
    out[:, 0::3] = (out[:, 0::3] - dx) * scale
    out[:, 1::3] = (out[:, 1::3] - dy) * scale
    return out


@dataclass(frozen=True)
class PanelInput:
    """One image: the full-size picture, its persons and the model's detections (``draw_matches``)."""

    label: str
    image: Image.Image
    gt_boxes: np.ndarray  #: (G, 4)
    gt_keypoints: np.ndarray | None  #: (G, 3K)
    gt_status: Sequence[MatchStatus] | npt.NDArray[np.object_]
    gt_oks: np.ndarray
    det_keypoints: np.ndarray  #: (D, 3K)
    det_status: Sequence[MatchStatus] | npt.NDArray[np.object_]
    det_oks: np.ndarray
    chosen: np.ndarray  #: (G,) the persons to crop around (none: the whole image)


def draw_panel(panel: PanelInput, skeleton: Sequence[tuple[int, int]], side: int = 360) -> Image.Image:
    """Ground truth beside predictions, cropped around the chosen persons and resized so that the
    crop's longer side is ``side`` px (small persons enlarged: lines and labels stay legible), labelled."""
    boxes = np.asarray(panel.gt_boxes, dtype=float).reshape(-1, 4)
    x0, y0, x1, y1 = crop_box(boxes[np.asarray(panel.chosen, dtype=bool)], panel.image.size)
    scale = side / max(x1 - x0, y1 - y0)
    size = (max(1, round((x1 - x0) * scale)), max(1, round((y1 - y0) * scale)))
    crop = panel.image.crop((x0, y0, x1, y1)).resize(size, Image.Resampling.LANCZOS)
    placed = (boxes - np.array([x0, y0, 0, 0], dtype=float)) * scale
    det = np.asarray(panel.det_keypoints, dtype=float).reshape(len(panel.det_keypoints), -1)
    placed_det = _placed(det, x0, y0, scale)
    assert placed_det is not None  # det is an array, never None
    drawn = draw_matches(crop, placed, _placed(panel.gt_keypoints, x0, y0, scale), panel.gt_status, panel.gt_oks,
                         placed_det, panel.det_status, panel.det_oks, skeleton,
                         max_side=side)  # fmt: skip
    font_size = max(11, drawn.width // 40)
    font = ImageFont.load_default(size=font_size)
    strip = round(font_size * 1.6)
    out = Image.new("RGB", (drawn.width, drawn.height + strip), "white")
    ImageDraw.Draw(out).text((2, strip * 0.15), panel.label, fill="black", font=font)
    out.paste(drawn, (0, strip))
    return out


def stack(images: Sequence[Image.Image], gap: int = 8) -> Image.Image:
    """The panels one under the other (the widest sets the width; narrower ones centred)."""
    width = max(im.width for im in images)
    out = Image.new("RGB", (width, sum(im.height for im in images) + gap * (len(images) - 1)), "white")
    y = 0
    for im in images:
        out.paste(im, ((width - im.width) // 2, y))
        y += im.height + gap
    return out


def panels_figure(panels: Sequence[Image.Image], *, caption: str = "") -> go.Figure:
    """The drawn panels stacked into one figure; ``layout.meta["aspect"]`` (height / width) lets
    the paper export size the figure to the picture instead of letterboxing it."""
    if not panels:
        return empty_figure("no image to draw")
    picture = stack(panels)
    buf = io.BytesIO()
    picture.save(buf, format="PNG", optimize=True)
    source = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
    width, height = picture.size
    fig = go.Figure()
    # A layout image on axes spanning its pixels (no trace: nothing for a legend to list).
    fig.add_layout_image(source=source, xref="x", yref="y", x=0, y=0, sizex=width, sizey=height,
                         xanchor="left", yanchor="top", sizing="stretch", layer="below")  # fmt: skip
    fig.update_xaxes(visible=False, showgrid=False, range=[0, width], constrain="domain")
    fig.update_yaxes(visible=False, showgrid=False, range=[height, 0], scaleanchor="x", constrain="domain")
    fig = finish(fig, title="Qualitative examples", caption=caption, x_title="", y_title="")
    fig.update_layout(meta={"caption": caption, "aspect": picture.height / picture.width})
    return fig
