"""Browse's "only images with files" switch and the empty "missed small persons" message."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from dashboard.browsing import empty_selection_message, with_image_files


def test_only_images_whose_file_exists_are_kept_and_the_rest_counted(tmp_path: Path) -> None:
    (tmp_path / "a.jpg").write_bytes(b"x")
    (tmp_path / "sub").mkdir()  # a folder is not an image file
    shown = pd.DataFrame(
        {
            "dataset": ["d", "d", "d", "e"],
            "split": ["val"] * 4,
            "file_name": ["a.jpg", "missing.jpg", "sub", "a.jpg"],
            "image_id": [1, 2, 3, 4],
        }
    )

    def path_of(dataset: str, split: str, name: str) -> Path | None:
        return None if dataset == "e" else tmp_path / name  # e: a split without an image folder

    kept, left_out = with_image_files(shown, path_of)
    assert list(kept["image_id"]) == [1] and left_out == 3
    assert with_image_files(shown.iloc[:0], path_of)[1] == 0


def test_no_small_ground_truth_is_said_as_such() -> None:
    text = empty_selection_message(True, 0, "bbox area w*h: small < 32^2")
    assert "No small ground truth under this definition (bbox area w*h: small < 32^2)" in text
    assert "widen the sliders" not in text
    assert "widen the sliders" in empty_selection_message(True, 5, "d")
    assert "widen the sliders" in empty_selection_message(False, None, "d")
