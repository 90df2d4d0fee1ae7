"""Cached data functions (Streamlit): one load per cache, shared by every session.

Loaded frames are returned by reference (``st.cache_resource``) and treated as
read-only by every view; the key includes the manifests' modification times, so a
rebuild is picked up on the next rerun without restarting the server.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st

from analysis.cache import CacheKey
from dashboard import loading, paths


@st.cache_resource(show_spinner="Loading caches ...", max_entries=2)
def _caches(root: str, stamp: tuple) -> loading.Caches:
    return loading.load_caches(Path(root))


def caches() -> loading.Caches:
    root = paths.cache_root()
    return _caches(str(root), paths.cache_stamp(root))


@st.cache_resource(show_spinner="Loading keypoints ...", max_entries=8)
def _keypoints(root: str, dataset: str, split: str, stamp: tuple) -> np.ndarray:
    return loading.load_keypoints(Path(root), CacheKey(dataset, split))


def keypoints(dataset: str, split: str) -> np.ndarray:
    """(N, 3K) keypoints of one split, rows as in its instances file (loaded on demand)."""
    root = paths.cache_root()
    return _keypoints(str(root), dataset, split, paths.cache_stamp(root))
