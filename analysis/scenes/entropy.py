"""Entropy of the 365-way scene softmax (pure numpy).

H(p) = -sum_i p_i log p_i, with 0 log 0 = 0, in nats by default; ``base`` changes
the unit (2: bits, 365: normalised to [0, 1] for 365 classes).  A uniform
distribution over 365 classes has H = ln 365 ~ 5.8999 nats; a one-hot one has 0.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

TOP_K = 5


def entropy_base_problem(base: float | None) -> str | None:
    """Why ``base`` cannot be the logarithm base of an entropy; None when it can (None = e).

    The one rule the CLI, :class:`~analysis.scenes.options.SceneOptions` and the
    functions below apply: positive, finite and not 1.
    """
    if base is None or (base > 0 and base != 1 and not math.isinf(base)):
        return None
    return f"entropy base must be positive, finite and not 1, got {base:g}"


def _log_base(base: float | None) -> float:
    problem = entropy_base_problem(base)
    if problem:
        raise ValueError(problem)
    return 1.0 if base is None else math.log(base)


def entropy(probs: npt.ArrayLike, base: float | None = None, axis: int = -1) -> npt.NDArray[np.float64]:
    """Shannon entropy of probability vectors along ``axis``.

    Args:
        probs: (..., K) non-negative values summing to 1 along ``axis``.
        base: logarithm base; None (default) is e, giving nats.

    Returns:
        (...) float64 entropies.
    """
    p = np.asarray(probs, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0)
    return -terms.sum(axis=axis) / _log_base(base)


def convert_entropy(h: npt.ArrayLike, from_base: float | None, to_base: float | None) -> npt.NDArray[np.float64]:
    """Re-express entropies measured in ``from_base`` in ``to_base`` (None = e)."""
    return np.asarray(h, dtype=np.float64) * _log_base(from_base) / _log_base(to_base)


def log_softmax(logits: npt.ArrayLike, axis: int = -1) -> npt.NDArray[np.float64]:
    """Numerically stable log-softmax in float64."""
    x = np.asarray(logits, dtype=np.float64)
    x = x - x.max(axis=axis, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=axis, keepdims=True))


def scene_stats_from_logits(
    logits: npt.ArrayLike,
    indoor: npt.NDArray[np.bool_],
    base: float | None = None,
    k: int = TOP_K,
) -> dict[str, np.ndarray]:
    """Per-image scene statistics from the classifier's logits.

    Args:
        logits: (N, 365) raw network outputs (any float dtype).
        indoor: (365,) True for indoor categories (IO_places365.txt label 1).
        base: entropy base (None = nats).
        k: how many top categories to keep.

    Returns:
        ``entropy`` (N,) float64, ``top5_ids`` (N, k) int16 in descending probability
        (ties: lower class id first), ``top5_probs`` (N, k) float32, ``p_indoor``
        (N,) float64 = sum of the softmax over indoor categories.
    """
    logp = log_softmax(logits)
    p = np.exp(logp)
    h = -(p * logp).sum(axis=1) / _log_base(base)
    order = np.argsort(-p, axis=1, kind="stable")[:, :k]
    top_p = np.take_along_axis(p, order, axis=1)
    p_indoor = p[:, np.asarray(indoor, dtype=bool)].sum(axis=1)
    return {
        "entropy": h,
        "top5_ids": order.astype(np.int16),
        "top5_probs": top_p.astype(np.float32),
        "p_indoor": p_indoor,
    }
