"""What the Overview's per-dataset cards show, as short strings.  Pure; no streamlit.

A card is narrow (three to a row at 1400 px), so each metric is a short label and a
value of at most 7 characters: counts from 100,000 up are written 262.5k / 1.26M
(the exact count is the metric's tooltip and is in the comparison table).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class CardMetric:
    label: str
    value: str
    help: str | None = None


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def short_count(n: int) -> str:
    """``n`` in at most 7 characters: 99,999 | 262.5k | 1.26M | 12.6M."""
    if n < 100_000:
        return f"{n:,}"
    if n < 1_000_000:
        return f"{n / 1_000:.1f}k"
    if n < 100_000_000:
        return f"{n / 1_000_000:.2f}M" if n < 10_000_000 else f"{n / 1_000_000:.1f}M"
    return f"{n / 1_000_000:.0f}M"


def fmt(value: Any, spec: str) -> str:
    return "n/a" if _missing(value) else format(value, spec)


def card_rows(row: Any) -> list[list[CardMetric]]:
    """The card of one ``dataset_summary`` row: rows of at most two metrics (S/M/L alone:
    its value is up to 14 characters)."""
    sml = "n/a" if _missing(row.share_small) else f"{row.share_small:.0%}/{row.share_medium:.0%}/{row.share_large:.0%}"
    return [
        [
            CardMetric("images", short_count(int(row.images)), f"{int(row.images):,} images"),
            CardMetric("persons", short_count(int(row.persons)), f"{int(row.persons):,} persons"),
        ],
        [
            CardMetric("per image", fmt(row.persons_per_image, ".1f")),
            CardMetric("CrowdIndex", fmt(row.mean_crowd_index, ".2f"), "mean CrowdIndex over images"),
        ],
        [CardMetric("small / medium / large", sml, "shares of persons with a known area")],
        [
            CardMetric(
                "scene entropy",
                fmt(row.mean_entropy, ".2f"),
                "mean scene entropy" if not _missing(row.mean_entropy) else "scenes not computed: see the Scenes view",
            )
        ],
    ]
