"""People per image (the paper's Figure 7)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from analysis.definitions import Normalisation
from dashboard.figures.common import (
    empty_figure,
    finish,
    group_masks,
    series_column,
    style_for,
    y_label,
)
from dashboard.filters import Filters


def people_per_image_table(
    images: pd.DataFrame,
    datasets: Sequence[str],
    *,
    normalise: Normalisation | str = Normalisation.COUNT,
    column: str = "n_selected",
) -> pd.DataFrame:
    """Images per person count: index 0..largest crowd, one column per dataset.

    Args:
        images: rows with ``dataset`` and ``column`` (persons per image).
        datasets: columns, in order.
        normalise: ``"count"`` (images) or ``"share"`` (each column sums to 1).
    """
    masks = group_masks(series_column(images), datasets)
    n = images[column].to_numpy(dtype=np.int64)
    top = int(n.max()) if len(n) else 0
    data = {}
    for name in datasets:
        counts = np.bincount(n[masks[name]], minlength=top + 1).astype(float)
        counts = Normalisation(normalise).apply(counts)
        data[name] = counts
    table = pd.DataFrame(data, index=pd.RangeIndex(top + 1, name="persons per image"))
    return table


def people_axis(filters: Filters) -> tuple[str, str, str]:
    """What the people-per-image figure counts, its x-axis title, and its denominator.

    With a size bucket, counts and shares are over the images holding at least one
    person of that bucket (the others are filtered out), and the figure says so.

    Returns:
        (what, x axis title, denominator sentence for the caption).
    """
    population = f"persons={filters.population}"
    if filters.bucket is None:
        return (
            "persons",
            "persons per image",
            f"denominator: every selected image, those without a person counted at 0 ({population})",
        )
    what = f"{filters.bucket.value} persons"
    return (
        what,
        f"{what} per image (images with ≥ 1)",
        f"denominator: images with at least one {filters.bucket.value} person ({population}); "
        "images without one are left out",
    )


def people_per_image(
    images: pd.DataFrame,
    datasets: Sequence[str],
    *,
    normalise: Normalisation | str = Normalisation.COUNT,
    mode: str = "side",
    log_y: bool = False,
    styles: dict[str, dict[str, str]] | None = None,
    caption: str = "",
    x_title: str = "persons per image",
) -> go.Figure:
    """Bars of images per person count, per dataset, side by side (default) or overlaid.

    ``x_title`` names what is counted and over which images (with a size bucket, only
    the images holding at least one person of it)."""
    if not len(images) or not datasets:
        return empty_figure("no images match the current filters")
    table = people_per_image_table(images, datasets, normalise=normalise)
    fig = go.Figure()
    for i, name in enumerate(datasets):
        style = style_for(styles, name, i)
        fig.add_bar(
            x=table.index.to_numpy(),
            y=table[name].to_numpy(),
            name=style["label"],
            marker={"color": style["color"], "pattern": {"shape": style["pattern"]}},
            opacity=0.6 if mode == "overlay" and len(datasets) > 1 else 1.0,
            customdata=np.full(len(table), name),
            hovertemplate="%{x} persons: %{y}<extra>%{customdata}</extra>",
        )
    fig.update_layout(barmode="overlay" if mode == "overlay" else "group", bargap=0.1)
    if log_y:
        fig.update_yaxes(type="log")
    return finish(
        fig,
        title="People per image",
        caption=caption,
        x_title=x_title,
        y_title=y_label(normalise, "images"),
    )
