"""The things a view exports: figures, tables, and notes that say why something is absent."""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import pandas as pd
import plotly.graph_objects as go

from dashboard.figures.common import caption_of


def slug(text: str) -> str:
    """A file stem: lower case, runs of other characters as one ``-``."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "figure"


@dataclass(frozen=True)
class FigureItem:
    """One figure of a view.

    Attributes:
        name: human name; its ``slug`` is the file stem.
        figure: the on-screen figure (the paper theme is applied at render time).
        selectable: the page lets a bar click open Browse.
    """

    name: str
    figure: go.Figure = field(compare=False)
    selectable: bool = False

    @property
    def stem(self) -> str:
        return slug(self.name)

    @property
    def caption(self) -> str:
        return caption_of(self.figure)


@dataclass(frozen=True)
class TableItem:
    """One table of a view.

    Attributes:
        name: human name; its ``slug`` is the file stem.
        table: the values (CSV keeps the column names; LaTeX gets readable headers).
        caption: the definitions the table used.
        shares: columns holding shares in [0, 1] (LaTeX: 3 decimals, or percent).
        digits: decimals of the other float columns in LaTeX.
        labels: display names of the series keys (``crowdpose`` -> ``CrowdPose``): the
            screen and LaTeX show them in the ``dataset`` column and the headers; the CSV
            keeps the keys (the names the URL's ``ds`` uses).
        latex: writes the table's LaTeX itself, given its ``\\label`` key (Table 5: one
            writer shared with ``evaluate --table-latex``); None: the generic booktabs table.
    """

    name: str
    table: pd.DataFrame = field(compare=False)
    caption: str = ""
    shares: tuple[str, ...] = ()
    digits: int = 2
    labels: Mapping[str, str] = field(default_factory=dict, compare=False)
    latex: Callable[[str], str] | None = field(default=None, compare=False)

    @property
    def stem(self) -> str:
        return slug(self.name)

    def labelled(self) -> tuple[pd.DataFrame, tuple[str, ...]]:
        """The table with display names, and its share columns under their new names."""
        if not self.labels:
            return self.table, self.shares
        table = self.table.rename(columns=lambda c: self.labels.get(str(c), c))
        if "dataset" in table.columns:
            table = table.assign(dataset=[self.labels.get(str(v), v) for v in table["dataset"]])
        return table, tuple(self.labels.get(c, c) for c in self.shares)

    def on_screen(self) -> pd.DataFrame:
        """The labelled table as the page shows it: a float column with an empty value
        (an empty slice) as text with ``--`` there, never ``None``."""
        table, shares = self.labelled()
        out = table.copy()
        for c in table.columns:
            if pd.api.types.is_float_dtype(table[c]) and table[c].isna().any():
                digits = 3 if c in shares else self.digits
                out[c] = ["--" if pd.isna(v) else f"{v:.{digits}f}" for v in table[c]]
        return out

    def display_formats(self, shown: pd.DataFrame | None = None) -> dict[str, str]:
        """printf formats for the on-screen (labelled) table's numeric columns (``shown``:
        ``on_screen()`` when the caller has it)."""
        table, shares = (self.on_screen() if shown is None else shown), self.labelled()[1]
        floats = [c for c in table.columns if pd.api.types.is_float_dtype(table[c])]
        return {str(c): "%.3f" if c in shares else f"%.{self.digits}f" for c in floats}


class NoteLevel(enum.StrEnum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True)
class Note:
    """Why a figure or table is not there (shown on the page, printed by the command)."""

    text: str
    level: NoteLevel = NoteLevel.INFO


ExportItem = FigureItem | TableItem | Note
