"""What an evaluation needs from a built split, and the user's choices resolved against it.

The split's manifest facts come from :func:`analysis.cache.split.open_cached_split`
(the one adapter, shared with subset and compose); here: the person category ids
and the documented defaults of every definition.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
import numpy as np

from analysis.cache.columns import Columns, column
from analysis.cache.split import CachedSplit
from analysis.definitions import (
    AreaSource,
    CrowdConvention,
    CrowdIndexSource,
    LevelEdges,
    SizeDefinition,
    density_levels,
)
from analysis.errors import PoseAtlasError
from analysis.evaluation.definitions import DetectionArea, EvaluationDefinitions, SigmaSource

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class EvaluationRequest:
    """The user's choices, before they are resolved against a dataset.

    ``None`` means the documented default: sigmas from the keypoint schema; OKS
    area ``segm`` when every person has the file's ``area``, else ``crowdpose``;
    the stored crowdIndex when every image has one, else the computed one.
    """

    sigmas: str | None = None  #: "coco", "crowdpose" or a file of K numbers
    oks_area: AreaSource | None = None
    size: SizeDefinition = field(default_factory=SizeDefinition)
    density_edges: LevelEdges = field(default_factory=density_levels)
    crowd_convention: CrowdConvention = CrowdConvention.EVAL_CODE
    crowd_index: CrowdIndexSource | None = None
    detection_area: DetectionArea = DetectionArea.KEYPOINT_BOX


def person_categories(facts: CachedSplit, annotation_path: Path) -> list[int]:
    """Ids of the categories whose annotations are persons, as the build chose them.

    The manifest records the build's choice (the keypoint category most annotations
    use); a cache from before that record falls back to every keypoint category of
    the file (read like the build reads it: gzip too).
    """
    if facts.category_id is not None:
        return [facts.category_id]
    # the build's reader, imported only here: an evaluation of a current cache needs none of it
    import gzip

    from analysis.build.coco_json import CocoCategory, read_annotation_bytes
    from analysis.build.json_input import GZIP_MAGIC
    from analysis.build.loading import _keypoint_categories

    # (defstruct: a class body's string annotation would not see this function's imports)
    categories_only = msgspec.defstruct("Categories", [("categories", list[CocoCategory])])
    data: bytes | bytearray = read_annotation_bytes(annotation_path)
    if data[:2] == GZIP_MAGIC:
        data = gzip.decompress(data)
    decoded: Any = msgspec.json.decode(data, type=categories_only)
    return [c.id for c in _keypoint_categories(annotation_path, decoded.categories)]


def resolve_definitions(
    request: EvaluationRequest,
    facts: CachedSplit,
    images: pd.DataFrame | Columns,
    instances: pd.DataFrame | Columns,
) -> EvaluationDefinitions:
    """Apply the defaults and check every choice is possible on this dataset."""
    source, sigma_file, sigmas = _resolve_sigmas(request.sigmas, facts)
    if len(sigmas) != facts.n_joints:
        raise PoseAtlasError(
            f"--sigmas {request.sigmas or 'schema'}: {len(sigmas)} sigmas for a "
            f"{facts.n_joints}-joint schema ({facts.schema_name})"
        )
    persons = ~column(instances, "iscrowd").astype(bool)
    segm = column(instances, "segm_area").astype(np.float64)
    n_without_area = int((np.isnan(segm) & persons).sum())
    oks_area = request.oks_area or (AreaSource.SEGM if n_without_area == 0 else AreaSource.CROWDPOSE)
    if oks_area is AreaSource.SEGM and n_without_area:
        raise PoseAtlasError(
            f"--oks-area segm: {n_without_area} person(s) have no 'area' in the annotation file; use bbox or crowdpose"
        )
    stored = column(images, "crowd_index_stored").astype(np.float64)
    crowd_index = request.crowd_index or (
        CrowdIndexSource.STORED if len(stored) and not np.isnan(stored).any() else CrowdIndexSource.COMPUTED
    )
    if crowd_index is CrowdIndexSource.STORED and np.isnan(stored).any():
        raise PoseAtlasError(
            f"--crowd-index stored: {int(np.isnan(stored).sum())} of {len(stored)} images have no stored "
            "crowdIndex; use computed"
        )
    definitions = EvaluationDefinitions(
        sigmas,
        source,
        sigma_file,
        oks_area,
        request.size,
        request.density_edges,
        request.crowd_convention,
        crowd_index,
        request.detection_area,
    )
    if request.size.area_source is AreaSource.SEGM and n_without_area:
        raise PoseAtlasError(
            f"--size-area segm: {n_without_area} person(s) have no 'area' in the annotation file; use bbox or crowdpose"
        )
    return definitions


#: The smallest OKS sigma accepted (COCO's smallest is 0.025).
MIN_SIGMA = 1e-6


def _resolve_sigmas(value: str | None, facts: CachedSplit) -> tuple[SigmaSource, str | None, tuple[float, ...]]:
    if value is None or value == SigmaSource.SCHEMA.value:
        if facts.schema_sigmas is None:
            raise PoseAtlasError(
                f"the {facts.schema_name} keypoint schema has no published OKS sigmas; "
                f"pass --sigmas FILE with {facts.n_joints} values"
            )
        return SigmaSource.SCHEMA, None, facts.schema_sigmas
    if value in (SigmaSource.COCO.value, SigmaSource.CROWDPOSE.value):
        source = SigmaSource(value)
        return source, None, source.builtin or ()
    path = Path(value)
    if not path.is_file():
        raise PoseAtlasError(f"--sigmas {value}: not coco, crowdpose or an existing file")
    text = path.read_text(encoding="utf-8", errors="replace")
    problem = f"{path}: sigmas must be a JSON list of numbers or whitespace/comma separated numbers"
    try:
        values = (
            json.loads(text) if text.lstrip().startswith("[") else [float(v) for v in text.replace(",", " ").split()]
        )
    except (ValueError, RecursionError):
        raise PoseAtlasError(problem) from None
    if not isinstance(values, list) or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        raise PoseAtlasError(problem + " (no strings, booleans or nested lists)")
    sigmas = tuple(float(v) for v in values)
    # OKS divides by sigma^2: a subnormal sigma squares to 0 (a division by zero).
    if not sigmas or not all(np.isfinite(s) and s >= MIN_SIGMA for s in sigmas):
        raise PoseAtlasError(f"{path}: sigmas must be finite numbers of at least {MIN_SIGMA:g}")
    return SigmaSource.FILE, str(path), sigmas
