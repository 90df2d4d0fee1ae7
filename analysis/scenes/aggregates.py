"""Dataset-level scene figures from a scenes.parquet DataFrame.

The dashboard calls these on ``analysis.cache.contract.read_scenes(...)``; they are pure
functions of the DataFrame (columns ``entropy``, ``top5_ids``, ``p_indoor``) and
never read files.  Conventions, stated once here and in every result:

- **Entropy unit.** The ``entropy`` column is in the base the scenes were
  computed with (``manifest.scenes.entropy_base``: None = e = nats).  Pass it
  as ``entropy_base``; results are in the same unit.
- **Mean / variance of per-image entropy** (the SmallPose paper's Table 4): the
  arithmetic mean and the *population* variance (``ddof=0``, divide by N) by
  default; ``ddof=1`` gives the sample variance (divide by N-1).  With N in the
  thousands the two differ in the fourth digit at most.
- **Top-k categories**: counted over each image's top-1 class; share = count / N.
- **Indoor share**: fraction of images whose ``p_indoor`` (softmax mass on the
  categories IO_places365.txt marks indoor) is >= 0.5; ``mean_p_indoor`` is the
  soft version (mean of ``p_indoor``).
- **Top-1 histogram entropy**: entropy of the normalised histogram of top-1
  classes over the dataset, in the same unit as above; its *effective number*
  exp(H in nats) is the number of equally frequent categories that would give the
  same entropy (unit free).

Names of categories come from a :class:`~analysis.scenes.labels.SceneLabels`, a
plain list of 365 names, or ``manifest.scenes.categories`` (see
:func:`labels_from_manifest`); without any, classes are named ``class_<id>``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from analysis.cache.manifest import Manifest
from analysis.scenes.entropy import convert_entropy, entropy
from analysis.scenes.labels import N_CLASSES, SceneLabels

DEFAULT_TOP_K = 10
INDOOR_THRESHOLD = 0.5


def entropy_unit(base: float | None) -> str:
    """Human name of an entropy unit: ``nats`` (None / e), ``bits`` (2), ``log_b units``."""
    if base is None or math.isclose(base, math.e):
        return "nats"
    if base == 2:
        return "bits"
    return f"log{base:g} units"


@dataclass(frozen=True)
class CategoryShare:
    """One category of the top-k list."""

    class_id: int
    name: str
    count: int  #: images whose top-1 class is this one
    share: float  #: count / number of images


@dataclass(frozen=True)
class SceneAggregates:
    """Everything the dashboard shows about a dataset's scenes (see module docstring)."""

    n_images: int
    entropy_base: float | None  #: unit of the entropy fields (None = nats)
    entropy_unit: str
    entropy_mean: float  #: mean of per-image entropy (Table 4)
    entropy_variance: float  #: variance of per-image entropy (Table 4), ``variance_ddof``
    variance_ddof: int
    top_categories: tuple[CategoryShare, ...]
    indoor_share: float  #: share of images with p_indoor >= indoor_threshold
    mean_p_indoor: float
    indoor_threshold: float
    top1_entropy: float  #: entropy of the dataset-level top-1 histogram
    top1_effective_number: float  #: exp(top-1 entropy in nats)
    n_categories_seen: int  #: distinct top-1 classes

    @property
    def outdoor_share(self) -> float:
        return 1.0 - self.indoor_share if self.n_images else math.nan

    def top_table(self) -> pd.DataFrame:
        """Top categories as a DataFrame: class_id, name, count, share."""
        return pd.DataFrame([asdict(c) for c in self.top_categories], columns=["class_id", "name", "count", "share"])


def _names(labels: SceneLabels | Sequence[str] | None) -> list[str]:
    if labels is None:
        return [f"class_{i}" for i in range(N_CLASSES)]
    if isinstance(labels, SceneLabels):
        return list(labels.names)
    return list(labels)


def labels_from_manifest(manifest: Manifest | None) -> list[str] | None:
    """Category names stored in a cache manifest by the scenes run, if any."""
    if manifest is None or manifest.scenes is None:
        return None
    return list(manifest.scenes.categories) or None


#: Optional column of a scenes frame: each image's top-1 class (``top5_ids[0]``), precomputed
#: once per load by ``dashboard.caches`` so a rerun never walks the per-row lists.
TOP1_COLUMN = "top1_id"


def top1_ids(scenes: pd.DataFrame) -> npt.NDArray[np.int64]:
    """(N,) the top-1 class of each image (first element of ``top5_ids``)."""
    if len(scenes) == 0:
        return np.zeros(0, dtype=np.int64)
    if TOP1_COLUMN in scenes.columns:  # the dashboard's loaded frames carry it (one vectorised read)
        return scenes[TOP1_COLUMN].to_numpy(dtype=np.int64)
    return np.fromiter((ids[0] for ids in scenes["top5_ids"]), dtype=np.int64, count=len(scenes))


def top1_histogram(scenes: pd.DataFrame, n_classes: int = N_CLASSES) -> npt.NDArray[np.int64]:
    """(n_classes,) number of images per top-1 class."""
    return np.bincount(top1_ids(scenes), minlength=n_classes).astype(np.int64)


