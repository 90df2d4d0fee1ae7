"""What an evaluation depends on: OKS sigmas and scale, size buckets, density and crowd levels.

Two groups of choices, kept apart on purpose:

- the *matching* choices (``sigmas``, ``oks_area``) fix the OKS of every
  (detection, person) pair; changing them means evaluating the predictions again;
- the *slicing* choices (``size``, ``density_edges``, ``crowd_convention``,
  ``crowd_index``) only decide which persons and detections a slice keeps; the
  stored OKS pairs are re-matched and re-accumulated under new ones in
  milliseconds (:func:`analysis.evaluation.slices.evaluate_stored`).
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass, field
from typing import Any, Literal

import msgspec
import numpy as np
import numpy.typing as npt

from analysis.definitions import (
    MAX_EDGE_PX,
    MIN_EDGE_PX,
    AreaSource,
    CrowdConvention,
    CrowdIndexSource,
    LevelEdges,
    SizeDefinition,
    SizeEdges,
    density_levels,
)
from analysis.schema import COCO17_SIGMAS, CROWDPOSE14_SIGMAS


class SigmaSource(enum.StrEnum):
    """Where the per-joint OKS sigmas come from."""

    COCO = "coco"  #: the 17 sigmas published with COCO's keypoint evaluation
    CROWDPOSE = "crowdpose"  #: the 14 sigmas of CrowdPose's evaluator
    SCHEMA = "schema"  #: the dataset's keypoint schema (COCO or CrowdPose when recognised)
    FILE = "file"  #: explicit values read from a file

    @property
    def builtin(self) -> tuple[float, ...] | None:
        return {SigmaSource.COCO: COCO17_SIGMAS, SigmaSource.CROWDPOSE: CROWDPOSE14_SIGMAS}.get(self)


class DetectionArea(enum.StrEnum):
    """The area that places an unmatched detection in a size slice."""

    #: the box spanned by its keypoints, w*h, unscaled whatever the persons' area source:
    #: what pycocotools' and xtcocotools' ``loadRes`` set (the reference; the default)
    KEYPOINT_BOX = "keypoint-box"
    #: that box scaled like the persons' size area (0.53*w*h under ``--size-area crowdpose``)
    SCALED = "scaled"

    @property
    def description(self) -> str:
        return {
            DetectionArea.KEYPOINT_BOX: "unmatched detections sized by their keypoint box w*h (as xtcocotools)",
            DetectionArea.SCALED: "unmatched detections sized by their keypoint box scaled like persons",
        }[self]


#: Crowd-level conventions by their command-line names.
CROWD_LEVEL_NAMES = {"code": CrowdConvention.EVAL_CODE, "paper": CrowdConvention.PAPER}

#: pycocotools' keypoint IoU (OKS) thresholds 0.50:0.05:0.95 (linspace, as pycocotools builds them).
OKS_THRESHOLDS = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)
#: pycocotools' 101 recall points 0:0.01:1.
RECALL_POINTS = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True)
#: Detections kept per image, highest score first (COCO's keypoint maxDets).
MAX_DETECTIONS = 20
#: The columns of instances.parquet an evaluation reads (the ground truth; not the keypoints list,
#: which :func:`analysis.evaluation.compute.gt_keypoints` reads apart).
GT_COLUMNS = [
    "ann_id",
    "image_id",
    "iscrowd",
    "bbox_x",
    "bbox_y",
    "bbox_w",
    "bbox_h",
    "segm_area",
    "num_keypoints",
    "n_labelled",
    "crowding",
]
#: The columns of images.parquet an evaluation reads (crowd levels, the split's image ids).
IMAGE_COLUMNS = ["image_id", "crowd_index", "crowd_index_stored"]


@dataclass(frozen=True)
class EvaluationDefinitions:
    """Every choice an evaluation's numbers depend on.

    Attributes:
        sigmas: (K,) per-joint OKS sigmas, resolved from ``sigma_source``.
        sigma_source: where ``sigmas`` came from (``sigma_file`` names the file for FILE).
        oks_area: the person area that scales OKS (``segm``: the COCO ``area``
            field; ``bbox``: w*h; ``crowdpose``: 0.53*w*h).
        size: the area that buckets persons and its edges (half-open [lo, hi)).
        density_edges: sparse / moderate / dense edges of the person crowding ratio.
        crowd_convention: easy / medium / hard CrowdIndex edges (code 0.2/0.8, paper 0.1/0.8).
        crowd_index: which per-image CrowdIndex the crowd levels use.
        detection_area: what places an unmatched detection in a size slice (the
            reference tools' keypoint box by default; differs only under a scaled size area).
    """

    sigmas: tuple[float, ...]
    sigma_source: SigmaSource = SigmaSource.SCHEMA
    sigma_file: str | None = None
    oks_area: AreaSource = AreaSource.SEGM
    size: SizeDefinition = field(default_factory=SizeDefinition)
    density_edges: LevelEdges = field(default_factory=density_levels)
    crowd_convention: CrowdConvention = CrowdConvention.EVAL_CODE
    crowd_index: CrowdIndexSource = CrowdIndexSource.STORED
    detection_area: DetectionArea = DetectionArea.KEYPOINT_BOX

    def __post_init__(self) -> None:
        sigmas = tuple(float(s) for s in self.sigmas)
        if not sigmas or not all(np.isfinite(s) and s > 0 for s in sigmas):
            raise ValueError(f"OKS sigmas must be positive finite numbers, got {list(self.sigmas)}")
        object.__setattr__(self, "sigmas", sigmas)

    @property
    def sigma_array(self) -> npt.NDArray[np.float64]:
        """(K,) float64 sigmas."""
        return np.asarray(self.sigmas, dtype=np.float64)

    def matching_key(self) -> dict[str, Any]:
        """The choices that fix OKS: equal keys mean the stored pairs can be reused."""
        return {"sigmas": list(self.sigmas), "oks_area": self.oks_area.value}

    def same_matching(self, other: EvaluationDefinitions) -> bool:
        return self.matching_key() == other.matching_key()

    def with_slicing(self, other: EvaluationDefinitions) -> EvaluationDefinitions:
        """These matching choices with ``other``'s slicing choices."""
        return dataclasses.replace(
            self,
            size=other.size,
            density_edges=other.density_edges,
            crowd_convention=other.crowd_convention,
            crowd_index=other.crowd_index,
            detection_area=other.detection_area,
        )

    @property
    def description(self) -> str:
        """One caption line."""
        origin = f"file {self.sigma_file}" if self.sigma_source is SigmaSource.FILE else self.sigma_source.value
        return (
            f"COCO keypoint protocol (OKS 0.50:0.05:0.95, {MAX_DETECTIONS} detections/image); "
            f"sigmas: {origin} (K={len(self.sigmas)}); OKS area: {self.oks_area.description}; "
            f"{self.size.description} (half-open){self._detection_area_text}; "
            f"small persons' {self.density_edges.description}; "
            f"{self.crowd_convention.levels().description} on the {self.crowd_index.value} CrowdIndex"
        )

    @property
    def _detection_area_text(self) -> str:
        """Said only where it changes a number: a size area that scales the box (crowdpose)."""
        return f", {self.detection_area.description}" if self.size.area_source is AreaSource.CROWDPOSE else ""

    def to_record(self) -> DefinitionsRecord:
        """The stored form (evaluation.json's ``definitions``, the --json documents')."""
        levels = self.crowd_convention.levels()
        return DefinitionsRecord(
            sigmas=self.sigmas,
            sigma_source=self.sigma_source,
            sigma_file=self.sigma_file,
            oks_area=self.oks_area,
            size_area=self.size.area_source,
            size_edges=(self.size.edges.small_medium, self.size.edges.medium_large),
            density_edges=(self.density_edges.low, self.density_edges.high),
            crowd_levels="code" if self.crowd_convention is CrowdConvention.EVAL_CODE else "paper",
            crowd_edges=(levels.low, levels.high),
            crowd_index=self.crowd_index,
            detection_area=self.detection_area,
        )

    def to_json(self) -> dict[str, Any]:
        """:meth:`to_record` as plain JSON values (for documents built as dicts)."""
        result: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(self.to_record()))  # tuples as lists
        return result

    @classmethod
    def from_record(cls, record: DefinitionsRecord) -> EvaluationDefinitions:
        """Raises ValueError for values no evaluation could have used (e.g. unordered edges)."""
        lo, hi = record.size_edges
        return cls(
            sigmas=tuple(record.sigmas),
            sigma_source=record.sigma_source,
            sigma_file=record.sigma_file,
            oks_area=record.oks_area,
            size=SizeDefinition(record.size_area, SizeEdges(lo, hi)),
            density_edges=density_levels(*record.density_edges),
            crowd_convention=CROWD_LEVEL_NAMES[record.crowd_levels],
            crowd_index=record.crowd_index,
            detection_area=record.detection_area,
        )

    @classmethod
    def from_json(cls, data: bytes | msgspec.Raw) -> EvaluationDefinitions:
        """Definitions from their stored JSON text; ValueError (one line) when they do not decode."""
        try:
            record = _RECORD_DECODER.decode(data)
        except msgspec.DecodeError as exc:  # ValidationError included: a wrong or missing field
            raise ValueError(str(exc)) from None
        return cls.from_record(record)


