"""Definitions a figure or table depends on: area source, size buckets, crowd levels.

Every definition is a small frozen dataclass or an Enum, passed explicitly to the
functions that use it.  Raw quantities (areas, crowding ratios) live in the cache;
these definitions are applied at view time, so changing one never needs a rebuild.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

#: CrowdPose's evaluator scores persons by 0.53 * w * h (an ellipse-ish body area).
CROWDPOSE_AREA_FACTOR = 0.53


class AreaSource(enum.StrEnum):
    """Where a person's area comes from."""

    BBOX = "bbox"  #: bbox w * h (SmallPose's criterion is bbox based)
    SEGM = "segm"  #: the COCO ``area`` field (segmentation area); absent for CrowdPose / AIC
    CROWDPOSE = "crowdpose"  #: 0.53 * w * h, what CrowdPose's evaluator uses

    @property
    def description(self) -> str:
        return {
            AreaSource.BBOX: "bbox area w*h",
            AreaSource.SEGM: "segmentation area (COCO 'area' field)",
            AreaSource.CROWDPOSE: "CrowdPose area 0.53*w*h",
        }[self]


class Normalisation(enum.StrEnum):
    """Counts, or shares of each dataset's total (each dataset sums to 1)."""

    COUNT = "count"
    SHARE = "share"

    def apply(self, counts: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """(B,) counts of one dataset -> counts, or shares of their sum (all zeros stay zeros)."""
        values = np.asarray(counts, dtype=np.float64)
        total = values.sum()
        return values / total if self is Normalisation.SHARE and total > 0 else values

    def axis_title(self, what: str) -> str:
        """``number of images`` / ``share of images``."""
        return f"{'share' if self is Normalisation.SHARE else 'number'} of {what}"

    @property
    def column(self) -> str:
        """The column of a long count/share table holding this value."""
        return self.value


class SizeBucket(enum.StrEnum):
    """Person size categories, in ascending order."""

    SMALL = "small"
    MEDIUM = "medium"
    LARGE = "large"

    # One place for a bucket's code (its value in size_bucket_codes arrays: 0 small, 1 medium,
    # 2 large; -1 means no area), its name (.value, .names()) and its colour in figures and drawings.

    @property
    def code(self) -> int:
        """This bucket's code in :func:`size_bucket_codes` arrays."""
        return _SIZE_BUCKET_CODES[self]

    @classmethod
    def of(cls, code: int) -> SizeBucket | None:
        """The bucket a :func:`size_bucket_codes` code stands for; None for -1 (no area)."""
        return _SIZE_BUCKETS_BY_CODE.get(int(code))

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """The buckets' names in code order (``small``, ``medium``, ``large``): table columns, axes."""
        return tuple(b.value for b in cls)  # iteration order is code order

    @property
    def color(self) -> str:
        """Fixed colour of the bucket (Okabe-Ito): boxes in the image browser, bucket bars."""
        return _SIZE_BUCKET_COLORS[self]


_SIZE_BUCKET_CODES = {SizeBucket.SMALL: 0, SizeBucket.MEDIUM: 1, SizeBucket.LARGE: 2}
_SIZE_BUCKETS_BY_CODE = {code: bucket for bucket, code in _SIZE_BUCKET_CODES.items()}
_SIZE_BUCKET_COLORS = {SizeBucket.SMALL: "#D55E00", SizeBucket.MEDIUM: "#009E73", SizeBucket.LARGE: "#0072B2"}


#: Bucket edges given as side lengths (px) must lie in [MIN_EDGE_PX, MAX_EDGE_PX]: beyond any
#: real image above, and far enough from 0 below that squaring never underflows to 0 (or
#: overflows) -- ``1e-200 ** 2`` is 0.0.
MIN_EDGE_PX = 0.01
MAX_EDGE_PX = 100_000.0


#: COCO's size bucket edges as side lengths (px): small < 32^2 <= medium < 96^2 <= large.
COCO_SIZE_SIDES = (32.0, 96.0)
#: The default sparse|moderate and moderate|dense edges of a person's own crowding ratio N_b/N_a.
DENSITY_EDGES = (0.1, 0.8)


def edges_text(edges: tuple[float, float]) -> str:
    """``(32.0, 96.0)`` -> ``"32,96"``: how the command line writes two edges (and their default)."""
    return ",".join(f"{edge:g}" for edge in edges)


@dataclass(frozen=True)
class SizeEdges:
    """Area edges between small|medium and medium|large (pixels^2).

    COCO convention: small is area < 32^2, medium 32^2 <= area < 96^2, large >= 96^2.
    """

    small_medium: float = COCO_SIZE_SIDES[0] ** 2
    medium_large: float = COCO_SIZE_SIDES[1] ** 2

    def __post_init__(self) -> None:
        if not (0 < self.small_medium < self.medium_large):
            raise ValueError(
                f"size edges must satisfy 0 < small|medium < medium|large, got "
                f"{self.small_medium} and {self.medium_large}"
            )

    @property
    def description(self) -> str:
        return f"small < {_fmt_area(self.small_medium)} <= medium < {_fmt_area(self.medium_large)} <= large"


def _fmt_area(value: float) -> str:
    root = float(np.sqrt(value))
    return f"{root:g}^2" if abs(root - round(root)) < 1e-9 else f"{value:g}"


@dataclass(frozen=True)
class SizeDefinition:
    """Area source plus bucket edges: everything a size bucket depends on."""

    area_source: AreaSource = AreaSource.BBOX
    edges: SizeEdges = SizeEdges()

    @property
    def description(self) -> str:
        return f"size: {self.area_source.description}; {self.edges.description}"


def person_area(
    bbox_w: npt.ArrayLike, bbox_h: npt.ArrayLike, segm_area: npt.ArrayLike, source: AreaSource
) -> npt.NDArray[np.float64]:
    """Per-person area under ``source``.

    Args:
        bbox_w, bbox_h: (N,) box width and height.
        segm_area: (N,) COCO ``area`` field, NaN where the file has none.
        source: which area to use.

    Returns:
        (N,) float64 areas.  For ``SEGM`` the result carries NaN where the file has
        no segmentation area; callers must report those, never fall back silently.
    """
    w = np.asarray(bbox_w, dtype=np.float64)
    h = np.asarray(bbox_h, dtype=np.float64)
    if source is AreaSource.BBOX:
        return w * h
    if source is AreaSource.CROWDPOSE:
        return CROWDPOSE_AREA_FACTOR * w * h
    if source is AreaSource.SEGM:
        return np.asarray(segm_area, dtype=np.float64)
    raise ValueError(f"unknown area source {source!r}")


def size_bucket_codes(area: npt.ArrayLike, edges: SizeEdges) -> npt.NDArray[np.int8]:
    """Bucket code per area (:attr:`SizeBucket.code`: 0 small, 1 medium, 2 large), -1 where area is NaN.

    Args:
        area: (N,) areas in pixels^2.
        edges: bucket edges; an area equal to an edge falls in the upper bucket.

    Returns:
        (N,) int8 codes (``SizeBucket.of`` maps one back to its bucket).
    """
    return _level_codes(np.asarray(area, dtype=np.float64), edges.small_medium, edges.medium_large)


def _level_codes(values: npt.NDArray[np.float64], low: float, high: float) -> npt.NDArray[np.int8]:
    """(N,) int8: 0 below ``low``, 1 from ``low`` to below ``high``, 2 from ``high`` on
    (``low < high``), -1 where the value is NaN.

    The edges a value reaches, counted with two comparisons: what
    ``np.searchsorted([low, high], values, side="right")`` gives, about 6x faster at
    3 million values (a binary search per value), which a dashboard rerun pays per new edge.
    """
    codes = (values >= low).view(np.int8) + (values >= high).view(np.int8)
    codes[np.isnan(values)] = -1
    return codes


@dataclass(frozen=True)
class LevelEdges:
    """Two edges splitting a ratio into three ordered levels.

    ``value < low`` -> level 0, ``low <= value < high`` -> level 1, ``value >= high``
    -> level 2.
    """

    low: float
    high: float
    names: tuple[str, str, str]
    label: str

    def __post_init__(self) -> None:
        if not self.low < self.high:
            raise ValueError(f"level edges must satisfy low < high, got {self.low}, {self.high}")

    def codes(self, values: npt.ArrayLike) -> npt.NDArray[np.int8]:
        """(N,) int8 level index per value; -1 where the value is NaN."""
        return _level_codes(np.asarray(values, dtype=np.float64), self.low, self.high)

    def labels(self, values: npt.ArrayLike) -> npt.NDArray[np.object_]:
        names = np.array([*self.names, None], dtype=object)
        return names[self.codes(values)]

    @property
    def description(self) -> str:
        a, b, c = self.names
        return f"{self.label}: {a} < {self.low:g} <= {b} < {self.high:g} <= {c}"


class CrowdConvention(enum.StrEnum):
    """The two published CrowdIndex level conventions."""

    PAPER = "paper"  #: CrowdPose paper: 0.1 / 0.8
    EVAL_CODE = "eval-code"  #: CrowdPose evaluation code: 0.2 / 0.8

    def levels(self) -> LevelEdges:
        low = 0.1 if self is CrowdConvention.PAPER else 0.2
        origin = "CrowdPose paper" if self is CrowdConvention.PAPER else "CrowdPose eval code"
        return LevelEdges(low, 0.8, ("easy", "medium", "hard"), f"CrowdIndex levels ({origin})")


class CrowdIndexSource(enum.StrEnum):
    """Which per-image CrowdIndex an image's crowd level is taken from."""

    COMPUTED = "computed"  #: recomputed by PoseAtlas from the annotations (every dataset; README, Definitions)
    STORED = "stored"  #: the file's own ``crowdIndex`` (CrowdPose ships one, 2 decimals; published easy/medium/hard)

    @property
    def column(self) -> str:
        """The images frame's column holding it."""
        return "crowd_index" if self is CrowdIndexSource.COMPUTED else "crowd_index_stored"

    @property
    def description(self) -> str:
        return {
            CrowdIndexSource.COMPUTED: "CrowdIndex as computed from the annotations",
            CrowdIndexSource.STORED: "CrowdIndex as stored in the file (only where the file has one)",
        }[self]


#: Keypoint schemas whose flag is not COCO visibility (CrowdPose's 0/1/2 marks occlusion otherwise).
NOT_VISIBILITY_SCHEMAS = ("crowdpose14",)


class VisibilityConvention(enum.StrEnum):
    """How a split's keypoint flag ``v`` reads.

    The build decides COCO or BINARY per file from the values it uses (``manifest.json``,
    ``definitions.visibility``); a keypoint schema whose flag is not visibility at all
    (:data:`NOT_VISIBILITY_SCHEMAS`) reads as NOT_VISIBILITY (:meth:`for_split`).
    """

    COCO = "coco"  #: v = 0 unlabelled, 1 labelled but occluded, 2 visible
    BINARY = "binary"  #: the file uses only 0/1 (PoseTrack): 1 = labelled and visible
    NOT_VISIBILITY = "none"  #: the flag is not COCO visibility (CrowdPose): labelled rate only

    @classmethod
    def for_split(cls, schema_name: str | None, convention: VisibilityConvention | str) -> VisibilityConvention:
        """The convention of a split: its keypoint schema's name (a manifest's ``keypoint_schema.name``),
        then the convention detected in the file (``definitions.visibility``: coco or binary)."""
        if schema_name in NOT_VISIBILITY_SCHEMAS:
            return cls.NOT_VISIBILITY
        return cls.BINARY if cls(convention) is cls.BINARY else cls.COCO

    @property
    def rule(self) -> str:
        """The labelled and visible rules, as one line (the manifest's ``visibility_rule``)."""
        return {
            VisibilityConvention.COCO: "coco: v > 0 labelled, v == 2 visible",
            VisibilityConvention.BINARY: "binary (file uses only 0/1): v == 1 labelled and visible",
            VisibilityConvention.NOT_VISIBILITY: "none: v > 0 labelled, no visible rule",
        }[self]

    @property
    def description(self) -> str:
        """What a figure's caption says about the visible rate."""
        return {
            VisibilityConvention.COCO: "visible: v == 2",
            VisibilityConvention.BINARY: "visible: v == 1 (the file uses 0/1 only)",
            VisibilityConvention.NOT_VISIBILITY: "no visible rate: this dataset's flag (CrowdPose's 0/1/2) does "
            "not follow COCO's v == 2 'visible' convention, so only the labelled rate (v > 0) is shown",
        }[self]


def density_levels(low: float = DENSITY_EDGES[0], high: float = DENSITY_EDGES[1]) -> LevelEdges:
    """Sparse / moderate / dense levels of a person's own crowding ratio N_b/N_a.

    SmallPose does not publish its definition; ours reuses the CrowdIndex ratio per
    person with editable edges (default 0.1 / 0.8).
    """
    return LevelEdges(low, high, ("sparse", "moderate", "dense"), "person density (N_b/N_a)")


#: Reference persons need at least this many keypoints (CrowdPose's rule).
CROWD_INDEX_MIN_KEYPOINTS = 4

CROWD_INDEX_DEFINITION = (
    f"CrowdIndex = mean over reference persons (num_keypoints >= {CROWD_INDEX_MIN_KEYPOINTS}, not iscrowd) of "
    "N_b/N_a; N_a = own labelled joints, N_b = labelled joints of other annotations "
    "inside the person's bbox (edges included); 0 when no reference person"
)


class PopulationKind(enum.StrEnum):
    """Which non-crowd person annotations count as persons (see ``PersonPopulation``)."""

    ALL = "all"  #: every non-crowd person annotation
    KEYPOINTS = "keypoints"  #: stored num_keypoints > 0 (the labelled count where the field is absent)
    LABELLED = "labelled"  #: at least one labelled joint (v > 0)
    MIN_LABELLED = "min"  #: at least N labelled joints (``minN``)


@dataclass(frozen=True)
class PersonPopulation:
    """The persons every count, share, area, density and keypoint rate is taken over.

    Crowd regions (``iscrowd``) are never persons.  Datasets disagree on what else
    counts: all 789 CrowdPose val persons smaller than 32^2 have a stored
    ``num_keypoints`` of 0 and 37 % of COCO's person annotations have no keypoints,
    so "how many small persons" depends on this choice.  Written (URL key
    ``persons``, ``python -m analysis info``) as ``all``, ``keypoints``,
    ``labelled`` or ``minN`` (N >= 1 labelled joints, e.g. ``min4``).

    CrowdIndex is an image property over every annotation and does not follow it.

    Attributes:
        kind: which rule.
        min_labelled: N for ``MIN_LABELLED`` (>= 1); 0 for the other kinds.
    """

    kind: PopulationKind = PopulationKind.KEYPOINTS
    min_labelled: int = 0

    def __post_init__(self) -> None:
        if self.kind is PopulationKind.MIN_LABELLED:
            if not 1 <= self.min_labelled <= MAX_JOINTS:
                raise ValueError(f"minN needs 1 <= N <= {MAX_JOINTS}, got {self.min_labelled}")
        elif self.min_labelled != 0:
            raise ValueError(f"min_labelled is only meaningful for minN, not {self.kind.value!r}")

    @classmethod
    def parse(cls, text: str) -> PersonPopulation:
        """``all`` / ``keypoints`` / ``labelled`` / ``minN``; ValueError otherwise."""
        value = text.strip().lower()
        if value.startswith(PopulationKind.MIN_LABELLED.value) and value[3:].isdigit():
            return cls(PopulationKind.MIN_LABELLED, int(value[3:]))
        try:
            return cls(PopulationKind(value))
        except ValueError:
            raise ValueError(
                f"unknown person population {text!r}: use all, keypoints, labelled or minN (e.g. min4)"
            ) from None

    def __str__(self) -> str:
        if self.kind is PopulationKind.MIN_LABELLED:
            return f"{self.kind.value}{self.min_labelled}"
        return self.kind.value

    @property
    def description(self) -> str:
        return (
            f"persons = {self}: "
            + {
                PopulationKind.ALL: "every non-crowd person annotation",
                PopulationKind.KEYPOINTS: "non-crowd annotations with stored num_keypoints > 0 "
                "(labelled joints where the field is absent)",
                PopulationKind.LABELLED: "non-crowd annotations with >= 1 labelled joint (v > 0)",
                PopulationKind.MIN_LABELLED: f"non-crowd annotations with >= {self.min_labelled} "
                "labelled joints (v > 0)",
            }[self.kind]
        )

    def mask(self, num_keypoints: npt.ArrayLike, n_labelled: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        """Which persons belong to the population.

        Args:
            num_keypoints: (N,) stored ``num_keypoints``, NaN where the file has none
                (then the labelled count stands in, as for CrowdIndex's reference persons).
            n_labelled: (N,) joints with v > 0.

        Returns:
            (N,) bool.
        """
        labelled = np.asarray(n_labelled, dtype=np.float64)
        if self.kind is PopulationKind.ALL:
            return np.ones(labelled.shape, dtype=bool)
        if self.kind is PopulationKind.LABELLED:
            return labelled >= 1
        if self.kind is PopulationKind.MIN_LABELLED:
            return labelled >= self.min_labelled
        stored = np.asarray(num_keypoints, dtype=np.float64)
        return np.where(np.isnan(stored), labelled, stored) > 0


#: Upper bound of N in ``minN`` (the largest real schema, COCO-WholeBody, has 133 joints).
MAX_JOINTS = 1000

#: Every population ``python -m analysis info`` reports counts for.
INFO_POPULATIONS = (
    PersonPopulation(PopulationKind.ALL),
    PersonPopulation(PopulationKind.KEYPOINTS),
    PersonPopulation(PopulationKind.LABELLED),
    PersonPopulation(PopulationKind.MIN_LABELLED, CROWD_INDEX_MIN_KEYPOINTS),
)

CROWD_INDEX_POPULATION_NOTE = (
    "CrowdIndex is an image property over all annotations; it does not follow the person population"
)
