"""Results kept per frame object while it lives.

The dashboard's filtered frames are read-only and kept per filter state
(``data.resolved``), so a rerun that returns to a kept filter state, or a page widget
that does not touch the global filters (the size view's area axis), asks for the same
per-series counts of the same frame again.  These are kept here, keyed on the frame's
identity and the arguments, and dropped when the frame is freed (its id may then be
reused by another frame).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Hashable
from typing import TypeVar, cast

import numpy as np
import pandas as pd

T = TypeVar("T")

_KEPT: dict[tuple[Hashable, ...], object] = {}


def kept(frame: pd.DataFrame | np.ndarray, key: tuple[Hashable, ...], compute: Callable[[], T]) -> T:
    """``compute()``, kept while ``frame`` (a frame or an array) lives under ``key`` (which
    names the computation and every argument besides the frame).  Only for frames and arrays
    nobody modifies in place; the caller must not modify the result either."""
    full = (id(frame), len(frame), *key)
    if full in _KEPT:
        return cast(T, _KEPT[full])
    value = _KEPT[full] = compute()
    weakref.finalize(frame, _KEPT.pop, full, None)
    return value
