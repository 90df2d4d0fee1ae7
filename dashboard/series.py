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

import pandas as pd

from analysis.identity import ResolvedIdentity, default_style, resolve

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
    pairs = images[["dataset", "series"]].drop_duplicates()
    rank = {name: i for i, name in enumerate(datasets)}
    pairs = pairs[pairs["dataset"].astype(str).isin(rank)]
    ordered = sorted(((rank[str(d)], str(s)) for d, s in pairs.itertuples(index=False, name=None)))
    return [s for _, s in ordered]


def series_styles(
    keys: Sequence[str], images: pd.DataFrame, identities: Mapping[str, ResolvedIdentity],
) -> dict[str, dict[str, str]]:
    """Colour, hatch (``pattern``), dash and legend ``label`` per series key.

    A whole-dataset series is drawn in its identity's style; a split or source series in
    its dataset's colour with the hatch and dash its own key hashes to.
    """
    pairs = images[["dataset", "series"]].drop_duplicates()
    dataset_of = {str(s): str(d) for d, s in pairs.itertuples(index=False, name=None)}
    out = {}
    for key in keys:
        name = dataset_of.get(key, key)
        ident = identities.get(name) or resolve(name)
        if key == name:
            style, label = ident.style, ident.display_name
        else:
            own = default_style(key)
            style = type(own)(ident.style.color, own.hatch, own.dash)
            label = ident.display_name + key[len(name):]
        out[key] = {"color": style.color, "pattern": style.hatch, "dash": style.dash, "label": label}
    return out


def splits_used(images: pd.DataFrame, datasets: Sequence[str]) -> str:
    """'name: split, split; ...' for the caption: which splits a figure's numbers come from."""
    if not len(images):
        return ""
    pairs = images[["dataset", "split"]].drop_duplicates().astype(str)
    parts = []
    for name in datasets:
        splits = sorted(pairs.loc[pairs["dataset"].to_numpy() == name, "split"])
        if splits:
            parts.append(f"{name} {'+'.join(splits)}")
    return "splits: " + ", ".join(parts) if parts else ""
