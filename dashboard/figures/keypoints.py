"""Per-joint labelled and visible rates by size bucket, for any skeleton."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dashboard.figures.common import BUCKET_COLORS, empty_figure, finish

BUCKET_NAMES = ("small", "medium", "large")


def joint_rates(
    visibility: np.ndarray, buckets: np.ndarray, joint_names: Sequence[str], *,
    binary_visibility: bool = False,
) -> pd.DataFrame:
    """Labelled (v > 0) and visible (v == 2) rate of every joint, per size bucket.

    Args:
        visibility: (N, K) visibility flags of N persons (NaN where a ragged row is short).
        buckets: (N,) int bucket codes (0 small, 1 medium, 2 large, -1 unknown; -1 skipped).
        joint_names: (K,) names.
        binary_visibility: the file uses 0/1 only: v == 1 counts as visible.

    Returns:
        Long frame: bucket, joint, persons, labelled, visible (rates in [0, 1]).
    """
    v = np.asarray(visibility, dtype=np.float32)  # NaN > 0 and NaN == 2 are False
    labelled = v > 0
    visible = v >= 1 if binary_visibility else v == 2
    # Per-bucket sums as one (3, N) x (N, K) product instead of a mask per bucket;
    # float32 sums of 0/1 are exact up to 2^24 persons per bucket.
    onehot = (np.asarray(buckets)[None, :] == np.arange(len(BUCKET_NAMES))[:, None]).astype(np.float32)
    persons = onehot.sum(axis=1, dtype=np.float64)  # (3,)
    with np.errstate(invalid="ignore", divide="ignore"):
        labelled_rate = (onehot @ labelled.astype(np.float32)) / persons[:, None]  # (3, K), NaN if empty
        visible_rate = (onehot @ visible.astype(np.float32)) / persons[:, None]
    k = len(joint_names)
    return pd.DataFrame({
        "bucket": np.repeat(BUCKET_NAMES, k),
        "joint": np.tile(np.asarray(joint_names, dtype=object), len(BUCKET_NAMES)),
        "persons": np.repeat(persons.astype(np.int64), k),
        "labelled": labelled_rate.reshape(-1),
        "visible": visible_rate.reshape(-1),
    })


def joint_rates_figure(table: pd.DataFrame, *, dataset: str, caption: str = "") -> go.Figure:
    """Two panels (labelled, visible): joints on x, one bar per size bucket."""
    if table.empty or not (table["persons"] > 0).any():
        return empty_figure(f"{dataset}: no persons with keypoints match the current filters")
    # Two stacked panels on one shared x axis, laid out by hand: make_subplots
    # costs more than everything else this view does per rerun.
    traces = []
    for bucket in BUCKET_NAMES:
        part = table[table["bucket"] == bucket]
        if not (part["persons"] > 0).any():
            continue
        n = int(part["persons"].iloc[0])
        for axis, col in (("y", "labelled"), ("y2", "visible")):
            traces.append(go.Bar(
                x=part["joint"].to_numpy(), y=part[col].to_numpy(), name=f"{bucket} (n={n:,})",
                legendgroup=bucket, showlegend=axis == "y", yaxis=axis,
                marker={"color": BUCKET_COLORS[bucket],
                        "pattern": {"shape": {"small": "", "medium": "/", "large": "."}[bucket]}},
            ))
    fig = go.Figure(data=traces, layout={
        "yaxis": {"domain": [0.54, 1.0], "range": [0, 1], "title": {"text": "labelled (v > 0)"}},
        "yaxis2": {"domain": [0.0, 0.46], "range": [0, 1], "title": {"text": "visible"}},
        "xaxis": {"anchor": "y2"},
    })
    fig.update_layout(barmode="group")
    fig = finish(fig, title=f"Per-joint rates: {dataset}", caption=caption, x_title="", y_title="")
    fig.update_layout(yaxis_title_text="labelled rate", yaxis2_title_text="visible rate")
    return fig
