"""Registry entries for written subsets, so that the dashboard compares them with their source.

Subset k of ``NAME/SPLIT`` is registered as dataset ``NAME-subset-k``, split ``SPLIT``
(the same split name, so the dashboard shows it beside its source), with the source's
image folder, keypoint-schema override and ``source`` rule.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from analysis.cache.manifest import SourceRuleRecord
from analysis.cache.split import open_cached_split
from analysis.datasets.subset import SubsetJob, subset_file_name
from analysis.errors import PoseAtlasError
from analysis.names import MAX_NAME_LENGTH, is_valid_name
from analysis.registry import load_registry


@dataclass(frozen=True)
class SubsetEntry:
    """One ``[[dataset]]`` entry; paths as written (relative to the registry's folder)."""

    name: str
    split: str
    annotations: str
    images: str | None
    keypoint_schema: str | list[str] | None
    source_rule: SourceRuleRecord | None

    def toml(self) -> str:
        # JSON strings and arrays of strings are valid TOML values.
        lines = [
            "",
            "[[dataset]]",
            f"name = {json.dumps(self.name)}",
            f"split = {json.dumps(self.split)}",
            f"annotations = {json.dumps(self.annotations)}",
        ]
        if self.images:
            lines.append(f"images = {json.dumps(self.images)}")
        if self.keypoint_schema is not None:
            lines.append(f"keypoint_schema = {json.dumps(self.keypoint_schema)}")
        if self.source_rule:
            lines.append(
                f"source = {{ field = {json.dumps(self.source_rule.field)}, "
                f"pattern = {json.dumps(self.source_rule.pattern)} }}"
            )
        return "\n".join(lines) + "\n"


def registry_entries(job: SubsetJob, registry: Path) -> list[SubsetEntry]:
    """The entries of the subsets ``job`` writes."""
    split = open_cached_split(job.cache_root, job.key)
    base = Path(registry).resolve().parent
    images = os.path.relpath(split.images_dir, base) if split.images_dir else None
    return [
        SubsetEntry(
            name=f"{job.key.dataset}-subset-{k}",
            split=job.key.split,
            annotations=os.path.relpath((job.out_dir / subset_file_name(k)).resolve(), base),
            images=images,
            keypoint_schema=split.options.keypoint_schema,
            source_rule=split.options.source_rule,
        )
        for k in range(1, job.spec.count + 1)
    ]


def check_registrable(entries: list[SubsetEntry], registry: Path) -> None:
    """Refuse an entry the registry could not load back (a name breaking the naming rule,
    e.g. too long once ``-subset-k`` is appended), or a name/split registered already with
    another annotation file."""
    base = Path(registry).resolve().parent
    existing = {(s.name, s.split): s for s in load_registry(registry)}
    for entry in entries:
        _check_entry_names(entry, registry)
        spec = existing.get((entry.name, entry.split))
        if spec is not None and Path(spec.annotations).resolve() != (base / entry.annotations).resolve():
            raise PoseAtlasError(
                f"{registry}: {entry.name}/{entry.split} is registered already, with "
                f"{spec.annotations}; remove that entry or write the subsets there"
            )


def register_subsets(entries: list[SubsetEntry], registry: Path) -> list[str]:
    """Append the entries not registered yet (the user's comments are kept); returns ``name/split`` of each added."""
    existing = {(s.name, s.split) for s in load_registry(registry)}
    new = [e for e in entries if (e.name, e.split) not in existing]
    for entry in new:
        _check_entry_names(entry, registry)
    if new:
        registry.parent.mkdir(parents=True, exist_ok=True)
        with registry.open("a", encoding="utf-8") as fh:
            fh.write("".join(e.toml() for e in new))
    return [f"{e.name}/{e.split}" for e in new]


def _check_entry_names(entry: SubsetEntry, registry: Path) -> None:
    """An appended entry must load back: a bad one would break every later build and info."""
    for value, what in ((entry.name, "dataset name"), (entry.split, "split name")):
        if not is_valid_name(value):
            raise PoseAtlasError(
                f"{registry}: cannot register {what} {value!r}: names are letters, digits, '-', '_' or '.' "
                f"(not leading '.' or '-'), at most {MAX_NAME_LENGTH} characters; use a shorter dataset name"
            )
