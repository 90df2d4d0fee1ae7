"""The pdflatex helper fails a table wider than a plain article's text width."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.pdflatex import assert_compiles


def _table(label: str, cells: int) -> str:
    row = " & ".join(["0123456789"] * cells)
    return "\n".join(
        [r"\begin{table}[t]", rf"\label{{{label}}}", r"\begin{tabular}{" + "r" * cells + "}", row + r" \\",
         r"\end{tabular}", r"\end{table}"]
    ) + "\n"  # fmt: skip


def test_a_table_wider_than_the_text_fails_by_its_label(tmp_path: Path) -> None:
    # ten digits are 50 pt in 10 pt Computer Modern, plus 12 pt between columns: 5 fit the
    # article's 345 pt text width, 8 do not (8 * 62 = 496 pt)
    assert_compiles([_table("tab:narrow", 5)], tmp_path)
    with pytest.raises(AssertionError, match=r"tab:wide by 1[45]\d\.\d+ pt"):
        assert_compiles([_table("tab:narrow", 5), _table("tab:wide", 8)], tmp_path)
    assert_compiles([_table("tab:narrow", 5), _table("tab:wide", 8)], tmp_path, wide={"tab:wide"})
