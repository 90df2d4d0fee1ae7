"""``python -m analysis info``: what is registered and cached, with counts and definitions."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Any

import msgspec

from analysis.build.run import BUILT_TABLES, code_version, is_up_to_date
from analysis.cache import contract as cache
from analysis.cache.manifest import (
    Manifest,
    ManifestError,
    StaleCacheError,
    UnreadableManifestError,
    read_manifest,
    rebuild_command,
    table_problems,
)
from analysis.datasets.population_counts import cached_population_counts
from analysis.definitions import INFO_POPULATIONS, SizeEdges
from analysis.registry import load_registry


class SplitState(enum.StrEnum):
    """What ``info`` says of a registered split."""

    NOT_BUILT = "not built"
    UP_TO_DATE = "up to date"
    STALE = "stale"  #: other inputs, options, code or cache format, or damaged tables
    UNREADABLE = "unreadable manifest"
    ANNOTATIONS_MISSING = "annotation file missing"


def _read(cache_root: Path, key: cache.CacheKey) -> Manifest | ManifestError:
    try:
        manifest = read_manifest(key.directory(cache_root))
    except ManifestError as exc:
        return exc
    assert manifest is not None  # list_caches lists only splits with a manifest
    return manifest


def _problem(manifest: Manifest, split_dir: Path) -> str | None:
    """Why a decoded cache cannot be vouched for, or None."""
    problems = table_problems(split_dir, manifest, BUILT_TABLES)
    if problems:
        return "damaged: " + "; ".join(problems)
    if manifest.code_version != code_version():
        return f"stale: built by analysis {manifest.code_version}, this is {code_version()}"
    return None


def info_json(registry: Path, cache_root: Path) -> dict[str, Any]:
    specs = load_registry(registry)
    cached = {(k.dataset, k.split): _read(cache_root, k) for k in cache.list_caches(cache_root)}
    registered = []
    for spec in specs:
        key = cache.CacheKey(spec.name, spec.split)
        manifest = cached.get((spec.name, spec.split))
        if manifest is None:
            state = SplitState.NOT_BUILT
        elif isinstance(manifest, StaleCacheError):
            state = SplitState.STALE
        elif isinstance(manifest, ManifestError):
            state = SplitState.UNREADABLE
        elif is_up_to_date(manifest, spec, key.directory(cache_root)):
            state = SplitState.UP_TO_DATE
        else:
            state = SplitState.STALE
        if not spec.annotations.is_file():
            state = SplitState.ANNOTATIONS_MISSING
        registered.append(
            {"name": spec.name, "split": spec.split, "annotations": str(spec.annotations), "state": state}
        )
    caches, skipped = [], []
    for (name, split), manifest in cached.items():
        split_dir = cache.CacheKey(name, split).directory(cache_root)
        if isinstance(manifest, ManifestError):
            command = manifest.command
            if isinstance(manifest, UnreadableManifestError):  # the registry tells which form rebuilds it
                command = manifest.command_for(any((s.name, s.split) == (name, split) for s in specs))
            skipped.append({"name": name, "split": split, "problem": manifest.problem, "command": command})
            continue
        problem = _problem(manifest, split_dir)  # damaged tables are not read
        caches.append(
            {
                "name": name,
                "split": split,
                "synthetic": manifest.synthetic,
                "counts": msgspec.to_builtins(manifest.counts),
                "keypoint_schema": manifest.keypoint_schema.name,
                "scenes": manifest.scenes is not None and (split_dir / cache.SCENES_FILE).is_file(),
                "populations": {} if problem else cached_population_counts(cache_root, cache.CacheKey(name, split)),
                "built_at": manifest.built_at,
                "definitions": _definition_lines(manifest),
                "area_sources": [s.value for s in manifest.definitions.area_sources],
                "warnings": manifest.warnings,
                "missing_images": manifest.inputs.images.n_missing,
                "problem": problem,
                "command": rebuild_command(split_dir, manifest),
                "evaluations": _evaluations(cache_root, cache.CacheKey(name, split)),
            }
        )
    return {
        "registry": str(registry),
        "cache_dir": str(cache_root),
        "registered": registered,
        "cached": caches,
        "skipped": skipped,
    }


def _evaluations(cache_root: Path, key: cache.CacheKey) -> list[dict[str, Any]]:
    """The split's stored model evaluations: label, AP of "all", stale or not."""
    from analysis.evaluation.store import list_evaluations

    return [
        {"model": r.model, "AP": r.slices["all"].AP if "all" in r.slices else None, "stale": r.stale,
         "damaged": r.damaged, "predictions": r.predictions.path, "evaluated_at": r.evaluated_at}
        for r in list_evaluations(cache_root, key)
    ]  # fmt: skip


