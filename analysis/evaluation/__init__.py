"""Evaluation of keypoint results files by person size, keypoint density and crowding.

The COCO keypoint protocol, exact to pycocotools where they overlap, computed
once per evaluation (OKS pairs) and re-sliced on demand.  See the README's
"Evaluation" section for every definition.  Import from the modules themselves
(``analysis.evaluation.slices``, ``.store``, ...): this package imports nothing, so
``python -m analysis`` (which registers the ``evaluate`` command) does not pay for
pandas until an evaluation runs.
"""
