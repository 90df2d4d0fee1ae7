"""A dataset's identity in figures and tables: display name, colour, hatch, order and the
key of the SmallPose paper's reported values.

Set by the user (``data/datasets.toml`` or ``build --display-name/--color/--hatch/--order/
--paper-name``) and recorded in each split's manifest under ``identity``; whatever is not
set has a default derived from the dataset's name alone (a hash into ``STYLES``), so a
dataset's look never depends on what else is in the cache folder.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, fields

#: Twelve colour-blind-safe colours: Okabe & Ito's palette without its yellow (too pale
#: on white), then five of Paul Tol's "muted" colours that differ from those in hue.
COLORS = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#CC79A7",
    "#56B4E9",
    "#D55E00",
    "#000000",
    "#332288",
    "#882255",
    "#999933",
    "#44AA99",
    "#CC6677",
)
#: Plotly bar fill patterns ("" = solid): the identity in greyscale print.
HATCHES = ("", "/", ".", "x", "\\", "+", "-", "|")
#: Plotly line dashes, for step outlines and lines.
DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")


@dataclass(frozen=True)
class Style:
    """How one series is drawn."""

    color: str
    hatch: str
    dash: str


_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")


def default_style(name: str) -> Style:
    """The style of a name alone, stable across runs and machines.

    Three independent slices of the name's SHA-256 pick the colour (12), the hatch (8)
    and the dash (6): two names share a colour with probability 1/12, and even then
    almost always differ in hatch and dash.  Set ``color`` / ``hatch`` in the registry
    to choose.
    """
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    pick = [int.from_bytes(digest[i : i + 8], "big") for i in (0, 8, 16)]
    return Style(COLORS[pick[0] % len(COLORS)], HATCHES[pick[1] % len(HATCHES)], DASHES[pick[2] % len(DASHES)])


@dataclass(frozen=True)
class DatasetIdentity:
    """What the user set for a dataset (None: the default).

    Stored as the manifest's ``identity``, :class:`analysis.cache.manifest.IdentityRecord`
    (``msgspec.convert(identity, IdentityRecord, from_attributes=True)`` and back).

    Attributes:
        display_name: the name in legends, captions and tables ("CrowdPose").
        color: ``#RRGGBB``.
        hatch: a bar pattern, one of ``HATCHES``.
        order: position among datasets (ascending; unset ones follow, by name).
        paper_name: key of the SmallPose paper's reported values ("COCO", "CrowdPose",
            "SmallPose"); none: no paper values are shown beside this dataset.
    """

    display_name: str | None = None
    color: str | None = None
    hatch: str | None = None
    order: int | None = None
    paper_name: str | None = None

    def __post_init__(self) -> None:
        if self.color is not None and not _HEX.match(self.color):
            raise ValueError(f"color must be '#RRGGBB', got {self.color!r}")
        if self.hatch is not None and self.hatch not in HATCHES:
            raise ValueError(f"hatch must be one of {', '.join(repr(h) for h in HATCHES)}, got {self.hatch!r}")
        if self.order is not None and (isinstance(self.order, bool) or not isinstance(self.order, int)):
            raise ValueError(f"order must be an integer, got {self.order!r}")
        for name in ("display_name", "paper_name"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise ValueError(f"{name} must be a non-empty string, got {value!r}")

    def merged(self, other: DatasetIdentity, where: str) -> DatasetIdentity:
        """Combine the identities two splits of one dataset give; conflicting values are an error."""
        values = {}
        for f in fields(self):
            mine, theirs = getattr(self, f.name), getattr(other, f.name)
            if mine is not None and theirs is not None and mine != theirs:
                raise ValueError(f"{where}: {f.name} {mine!r} and {theirs!r} disagree between splits")
            values[f.name] = mine if mine is not None else theirs
        return DatasetIdentity(**values)


@dataclass(frozen=True)
class ResolvedIdentity:
    """A dataset's identity with every default filled in."""

    name: str
    display_name: str
    style: Style
    order: int | None
    paper_name: str | None

    @property
    def sort_key(self) -> tuple[int, int, str]:
        return (0, self.order, self.name) if self.order is not None else (1, 0, self.name)


def resolve(name: str, identity: DatasetIdentity | None = None) -> ResolvedIdentity:
    """Fill the unset fields: display name = the name, colour and hatch from ``default_style``."""
    identity = identity or DatasetIdentity()
    base = default_style(name)
    style = Style(identity.color or base.color, base.hatch if identity.hatch is None else identity.hatch, base.dash)
    return ResolvedIdentity(name, identity.display_name or name, style, identity.order, identity.paper_name)
