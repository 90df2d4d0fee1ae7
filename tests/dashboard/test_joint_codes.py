"""Keypoints view: joint rates counted from per-person bit codes (issue 20) equal the
per-flag computation (joint_rates) and a loop over persons."""

from __future__ import annotations

import gc

import numpy as np
import pandas as pd
import pytest

from analysis.definitions import VisibilityConvention
from dashboard.figures import keypoints as kp_fig


def _keypoints(rng: np.random.Generator, n: int, k: int, *, ragged: bool = False) -> np.ndarray:
    kp = rng.uniform(0, 500, (n, 3 * k)).astype(np.float32)
    kp[:, 2::3] = rng.choice([0, 1, 2], size=(n, k), p=[0.3, 0.2, 0.5])
    if ragged:  # rows shorter than K joints are NaN-padded by load_keypoints
        kp[rng.random(n) < 0.2, -6:] = np.nan
    return kp


def _loop_rates(kp: np.ndarray, buckets: np.ndarray, binary: bool) -> dict[tuple[int, int], tuple[float, float]]:
    """(bucket, joint) -> (labelled rate, visible rate), one person at a time."""
    k = kp.shape[1] // 3
    out = {}
    for b in range(3):
        rows = [i for i in range(len(kp)) if buckets[i] == b]
        for j in range(k):
            v = [float(kp[i, 3 * j + 2]) for i in rows]
            labelled = sum(1 for x in v if x > 0)
            visible = sum(1 for x in v if (x >= 1 if binary else x == 2))
            out[(b, j)] = (labelled / len(rows), visible / len(rows)) if rows else (np.nan, np.nan)
    return out


@pytest.mark.parametrize(
    ("k", "binary", "ragged"),
    [(17, False, False), (14, True, True), (1, False, True), (63, False, True), (33, True, False)],
)
def test_rates_from_codes_equal_flag_rates_and_a_loop(k: int, binary: bool, ragged: bool) -> None:
    rng = np.random.default_rng(k)
    kp = _keypoints(rng, 600, k, ragged=ragged)
    buckets = rng.choice([-1, 0, 0, 1, 2], len(kp))
    rows = rng.permutation(len(kp))[:450]  # the persons the filters kept, in any order
    names = [f"j{i}" for i in range(k)]
    labelled, visible = kp_fig.joint_flag_codes(kp, binary_visibility=binary)
    coded = kp_fig.joint_rates_from_codes(labelled[rows], visible[rows], buckets[rows], names)
    flags = kp_fig.joint_rates(kp[rows, 2::3], buckets[rows], names, binary_visibility=binary)
    pd.testing.assert_frame_equal(coded, flags)  # bit for bit, columns and dtypes
    loop = _loop_rates(kp[rows], buckets[rows], binary)
    for row in coded.itertuples():
        b, j = ("small", "medium", "large").index(row.bucket), names.index(row.joint)
        np.testing.assert_allclose([row.labelled, row.visible], loop[(b, j)], rtol=0, atol=1e-15)


def test_groups_use_codes_up_to_63_joints_and_flags_above() -> None:
    rng = np.random.default_rng(5)
    for k in (63, 64):
        kp = _keypoints(rng, 300, k)
        persons = pd.DataFrame(
            {
                "split": ["val"] * 200,
                "instance_row": rng.permutation(300)[:200],
                "bucket": rng.choice([-1, 0, 1, 2], 200),
            }
        )
        (group,) = kp_fig.joint_rate_groups(
            "ds",
            persons,
            lambda split, a=kp: a,
            lambda split, n: [f"j{i}" for i in range(n)],
            lambda split: VisibilityConvention.COCO,
        )
        rows = persons["instance_row"].to_numpy()
        expected = kp_fig.joint_rates(kp[rows, 2::3], persons["bucket"].to_numpy(), [f"j{i}" for i in range(k)])
        pd.testing.assert_frame_equal(group.table, expected)
    with pytest.raises(ValueError, match="at most 63"):
        kp_fig.joint_flag_codes(_keypoints(rng, 3, 64))


def test_codes_follow_their_array_not_its_id(young_heap: None) -> None:
    """The codes are kept per array; an array freed and another allocated (perhaps at the
    same address) gets its own codes, never the freed one's."""
    rng = np.random.default_rng(7)
    for _ in range(20):
        kp = _keypoints(rng, 50, 17)
        labelled, _ = kp_fig.joint_flag_codes(kp)
        expected = [sum(1 << j for j in range(17) if kp[i, 3 * j + 2] > 0) for i in range(len(kp))]
        np.testing.assert_array_equal(labelled, expected)
        assert kp_fig.joint_flag_codes(kp)[0] is labelled  # kept while the array lives
        del kp, labelled
        gc.collect()
