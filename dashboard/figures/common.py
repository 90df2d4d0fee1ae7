"""Colours, patterns and small helpers shared by the figure builders."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import plotly.graph_objects as go

from analysis.definitions import Normalisation
from analysis.identity import COLORS, HATCHES, ResolvedIdentity, resolve
from analysis.identity import DASHES as LINE_DASHES
from dashboard.summaries import group_masks, series_column  # noqa: F401  (re-exported for the figure modules)

#: The colour-blind-safe colours and bar hatches of dataset styles (see analysis.identity).
OKABE_ITO = COLORS
PATTERNS = HATCHES
DASHES = LINE_DASHES

LEVEL_COLORS = ("#56B4E9", "#E69F00", "#CC79A7")


def dataset_styles(identities: Mapping[str, ResolvedIdentity]) -> dict[str, dict[str, str]]:
    """Colour, bar pattern, line dash and legend label per dataset, from its identity
    (set by the user, else derived from its name alone: never from what else is cached)."""
    return {
        name: {"color": i.style.color, "pattern": i.style.hatch, "dash": i.style.dash, "label": i.display_name}
        for name, i in identities.items()
    }


def style_for(styles: Mapping[str, Mapping[str, str]] | None, name: str, index: int = 0) -> dict[str, str]:
    """The style of series ``name`` (``index`` is unused: kept for callers' signatures)."""
    if styles and name in styles:
        return {"label": name, **styles[name]}
    ident = resolve(name)
    return {
        "color": ident.style.color,
        "pattern": ident.style.hatch,
        "dash": ident.style.dash,
        "label": ident.display_name,
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

    The line is the shape Plotly's ``add_vline`` makes on a figure without subplots (x in
    data units, y spanning the plot's domain), added directly: ``add_vline`` searches the
    figure's traces and axes for each line (about 5-10 ms per line; two lines per size and
    crowding histogram on every new filter state).  For a figure without subplots only.
    """
    fig.add_shape(
        type="line",
        x0=x,
        x1=x,
        xref="x",
        y0=0,
        y1=1,
        yref="y domain",
        line={"dash": "dot", "color": "#555555", "width": 1},
    )
    fig.add_annotation(
        x=float(np.log10(x)) if log_axis else x,
        y=1.0,
        xref="x",
        yref="paper",
        text=label,
        showarrow=False,
        xanchor="left",
        yanchor="top",
        xshift=2,
        font={"color": "#333333"},
        bgcolor="rgba(255,255,255,0.8)",
    )


def caption_of(fig: go.Figure) -> str:
    meta = fig.layout.meta
    return meta.get("caption", "") if isinstance(meta, dict) else ""


def y_label(normalise: Normalisation | str, what: str) -> str:
    return Normalisation(normalise).axis_title(what)