def entropy_mean_variance(values: npt.ArrayLike, ddof: int = 0) -> tuple[float, float]:
    """Mean and variance (``ddof`` 0 = population, 1 = sample) of per-image entropy.

    NaN for an empty input (and for the variance of one value with ``ddof=1``).
    """
    h = np.asarray(values, dtype=np.float64)
    if h.size == 0:
        return math.nan, math.nan
    var = float(h.var(ddof=ddof)) if h.size > ddof else math.nan
    return float(h.mean()), var


def histogram_entropy(counts: npt.ArrayLike, base: float | None = None) -> float:
    """Entropy of a histogram normalised to probabilities (NaN when it is empty)."""
    c = np.asarray(counts, dtype=np.float64)
    total = c.sum()
    if total <= 0:
        return math.nan
    return float(entropy(c / total, base=base))


def effective_number(counts: npt.ArrayLike) -> float:
    """exp(H in nats) of a histogram: the number of equally used categories it equals."""
    h = histogram_entropy(counts)
    return math.exp(h) if not math.isnan(h) else math.nan


def top_categories(
    scenes: pd.DataFrame, labels: SceneLabels | Sequence[str] | None = None, k: int = DEFAULT_TOP_K
) -> pd.DataFrame:
    """The ``k`` most frequent top-1 categories: class_id, name, count, share.

    Ordered by count (descending), ties by class id; categories never top-1 are
    left out, so fewer than ``k`` rows are possible.
    """
    counts = top1_histogram(scenes)
    n = int(counts.sum())
    names = _names(labels)
    ranked = np.lexsort((np.arange(len(counts)), -counts))
    order = [int(i) for i in ranked if counts[i] > 0][:k]
    return pd.DataFrame(
        {
            "class_id": order,
            "name": [names[i] for i in order],
            "count": [int(counts[i]) for i in order],
            "share": [counts[i] / n for i in order],
        },
        columns=["class_id", "name", "count", "share"],
    )


def indoor_share(scenes: pd.DataFrame, threshold: float = INDOOR_THRESHOLD) -> float:
    """Share of images with ``p_indoor >= threshold`` (NaN when empty)."""
    p = scenes["p_indoor"].to_numpy(dtype=np.float64)
    return float((p >= threshold).mean()) if p.size else math.nan


def scene_aggregates(
    scenes: pd.DataFrame,
    labels: SceneLabels | Sequence[str] | None = None,
    top_k: int = DEFAULT_TOP_K,
    *,
    entropy_base: float | None = None,
    ddof: int = 0,
    indoor_threshold: float = INDOOR_THRESHOLD,
    to_base: float | None = None,
) -> SceneAggregates:
    """All dataset-level scene figures of one scenes.parquet DataFrame.

    Args:
        scenes: scenes.parquet rows (one dataset split, or several concatenated).
        labels: category names (SceneLabels, a list of 365 names, or None).
        top_k: length of the top-category list.
        entropy_base: base the ``entropy`` column is in (None = nats).
        ddof: variance convention, 0 population (default), 1 sample.
        indoor_threshold: p_indoor at or above which an image counts as indoor.
        to_base: report entropies in this base instead (``math.e`` for nats); None keeps
            ``entropy_base``.
    """
    out_base = entropy_base if to_base is None else to_base
    h = convert_entropy(scenes["entropy"].to_numpy(dtype=np.float64), entropy_base, out_base)
    mean, var = entropy_mean_variance(h, ddof=ddof)
    counts = top1_histogram(scenes)
    top = top_categories(scenes, labels, top_k)
    p = scenes["p_indoor"].to_numpy(dtype=np.float64)
    return SceneAggregates(
        n_images=len(scenes),
        entropy_base=out_base,
        entropy_unit=entropy_unit(out_base),
        entropy_mean=mean,
        entropy_variance=var,
        variance_ddof=ddof,
        top_categories=tuple(
            CategoryShare(int(r.class_id), str(r.name), int(r.count), float(r.share))
            for r in top.itertuples(index=False)
        ),
        indoor_share=indoor_share(scenes, indoor_threshold),
        mean_p_indoor=float(p.mean()) if p.size else math.nan,
        indoor_threshold=indoor_threshold,
        top1_entropy=histogram_entropy(counts, base=out_base),
        top1_effective_number=effective_number(counts),
        n_categories_seen=int((counts > 0).sum()),
    )


def entropy_table(aggregates: Mapping[str, SceneAggregates]) -> pd.DataFrame:
    """Table-4 style comparison: one row per dataset with mean and variance of H.

    Columns: dataset, n_images, entropy_mean, entropy_variance, unit, variance_ddof,
    top1_entropy, top1_effective_number, indoor_share.
    """
    rows = [
        {
            "dataset": name,
            "n_images": a.n_images,
            "entropy_mean": a.entropy_mean,
            "entropy_variance": a.entropy_variance,
            "unit": a.entropy_unit,
            "variance_ddof": a.variance_ddof,
            "top1_entropy": a.top1_entropy,
            "top1_effective_number": a.top1_effective_number,
            "indoor_share": a.indoor_share,
        }
        for name, a in aggregates.items()
    ]
    return pd.DataFrame(rows)
