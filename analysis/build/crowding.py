"""CrowdIndex (image level) and the per-person crowding ratio N_b / N_a.

This rule reproduces the ``crowdIndex`` values CrowdPose ships:
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
        n_labelled,
        n_inside,
        ratio,
        is_reference,
        crowd_index,
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

    Candidate (target, other) pairs of the same image are generated with
    repeat/cumsum arithmetic, in chunks, never per image.  A pair can only count if
    the other's labelled joints' extent meets the target's box, so that cheap test
    runs first and the joint-by-joint test only on the few pairs that pass: in real
    files most people of an image do not overlap.  Only annotations with labelled
    joints take part (the others contribute nothing); iscrowd targets get a count
    too (it is not used for them).
    """
    n = len(image_index)
    n_inside = np.zeros(n, dtype=np.int64)
    has_joints = labelled.any(axis=1)
    members = np.flatnonzero(has_joints)
    if len(members) < 2:
        return n_inside
    # Members grouped by image: each target pairs with its image's run of members.
    members = members[np.argsort(image_index[members], kind="stable")]
    per_image = np.bincount(image_index[members], minlength=n_images)
    run_start = np.concatenate(([0], np.cumsum(per_image)[:-1]))

    # Member-compacted, contiguous joint arrays: gathers below index rows of these.
    member_labelled = labelled[members]  # (M, K)
    member_x = np.ascontiguousarray(keypoints[members, :, 0])
    member_y = np.ascontiguousarray(keypoints[members, :, 1])
    extent = _labelled_extent(member_labelled, member_x, member_y)
    box = np.column_stack([bbox[:, 0], bbox[:, 1], bbox[:, 0] + bbox[:, 2], bbox[:, 1] + bbox[:, 3]])

    targets = members  # only annotations with labelled joints have a defined ratio
    pairs_per_target = per_image[image_index[targets]]
    cumulative = np.cumsum(pairs_per_target)
    start = 0
    while start < len(targets):
        budget = (cumulative[start - 1] if start else 0) + PAIRS_PER_CHUNK
        stop = max(int(np.searchsorted(cumulative, budget, side="right")), start + 1)
        counts = pairs_per_target[start:stop]
        target_pos = np.repeat(np.arange(start, stop), counts)  # position in members
        offset = np.arange(len(target_pos)) - np.repeat(np.cumsum(counts) - counts, counts)
        other_pos = np.repeat(run_start[image_index[targets[start:stop]]], counts) + offset
        tb = box[members[target_pos]]
        inside = _others_joints_inside(target_pos, other_pos, tb, extent, member_labelled, member_x, member_y)
        n_inside[members] += inside
        start = stop
    return n_inside


def _labelled_extent(
    member_labelled: npt.NDArray[np.bool_], member_x: npt.NDArray[np.float64], member_y: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """(M, 4) x0, y0, x1, y1 of each member's labelled joints."""
    return np.column_stack(
        [
            np.where(member_labelled, member_x, np.inf).min(axis=1),
            np.where(member_labelled, member_y, np.inf).min(axis=1),
            np.where(member_labelled, member_x, -np.inf).max(axis=1),
            np.where(member_labelled, member_y, -np.inf).max(axis=1),
        ]
    )


def _others_joints_inside(
    target_pos: npt.NDArray[np.int64],
    other_pos: npt.NDArray[np.int64],
    tb: npt.NDArray[np.float64],
    extent: npt.NDArray[np.float64],
    member_labelled: npt.NDArray[np.bool_],
    member_x: npt.NDArray[np.float64],
    member_y: npt.NDArray[np.float64],
) -> npt.NDArray[np.int64]:
    """(M,) per member (target), the labelled joints of the chunk's other members inside its box
    ``tb`` (one row per pair): pairs whose joint extent misses the box are dropped first."""
    ext = extent[other_pos]
    candidate = (
        (other_pos != target_pos)
        & (ext[:, 0] <= tb[:, 2])
        & (ext[:, 2] >= tb[:, 0])
        & (ext[:, 1] <= tb[:, 3])
        & (ext[:, 3] >= tb[:, 1])
    )
    target_pos, other_pos, tb = target_pos[candidate], other_pos[candidate], tb[candidate]
    # (S, K) joint tests for the surviving pairs, edges included.
    jx, jy = member_x[other_pos], member_y[other_pos]
    inside = (
        member_labelled[other_pos] & (jx >= tb[:, 0:1]) & (jx <= tb[:, 2:3]) & (jy >= tb[:, 1:2]) & (jy <= tb[:, 3:4])
    )
    return np.bincount(target_pos, weights=inside.sum(axis=1), minlength=len(member_labelled)).astype(np.int64)
