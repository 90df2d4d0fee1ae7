"""A composed benchmark evaluated the way a paper reports it: per source part, and with
predictions made on the sources' original files.

- **Per source** (``evaluate --by source``): every slice over each source's images alone.
  The part of an image is the cache's ``source`` column (the registry's ``source`` rule,
  e.g. ``source = { field = "file_name", pattern = "^(?P<source>[^/]+)/" }`` for a
  composed file); matching is per image, so a part's numbers equal an evaluation of that
  part's images and persons alone.
- **Mapped predictions** (``evaluate --source-predictions SOURCE=FILE ... --mapped-out
  FILE``): a results file made on a source's original annotation file names that file's
  image ids.  ``compose`` keeps them as the composed image's ``source`` and
  ``original_image_id``; each record's ``image_id`` is mapped through them, the mapped
  records of every SOURCE=FILE are written as one results file (one model), and what
  did not map (images of the source not in this split) is counted per source.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import orjson
import pandas as pd

from analysis.build.coco_json import Int64
from analysis.cache import contract as cache
from analysis.errors import AnnotationError, PoseAtlasError
from analysis.evaluation import store
from analysis.evaluation.definitions import GT_COLUMNS, EvaluationDefinitions
from analysis.evaluation.slices import EvaluationResult, evaluate_stored_by

#: The ``--by`` choices: the images' column that names their part.
PART_COLUMNS = {"source": "source"}


def image_parts(images: pd.DataFrame, by: str, key: cache.CacheKey) -> pd.Series:
    """The part of each image id under ``by``.

    Raises:
        PoseAtlasError: the split has no image with a part (built without a source rule).
    """
    column = PART_COLUMNS[by]
    parts = pd.Series(images[column].to_numpy(object), index=images["image_id"].to_numpy(np.int64))
    known = parts.notna()
    if not known.any():
        raise PoseAtlasError(
            f"--by {by}: no image of {key} has a {column}; build it with a source rule "
            '(registry: source = { field = "file_name", pattern = "^(?P<source>[^/]+)/" })'
        )
    return parts


def results_by_part(
    cache_root: Path, key: cache.CacheKey, models: list[str], definitions: EvaluationDefinitions, by: str
) -> tuple[dict[str, dict[str, EvaluationResult]], dict[str, int]]:
    """Every stored model's slices per part: ``({model: {part: result}}, {part: images})``;
    images without a part are counted under ``""``."""
    images = cache.read_images(cache_root, key)
    instances = cache.read_instances(cache_root, key, columns=GT_COLUMNS)
    parts = image_parts(images, by, key)
    counts = {str(k): int(v) for k, v in parts.fillna("").value_counts().sort_index().items()}
    out = {}
    for model in models:
        stored = store.read_evaluation(cache_root, key, model)
        out[model] = evaluate_stored_by(stored, images, instances, definitions, parts)
    return out, counts


# --- predictions made on the sources' files ------------------------------------------------


class _ComposedImage(msgspec.Struct, gc=False):
    id: Int64
    source: str | None = None
    original_image_id: Int64 | None = None


class _ComposedFile(msgspec.Struct, gc=False):
    images: list[_ComposedImage]


def parse_source_predictions(values: list[str]) -> list[tuple[str, Path]]:
    """``["coco=preds.json", ...]`` -> ``[("coco", Path("preds.json")), ...]``."""
    pairs = []
    for value in values:
        source, sep, file = value.partition("=")
        if not sep or not source or not file:
            raise PoseAtlasError(f"--source-predictions {value!r}: write SOURCE=FILE (e.g. coco=results.json)")
        pairs.append((source, Path(file)))
    return pairs


def map_source_predictions(annotations: Path, pairs: list[tuple[str, Path]], out: Path) -> dict[str, Any]:
    """Map results files made on the sources' original files onto the composed split.

    Args:
        annotations: the composed split's annotation file (images with ``source`` and
            ``original_image_id``, as ``compose`` writes them).
        pairs: (source name, results file) pairs.
        out: the mapped results file to write (one model).

    Returns:
        ``{"output", "sources": [{source, file, records, mapped, not_in_split}], ...}``.

    Raises:
        PoseAtlasError: the split has no source/original_image_id, a source it does not
            have, a bad results file; nothing is written then.
    """
    lookup = _composed_image_ids(annotations)
    sources = sorted({s for s, _ in lookup})
    mapped: list[dict] = []
    rows = []
    for source, path in pairs:
        # A source absent from this split maps nothing (all its images may be in the other split);
        # it is reported, and refused only when nothing maps at all.
        records = _read_results_list(path)
        n_mapped = 0
        not_in_split: set[int] = set()
        for index, record in enumerate(records):
            image_id = record.get("image_id") if isinstance(record, dict) else None
            if isinstance(image_id, bool) or not isinstance(image_id, int):
                raise AnnotationError(path, f"record {index}", f"image_id {image_id!r} is not an integer")
            new_id = lookup.get((source, image_id))
            if new_id is None:
                not_in_split.add(image_id)
                continue
            mapped.append({**record, "image_id": new_id})
            n_mapped += 1
        rows.append(
            {
                "source": source,
                "file": str(path),
                "records": len(records),
                "mapped": n_mapped,
                "not_in_split": {"records": len(records) - n_mapped, "images": len(not_in_split)},
                "source_in_split": source in sources,
            }
        )
    if not mapped:
        raise PoseAtlasError(
            f"--source-predictions: no record maps onto an image of {annotations} (its sources: "
            f"{', '.join(sources)}; are these predictions of the other split's images?)"
        )
    report = {"output": str(out), "annotations": str(annotations), "sources": rows}
    with cache.atomic_path(Path(out)) as tmp:
        tmp.write_bytes(orjson.dumps(mapped))
    return report


def _composed_image_ids(annotations: Path) -> dict[tuple[str, int], int]:
    """(source, original_image_id) -> the composed split's image id, from its image records."""
    try:
        composed = msgspec.json.decode(Path(annotations).read_bytes(), type=_ComposedFile)
    except (OSError, msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise PoseAtlasError(f"{annotations}: cannot read its images' source and original_image_id ({exc})") from None
    lookup: dict[tuple[str, int], int] = {}
    for image in composed.images:
        if image.source is not None and image.original_image_id is not None:
            lookup[image.source, image.original_image_id] = image.id
    if not lookup:
        raise PoseAtlasError(
            f"{annotations}: no image has source and original_image_id; --source-predictions "
            "maps onto a file written by python -m analysis compose"
        )
    return lookup


def _read_results_list(path: Path) -> list:
    """A results file's records, with the evaluate reader's own checks: a regular file read once
    (never a FIFO), gzip and a UTF-8 byte-order mark accepted, UTF-16 and empty files named."""
    from analysis.build.coco_json import unwrap_json_bytes
    from analysis.evaluation.run import read_predictions_bytes

    data, _ = read_predictions_bytes(path)
    try:
        records = orjson.loads(unwrap_json_bytes(path, data))
    except orjson.JSONDecodeError as exc:
        raise PoseAtlasError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(records, list):
        raise AnnotationError(
            path, None, "a results file is a JSON list of {image_id, category_id, keypoints, score} records"
        )
    return records


def mapping_lines(report: dict[str, Any]) -> list[str]:
    lines = []
    for row in report["sources"]:
        left = row["not_in_split"]
        lines.append(
            f"{row['source']}: {row['mapped']} of {row['records']} records from {row['file']} mapped; "
            f"{left['records']} records of {left['images']} images not in this split"
            + ("" if row["source_in_split"] else f" (no image of source {row['source']!r} is in this split)")
        )
    lines.append(f"mapped predictions: {report['output']}")
    return lines
