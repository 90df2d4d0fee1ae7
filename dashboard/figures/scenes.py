"""Scenes: per-image entropy distributions, Table 4 (mean / variance) beside the
SmallPose paper's values, top scene categories and the indoor share.

Aggregates come from ``analysis.scenes.aggregates`` (population variance, ddof=0).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from analysis.definitions import Normalisation
from analysis.scenes.aggregates import SceneAggregates, entropy_table, scene_aggregates
from dashboard.figures.common import (
    empty_figure,
    finish,
    group_masks,
    series_column,
    style_for,
    y_label,
)
from dashboard.frame_memo import kept

#: SmallPose paper, Table 4: mean / variance of per-image scene entropy (nats), by the
#: ``paper_name`` a dataset's identity gives (``data/datasets.toml``).
REPORTED_TABLE4 = {
    "CrowdPose": (2.42, 1.47),
    "COCO": (2.61, 1.33),
    "SmallPose": (2.85, 1.48),
}


def reported_for(paper_name: str | None) -> tuple[float, float] | None:
    """The paper's Table 4 values for a ``paper_name`` (case-insensitive); None when the
    dataset names none or the paper reports none for it.  Never guessed from a dataset's
    own name: a 79-image COCO sample is not the paper's COCO."""
    if not paper_name:
        return None
    wanted = paper_name.strip().casefold()
    return next((v for k, v in REPORTED_TABLE4.items() if k.casefold() == wanted), None)


def with_series(scenes: pd.DataFrame, images: pd.DataFrame) -> pd.DataFrame:
    """Scene rows of the filtered ``images`` (matched by ``image_index``), with their image's ``series``.

    Kept while ``images`` lives (``frame_memo.kept``; the entry holds ``scenes`` too, so its id
    names it): every rerun of a kept filter state gets the same frame, and with it the kept
    aggregates below.  Read-only, like the filtered frames.  ``series`` keeps the images'
    dtype (a categorical from the filters: grouping then compares integer codes; as strings
    a new filter state of 560,000 scene rows spent 0.3 s converting and comparing them).
    """

    def select() -> tuple[pd.DataFrame, pd.DataFrame]:
        keep = scenes["image_index"].isin(images.index).to_numpy()
        part = scenes[keep]
        return scenes, part.assign(series=images["series"].reindex(part["image_index"].to_numpy()).array)

    return kept(images, ("scenes with series", id(scenes)), select)[1]


def aggregates_by_dataset(
    scenes: pd.DataFrame,
    datasets: Sequence[str],
    *,
    labels: Sequence[str] | None = None,
    entropy_base: float | None = None,
    top_k: int = 10,
) -> dict[str, SceneAggregates]:
    """``scene_aggregates`` per dataset that has scene rows (kept per ``scenes`` frame: the
    entropy and the category items of a rerun, and the reruns of a kept filter state, ask
    for the same ones)."""
    key = ("scene aggregates", tuple(datasets), None if labels is None else tuple(labels), entropy_base, top_k)
    return dict(kept(scenes, key, lambda: _aggregates_by_dataset(scenes, datasets, labels, entropy_base, top_k)))


def _aggregates_by_dataset(
    scenes: pd.DataFrame,
    datasets: Sequence[str],
    labels: Sequence[str] | None,
    entropy_base: float | None,
    top_k: int,
) -> dict[str, SceneAggregates]:
    masks = group_masks(series_column(scenes), datasets)
    out = {}
    for name in datasets:
        part = scenes[masks[name]]
        if len(part):
            out[name] = scene_aggregates(part, labels, top_k, entropy_base=entropy_base)
    return out


#: Decimals the SmallPose paper prints Table 4 with (2.61 / 1.33).
TABLE4_DIGITS = 2
#: Table 4's LaTeX headers (the paper's layout: dataset, mean, variance).
TABLE4_HEADERS = {
    "dataset": "Dataset",
    "entropy_mean": "Mean",
    "entropy_variance": "Variance",
    "paper mean": "Mean (paper)",
    "paper variance": "Variance (paper)",
}


def table4(
    aggregates: Mapping[str, SceneAggregates],
    paper_names: Mapping[str, str | None] | None = None,
) -> pd.DataFrame:
    """Table 4 as the paper prints it: per series, the mean and (population) variance of
    per-image entropy, and the paper's values beside them; LaTeX at the paper's 2 decimals.
    The other scene statistics are ``scene_statistics_table``.

    Args:
        aggregates: per series key.
        paper_names: the ``paper_name`` of each series key's dataset (missing: none).
    """
    columns = list(TABLE4_HEADERS)
    table = entropy_table(aggregates)
    if table.empty:
        return pd.DataFrame(columns=columns)
    names = paper_names or {}
    reported = [reported_for(names.get(n)) for n in table["dataset"]]
    table["paper mean"] = [r[0] if r else np.nan for r in reported]
    table["paper variance"] = [r[1] if r else np.nan for r in reported]
    table = table[columns]
    table.attrs["latex"] = {"digits": TABLE4_DIGITS, "headers": dict(TABLE4_HEADERS)}
    return table


