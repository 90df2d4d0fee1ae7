"""Colours, patterns and small helpers shared by the figure builders."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from analysis.aggregate import group_masks  # noqa: F401  (re-exported for the figure modules)

#: Okabe & Ito's colour-blind-safe palette, reordered so that neighbours also differ
#: in lightness (they stay apart in greyscale): blue, orange, bluish green, reddish
#: purple, sky blue, vermillion, black, yellow.
OKABE_ITO = (
    "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000", "#F0E442",
)
#: Bar fill patterns and line dashes by dataset position: these carry the identity
#: when a figure is printed in greyscale.
PATTERNS = ("", "/", ".", "x", "\\", "+", "-", "|")
DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot", "solid", "dash")

#: Fixed colours of the size buckets (boxes in the image browser, bucket bars).
BUCKET_COLORS = {"small": "#D55E00", "medium": "#009E73", "large": "#0072B2"}
LEVEL_COLORS = ("#56B4E9", "#E69F00", "#CC79A7")


def dataset_colors(all_datasets: Sequence[str]) -> dict[str, str]:
    """A stable colour per dataset: its sorted position among *all* cached datasets.

    Deriving the colour from the full list (not the current selection) keeps a
    dataset's colour the same whatever else is selected.
    """
    return {name: OKABE_ITO[i % len(OKABE_ITO)] for i, name in enumerate(sorted(set(all_datasets)))}


def dataset_styles(all_datasets: Sequence[str]) -> dict[str, dict[str, str]]:
    """Colour, bar pattern and line dash per dataset (stable, as ``dataset_colors``)."""
    names = sorted(set(all_datasets))
    return {
        name: {
            "color": OKABE_ITO[i % len(OKABE_ITO)],
            "pattern": PATTERNS[i % len(PATTERNS)],
            "dash": DASHES[i % len(DASHES)],
        }
        for i, name in enumerate(names)
    }


def style_for(styles: dict[str, dict[str, str]] | None, name: str, index: int) -> dict[str, str]:
    if styles and name in styles:
        return styles[name]
    return {
        "color": OKABE_ITO[index % len(OKABE_ITO)],
        "pattern": PATTERNS[index % len(PATTERNS)],
        "dash": DASHES[index % len(DASHES)],
    }


def empty_figure(message: str) -> go.Figure:
    """A figure that says why there is nothing to draw."""
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.update_layout(meta={"caption": message, "empty": True})
    return fig


def finish(fig: go.Figure, *, title: str, caption: str, x_title: str, y_title: str) -> go.Figure:
    """Common layout; the caption (definitions used) rides along in ``layout.meta``."""
    fig.update_layout(
        title={"text": title},
        xaxis_title=x_title,
        yaxis_title=y_title,
        legend_title_text="",
        meta={"caption": caption},
        margin={"l": 60, "r": 20, "t": 50, "b": 50},
    )
    return fig


def edge_line(fig: go.Figure, x: float, label: str, *, log_axis: bool = False) -> None:
    """A dotted vertical line at ``x`` labelled inside the plot's top edge (never over the legend).

    On a log x axis shapes take data values but annotations take log10 of them.
    """
    fig.add_vline(x=x, line={"dash": "dot", "color": "#555555", "width": 1})
    fig.add_annotation(x=float(np.log10(x)) if log_axis else x, y=1.0, xref="x", yref="paper", text=label,
                       showarrow=False,
                       xanchor="left", yanchor="top", xshift=2, font={"color": "#333333"},
                       bgcolor="rgba(255,255,255,0.8)")


def caption_of(fig: go.Figure) -> str:
    meta = fig.layout.meta
    return meta.get("caption", "") if isinstance(meta, dict) else ""


def y_label(normalise: str, what: str) -> str:
    return f"share of {what}" if normalise == "share" else f"number of {what}"

