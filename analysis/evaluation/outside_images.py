"""Evaluating a results file made for a larger split (a full split's file on one of its
subsets): keep the predictions of the split's images, count the rest.

A filter step after the predictions are read and validated (the reader itself is
unchanged), asked for explicitly with ``evaluate --only-split-images``: without it an
image id the split does not have stays an error, since it usually means the wrong file.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from analysis.evaluation.predictions import Predictions, member_of

#: The option, as the error's hint and the notes name it.
OPTION = "--only-split-images"


def keep_split_images(predictions: Predictions, known_images: npt.NDArray[np.int64]) -> tuple[Predictions, int]:
    """The records whose image is in ``known_images`` (file order kept), and how many were dropped."""
    keep = member_of(predictions.image_id, known_images)
    dropped = int((~keep).sum())
    if not dropped:
        return predictions, 0
    # the reader may hold keypoints for only some rows (the per-image cut, made before decoding):
    # keep those of the kept images and renumber their rows in the filtered file order
    new_row = np.cumsum(keep) - 1
    held = keep[predictions.keypoint_rows]
    kept = Predictions(
        predictions.image_id[keep],
        predictions.category_id[keep],
        predictions.score[keep],
        predictions.keypoints[held],
        new_row[predictions.keypoint_rows[held]].astype(np.int64),
    )
    return kept, dropped
