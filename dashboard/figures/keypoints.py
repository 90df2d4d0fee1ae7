"""Per-joint labelled and visible rates by size bucket, for any skeleton."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

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
    v = np.nan_to_num(np.asarray(visibility, dtype=np.float32), nan=0.0)
    labelled = v > 0
    visible = v >= 1 if binary_visibility else v == 2
    rows = []
    for code, bucket in enumerate(BUCKET_NAMES):
        m = buckets == code
        n = int(m.sum())
        lab = labelled[m].mean(axis=0) if n else np.full(len(joint_names), np.nan)
        vis = visible[m].mean(axis=0) if n else np.full(len(joint_names), np.nan)
        for j, name in enumerate(joint_names):
            rows.append({"bucket": bucket, "joint": name, "persons": n,
                         "labelled": float(lab[j]), "visible": float(vis[j])})
    return pd.DataFrame(rows, columns=["bucket", "joint", "persons", "labelled", "visible"])


def joint_rates_figure(table: pd.DataFrame, *, dataset: str, caption: str = "") -> go.Figure:
    """Two panels (labelled, visible): joints on x, one bar per size bucket."""
    if table.empty or not (table["persons"] > 0).any():
        return empty_figure(f"{dataset}: no persons with keypoints match the current filters")
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        subplot_titles=["labelled (v > 0)", "visible"])
    for bucket in BUCKET_NAMES:
        part = table[table["bucket"] == bucket]
        if not (part["persons"] > 0).any():
            continue
        n = int(part["persons"].iloc[0])
        for row, col in ((1, "labelled"), (2, "visible")):
            fig.add_bar(x=part["joint"], y=part[col], name=f"{bucket} (n={n:,})",
                        legendgroup=bucket, showlegend=row == 1,
                        marker={"color": BUCKET_COLORS[bucket],
                                "pattern": {"shape": {"small": "", "medium": "/", "large": "."}[bucket]}},
                        row=row, col=1)
    fig.update_layout(barmode="group")
    fig.update_yaxes(range=[0, 1])
    return finish(fig, title=f"Per-joint rates: {dataset}", caption=caption, x_title="",
                  y_title="rate")
