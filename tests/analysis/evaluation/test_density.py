"""A detection's own density N_b / N_a on hand-made arrays (values worked out by hand)."""

from __future__ import annotations

import numpy as np

from analysis.evaluation.density import detection_density, own_person
from analysis.evaluation.engine import Pairs


def _keypoints(points: list[tuple[float, float, float]], k: int = 4) -> np.ndarray:
    out = np.zeros((k, 3))
    out[: len(points)] = points
    return out


def test_own_person_is_the_highest_oks_labelled_non_crowd_person() -> None:
    # detection 0 pairs with persons 0, 1, 2 (OKS 0.3, 0.6, 0.6: tie -> the first, 1);
    # detection 1 with persons 0 (crowd, OKS 0.9) and 3 (OKS 0): no own person.
    pairs = Pairs(np.array([0, 0, 0, 1, 1]), np.array([0, 1, 2, 0, 3]))
    oks = np.array([0.3, 0.6, 0.6, 0.9, 0.0])
    candidate = np.array([False, True, True, True])  # person 0 is a crowd region
    assert own_person(pairs, oks, candidate, 3).tolist() == [1, -1, -1]


def test_density_counts_others_inside_the_box_over_the_own_persons_labelled_joints() -> None:
    """Detection 0: box [0, 10]^2 (its joints at (0,0), (10,10), (5,5), (5,5)).
    Own person A (highest OKS, 3 labelled joints, two of them inside) is left out;
    person B has 2 labelled joints inside (one on the edge x = 10) and one
    unlabelled joint inside (not counted); crowd region C has 1 labelled joint
    inside.  N_b = 2 + 1 = 3, N_a = A's 3 -> 1.0.

    Detection 1 (box [100, 104]^2) has OKS 0 with everyone: no own person, so
    N_a = K = 4; C's joint at (102, 102) is inside: 1 / 4 = 0.25."""
    det = np.stack([
        _keypoints([(0, 0, 0.9), (10, 10, 0.9), (5, 5, 0.9), (5, 5, 0.9)]),
        _keypoints([(100, 100, 0.9), (104, 104, 0.9), (102, 102, 0.9), (102, 102, 0.9)]),
    ])  # fmt: skip
    gt = np.stack([
        _keypoints([(1, 1, 2), (2, 2, 2), (50, 50, 1)]),  # A
        _keypoints([(10, 3, 2), (4, 4, 1), (6, 6, 0)]),  # B
        _keypoints([(9, 9, 2), (102, 102, 2)]),  # C, a crowd region with labelled joints
    ])  # fmt: skip
    crowd = np.array([False, False, True])
    pairs = Pairs(np.array([0, 0, 0, 1, 1, 1]), np.array([0, 1, 2, 0, 1, 2]))
    oks = np.array([0.8, 0.2, 0.95, 0.0, 0.0, 0.0])
    density = detection_density(det, gt, crowd, pairs, oks)
    assert density.tolist() == [1.0, 0.25]
