"""The image browser's logic, and what a histogram click asks it to show.  Pure; no streamlit.

A click (or box selection) on a bar of a multi-dataset histogram selects points of
one or more traces; each point's ``customdata`` is its series key (figures set it),
so Browse opens the images of the clicked series only, in the clicked range.  The
clicking page hands Browse one ``BrowseHandoff`` under the session key
``BROWSE_HANDOFF``; Browse turns it into its widgets' values once (``handoff_widgets``).

The page's widgets and their ranges (``BrowseRanges``), the images they leave
(``browse_images``) and the page's rows (``page_rows``) are here; locating and drawing
each image is ``dashboard.browse_tiles``.  A new Browse filter is one more pure
function over the ``images`` frame, applied by the view after ``browse_images``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
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


#: The session key under which another page hands Browse a ``BrowseHandoff``.
BROWSE_HANDOFF = "browse_handoff"
#: Browse's widget keys (session state): shown series, the three ranges, the model, the page.
SERIES_KEY, PERSONS_KEY, CI_KEY, ENTROPY_KEY = "br_series", "br_persons", "br_ci", "br_ent"
PAGE_KEY = "br_page"
#: Images per page.
PER_PAGE = 12


@dataclass(frozen=True)
class BrowseHandoff:
    """What another page asks Browse to open: one value in session state.

    Attributes:
        series: series keys whose images to show (the clicked bars').
        persons: closed range of persons per image (People's click), or None.
        crowd_index: closed CrowdIndex range (Crowding's click), or None.
    """

    series: tuple[str, ...]
    persons: tuple[int, int] | None = None
    crowd_index: tuple[float, float] | None = None

    @classmethod
    def of_persons(cls, request: BrowseRequest) -> BrowseHandoff:
        """A click on a people-per-image bar: its series, its whole-person range."""
        return cls(request.series, persons=(int(request.span[0]), int(request.span[1])))

    @classmethod
    def of_crowd_index(cls, request: BrowseRequest) -> BrowseHandoff:
        """A click on a CrowdIndex bar: its series, its (padded) range from 0 up."""
        return cls(request.series, crowd_index=(max(0.0, request.span[0]), request.span[1]))


def handoff_widgets(handoff: BrowseHandoff, series: Sequence[str]) -> dict[str, Any]:
    """Browse's widget values the hand-off sets (series not on show any more are dropped;
    the CrowdIndex range rounded to its slider's 0.01 step)."""
    values: dict[str, Any] = {SERIES_KEY: [k for k in handoff.series if k in series]}
    if handoff.persons is not None:
        values[PERSONS_KEY] = handoff.persons
    if handoff.crowd_index is not None:
        lo, hi = handoff.crowd_index
        values[CI_KEY] = (round(lo, 2), round(hi, 2))
    return values


@dataclass(frozen=True)
class BrowseRanges:
    """Upper ends of Browse's three sliders for the filtered images.

    Attributes:
        persons: most persons (of the chosen bucket) on one image, at least 1.
        crowd_index: largest CrowdIndex plus a step (at least 0.01), rounded to 0.01.
        entropy: largest scene entropy plus a step, or None when no image has one.
    """

    persons: int
    crowd_index: float
    entropy: float | None

    @classmethod
    def of(cls, images: pd.DataFrame) -> BrowseRanges:
        ci = images["crowd_index"].to_numpy(dtype=float)
        ci_max = max(float(np.nanmax(ci)) if np.isfinite(ci).any() else 0.0, 0.01)
        ent = images["entropy"].to_numpy(dtype=float)
        entropy = round(float(np.nanmax(ent)) + 0.01, 2) if np.isfinite(ent).any() else None
        return cls(max(int(images["n_selected"].max()), 1), round(ci_max + 0.01, 2), entropy)

    def entropy_filter(self, chosen: tuple[float, float]) -> tuple[float, float] | None:
        """The entropy range to filter by: None while the slider spans everything (an
        entropy range drops images without one)."""
        return None if self.entropy is None or tuple(chosen) == (0.0, self.entropy) else chosen


def kept_series(chosen: Sequence[str], series: Sequence[str]) -> list[str]:
    """The shown-series choice restricted to the series on show now."""
    return [k for k in chosen if k in series]


def page_count(n_images: int, per_page: int = PER_PAGE) -> int:
    """Pages of ``per_page`` images (at least 1)."""
    return max(1, math.ceil(n_images / per_page))


def page_rows(shown: pd.DataFrame, page: float, per_page: int = PER_PAGE) -> tuple[int, pd.DataFrame]:
    """The page number clamped to [1, pages] (a stale stored page) and its rows."""
    number = min(max(1, int(page)), page_count(len(shown), per_page))
    return number, shown.iloc[(number - 1) * per_page : number * per_page]


def of_split(frame: pd.DataFrame, dataset: str, split: str) -> pd.DataFrame:
    """The rows of one split of a frame with ``dataset`` and ``split`` columns."""
    return frame[(frame["dataset"] == dataset).to_numpy() & (frame["split"] == split).to_numpy()]


def only_key(shown: pd.DataFrame, key: str) -> pd.DataFrame:
    """The images of one split (``key`` as ``str(CacheKey)``): a model's predictions exist there only."""
    return shown[(shown["key"] == key).to_numpy()]


def only_images(shown: pd.DataFrame, image_ids: npt.ArrayLike) -> pd.DataFrame:
    """The images whose ``image_id`` is in ``image_ids``."""
    return shown[shown["image_id"].isin(np.asarray(image_ids)).to_numpy()]


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
        column = images["series"]
        if isinstance(column.dtype, pd.CategoricalDtype):  # codes, not a string per row
            wanted = {str(s) for s in series}
            codes = [i for i, c in enumerate(column.cat.categories) if str(c) in wanted]
            mask &= np.isin(column.cat.codes.to_numpy(), codes)
        else:
            mask &= column.astype(str).isin(list(series)).to_numpy()
    for column, bounds in (("n_selected", persons), ("crowd_index", crowd_index), ("entropy", entropy)):
        if bounds is None:
            continue
        values = images[column].to_numpy(dtype=float)
        mask &= (values >= bounds[0]) & (values <= bounds[1])
    return images[mask]


def image_label(row: pd.Series, what: str = "persons") -> str:
    """The caption under a browsed image: dataset/split, file, persons counted, CrowdIndex."""
    n = int(row["n_selected"])
    return (
        f"{row['dataset']}/{row['split']} · {row['file_name']} · {n} {what if n != 1 else what.rstrip('s')}"
        f" · CI {row['crowd_index']:.2f}"
    )


def rows_of_image(frame: pd.DataFrame, image_index: int) -> pd.DataFrame:
    """The rows of ``frame`` (persons or crowd regions) drawn on the image at ``image_index``."""
    return frame[frame["image_index"].to_numpy() == image_index]


def with_image_files(shown: pd.DataFrame, path_of: Callable[[str, str, str], Path | None]) -> tuple[pd.DataFrame, int]:
    """The rows whose image file exists, and how many were left out.

    ``path_of(dataset, split, file_name)``: the file's allowed path, or None where it may
    not be opened (no image root, a refused root or name), as the page draws it.
    """
    if shown.empty:
        return shown, 0
    found = np.fromiter(
        (
            (p := path_of(str(d), str(s), str(n))) is not None and p.is_file()
            for d, s, n in zip(shown["dataset"], shown["split"], shown["file_name"], strict=True)
        ),
        dtype=bool,
        count=len(shown),
    )
    return shown[found], int((~found).sum())


def empty_selection_message(missed_small: bool, n_small_persons: int | None, size_description: str) -> str:
    """Why no image is shown: no small ground truth under the size definition (nothing a
    slider can change), or ranges and filters that leave nothing."""
    if missed_small and n_small_persons == 0:
        return (
            f"No small ground truth under this definition ({size_description}): no image can miss a "
            "small person. Change the size definition in the sidebar to see small persons."
        )
    return "No image in these ranges: widen the sliders or the sidebar filters."