def _definition_lines(manifest: Manifest) -> dict[str, str]:
    d = manifest.definitions
    return {
        "crowd_index": d.crowd_index,
        "crowding": d.crowding,
        "visibility": d.visibility_rule,
        "default_size": d.default_size,
        "crowd_levels": "; ".join(d.crowd_levels),
        "density_levels": d.density_levels,
    }


def info_lines(registry: Path, cache_root: Path) -> list[str]:
    doc = info_json(registry, cache_root)
    lines = [f"registry: {doc['registry']}"]
    if not doc["registered"]:
        lines.append("  (nothing registered: see docs/guides/datasets.md, 'Registering a dataset')")
    lines += [f"  {r['name']}/{r['split']}: {r['state']} ({r['annotations']})" for r in doc["registered"]]
    lines.append(f"cache: {doc['cache_dir']}")
    if not doc["cached"] and not doc["skipped"]:
        lines.append("  (no caches: run `python -m analysis demo` or `python -m analysis build`)")
    for c in doc["cached"]:
        n = c["counts"]
        per_image = n["persons"] / n["images"] if n["images"] else 0.0
        tags = [t for t, on in (("synthetic", c["synthetic"]), ("scenes", c["scenes"])) if on]
        lines.append(
            f"  {c['name']}/{c['split']}{' [' + ', '.join(tags) + ']' if tags else ''}: "
            f"{n['images']} images, {n['persons']} persons ({per_image:.2f}/image), "
            f"{n['crowd_regions']} crowd regions, {c['keypoint_schema']} joints"
            + (f", {c['missing_images']} image files missing" if c["missing_images"] else "")
            + f"; area sources: {', '.join(c['area_sources'])}"
        )
        for population, counts in c["populations"].items():
            lines.append(
                f"    persons={population}: {counts['persons']} persons; bbox S/M/L "
                f"{counts['small']} / {counts['medium']} / {counts['large']}"
            )
        if c["problem"]:
            lines.append(f"    {c['problem']}; rebuild it with `{c['command']}`")
        for warning in c["warnings"]:
            lines.append(f"    warning: {warning}")
        for e in c["evaluations"]:
            ap = "-" if e["AP"] is None else f"{100 * e['AP']:.1f}"
            stale = " [stale: evaluated against other annotations; evaluate again]" if e["stale"] else ""
            if e["damaged"]:
                lines.append(f"    evaluation: {e['model']}: DAMAGED ({e['damaged']}); evaluate again to replace it")
                continue
            lines.append(f"    evaluation: {e['model']}: AP {ap}{stale}")
    for s in doc["skipped"]:
        lines.append(f"  {s['name']}/{s['split']}: skipped, {s['problem']}; rebuild it with `{s['command']}`")
    if doc["cached"]:
        lines.append("definitions (applied at view time; the cache keeps raw quantities):")
        lines += [f"  {p.description}" for p in INFO_POPULATIONS]
        lines.append(f"  S/M/L above: bbox area w*h; {SizeEdges().description}")
        for name, text in doc["cached"][0]["definitions"].items():
            lines.append(f"  {name}: {text}")
    return lines
