"""The image browser's logic, and what a histogram click asks it to show.  Pure; no streamlit.

A click (or box selection) on a bar of a multi-dataset histogram selects points of
one or more traces; each point's ``customdata`` is its series key (figures set it),
so Browse opens the images of the clicked series only, in the clicked range.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class BrowseRequest:
    """What a click asks Browse to show.

    Attributes:
        series: series keys of the clicked bars (their images only).
        span: closed range of the clicked x values, widened by ``pad`` on each side.
    """

    series: tuple[str, ...]
    span: tuple[float, float]


def selected_points(event: Any) -> list[dict[str, Any]]:
    """The points of a plotly selection event (empty when none or malformed)."""
    try:
        points = event["selection"]["points"]
    except (KeyError, TypeError):
        return []
    return [p for p in points if isinstance(p, dict) and "x" in p]


def _series_of(point: dict[str, Any], series: Sequence[str]) -> str | None:
    data = point.get("customdata")
    if isinstance(data, list | tuple):
        data = data[0] if data else None
    if isinstance(data, str) and data in series:
        return data
    curve = point.get("curve_number")  # traces are drawn one per series, in order
    return series[curve] if isinstance(curve, int) and 0 <= curve < len(series) else None


def browse_request(event: Any, series: Sequence[str], *, pad: float = 0.0) -> BrowseRequest | None:
    """The series and x range a selection event asks for, or None when nothing is selected."""
    points = selected_points(event)
    keys = [k for k in (_series_of(p, series) for p in points) if k is not None]
    if not points or not keys:
        return None
    xs = [float(p["x"]) for p in points]
    ordered = tuple(k for k in series if k in set(keys))
    return BrowseRequest(ordered, (min(xs) - pad, max(xs) + pad))


def clamp(span: tuple[float, float], lo: float, hi: float) -> tuple[float, float]:
    """``span`` clipped to [lo, hi]; the whole range when it ends up inverted."""
    a, b = (max(lo, min(v, hi)) for v in span)
    return (a, b) if a <= b else (lo, hi)


def browse_images(
    images: pd.DataFrame,
    *,
    series: Sequence[str] | None = None,
    persons: tuple[float, float] | None = None,
    crowd_index: tuple[float, float] | None = None,
    entropy: tuple[float, float] | None = None,
) -> pd.DataFrame:
    """Images of the given series whose ``n_selected``, ``crowd_index`` and ``entropy`` lie in
    closed ranges (an entropy range drops images without a scene entropy)."""
    mask = np.ones(len(images), dtype=bool)
    if series is not None and "series" in images.columns:
        mask &= images["series"].astype(str).isin(list(series)).to_numpy()
    for column, bounds in (("n_selected", persons), ("crowd_index", crowd_index), ("entropy", entropy)):
        if bounds is None:
            continue
        values = images[column].to_numpy(dtype=float)
        mask &= (values >= bounds[0]) & (values <= bounds[1])
    return images[mask]


def image_label(row: pd.Series, what: str = "persons") -> str:
    """The caption under a browsed image: dataset/split, file, persons counted, CrowdIndex."""
    n = int(row["n_selected"])
    return (f"{row['dataset']}/{row['split']} · {row['file_name']} · {n} {what if n != 1 else what.rstrip('s')}"
            f" · CI {row['crowd_index']:.2f}")


def rows_of_image(frame: pd.DataFrame, image_index: int) -> pd.DataFrame:
    """The rows of ``frame`` (persons or crowd regions) drawn on the image at ``image_index``."""
    return frame[frame["image_index"].to_numpy() == image_index]
