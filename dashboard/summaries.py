"""Per-dataset summary statistics shared by the dashboard's Overview and table export.

Pure pandas / numpy over the cache frames (never imports streamlit).  Inputs are
the frames the dashboard builds from ``images.parquet`` / ``instances.parquet``:
an image frame with a per-image person count and ``crowd_index`` (optionally
``entropy``), and a person frame with an int8 size-bucket code per person
(0 small, 1 medium, 2 large, -1 unknown area; see ``definitions.size_bucket_codes``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd

from analysis.definitions import SizeBucket

SUMMARY_COLUMNS = (
    "dataset",
    "images",
    "persons",
    "persons_per_image",
    "share_small",
    "share_medium",
    "share_large",
    "mean_crowd_index",
    "mean_entropy",
)


def series_column(frame: pd.DataFrame) -> pd.Series:
    """What rows are grouped by: the ``series`` column the dashboard's filters add (a
    dataset, dataset/split or source key), else ``dataset``."""
    return frame["series"] if "series" in frame.columns else frame["dataset"]


def group_masks(series: pd.Series, names: Sequence[str]) -> dict[str, np.ndarray]:
    """Boolean row mask per name.

    For a categorical column this compares integer codes, so a million rows cost
    no string copy; other dtypes compare values.
    """
    if isinstance(series.dtype, pd.CategoricalDtype):
        cats = {str(c): i for i, c in enumerate(series.cat.categories)}
        codes = series.cat.codes.to_numpy()
        return {n: codes == cats[n] if n in cats else np.zeros(len(codes), dtype=bool) for n in names}
    values = series.to_numpy()
    return {n: values == n for n in names}


def dataset_summary(
    images: pd.DataFrame,
    persons: pd.DataFrame,
    datasets: Sequence[str],
    *,
    count_column: str = "n_persons",
    bucket_column: str = "bucket",
    no_area: Sequence[str] = (),
) -> pd.DataFrame:
    """One row per dataset: images, persons, persons per image, S/M/L shares, means.

    Args:
        images: rows with ``dataset``, ``count_column``, ``crowd_index`` and
            optionally ``entropy`` (NaN where scenes were not computed).
        persons: rows with ``dataset`` and ``bucket_column`` (int codes).
        datasets: the datasets to report, in row order.
        count_column: the per-image person count to sum and average.
        bucket_column: the size-bucket code column.
        no_area: datasets without any area under the chosen source: their shares
            are NaN (not zero).

    Returns:
        A frame with ``SUMMARY_COLUMNS``.  Shares are over persons with a known
        area; ``mean_entropy`` is NaN where no image of the dataset has one.
    """
    rows = []
    img_ds = group_masks(series_column(images), datasets)
    per_ds = group_masks(series_column(persons), datasets)
    codes = persons[bucket_column].to_numpy() if len(persons) else np.zeros(0, dtype=np.int8)
    has_entropy = "entropy" in images.columns
    for name in datasets:
        im = images[img_ds[name]]
        n_images = len(im)
        n_persons = int(im[count_column].sum()) if n_images else 0
        shares = _bucket_shares(codes[per_ds[name]], unavailable=name in no_area)
        entropy = im["entropy"].to_numpy(dtype=float) if has_entropy else np.empty(0)
        entropy = entropy[~np.isnan(entropy)]
        ci = im["crowd_index"].to_numpy(dtype=float)
        ci = ci[~np.isnan(ci)]
        rows.append(
            {
                "dataset": name,
                "images": n_images,
                "persons": n_persons,
                "persons_per_image": n_persons / n_images if n_images else np.nan,
                **shares,
                "mean_crowd_index": float(ci.mean()) if len(ci) else np.nan,
                "mean_entropy": float(entropy.mean()) if len(entropy) else np.nan,
            }
        )
    return pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))


def _bucket_shares(codes: npt.NDArray[np.integer], *, unavailable: bool) -> dict[str, float]:
    """``share_<bucket>`` of each size bucket among ``codes`` with a known area (code >= 0);
    NaN when the dataset has no area under the source or no person with one."""
    known = codes[codes >= 0]
    if unavailable or len(known) == 0:
        return {f"share_{b.value}": np.nan for b in SizeBucket}
    counts = np.bincount(known, minlength=len(SizeBucket))
    return {f"share_{b.value}": counts[b.code] / len(known) for b in SizeBucket}
