"""Browse's pure helpers for what a page can show: only images whose file can be opened,
and why a "missed small persons" selection is empty (no streamlit here)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd


def with_image_files(shown: pd.DataFrame, path_of: Callable[[str, str, str], Path | None]) -> tuple[pd.DataFrame, int]:
    """The rows whose image file exists, and how many were left out.

    ``path_of(dataset, split, file_name)``: the file's allowed path, or None where it may
    not be opened (no image root, a refused root or name), as the page draws it.
    """
    if shown.empty:
        return shown, 0
    found = np.fromiter(
        (
            (p := path_of(str(d), str(s), str(n))) is not None and p.is_file()
            for d, s, n in zip(shown["dataset"], shown["split"], shown["file_name"], strict=True)
        ),
        dtype=bool,
        count=len(shown),
    )
    return shown[found], int((~found).sum())


def empty_selection_message(missed_small: bool, n_small_persons: int | None, size_description: str) -> str:
    """Why no image is shown: no small ground truth under the size definition (nothing a
    slider can change), or ranges and filters that leave nothing."""
    if missed_small and n_small_persons == 0:
        return (
            f"No small ground truth under this definition ({size_description}): no image can miss a "
            "small person. Change the size definition in the sidebar to see small persons."
        )
    return "No image in these ranges: widen the sliders or the sidebar filters."
