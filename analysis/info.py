"""``python -m analysis info``: what is registered and cached, with counts and definitions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from analysis import cache
from analysis.build import is_up_to_date
from analysis.definitions import INFO_POPULATIONS, SizeEdges
from analysis.population import cached_population_counts
from analysis.registry import load_registry


def info_json(registry: Path, cache_root: Path) -> dict[str, Any]:
    specs = load_registry(registry)
    cached = {(k.dataset, k.split): cache.read_manifest(cache_root, k) for k in cache.list_caches(cache_root)}
    registered = []
    for spec in specs:
        manifest = cached.get((spec.name, spec.split))
        state = "not built" if manifest is None else ("up to date" if is_up_to_date(manifest, spec) else "stale")
        if not spec.annotations.is_file():
            state = "annotation file missing"
        registered.append({"name": spec.name, "split": spec.split, "annotations": str(spec.annotations), "state": state})
    caches = []
    for (name, split), manifest in cached.items():
        caches.append({
            "name": name, "split": split, "synthetic": manifest.get("synthetic", False),
            "counts": manifest.get("counts", {}), "keypoint_schema": manifest.get("keypoint_schema", {}).get("name"),
            "scenes": (cache.CacheKey(name, split).directory(cache_root) / cache.SCENES_FILE).is_file(),
            "populations": cached_population_counts(cache_root, cache.CacheKey(name, split)),
            "built_at": manifest.get("built_at"), "definitions": manifest.get("definitions", {}),
            "warnings": manifest.get("warnings", []), "missing_images": manifest.get("inputs", {}).get("images", {}).get("n_missing", 0),
        })
    return {"registry": str(registry), "cache_dir": str(cache_root), "registered": registered, "cached": caches}


def info_lines(registry: Path, cache_root: Path) -> list[str]:
    doc = info_json(registry, cache_root)
    lines = [f"registry: {doc['registry']}"]
    if not doc["registered"]:
        lines.append("  (nothing registered: see README, 'Registering a dataset')")
    lines += [f"  {r['name']}/{r['split']}: {r['state']} ({r['annotations']})" for r in doc["registered"]]
    lines.append(f"cache: {doc['cache_dir']}")
    if not doc["cached"]:
        lines.append("  (no caches: run `python -m analysis demo` or `python -m analysis build`)")
    for c in doc["cached"]:
        n = c["counts"]
        per_image = n.get("persons", 0) / n["images"] if n.get("images") else 0.0
        tags = [t for t, on in (("synthetic", c["synthetic"]), ("scenes", c["scenes"])) if on]
        lines.append(
            f"  {c['name']}/{c['split']}{' [' + ', '.join(tags) + ']' if tags else ''}: "
            f"{n.get('images', 0)} images, {n.get('persons', 0)} persons ({per_image:.2f}/image), "
            f"{n.get('crowd_regions', 0)} crowd regions, {c['keypoint_schema']} joints"
            + (f", {c['missing_images']} image files missing" if c["missing_images"] else "")
            + f"; area sources: {', '.join(c['definitions'].get('area_sources', []))}"
        )
        for population, counts in c["populations"].items():
            lines.append(
                f"    persons={population}: {counts['persons']} persons; bbox S/M/L "
                f"{counts['small']} / {counts['medium']} / {counts['large']}"
            )
        for warning in c["warnings"]:
            lines.append(f"    warning: {warning}")
    if doc["cached"]:
        lines.append("definitions (applied at view time; the cache keeps raw quantities):")
        lines += [f"  {p.description}" for p in INFO_POPULATIONS]
        lines.append(f"  S/M/L above: bbox area w*h; {SizeEdges().description}")
        for name, text in doc["cached"][0]["definitions"].items():
            if name != "area_sources":  # per dataset, above
                lines.append(f"  {name}: {text}")
    return lines
