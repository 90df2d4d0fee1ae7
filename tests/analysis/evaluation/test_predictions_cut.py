"""read_predictions with person_categories: keypoints held only for the detections an
evaluation keeps (issue 19's memory item), every record still validated."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from analysis.errors import AnnotationError
from analysis.evaluation.predictions import KEYPOINT_CHUNK, read_predictions

K = 17


def _records(n_images: int, per_image: int, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    records = []
    for _ in range(per_image):
        for image in range(1, n_images + 1):
            records.append({
                "image_id": image,
                "category_id": int(rng.choice([1, 1, 1, 2])),  # a quarter of another category
                "keypoints": rng.uniform(0, 640, 3 * K).round(2).tolist(),
                "score": float(rng.choice([0.25, 0.5, 0.75])),  # many ties: file order decides
            })  # fmt: skip
    return records


def _kept_by_hand(records: list[dict], categories: list[int], limit: int = 20) -> list[int]:
    """pycocotools' cut, written out: per image, person detections by score descending
    (a stable sort: file order on ties), the first ``limit``."""
    by_image: dict[int, list[int]] = {}
    for i, r in enumerate(records):
        if r["category_id"] in categories:
            by_image.setdefault(r["image_id"], []).append(i)
    kept = []
    for rows in by_image.values():
        kept += sorted(rows, key=lambda i: -records[i]["score"])[:limit]
    return sorted(kept)


@pytest.mark.slow
def test_keypoints_are_held_for_the_kept_detections_only(tmp_path: Path) -> None:
    records = _records(n_images=420, per_image=40, seed=1)  # 16,800 records: two decode chunks
    assert len(records) > KEYPOINT_CHUNK
    data = json.dumps(records).encode()
    cut = read_predictions(tmp_path / "p.json", data, K, 1, [1])
    whole = read_predictions(tmp_path / "p.json", data, K, 1)
    kept = _kept_by_hand(records, [1])
    assert cut.keypoint_rows.tolist() == kept
    assert len(kept) < len(records) // 2
    expected = np.array([records[i]["keypoints"] for i in kept], np.float64).reshape(-1, K, 3)
    np.testing.assert_array_equal(cut.keypoints, expected)
    np.testing.assert_array_equal(cut.keypoints_of(np.array(kept[::7])), expected[::7])
    for name in ("image_id", "category_id", "score"):  # every record's columns stay
        np.testing.assert_array_equal(getattr(cut, name), getattr(whole, name))
    assert whole.keypoint_rows.tolist() == list(range(len(records)))
    np.testing.assert_array_equal(whole.keypoints[kept], cut.keypoints)
    with pytest.raises(ValueError, match="cut before decoding"):
        cut.keypoints_of(np.array([next(i for i in range(len(records)) if i not in set(kept))]))


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"keypoints": [1.0, 2.0]}, "keypoints has 2 values, expected 3 x 17 joints = 51"),
        ({"keypoints": [1e10] * (3 * K)}, "keypoints has a coordinate beyond +-1e+09 px (1 such record(s))"),
    ],
)
def test_records_cut_away_are_still_validated(tmp_path: Path, change: dict, problem: str) -> None:
    records = _records(n_images=3, per_image=40, seed=2)
    kept = set(_kept_by_hand(records, [1]))
    victim = max(i for i in range(len(records)) if i not in kept and records[i]["category_id"] == 1)
    records[victim].update(change)
    with pytest.raises(AnnotationError) as raised:
        read_predictions(tmp_path / "p.json", json.dumps(records).encode(), K, 1, [1])
    assert str(raised.value).endswith(f"record {victim} (image_id={records[victim]['image_id']}): {problem}")


def test_a_nan_in_a_record_cut_away_is_refused(tmp_path: Path) -> None:
    records = _records(n_images=3, per_image=40, seed=3)
    kept = set(_kept_by_hand(records, [1]))
    victim = next(i for i in range(len(records)) if i not in kept and records[i]["category_id"] == 1)
    records[victim]["keypoints"][4] = "NaN-marker"
    text = json.dumps(records).replace('"NaN-marker"', "NaN")  # as Python's json writes a NaN
    with pytest.raises(AnnotationError) as raised:
        read_predictions(tmp_path / "p.json", text.encode(), K, 1, [1])
    image = records[victim]["image_id"]
    assert str(raised.value).endswith(f"record {victim} (image_id={image}): keypoints has a NaN or infinite value")
