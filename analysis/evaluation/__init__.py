"""Evaluation of keypoint results files by person size, keypoint density and crowding.

The COCO keypoint protocol, exact to pycocotools where they overlap, computed
once per evaluation (OKS pairs) and re-sliced on demand.  See the README's
"Evaluation" section for every definition.

The public names below load lazily, so ``python -m analysis`` (which registers
the ``evaluate`` command) does not pay for pandas until an evaluation runs.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "CrowdIndexSource": "definitions",
    "DetectionArea": "definitions",
    "EvaluationDefinitions": "definitions",
    "SigmaSource": "definitions",
    "SLICE_NAMES": "slices",
    "EvaluationResult": "slices",
    "SliceMetrics": "slices",
    "evaluate_stored": "slices",
    "matches_at": "slices",
    "EvaluationRecord": "store",
    "StoredEvaluation": "store",
    "list_evaluations": "store",
    "read_evaluation": "store",
    "REPORTED_TABLE5": "table5",
    "TABLE5_COLUMNS": "table5",
    "reported_table5_frame": "table5",
    "table5_frame": "table5",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
