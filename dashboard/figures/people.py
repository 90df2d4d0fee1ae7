"""People per image (the paper's Figure 7)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dashboard.figures.common import empty_figure, group_masks, finish, style_for, y_label


def people_per_image_table(
    images: pd.DataFrame, datasets: Sequence[str], *, normalise: str = "count",
    column: str = "n_sel",
) -> pd.DataFrame:
    """Images per person count: index 0..largest crowd, one column per dataset.

    Args:
        images: rows with ``dataset`` and ``column`` (persons per image).
        datasets: columns, in order.
        normalise: ``"count"`` (images) or ``"share"`` (each column sums to 1).
    """
    masks = group_masks(images["dataset"], datasets)
    n = images[column].to_numpy(dtype=np.int64)
    top = int(n.max()) if len(n) else 0
    data = {}
    for name in datasets:
        counts = np.bincount(n[masks[name]], minlength=top + 1).astype(float)
        if normalise == "share" and counts.sum() > 0:
            counts = counts / counts.sum()
        data[name] = counts
    table = pd.DataFrame(data, index=pd.RangeIndex(top + 1, name="persons per image"))
    return table


def people_per_image(
    images: pd.DataFrame,
    datasets: Sequence[str],
    *,
    normalise: str = "count",
    mode: str = "side",
    log_y: bool = False,
    styles: dict[str, dict[str, str]] | None = None,
    caption: str = "",
) -> go.Figure:
    """Bars of images per person count, per dataset, side by side (default) or overlaid."""
    if not len(images) or not datasets:
        return empty_figure("no images match the current filters")
    table = people_per_image_table(images, datasets, normalise=normalise)
    fig = go.Figure()
    for i, name in enumerate(datasets):
        st = style_for(styles, name, i)
        fig.add_bar(
            x=table.index.to_numpy(), y=table[name].to_numpy(), name=name,
            marker={"color": st["color"], "pattern": {"shape": st["pattern"]}},
            opacity=0.6 if mode == "overlay" and len(datasets) > 1 else 1.0,
            customdata=np.full(len(table), name),
            hovertemplate="%{x} persons: %{y}<extra>%{customdata}</extra>",
        )
    fig.update_layout(barmode="overlay" if mode == "overlay" else "group", bargap=0.1)
    if log_y:
        fig.update_yaxes(type="log")
    return finish(
        fig, title="People per image", caption=caption, x_title="persons per image",
        y_title=y_label(normalise, "images"),
    )
