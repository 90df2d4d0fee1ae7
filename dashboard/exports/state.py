"""ViewState: everything a view's figures and tables depend on, built from the global
controls (the URL's query keys) plus per-view options.  Pure: no streamlit.

The dashboard's per-run ``ui.Context`` is a ViewState (plus the export width) built
from the sidebar through ``resolve``; ``python -m dashboard.export`` builds one from a
URL and a spec's options through ``state_from_params``, which uses the same ``resolve``.
"""

from __future__ import annotations

import enum
import functools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from analysis.cache.manifest import Manifest
from analysis.definitions import DENSITY_EDGES, CrowdConvention, CrowdIndexSource
from analysis.evaluation.slices import SLICE_NAMES
from analysis.evaluation.table5 import IntervalStyle
from dashboard import query
from dashboard.caches import Caches
from dashboard.figures.common import dataset_styles
from dashboard.filters import Filtered, Filters, Population, apply_filters, present
from dashboard.frame_memo import kept
from dashboard.series import series_order, series_styles, splits_used

#: (dataset, split) -> (N, 3K) keypoints of that split's instance rows.
KeypointLoader = Callable[[str, str], np.ndarray]


class BarLayout(enum.StrEnum):
    """How several datasets share a histogram's bins."""

    SIDE = "side"  #: bars side by side (the default: reads in print and greyscale)
    OVERLAY = "overlay"  #: translucent bars drawn over each other (on screen only)


class AreaAxis(enum.StrEnum):
    LOG = "log"  #: log10 of the area in px^2
    SQRT = "sqrt"  #: sqrt(area) in px


@dataclass(frozen=True)
class ViewOptions:
    """Per-view choices that are not global filters (page widgets; a spec's ``options``).

    Attributes:
        people_layout: people per image: bars side by side or overlaid.
        people_log_y: people per image: log y axis.
        area_axis: body-area distribution axis.
        crowd_convention: CrowdIndex level edges drawn on the histogram.
        crowd_value: the CrowdIndex the histogram and levels use (computed, or stored in the file).
        density_low, density_high: sparse|moderate and moderate|dense edges of small
            persons' N_b/N_a (SmallPose publishes none; ``DENSITY_EDGES`` by default).
        scene_top_k: categories in the top scene categories figure.
        interval_style: models' Table 5 cells with bootstrap intervals: bracket, pm or none.
        errors_slice: errors: the slice of the second ΔAP waterfall and of the reliability diagram.
        errors_at_oks: errors: that waterfall at the diagnosis' single OKS (0.75) instead of 0.50:0.95.
        panel_images, panel_model: panels: the image ids and the stored model (the URL's ``images``
            and ``model``; empty model: the first stored evaluation of the selection).
        table5_columns: models' Table 5 LaTeX columns, as ``evaluate --columns`` takes them
            (``AP,APS,APS_Sp``); empty: the SmallPose paper's seven.
    """

    people_layout: BarLayout = BarLayout.SIDE
    people_log_y: bool = False
    area_axis: AreaAxis = AreaAxis.LOG
    crowd_convention: CrowdConvention = CrowdConvention.PAPER
    crowd_value: CrowdIndexSource = CrowdIndexSource.COMPUTED
    density_low: float = DENSITY_EDGES[0]
    density_high: float = DENSITY_EDGES[1]
    scene_top_k: int = 10
    interval_style: IntervalStyle = IntervalStyle.BRACKET
    errors_slice: str = "small"
    errors_at_oks: bool = False
    panel_images: tuple[int, ...] = ()
    panel_model: str = ""
    table5_columns: str = ""

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], where: str = "options") -> ViewOptions:
        """Options from a spec's table; raises ValueError naming a bad key or value."""
        known = {f.name: f for f in fields(cls)}
        defaults = cls()
        out: dict[str, Any] = {}
        for key, value in values.items():
            if key not in known:
                raise ValueError(f"{where}: unknown option {key!r} (known: {', '.join(known)})")
            default = getattr(defaults, key)
            try:
                out[key] = _option_value(key, default, value)
            except (TypeError, ValueError, OverflowError):  # int(inf) overflows
                choices = (
                    f" (one of {', '.join(m.value for m in type(default))})" if isinstance(default, enum.Enum) else ""
                )
                if key == "errors_slice":
                    choices = f" (one of {', '.join(SLICE_NAMES)})"
                raise ValueError(
                    f"{where}: option {key} = {value!r} is not a valid {type(default).__name__}{choices}"
                ) from None
        options = cls(**out)
        if options.table5_columns:
            from analysis.evaluation.table5 import parse_columns

            try:
                parse_columns(options.table5_columns)
            except ValueError as exc:
                raise ValueError(f"{where}: option table5_columns: {exc}") from None
        if not 0.0 <= options.density_low < options.density_high <= 1.0:
            raise ValueError(
                f"{where}: density edges must satisfy 0 <= density_low < density_high <= 1 "
                f"(got {options.density_low:g} and {options.density_high:g})"
            )
        return options


def _option_value(key: str, default: Any, value: Any) -> Any:
    """``value`` as the type of the option's ``default``: an enum member, a bool, a string (a
    slice name for ``errors_slice``), an int >= 1 or a finite float; raises TypeError /
    ValueError / OverflowError when it is not one (image ids come from the URL only)."""
    if isinstance(default, enum.Enum):
        return type(default)(value)
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise TypeError
        return value
    if isinstance(default, str):
        if not isinstance(value, str) or (key == "errors_slice" and value not in SLICE_NAMES):
            raise TypeError
        return value
    if isinstance(default, tuple):  # image ids: given by the URL (images=ID,ID)
        raise TypeError
    return _number_option(default, value)


