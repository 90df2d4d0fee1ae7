"""Image bootstrap of every slice's AP, AP50, AP75 and AR from the stored OKS pairs.

A replicate draws the split's images (every image, with or without persons or
detections) with replacement, as many as the split has; an image drawn k times
counts k times, exactly as if the annotation file listed it k times under k ids
(matching is per image, so the matches repeat; the accumulation counts them k
times).  Nothing is matched again: the replicates re-weight the point estimate's
matches (:func:`analysis.evaluation.engine.accumulate_replicates`), all
replicates of a chunk at once.

Bounds are percentiles of the replicates (``numpy.quantile``, its default
``linear`` method): the central ``confidence`` interval is the
((1 - c) / 2, (1 + c) / 2) quantiles.  A replicate that draws no person of a
slice leaves the slice undefined; such replicates are left out of that slice's
quantiles (:func:`defined_share` says how many were kept).

Seeded: replicate b's draws come from ``numpy.random.default_rng(seed)``, so the
same seed and split give the same bounds on any machine (with the same numpy).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

from analysis.evaluation.definitions import OKS_THRESHOLDS
from analysis.evaluation.engine import accumulate_replicates
from analysis.evaluation.slices import SliceMatches
from analysis.evaluation.store import BootstrapSettings

METRICS = ("AP", "AP50", "AP75", "AR")
#: Slices with fewer persons are marked as resting on few persons in tables and figures.
FEW_PERSONS = 30
#: Replicates per chunk times detections: bounds the (chunk, N) temporaries to ~16 MB each.
_CHUNK_ELEMENTS = 1 << 20
#: Threads over replicate chunks (the results do not depend on it).
_WORKERS = min(4, os.cpu_count() or 1)

_T50 = int(np.flatnonzero(OKS_THRESHOLDS == 0.5)[0])
_T75 = int(np.flatnonzero(OKS_THRESHOLDS == 0.75)[0])


def image_weights(n_images: int, settings: BootstrapSettings) -> npt.NDArray[np.int32]:
    """(B, n_images) multiplicity of each image (images sorted by id) in each replicate."""
    if n_images == 0:
        return np.zeros((settings.B, 0), np.int32)
    rng = np.random.default_rng(settings.seed)
    draws = rng.integers(0, n_images, size=(settings.B, n_images))
    rows = np.arange(settings.B)[:, None] * n_images
    counts = np.bincount((draws + rows).ravel(), minlength=settings.B * n_images)
    return counts.reshape(settings.B, n_images).astype(np.int32)


def replicate_metrics(
    matches: SliceMatches, image_ids: npt.NDArray[np.int64], weights: npt.NDArray[np.integer]
) -> npt.NDArray[np.float64]:
    """(B, 4) AP, AP50, AP75, AR of one slice on each replicate; NaN where it has no person.

    Args:
        matches: the slice's matches from :func:`analysis.evaluation.slices.slice_matches`.
        image_ids: (I,) the split's image ids, sorted (the columns of ``weights``).
        weights: (B, I) multiplicity of each image in each replicate.
    """
    det_col = np.searchsorted(image_ids, matches.det_image)
    gt_per_image = np.bincount(np.searchsorted(image_ids, matches.gt_image), minlength=len(image_ids))
    n_gt = weights @ gt_per_image.astype(np.int64)
    out = np.empty((len(weights), len(METRICS)))
    chunk = max(1, _CHUNK_ELEMENTS // max(1, matches.matched.shape[1]))

    def run(lo: int) -> None:
        hi = min(lo + chunk, len(weights))
        acc = accumulate_replicates(matches.matched, matches.ignored, weights[lo:hi, det_col], n_gt[lo:hi])
        # Contiguous rows: each mean sums in the order of the point estimate's np.mean (bit-equal).
        precision = np.ascontiguousarray(acc.precision)
        out[lo:hi, 0] = precision.reshape(hi - lo, -1).mean(axis=1)
        out[lo:hi, 1] = np.ascontiguousarray(precision[:, _T50]).mean(axis=1)
        out[lo:hi, 2] = np.ascontiguousarray(precision[:, _T75]).mean(axis=1)
        out[lo:hi, 3] = np.ascontiguousarray(acc.recall).mean(axis=1)

    starts = range(0, len(weights), chunk)
    if len(starts) > 1 and _WORKERS > 1:
        # Chunks write disjoint rows; numpy releases the GIL in the heavy kernels.
        from concurrent.futures import ThreadPoolExecutor  # with logging: not for evaluate's start-up

        with ThreadPoolExecutor(max_workers=_WORKERS) as pool:
            list(pool.map(run, starts))
    else:
        for lo in starts:
            run(lo)
    return out


def all_replicates(
    matches: Mapping[str, SliceMatches],
    image_ids: npt.NDArray[np.int64],
    settings: BootstrapSettings,
    weights: npt.NDArray[np.integer] | None = None,
) -> dict[str, npt.NDArray[np.float64]]:
    """(B, 4) replicate metrics of every slice, from one set of image draws.

    Args:
        weights: (B, I) multiplicities to use instead of the seeded draws (another
            scheme, e.g. hotcoco's); by default :func:`image_weights`.
    """
    if weights is None:
        weights = image_weights(len(image_ids), settings)
    ids = np.sort(np.asarray(image_ids, dtype=np.int64))
    return {name: replicate_metrics(m, ids, weights) for name, m in matches.items()}


def percentile_interval(values: npt.NDArray[np.float64], confidence: float) -> tuple[float, float] | None:
    """The central ``confidence`` interval of the defined (non-NaN) values; None when none is."""
    values = np.asarray(values, dtype=np.float64)
    values = values[~np.isnan(values)]
    if not len(values):
        return None
    lo, hi = np.quantile(values, [(1 - confidence) / 2, (1 + confidence) / 2])
    return float(lo), float(hi)


def intervals(replicates: npt.NDArray[np.float64], confidence: float) -> dict[str, tuple[float, float] | None]:
    """Per metric, the percentile interval of a (B, 4) replicate array."""
    return {name: percentile_interval(replicates[:, i], confidence) for i, name in enumerate(METRICS)}


def slice_intervals(
    matches: Mapping[str, SliceMatches], image_ids: npt.NDArray[np.int64], settings: BootstrapSettings
) -> dict[str, dict[str, tuple[float, float] | None]]:
    """Per slice, the percentile interval of each metric."""
    reps = all_replicates(matches, image_ids, settings)
    return {name: intervals(r, settings.confidence) for name, r in reps.items()}


def defined_share(replicates: npt.NDArray[np.float64]) -> float:
    """The share of replicates in which the slice has a person (its metrics are defined)."""
    return float(np.mean(~np.isnan(replicates[:, 0]))) if len(replicates) else 0.0


def check_settings(b: int, confidence: float) -> None:
    """Raise ValueError naming the problem with a bootstrap request."""
    if b < 1:
        raise ValueError(f"--bootstrap must be a positive number of replicates, got {b}")
    if not 0 < confidence < 1:
        raise ValueError(f"--confidence must be between 0 and 1 (exclusive), got {confidence}")