def scene_statistics_table(aggregates: Mapping[str, SceneAggregates]) -> pd.DataFrame:
    """The scene statistics beside Table 4: images with scene results, the entropy unit and
    variance ddof, the entropy and effective number of the top-1 category distribution,
    and the indoor share (p_indoor >= 0.5)."""
    columns = ["dataset", "n_images", "unit", "variance_ddof", "top1_entropy", "top1_effective_number", "indoor_share"]
    table = entropy_table(aggregates)
    out = pd.DataFrame(columns=columns) if table.empty else table[columns]
    # seven columns with long headers: stacked headers and a compact font fit an article's text width
    out.attrs["latex"] = {**(table.attrs.get("latex") or {}), "stack_headers": True, "compact": True}
    return out


def entropy_hist(
    scenes: pd.DataFrame,
    datasets: Sequence[str],
    *,
    n_bins: int = 40,
    normalise: Normalisation | str = Normalisation.COUNT,
    styles: dict[str, dict[str, str]] | None = None,
    caption: str = "",
    unit: str = "nats",
) -> go.Figure:
    """Step histogram of per-image scene entropy, one line per dataset."""
    h = scenes["entropy"].to_numpy(dtype=float) if len(scenes) else np.empty(0)
    finite = h[np.isfinite(h)]
    if not len(finite) or not datasets:
        return empty_figure("no scene entropy for the selected images")
    edges = np.linspace(0.0, max(float(finite.max()), 1e-6) * 1.0001, n_bins + 1)
    masks = group_masks(series_column(scenes), datasets)
    fig = go.Figure()
    for i, name in enumerate(datasets):
        v = h[masks[name] & np.isfinite(h)]
        if not len(v):
            continue
        counts = np.histogram(v, bins=edges)[0].astype(float)
        counts = Normalisation(normalise).apply(counts)
        style = style_for(styles, name, i)
        fig.add_scatter(
            x=edges,
            y=np.append(counts, counts[-1]),
            name=style["label"],
            mode="lines",
            line={"shape": "hv", "color": style["color"], "dash": style["dash"], "width": 2},
        )
    return finish(
        fig,
        title="Per-image scene entropy",
        caption=caption,
        x_title=f"entropy H ({unit})",
        y_title=y_label(normalise, "images"),
    )


def top_categories_figure(
    aggregates: Mapping[str, SceneAggregates],
    *,
    styles: dict[str, dict[str, str]] | None = None,
    caption: str = "",
) -> go.Figure:
    """Share of images per top-1 scene category (each dataset's top k, union)."""
    if not aggregates:
        return empty_figure("no scene entropy for the selected images")
    fig = go.Figure()
    for i, (name, agg) in enumerate(aggregates.items()):
        top = agg.top_table()
        style = style_for(styles, name, i)
        fig.add_bar(
            y=top["name"],
            x=top["share"],
            name=style["label"],
            orientation="h",
            marker={"color": style["color"], "pattern": {"shape": style["pattern"]}},
        )
    fig.update_layout(barmode="group", yaxis={"autorange": "reversed"})
    return finish(fig, title="Top scene categories (top-1)", caption=caption, x_title="share of images", y_title="")


def indoor_figure(
    aggregates: Mapping[str, SceneAggregates],
    *,
    caption: str = "",
    styles: Mapping[str, Mapping[str, str]] | None = None,
) -> go.Figure:
    """Indoor / outdoor share per dataset (stacked bars), labelled by each style's ``label``."""
    if not aggregates:
        return empty_figure("no scene entropy for the selected images")
    # aggregates are keyed by series key; the axis shows each key's label
    names = [style_for(styles, n)["label"] for n in aggregates]
    indoor = [agg.indoor_share for agg in aggregates.values()]
    fig = go.Figure()
    fig.add_bar(x=names, y=indoor, name="indoor", marker={"color": "#E69F00"})
    fig.add_bar(
        x=names, y=[1 - v for v in indoor], name="outdoor", marker={"color": "#0072B2", "pattern": {"shape": "/"}}
    )
    fig.update_layout(barmode="stack")
    return finish(fig, title="Indoor / outdoor", caption=caption, x_title="", y_title="share of images")