def _number_option(default: int | float, value: Any) -> int | float:
    """An int >= 1 for an int option, a finite float for a float one."""
    if isinstance(default, int):
        if isinstance(value, bool) or int(value) != value or value < 1:
            raise TypeError
        return int(value)
    if isinstance(value, bool) or not math.isfinite(float(value)):
        raise TypeError
    return float(value)


@dataclass(frozen=True)
class ViewState:
    """The filtered data, styles and options one view's exports are built from.

    Attributes:
        caches: every cached split (frames, manifests, dataset identities).
        filtered: frames after ``filtered.filters`` (the URL's typed state).
        styles: per series key: colour, pattern, dash and legend label.
        datasets: selected datasets with rows after filtering, in selection order.
        series: the figures' series keys (datasets, dataset/splits or sources), in order.
        options: per-view options.
        keypoints: loads one split's keypoints (the keypoints view only).
        root: the cache root (for the commands a note gives).
    """

    caches: Caches = field(repr=False)
    filtered: Filtered = field(repr=False)
    styles: dict[str, dict[str, str]] = field(repr=False)
    datasets: tuple[str, ...]
    series: tuple[str, ...]
    options: ViewOptions = ViewOptions()
    keypoints: KeypointLoader | None = field(default=None, repr=False, compare=False)
    root: Path = field(default=Path("data/cache"), repr=False)

    @property
    def filters(self) -> Filters:
        return self.filtered.filters

    def dataset_of(self, key: str) -> str:
        """The dataset a series key belongs to."""
        return next((d for d in self.datasets if key == d or key.startswith((f"{d}/", f"{d}: "))), key)

    @property
    def no_area_series(self) -> tuple[str, ...]:
        """Series whose dataset has no area under the chosen source (shown as n/a, never 0)."""
        return tuple(k for k in self.series if self.dataset_of(k) in self.filtered.no_area)

    def labelled(self, table: pd.DataFrame, column: str = "dataset") -> pd.DataFrame:
        """``table`` with series keys in ``column`` replaced by their display labels."""
        if column not in table.columns:
            return table
        return table.assign(**{column: [self.label(str(v)) for v in table[column]]})

    def label(self, name: str) -> str:
        """A dataset's or series' display name."""
        return self.styles.get(name, {}).get("label", name)

    def caption(self, *extra: str) -> str:
        """The definitions a figure used, as one caption line."""
        parts = [
            f"datasets: {', '.join(self.label(d) for d in self.datasets)}",
            splits_used(self.filtered.images, self.datasets),
            self.filters.description,
            *extra,
        ]
        return "; ".join(p for p in parts if p)

    def with_options(self, **changes: Any) -> ViewState:
        return replace(self, options=replace(self.options, **changes))

    def manifest(self, dataset: str, split: str) -> Manifest:
        """One split's typed manifest."""
        return self.caches.manifest(dataset, split)


T = TypeVar("T")


def kept_per_state(build: Callable[..., T]) -> Callable[..., T]:
    """``build(state, *inputs)`` (a view's export items), kept while the filter state's
    frames live, per view options: a rerun in a kept filter state (a toggle back, a page
    widget that another item reads) draws the same figures without building them again.

    Keyed on the filtered person frame (``frame_memo.kept``), the caches, options, datasets,
    series and root, and the identity of each further input (inputs built from the same
    state, themselves kept).  Figures and tables are shared: callers must not modify them;
    a list comes back as a new list.
    """

    @functools.wraps(build)
    def wrapper(state: ViewState, *inputs: object) -> T:
        key = (
            "export items",
            build.__module__,
            build.__qualname__,
            id(state.caches),
            id(state.filtered),
            state.options,
            state.datasets,
            state.series,
            str(state.root),
            *(id(i) for i in inputs),
        )
        value = kept(state.filtered.persons, key, lambda: build(state, *inputs))
        return list(value) if isinstance(value, list) else value  # type: ignore[return-value]

    return wrapper


def resolve(
    caches: Caches,
    filters: Filters,
    population: Population | None = None,
) -> tuple[Filtered, dict[str, dict[str, str]], tuple[str, ...], tuple[str, ...]]:
    """Apply the filters: the filtered frames, the styles (per dataset and per series),
    the datasets present and the series keys, in order.  ``population``: see ``apply_filters``."""
    filtered = apply_filters(caches.images, caches.persons, filters, population)
    datasets = present(filtered)
    series = series_order(filtered.images, filters.series, datasets)
    styles = {**dataset_styles(caches.identities), **series_styles(series, filtered.images, caches.identities)}
    return filtered, styles, tuple(datasets), tuple(series)


def splits_of(caches: Caches) -> list[str]:
    return sorted({k.split for k in caches.keys})


def state_from_params(
    caches: Caches,
    params: Mapping[str, object],
    options: ViewOptions = ViewOptions(),
    keypoints: KeypointLoader | None = None,
    root: Path = Path("data/cache"),
) -> ViewState:
    """A ViewState from URL query parameters (the dashboard's own parser)."""
    filtered, styles, datasets, series = resolve(caches, query.parse(params, caches.datasets, splits_of(caches)))
    return ViewState(caches, filtered, styles, datasets, series, options, keypoints, root)
