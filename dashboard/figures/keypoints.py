"""Per-joint labelled and visible rates by size bucket, for any skeleton."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from analysis.definitions import SizeBucket, VisibilityConvention
from dashboard.figures.common import BUCKET_COLORS, empty_figure, finish

BUCKET_NAMES = tuple(b.value for b in SizeBucket)


@dataclass(frozen=True)
class JointRateGroup:
    """Per-joint rates of one dataset's splits that share a joint list."""

    label: str  #: the dataset, plus its splits when it has several joint lists
    joints: tuple[str, ...]
    splits: tuple[str, ...]
    rule: VisibilityConvention
    table: pd.DataFrame  #: ``joint_rates``'s frame


def joint_rate_groups(
    name: str, persons: pd.DataFrame, keypoints: Callable[[str], np.ndarray],
    schema: Callable[[str, int], Sequence[str]], rule: Callable[[str], VisibilityConvention],
) -> list[JointRateGroup]:
    """Group one dataset's splits by joint list and compute each group's rates.

    Args:
        name: the dataset.
        persons: its persons after the filters, with ``split``, ``instance_row`` (row in the
            split's instances file) and ``bucket``.
        keypoints: split -> (N, 3K) keypoints of every instance row.
        schema: (split, K) -> joint names.
        rule: split -> its visibility rule (splits with different rules are grouped apart).
    """
    groups: dict[tuple[tuple[str, ...], VisibilityConvention], dict[str, list]] = {}
    for split in sorted(str(s) for s in persons["split"].unique()):
        rows = persons[(persons["split"] == split).to_numpy()]
        kp = keypoints(split)
        joints = tuple(schema(split, kp.shape[1] // 3))
        g = groups.setdefault((joints, rule(split)), {"vis": [], "buckets": [], "splits": []})
        g["vis"].append(kp[rows["instance_row"].to_numpy(), 2::3])
        g["buckets"].append(rows["bucket"].to_numpy())
        g["splits"].append(split)
    out = []
    for (joints, r), g in groups.items():
        table = joint_rates(np.concatenate(g["vis"]), np.concatenate(g["buckets"]), list(joints),
                            binary_visibility=r is VisibilityConvention.BINARY)
        if r is VisibilityConvention.NOT_VISIBILITY:
            table["visible"] = np.nan
        label = name if len(groups) == 1 else f"{name} ({', '.join(g['splits'])})"
        out.append(JointRateGroup(label, joints, tuple(g["splits"]), r, table))
    return out


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


def joint_label(joints: pd.Series) -> np.ndarray:
    """Joint names as a reader writes them on an axis (``left_shoulder`` -> ``left shoulder``);
    tables keep the names of the keypoint schema."""
    return joints.astype(str).str.replace("_", " ", regex=False).to_numpy()


def joint_rates_figure(
    table: pd.DataFrame, *, dataset: str, caption: str = "", show_visible: bool = True,
) -> go.Figure:
    """Two panels (labelled, visible): joints on x, one bar per size bucket; the labelled
    panel alone when ``show_visible`` is False (a flag that is not COCO visibility)."""
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
        panels = (("y", "labelled"), ("y2", "visible")) if show_visible else (("y", "labelled"),)
        for axis, col in panels:
            traces.append(go.Bar(
                x=joint_label(part["joint"]), y=part[col].to_numpy(), name=f"{bucket} (n={n:,})",
                legendgroup=bucket, showlegend=axis == "y", yaxis=axis,
                marker={"color": BUCKET_COLORS[bucket],
                        "pattern": {"shape": {"small": "", "medium": "/", "large": "."}[bucket]}},
            ))
    if not show_visible:
        fig = go.Figure(data=traces, layout={"yaxis": {"range": [0, 1]}})
        fig.update_layout(barmode="group")
        return finish(fig, title=f"Per-joint labelled rate: {dataset}", caption=caption, x_title="",
                      y_title="labelled rate (v > 0)")
    fig = go.Figure(data=traces, layout={
        "yaxis": {"domain": [0.54, 1.0], "range": [0, 1], "title": {"text": "labelled (v > 0)"}},
        "yaxis2": {"domain": [0.0, 0.46], "range": [0, 1], "title": {"text": "visible"}},
        "xaxis": {"anchor": "y2"},
    })
    fig.update_layout(barmode="group")
    fig = finish(fig, title=f"Per-joint rates: {dataset}", caption=caption, x_title="", y_title="")
    fig.update_layout(yaxis_title_text="labelled rate", yaxis2_title_text="visible rate")
    return fig
