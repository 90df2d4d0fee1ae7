"""CrowdIndex (image level) and the per-person crowding ratio N_b / N_a.

The rule (DESIGN.md) reproduces the ``crowdIndex`` values CrowdPose ships:
N_a(i) = labelled joints (v > 0) of person i; N_b(i) = labelled joints of every
*other* annotation in the image (iscrowd ones included) that fall inside person
i's bbox, edges included; CrowdIndex = mean of N_b/N_a over reference persons
(stored num_keypoints >= 4, else the labelled count; never iscrowd), 0.0 when an
image has none.  Not clipped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from analysis.definitions import CROWD_INDEX_MIN_KEYPOINTS

#: Person-joint pairs tested per chunk; bounds memory on huge crowds (about 100 MB).
PAIRS_PER_CHUNK = 4_000_000


@dataclass(frozen=True)
class Crowding:
    """Crowding of every annotation and image.

    Attributes:
        n_labelled: (N,) labelled joints per annotation (N_a).
        n_inside_others: (N,) labelled joints of other annotations inside its bbox (N_b).
        ratio: (N,) N_b / N_a; NaN for iscrowd regions and where N_a == 0.
        is_reference: (N,) whether the annotation counts towards its image's CrowdIndex.
        crowd_index: (M,) per image.
        n_unusable_references: reference persons skipped because N_a == 0 (a file
            whose stored num_keypoints contradicts its keypoints).
    """

    n_labelled: npt.NDArray[np.int64]
    n_inside_others: npt.NDArray[np.int64]
    ratio: npt.NDArray[np.float64]
    is_reference: npt.NDArray[np.bool_]
    crowd_index: npt.NDArray[np.float64]
    n_unusable_references: int


def compute_crowding(
    keypoints: npt.NDArray[np.float64],
    bbox: npt.NDArray[np.float64],
    image_index: npt.NDArray[np.int64],
    iscrowd: npt.NDArray[np.bool_],
    num_keypoints: npt.NDArray[np.int64],
    n_images: int,
) -> Crowding:
    """Crowding ratios and CrowdIndex, vectorised over all annotations at once.

    Args:
        keypoints: (N, K, 3) x, y, v per annotation.
        bbox: (N, 4) x, y, w, h.
        image_index: (N,) row of each annotation's image, in [0, n_images).
        iscrowd: (N,) crowd-region flags.
        num_keypoints: (N,) stored ``num_keypoints``, -1 where absent.
        n_images: M, the number of images.
    """
    labelled = keypoints[..., 2] > 0
    n_labelled = labelled.sum(axis=1).astype(np.int64)
    n_inside = _labelled_joints_of_others_inside(keypoints, labelled, bbox, image_index, n_images)

    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = n_inside / n_labelled
    ratio = np.where(iscrowd | (n_labelled == 0), np.nan, ratio)

    stored_or_counted = np.where(num_keypoints >= 0, num_keypoints, n_labelled)
    is_reference = ~iscrowd & (stored_or_counted >= CROWD_INDEX_MIN_KEYPOINTS)
    usable = is_reference & (n_labelled > 0)
    ratio_sum = np.bincount(image_index[usable], weights=ratio[usable], minlength=n_images)
    n_refs = np.bincount(image_index[usable], minlength=n_images)
    with np.errstate(divide="ignore", invalid="ignore"):
        crowd_index = np.where(n_refs > 0, ratio_sum / n_refs, 0.0)
    return Crowding(
        n_labelled, n_inside, ratio, is_reference, crowd_index,
        int((is_reference & ~usable).sum()),
    )


def _labelled_joints_of_others_inside(
    keypoints: npt.NDArray[np.float64],
    labelled: npt.NDArray[np.bool_],
    bbox: npt.NDArray[np.float64],
    image_index: npt.NDArray[np.int64],
    n_images: int,
) -> npt.NDArray[np.int64]:
    """(N,) N_b: for each annotation, labelled joints of other annotations of its image inside its box.

    Every (annotation, labelled joint of the same image) pair is tested once; the
    pairs are generated with repeat/cumsum arithmetic in chunks, not per image.
    """
    n = len(image_index)
    owner, joint = np.nonzero(labelled)  # every labelled joint, by annotation
    joint_image = image_index[owner]
    order = np.argsort(joint_image, kind="stable")
    joint_x = keypoints[owner, joint, 0][order]
    joint_y = keypoints[owner, joint, 1][order]
    joint_owner = owner[order]
    per_image = np.bincount(joint_image, minlength=n_images)
    image_start = np.concatenate(([0], np.cumsum(per_image)[:-1]))

    pairs_per_person = per_image[image_index]
    x0, y0 = bbox[:, 0], bbox[:, 1]
    x1, y1 = x0 + bbox[:, 2], y0 + bbox[:, 3]
    n_inside = np.zeros(n, dtype=np.int64)
    cumulative = np.cumsum(pairs_per_person)
    start = 0
    while start < n:
        budget = (cumulative[start - 1] if start else 0) + PAIRS_PER_CHUNK
        stop = max(int(np.searchsorted(cumulative, budget, side="right")), start + 1)
        person = np.arange(start, stop)
        counts = pairs_per_person[person]
        person_rep = np.repeat(person, counts)
        # Offset of each pair within its person's run, then the joint row it tests.
        run_start = np.repeat(np.cumsum(counts) - counts, counts)
        joint_row = np.repeat(image_start[image_index[person]], counts) + (np.arange(len(person_rep)) - run_start)
        inside = (
            (joint_owner[joint_row] != person_rep)
            & (joint_x[joint_row] >= x0[person_rep]) & (joint_x[joint_row] <= x1[person_rep])
            & (joint_y[joint_row] >= y0[person_rep]) & (joint_y[joint_row] <= y1[person_rep])
        )
        n_inside[start:stop] = np.bincount(person_rep[inside] - start, minlength=stop - start)
        start = stop
    return n_inside
