"""Overview cards (dashboard.cards): short values that fit a card at 1400 px."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from dashboard.cards import card_rows, short_count


@pytest.mark.parametrize(
    "n, text",
    [
        (0, "0"),
        (99_999, "99,999"),
        (100_000, "100.0k"),
        (262_465, "262.5k"),
        (1_264_000, "1.26M"),
        (12_640_000, "12.6M"),
        (250_000_000, "250M"),
    ],
)
def test_short_count(n, text):
    assert short_count(n) == text
    assert len(text) <= 7


def test_card_rows_of_a_coco_train_sized_row():
    row = SimpleNamespace(
        dataset="coco",
        images=118_287,
        persons=262_465,
        persons_per_image=2.2189,
        share_small=0.2,
        share_medium=0.3,
        share_large=0.5,
        mean_crowd_index=0.1234,
        mean_entropy=np.nan,
    )
    rows = card_rows(row)
    flat = {m.label: m for r in rows for m in r}
    assert flat["images"].value == "118.3k" and flat["images"].help == "118,287 images"
    assert flat["persons"].value == "262.5k" and flat["persons"].help == "262,465 persons"
    assert flat["per image"].value == "2.2" and flat["CrowdIndex"].value == "0.12"
    assert flat["small / medium / large"].value == "20%/30%/50%"
    assert flat["scene entropy"].value == "n/a" and "not computed" in flat["scene entropy"].help
    for r in rows:  # two short metrics per row, or one longer one alone
        assert len(r) == 1 or all(len(m.value) <= 7 for m in r)
    na = card_rows(SimpleNamespace(**{**vars(row), "share_small": np.nan}))
    assert {m.label: m for r in na for m in r}["small / medium / large"].value == "n/a"
