"""Stored model evaluations for the dashboard (pure; no streamlit).

``python -m analysis evaluate`` stores each model's evaluation beside the dataset
cache (``<cache>/<dataset>/<split>/evaluations/<model>/``).  This module finds them,
and re-slices one from its stored OKS pairs when the dashboard's size definition
differs from the one it was evaluated with (sigmas and the OKS area are fixed by the
evaluation; changing them needs ``evaluate`` again).
"""

from __future__ import annotations

import dataclasses
import shlex
from dataclasses import dataclass
from pathlib import Path, PurePath

import pandas as pd
import pyarrow.parquet as pq

from analysis.cache import contract as cache
from analysis.cache.contract import CacheKey
from analysis.definitions import SizeDefinition
from analysis.errors import PoseAtlasError
from analysis.evaluation import store
from analysis.evaluation.definitions import EvaluationDefinitions
from analysis.evaluation.slices import evaluate_stored, evaluate_stored_by, matches_at
from dashboard.figures.models import EvaluatedModel


@dataclass(frozen=True)
class StoredModel:
    """One stored evaluation: which split, which model, and its record.

    Attributes:
        key: the cached split it was evaluated on.
        record: the stored ``EvaluationRecord``.
    """

    key: CacheKey
    record: store.EvaluationRecord

    @property
    def model(self) -> str:
        return str(self.record.model)

    @property
    def label(self) -> str:
        return f"{self.model} ({self.key})"

    @property
    def stale(self) -> bool:
        """True when the split's annotations changed since the evaluation."""
        return bool(self.record.stale)

    @property
    def definitions(self) -> EvaluationDefinitions:
        """The definitions the stored evaluation used."""
        return EvaluationDefinitions.from_json(self.record.definitions)


def evaluate_command(key: CacheKey, root: Path, model: str = "LABEL", predictions: str = "FILE") -> str:
    """The command that (re-)evaluates a results file on ``key`` (arguments shell-quoted)."""
    q = shlex.quote
    return (
        f"python -m analysis evaluate --name {q(key.dataset)} --split {q(key.split)} "
        f"--predictions {q(str(predictions))} --model {q(model)} --cache-dir {q(str(root))}"
    )


def find_models(root: Path, keys: list[CacheKey]) -> list[StoredModel]:
    """Every stored evaluation of the given splits, in split then model order."""
    return [StoredModel(key, record) for key in keys for record in store.list_evaluations(root, key)]


def definitions_for(stored: EvaluationDefinitions, size: SizeDefinition) -> EvaluationDefinitions:
    """The stored definitions with the dashboard's size definition in place of the stored one."""
    return dataclasses.replace(stored, size=size)


def resliced(stored: EvaluationDefinitions, size: SizeDefinition) -> bool:
    """True when the dashboard's size definition differs from the stored one."""
    return stored.size != size


def _instances(root: Path, key: CacheKey) -> pd.DataFrame:
    """A split's instances without the keypoints (the stored OKS pairs stand in for them)."""
    names = pq.read_schema(key.directory(root) / cache.INSTANCES_FILE).names
    return cache.read_instances(root, key, columns=[c for c in names if c != "keypoints"])


def model_result(root: Path, entry: StoredModel, size: SizeDefinition, source: str | None = None) -> EvaluatedModel:
    """Every slice of one stored evaluation under ``size`` (``.result.definitions`` says what it used);
    with ``source``, over that source's images only (``evaluate --by source``).  An evaluation stored
    with bootstrap intervals gets them again over all images, re-sliced, with its stored settings."""
    stored = store.read_evaluation(root, entry.key, entry.model)
    images = cache.read_images(root, entry.key)
    instances = _instances(root, entry.key)
    definitions = definitions_for(stored.definitions, size)
    if source is None:
        result = evaluate_stored(stored, images, instances, definitions, stored.record.bootstrap)
        return EvaluatedModel(str(entry.key), result)
    parts = pd.Series(images["source"].to_numpy(object), index=images["image_id"].to_numpy())
    results = evaluate_stored_by(stored, images, instances, definitions, parts)
    if source not in results:
        raise PoseAtlasError(f"{entry.key} has no image of source {source!r}")
    # The key names the part, so every table and caption built from it says which images it is over.
    return EvaluatedModel(f"{entry.key} (source {source})", results[source])


def split_sources(root: Path, keys: list[CacheKey]) -> list[str]:
    """The sources (the images' ``source`` column) of the given splits, sorted; [] when none has one."""
    found: set[str] = set()
    for key in keys:
        column = cache.read_images(root, key, columns=["source"])["source"]
        found |= {str(v) for v in column.dropna().unique()}
    return sorted(found)


def model_matches(root: Path, entry: StoredModel, threshold: float = 0.5) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(detections, ground truth) frames of one stored evaluation matched at ``threshold`` OKS."""
    stored = store.read_evaluation(root, entry.key, entry.model)
    instances = _instances(root, entry.key)
    return matches_at(stored, instances, threshold=threshold)


#: Hex digits of a predictions file's SHA-256 a LaTeX table prints (enough to tell files apart).
SHA256_PRINTED = 12


def stored_table(entries: list[StoredModel]) -> pd.DataFrame:
    """One row per stored evaluation: what was evaluated and what was left out, with counts.

    Columns: model, dataset (``dataset/split``), predictions (the file's name: never a path
    of the author's machine), predictions sha256, records, evaluated, beyond 20 per image,
    other categories, evaluated at, stale.
    """
    rows = [
        {
            "model": e.model,
            "dataset": str(e.key),
            "predictions": PurePath(e.record.predictions.path).name,
            "predictions sha256": e.record.predictions.sha256,
            "records": e.record.counts.records,
            "evaluated": e.record.counts.kept,
            "beyond 20 per image": e.record.counts.over_max_per_image,
            "other categories": e.record.counts.other_category,
            "evaluated at": e.record.evaluated_at,
            "stale": e.stale,
        }
        for e in entries
    ]
    columns = [
        "model",
        "dataset",
        "predictions",
        "predictions sha256",
        "records",
        "evaluated",
        "beyond 20 per image",
        "other categories",
        "evaluated at",
        "stale",
    ]
    table = pd.DataFrame(rows, columns=columns)
    # LaTeX prints the hash's first 12 hex digits (the CSV keeps all 64) so the table fits a page
    table.attrs["latex"] = {
        "truncate": {"predictions sha256": SHA256_PRINTED},
        "stack_headers": True,
        "column_blocks": ["model", "dataset"],  # the counts and times under the files, in blocks
        "compact": True,
    }
    return table
