"""Per-joint labelled and visible rates by size bucket, for any skeleton."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from analysis.definitions import SizeBucket, VisibilityConvention
from dashboard.figures.common import empty_figure, finish
from dashboard.frame_memo import kept


@dataclass(frozen=True)
class JointRateGroup:
    """Per-joint rates of one dataset's splits that share a joint list."""

    label: str  #: the dataset, plus its splits when it has several joint lists
    joints: tuple[str, ...]
    splits: tuple[str, ...]
    rule: VisibilityConvention
    table: pd.DataFrame  #: ``joint_rates``'s frame


def joint_rate_groups(
    name: str,
    persons: pd.DataFrame,
    keypoints: Callable[[str], np.ndarray],
    schema: Callable[[str, int], Sequence[str]],
    rule: Callable[[str], VisibilityConvention],
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
    split_column = persons["split"]
    all_instance_rows, all_buckets = persons["instance_row"].to_numpy(), persons["bucket"].to_numpy()
    for split in sorted(str(s) for s in split_column.unique()):
        mine = (split_column == split).to_numpy()  # two columns taken, not the whole frame
        kp = keypoints(split)
        joints = tuple(schema(split, kp.shape[1] // 3))
        r = rule(split)
        g = groups.setdefault((joints, r), {"vis": [], "labelled": [], "visible": [], "buckets": [], "splits": []})
        instance_rows = all_instance_rows[mine]
        if len(joints) <= MAX_CODED_JOINTS:  # two ints per person instead of K flags
            labelled, visible = joint_flag_codes(kp, binary_visibility=r is VisibilityConvention.BINARY)
            g["labelled"].append(labelled[instance_rows])
            g["visible"].append(visible[instance_rows])
        else:
            g["vis"].append(kp[instance_rows, 2::3])
        g["buckets"].append(all_buckets[mine])
        g["splits"].append(split)
    out = []
    for (joints, r), g in groups.items():
        buckets = np.concatenate(g["buckets"])
        if g["vis"]:
            table = joint_rates(
                np.concatenate(g["vis"]), buckets, list(joints), binary_visibility=r is VisibilityConvention.BINARY
            )
        else:
            table = joint_rates_from_codes(
                np.concatenate(g["labelled"]), np.concatenate(g["visible"]), buckets, list(joints)
            )
        if r is VisibilityConvention.NOT_VISIBILITY:
            table["visible"] = np.nan
        label = name if len(groups) == 1 else f"{name} ({', '.join(g['splits'])})"
        out.append(JointRateGroup(label, joints, tuple(g["splits"]), r, table))
    return out


def joint_rates(
    visibility: np.ndarray,
    buckets: np.ndarray,
    joint_names: Sequence[str],
    *,
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
    codes = np.array([b.code for b in SizeBucket])
    onehot = (np.asarray(buckets)[None, :] == codes[:, None]).astype(np.float32)
    persons = onehot.sum(axis=1, dtype=np.float64)  # (3,)
    with np.errstate(invalid="ignore", divide="ignore"):
        labelled_rate = (onehot @ labelled.astype(np.float32)) / persons[:, None]  # (3, K), NaN if empty
        visible_rate = (onehot @ visible.astype(np.float32)) / persons[:, None]
    k = len(joint_names)
    return pd.DataFrame(
        {
            "bucket": np.repeat(SizeBucket.names(), k),
            "joint": np.tile(np.asarray(joint_names, dtype=object), len(SizeBucket)),
            "persons": np.repeat(persons.astype(np.int64), k),
            "labelled": labelled_rate.reshape(-1),
            "visible": visible_rate.reshape(-1),
        }
    )


#: Joint lists up to this long are counted from per-person bit codes (int64, bit j: joint j).
MAX_CODED_JOINTS = 63
#: Codes are counted 8 bits (joints) at a time: a count per (bucket, byte value), 3 x 256 bins,
#: whatever the person count; a joint's total only depends on its own byte.
_BYTE = 8
_BYTE_BITS = ((np.arange(1 << _BYTE)[:, None] >> np.arange(_BYTE)) & 1).astype(np.float64)  # (256, 8)


def joint_flag_codes(keypoints: np.ndarray, *, binary_visibility: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Per instance row, its labelled joints and its visible joints as bit codes (bit j: joint j).

    Computed once per keypoint array (the dashboard keeps each split's array loaded) and
    kept while the array lives, so a rerun gathers two ints per person instead of K flags.

    Args:
        keypoints: (N, 3K) x, y, v rows (NaN where a ragged row is short); K <= ``MAX_CODED_JOINTS``.
        binary_visibility: the file uses 0/1 only: v == 1 counts as visible.

    Returns:
        (N,) int64 labelled codes (v > 0), (N,) int64 visible codes (v == 2, or v >= 1 if binary).
    """

    def codes() -> tuple[np.ndarray, np.ndarray]:
        v = np.asarray(keypoints[:, 2::3], dtype=np.float32)  # NaN > 0 and NaN == 2 are False
        if v.shape[1] > MAX_CODED_JOINTS:
            raise ValueError(f"{v.shape[1]} joints: bit codes hold at most {MAX_CODED_JOINTS}")
        weights = np.left_shift(1, np.arange(v.shape[1], dtype=np.int64))
        labelled = (v > 0).astype(np.int64) @ weights
        visible = ((v >= 1) if binary_visibility else (v == 2)).astype(np.int64) @ weights
        return labelled, visible

    return kept(keypoints, ("joint flag codes", binary_visibility), codes)


def joint_rates_from_codes(
    labelled: np.ndarray,
    visible: np.ndarray,
    buckets: np.ndarray,
    joint_names: Sequence[str],
) -> pd.DataFrame:
    """:func:`joint_rates` from :func:`joint_flag_codes`: the same frame, counted per code byte.

    Args:
        labelled, visible: (N,) bit codes of N persons.
        buckets: (N,) int bucket codes (0 small, 1 medium, 2 large, -1 unknown; -1 skipped).
        joint_names: (K,) names, K <= ``MAX_CODED_JOINTS``.
    """
    k = len(joint_names)
    n_buckets = len(SizeBucket)
    buckets = np.asarray(buckets)
    # slot code + 1 per bucket (SizeBucket.names() is code order); -1 (unknown) and any code
    # outside 0..2 count in slot 0, which is dropped
    slot = np.where((buckets >= 0) & (buckets < n_buckets), buckets.astype(np.int64) + 1, 0)
    offset = slot << _BYTE

    def per_joint(codes: np.ndarray) -> np.ndarray:  # (3, K) persons with the joint's bit set
        as_bytes = np.ascontiguousarray(codes, dtype="<i8").view(np.uint8).reshape(-1, 8)  # byte b: joints 8b..8b+7
        out = []
        for b in range((k + _BYTE - 1) // _BYTE):
            counts = np.bincount(offset + as_bytes[:, b], minlength=(n_buckets + 1) << _BYTE)
            out.append(counts.reshape(n_buckets + 1, 1 << _BYTE)[1:].astype(np.float64) @ _BYTE_BITS)  # exact
        return np.concatenate(out, axis=1)[:, :k]

    persons = np.bincount(slot, minlength=n_buckets + 1)[1:].astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        labelled_rate = per_joint(labelled) / persons[:, None]  # NaN if the bucket is empty
        visible_rate = per_joint(visible) / persons[:, None]
    return pd.DataFrame(
        {
            "bucket": np.repeat(SizeBucket.names(), k),
            "joint": np.tile(np.asarray(joint_names, dtype=object), n_buckets),
            "persons": np.repeat(persons.astype(np.int64), k),
            "labelled": labelled_rate.reshape(-1),
            "visible": visible_rate.reshape(-1),
        }
    )


def joint_label(joints: pd.Series) -> np.ndarray:
    """Joint names as a reader writes them on an axis (``left_shoulder`` -> ``left shoulder``);
    tables keep the names of the keypoint schema."""
    return joints.astype(str).str.replace("_", " ", regex=False).to_numpy()


def joint_rates_figure(
    table: pd.DataFrame,
    *,
    dataset: str,
    caption: str = "",
    show_visible: bool = True,
) -> go.Figure:
    """Two panels (labelled, visible): joints on x, one bar per size bucket; the labelled
    panel alone when ``show_visible`` is False (a flag that is not COCO visibility)."""
    if table.empty or not (table["persons"] > 0).any():
        return empty_figure(f"{dataset}: no persons with keypoints match the current filters")
    # Two stacked panels on one shared x axis, laid out by hand: make_subplots
    # costs more than everything else this view does per rerun.
    traces = []
    for size_bucket in SizeBucket:
        bucket = size_bucket.value
        part = table[table["bucket"] == bucket]
        if not (part["persons"] > 0).any():
            continue
        n = int(part["persons"].iloc[0])
        panels = (("y", "labelled"), ("y2", "visible")) if show_visible else (("y", "labelled"),)
        for axis, col in panels:
            traces.append(
                go.Bar(
                    x=joint_label(part["joint"]),
                    y=part[col].to_numpy(),
                    name=f"{bucket} (n={n:,})",
                    legendgroup=bucket,
                    showlegend=axis == "y",
                    yaxis=axis,
                    marker={
                        "color": size_bucket.color,
                        "pattern": {"shape": {"small": "", "medium": "/", "large": "."}[bucket]},
                    },
                )
            )
    if not show_visible:
        fig = go.Figure(data=traces, layout={"yaxis": {"range": [0, 1]}})
        fig.update_layout(barmode="group")
        return finish(
            fig,
            title=f"Per-joint labelled rate: {dataset}",
            caption=caption,
            x_title="",
            y_title="labelled rate (v > 0)",
        )
    fig = go.Figure(
        data=traces,
        layout={
            "yaxis": {"domain": [0.54, 1.0], "range": [0, 1], "title": {"text": "labelled (v > 0)"}},
            "yaxis2": {"domain": [0.0, 0.46], "range": [0, 1], "title": {"text": "visible"}},
            "xaxis": {"anchor": "y2"},
        },
    )
    fig.update_layout(barmode="group")
    fig = finish(fig, title=f"Per-joint rates: {dataset}", caption=caption, x_title="", y_title="")
    fig.update_layout(yaxis_title_text="labelled rate", yaxis2_title_text="visible rate")
    return fig