class DefinitionsRecord(msgspec.Struct, frozen=True, kw_only=True):
    """evaluation.json's ``definitions`` (and the ``definitions`` of every --json document).

    ``crowd_edges`` restates the edges of ``crowd_levels`` for readers; it is not read back.
    """

    sigmas: tuple[float, ...]
    sigma_source: SigmaSource
    sigma_file: str | None = None
    oks_area: AreaSource
    size_area: AreaSource
    size_edges: tuple[float, float]  #: areas in px^2
    density_edges: tuple[float, float]
    crowd_levels: Literal["code", "paper"]  #: a key of CROWD_LEVEL_NAMES
    crowd_edges: tuple[float, float]
    crowd_index: CrowdIndexSource
    #: records written before the choice existed are re-sliced with the reference's area
    detection_area: DetectionArea = DetectionArea.KEYPOINT_BOX


_RECORD_DECODER = msgspec.json.Decoder(DefinitionsRecord)


def size_edges_from_sides(text: str) -> SizeEdges:
    """``"32,96"`` (side lengths) -> SizeEdges(32**2, 96**2)."""
    lo, hi = _two_numbers(text, "--edges")
    if not (MIN_EDGE_PX <= lo <= MAX_EDGE_PX and MIN_EDGE_PX <= hi <= MAX_EDGE_PX):
        raise ValueError(f"--edges {text}: side lengths must be in [{MIN_EDGE_PX:g}, {MAX_EDGE_PX:g}] px")
    try:
        return SizeEdges(lo**2, hi**2)
    except ValueError as exc:
        raise ValueError(f"--edges {text}: {exc}") from None


def level_edges_from_text(text: str) -> LevelEdges:
    """``"0.1,0.8"`` -> density LevelEdges."""
    lo, hi = _two_numbers(text, "--density-edges")
    try:
        return density_levels(lo, hi)
    except ValueError as exc:
        raise ValueError(f"--density-edges {text}: {exc}") from None


def _two_numbers(text: str, option: str) -> tuple[float, float]:
    parts = [p.strip() for p in text.split(",")]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise ValueError(f"{option} {text}: expected two numbers separated by a comma") from None
    if len(values) != 2 or not all(np.isfinite(v) and v >= 0 for v in values):
        raise ValueError(f"{option} {text}: expected two non-negative numbers separated by a comma")
    return values[0], values[1]
