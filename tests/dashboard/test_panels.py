"""Qualitative panels: ground truth beside predictions, cropped around the chosen persons."""

from __future__ import annotations

import functools
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from analysis.cache.contract import CacheKey
from analysis.errors import PoseAtlasError
from dashboard.caches import load_caches, load_keypoints
from dashboard.exports import catalog
from dashboard.exports.cli import panel_options
from dashboard.exports.items import FigureItem, Note
from dashboard.exports.state import ViewOptions, state_from_params
from dashboard.figures.panels import PanelInput, crop_box, draw_panel
from dashboard.predictions import STATUS_STYLES, MatchStatus


def test_crop_box_is_the_padded_union_inside_the_image() -> None:
    boxes = np.array([[100.0, 50.0, 20.0, 40.0], [130.0, 60.0, 10.0, 10.0]])  # union x 100-140, y 50-90
    # margin 0.25 * 40 = 10 on every side
    assert crop_box(boxes, (400, 300)) == (90, 40, 150, 100)
    assert crop_box(boxes[:0], (400, 300)) == (0, 0, 400, 300)  # nobody chosen: the whole image
    assert crop_box(np.array([[0.0, 0.0, 8.0, 8.0]]), (400, 300)) == (0, 0, 28, 28)  # 48 px wide, clipped at 0
    assert crop_box(np.array([[390.0, 290.0, 10.0, 10.0]]), (400, 300))[2:] == (400, 300)


def _blue_pixels(image: Image.Image) -> np.ndarray:
    rgb = np.asarray(image.convert("RGB")).astype(int)
    blue = tuple(int(STATUS_STYLES[MatchStatus.MATCHED]["color"][i : i + 2], 16) for i in (1, 3, 5))
    return np.argwhere(np.abs(rgb - np.array(blue)).sum(axis=2) < 30)


def test_panel_is_cropped_around_the_chosen_person_and_draws_the_match() -> None:
    image = Image.new("RGB", (400, 300), "white")
    joints = np.zeros((2, 3 * 17))
    for p, (x, y) in enumerate(((110.0, 60.0), (300.0, 200.0))):
        joints[p, 0::3], joints[p, 1::3], joints[p, 2::3] = x + np.arange(17) % 3, y + np.arange(17), 2
    boxes = np.array([[100.0, 50.0, 20.0, 40.0], [290.0, 190.0, 20.0, 30.0]])
    panel = PanelInput("image 1", image, boxes, joints, [MatchStatus.MATCHED, MatchStatus.MISSED],
                       np.array([0.9, np.nan]), joints[:1], [MatchStatus.MATCHED], np.array([0.9]),
                       np.array([True, False]))  # fmt: skip
    drawn = draw_panel(panel, [(0, 1)])
    x0, y0, x1, y1 = crop_box(boxes[:1], image.size)
    assert (x1 - x0, y1 - y0) == (48, 60)  # 20 x 40 + 10 px margins, at least 48 wide; 360 px along y
    scale = 360 / 60
    gap = 6  # draw_matches' gap between ground truth and predictions
    strip = drawn.height - 360  # the label strip above
    assert drawn.width == 2 * round(48 * scale) + gap and 0 < strip < 40
    blue = _blue_pixels(drawn)
    # The chosen person's box (blue, matched) lies in both halves at the crop's offset and scale;
    # the other person (outside the crop) is not drawn.
    left = blue[blue[:, 1] < 48 * scale]
    assert len(left)
    assert left[:, 1].min() >= (boxes[0, 0] - x0) * scale - 3
    assert left[:, 0].min() >= strip + (boxes[0, 1] - y0) * scale - 3
    assert left[:, 1].max() <= (boxes[0, 0] + boxes[0, 2] - x0) * scale + 3
    assert len(blue[blue[:, 1] > 48 * scale + gap])


def test_panels_export_of_the_demo(demo_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """images=ID&bucket=medium: one figure, the caption naming the model and the filters, its shape
    the picture's (the paper export takes it from meta.aspect); no images: a note."""
    monkeypatch.setenv("POSEATLAS_IMAGE_ROOTS", str(demo_cache.parent / "data"))
    caches = load_caches(demo_cache)
    keypoints = functools.cache(lambda d, s: load_keypoints(demo_cache, CacheKey(d, s)))
    doc = json.loads((demo_cache.parent / "data" / "demo-small" / "annotations.json").read_text())
    medium = [a for a in doc["annotations"] if 32**2 <= a["bbox"][2] * a["bbox"][3] < 96**2 and not a["iscrowd"]]
    sizes = {im["id"]: (im["width"], im["height"]) for im in doc["images"]}

    def crop_of(image_id: int) -> tuple[int, int, int, int]:
        return crop_box(np.array([a["bbox"] for a in medium if a["image_id"] == image_id]), sizes[image_id])

    # an image whose medium persons take part of it (its crop narrower than the image)
    image_id = next(a["image_id"] for a in medium if crop_of(a["image_id"])[2] - crop_of(a["image_id"])[0]
                    < sizes[a["image_id"]][0])  # fmt: skip
    params = {"ds": "demo-small", "bucket": "medium", "images": str(image_id)}
    options = panel_options(ViewOptions(), params)
    assert options.panel_images == (image_id,)
    state = state_from_params(caches, params, options, keypoints, root=demo_cache)
    items = catalog.exports("panels", state)
    figures = [i for i in items if isinstance(i, FigureItem)]
    assert len(figures) == 1, [getattr(i, "text", "") for i in items]
    fig = figures[0].figure
    assert "synthetic-" in figures[0].caption and "medium persons only" in figures[0].caption
    picture = fig.layout.images[0]
    assert fig.layout.meta["aspect"] == pytest.approx(picture.sizey / picture.sizex)
    # Cropped around the image's medium persons, the crop's longer side drawn at 360 px.
    x0, y0, x1, y1 = crop_of(image_id)
    assert picture.sizex == 2 * round((x1 - x0) * 360 / max(x1 - x0, y1 - y0)) + 6
    from dashboard.exports import paper as export

    paper = export.paper_figure(fig, "single")
    assert paper.layout.height == round(export.PRESETS["single"].width_px * fig.layout.meta["aspect"])
    none = catalog.exports("panels", state_from_params(caches, {"ds": "demo-small"}, ViewOptions(), keypoints,
                                                       root=demo_cache))  # fmt: skip
    assert len(none) == 1 and isinstance(none[0], Note) and "images=ID" in none[0].text
    with pytest.raises(PoseAtlasError, match="images='1,x' is not a comma-separated list"):
        panel_options(ViewOptions(), {"images": "1,x"})
    with pytest.raises(PoseAtlasError, match="image id 999999999 not in demo-small/val"):
        catalog.exports("panels", replace(state, options=replace(options, panel_images=(999999999,))))
    with pytest.raises(PoseAtlasError, match="no stored evaluation nope"):
        catalog.exports("panels", replace(state, options=replace(options, panel_model="nope")))
    monkeypatch.setenv("POSEATLAS_IMAGE_ROOTS", str(demo_cache))  # the images' folder no longer allowed
    with pytest.raises(PoseAtlasError, match=f"image {image_id} of demo-small/val: its file is not under"):
        catalog.exports("panels", state)
