"""What one line or bar group of a figure stands for: a dataset, a dataset/split, or a
dataset's source (sub-dataset), with its label and style.  Pure; no streamlit.

The key of a series is what figures group by (the ``series`` column the filters add);
its label is what the legend shows (the dataset's display name, then the split or
source); its style comes from the dataset's identity (``analysis.identity``), so the
splits or sources of one dataset share its colour and differ in hatch and dash.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from analysis.identity import ResolvedIdentity, default_style, resolve
from dashboard.frame_memo import kept

NO_SOURCE = "(no source)"


class SeriesBy(enum.StrEnum):
    """What a series is (URL key ``series``)."""

    DATASET = "dataset"
    SPLIT = "split"  #: dataset/split
    SOURCE = "source"  #: dataset: source (SmallPose's COCO / MPII / AIC / ... parts)

    @property
    def description(self) -> str:
        return {
            SeriesBy.DATASET: "one series per dataset (its selected splits together)",
            SeriesBy.SPLIT: "one series per dataset/split",
            SeriesBy.SOURCE: "one series per dataset source (sub-dataset)",
        }[self]


def series_keys(images: pd.DataFrame, by: SeriesBy) -> pd.Series:
    """(N,) categorical series key of every image row: ``name``, ``name/split`` or ``name: source``."""
    if by is SeriesBy.DATASET:  # the dataset column itself (categorical: no string work per row)
        column = images["dataset"]
        if isinstance(column.dtype, pd.CategoricalDtype):
            return column.cat.rename_categories([str(c) for c in column.cat.categories])
        return column.astype(str).astype("category")
    dataset = images["dataset"].astype(str)
    if by is SeriesBy.SPLIT:
        keys = dataset + "/" + images["split"].astype(str)
    else:
        source = images["source"].astype(object).where(images["source"].notna(), NO_SOURCE).astype(str)
        keys = dataset + ": " + source
    return keys.astype("category")


def series_order(images: pd.DataFrame, by: SeriesBy, datasets: Sequence[str]) -> list[str]:
    """Series keys present in ``images`` (with a ``series`` column): by dataset in ``datasets``
    order, then by split or source name."""
    rank = {name: i for i, name in enumerate(datasets)}
    ordered = sorted((rank[d], s) for d, s in distinct_pairs(images, "dataset", "series") if d in rank)
    return [s for _, s in ordered]


def series_styles(
    keys: Sequence[str],
    images: pd.DataFrame,
    identities: Mapping[str, ResolvedIdentity],
) -> dict[str, dict[str, str]]:
    """Colour, hatch (``pattern``), dash and legend ``label`` per series key.

    A whole-dataset series is drawn in its identity's style; a split or source series in
    its dataset's colour with the hatch and dash its own key hashes to.
    """
    dataset_of = {s: d for d, s in distinct_pairs(images, "dataset", "series")}
    out = {}
    for key in keys:
        name = dataset_of.get(key, key)
        ident = identities.get(name) or resolve(name)
        if key == name:
            style, label = ident.style, ident.display_name
        else:
            own = default_style(key)
            style = type(own)(ident.style.color, own.hatch, own.dash)
            label = ident.display_name + key[len(name) :]
        out[key] = {"color": style.color, "pattern": style.hatch, "dash": style.dash, "label": label}
    return out


def distinct_pairs(frame: pd.DataFrame, first: str, second: str) -> list[tuple[str, str]]:
    """The distinct (``first``, ``second``) value pairs of ``frame`` as strings, in order of first occurrence.

    Captions and styles ask for these on every rerun: for two categorical columns the pairs
    come from the integer codes (one ``np.unique`` over a million rows, no string copy);
    other dtypes fall back to ``drop_duplicates``.  A missing value is named ``nan`` on both
    paths.  The result is kept while ``frame`` lives (a view's six captions and the reruns of
    a kept filter state ask about the same frame; the dashboard's frames are read-only).
    """
    return list(kept(frame, ("distinct pairs", first, second), lambda: _distinct_pairs(frame, first, second)))


def _distinct_pairs(frame: pd.DataFrame, first: str, second: str) -> list[tuple[str, str]]:
    a, b = frame[first], frame[second]
    if not (isinstance(a.dtype, pd.CategoricalDtype) and isinstance(b.dtype, pd.CategoricalDtype)):
        pairs = frame[[first, second]].drop_duplicates()
        return [(_text(x), _text(y)) for x, y in pairs.itertuples(index=False, name=None)]
    ca, cb = a.cat.codes.to_numpy(), b.cat.codes.to_numpy()  # int8 / int16 codes, -1: missing
    # Each pair's first row is the start of its first run of equal rows: the dashboard's
    # frames come grouped by split, so pairs are looked up among a few run starts (one
    # comparison of the small codes per row) instead of sorting every row's pair
    # (np.unique over 3M rows: 0.1 s).
    starts = np.flatnonzero(np.concatenate([[True], (ca[1:] != ca[:-1]) | (cb[1:] != cb[:-1])]))[: len(ca)]
    n_b = len(b.cat.categories) + 1
    combined = (ca[starts].astype(np.int64) + 1) * n_b + (cb[starts].astype(np.int64) + 1)  # -1 (missing) -> 0
    _, first_of_starts = np.unique(combined, return_index=True)  # each pair's earliest start
    first_rows = starts[first_of_starts]
    first_rows.sort()
    names_a = np.asarray(a.cat.categories.astype(str))
    names_b = np.asarray(b.cat.categories.astype(str))
    return [
        (str(names_a[ca[r]]) if ca[r] >= 0 else "nan", str(names_b[cb[r]]) if cb[r] >= 0 else "nan") for r in first_rows
    ]


def _text(value: object) -> str:
    return "nan" if pd.isna(value) else str(value)


def splits_used(images: pd.DataFrame, datasets: Sequence[str]) -> str:
    """'name: split, split; ...' for the caption: which splits a figure's numbers come from."""
    if not len(images):
        return ""
    pairs = distinct_pairs(images, "dataset", "split")
    parts = []
    for name in datasets:
        splits = sorted(s for d, s in pairs if d == name)
        if splits:
            parts.append(f"{name} {'+'.join(splits)}")
    return "splits: " + ", ".join(parts) if parts else ""
