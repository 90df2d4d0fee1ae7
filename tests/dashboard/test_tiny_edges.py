"""Issue 19: ``?sm=1e-200&ml=1e-190`` squared to 0 and raised on every page; side lengths are
bounded from below and such values fall back to the defaults (the export refuses them)."""

from __future__ import annotations

import pytest

from analysis.definitions import SizeEdges
from dashboard import query


@pytest.mark.parametrize(("sm", "ml"), [("1e-200", "1e-190"), ("0", "96"), ("1e-3", "96"), ("32", "5e-324")])
def test_tiny_edges_fall_back_to_the_defaults(sm, ml):
    edges = query.parse({"sm": sm, "ml": ml}, ["a"], []).size.edges
    default = SizeEdges()
    assert edges.small_medium == (default.small_medium if float(sm) < query.MIN_EDGE_PX else float(sm) ** 2)
    assert edges.medium_large == (default.medium_large if float(ml) < query.MIN_EDGE_PX else float(ml) ** 2)


def test_the_smallest_accepted_side_squares_to_a_positive_area():
    edges = query.parse({"sm": str(query.MIN_EDGE_PX), "ml": "1"}, ["a"], []).size.edges
    assert edges.small_medium == pytest.approx(query.MIN_EDGE_PX**2) and edges.small_medium > 0


def test_the_export_refuses_tiny_edges(capsys):
    from analysis.errors import PoseAtlasError
    from dashboard.query import checked_side

    with pytest.raises(PoseAtlasError, match=r"sm='1e-200' is not a side length in px in \[0.01, 100000\]"):
        checked_side("sm", "1e-200")
