"""``python -m analysis info``: what is registered and cached, with counts and definitions."""

from __future__ import annotations

import enum
from pathlib import Path

import msgspec

from analysis.build.run import BUILT_TABLES, code_version, is_up_to_date
from analysis.cache import contract as cache
from analysis.cache.manifest import (
    Counts,
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
from analysis.registry import DatasetSpec, load_registry


class SplitState(enum.StrEnum):
    """What ``info`` says of a registered split."""

    NOT_BUILT = "not built"
    UP_TO_DATE = "up to date"
    STALE = "stale"  #: other inputs, options, code or cache format, or damaged tables
    UNREADABLE = "unreadable manifest"
    ANNOTATIONS_MISSING = "annotation file missing"


class RegisteredSplit(msgspec.Struct):
    name: str
    split: str
    annotations: str
    state: SplitState


class DefinitionTexts(msgspec.Struct):
    """The definitions a cache's quantities follow, one sentence each (from its manifest)."""

    crowd_index: str
    crowding: str
    visibility: str
    default_size: str
    crowd_levels: str
    density_levels: str


class EvaluationInfo(msgspec.Struct):
    """A stored model evaluation: label, AP of the "all" slice, stale or damaged."""

    model: str
    AP: float | None
    stale: bool
    damaged: str | None
    predictions: str
    evaluated_at: str


class CachedSplitInfo(msgspec.Struct, kw_only=True):
    name: str
    split: str
    synthetic: bool
    counts: Counts
    keypoint_schema: str
    scenes: bool  #: scenes.parquet is there
    populations: dict[str, dict[str, int]]  #: population -> persons and bbox S/M/L ({} when damaged)
    built_at: str
    definitions: DefinitionTexts
    area_sources: list[str]
    warnings: list[str]
    missing_images: int
    problem: str | None  #: why the cache cannot be vouched for (damaged tables, other code)
    command: str  #: the command that rebuilds it
    evaluations: list[EvaluationInfo]


class SkippedCache(msgspec.Struct):
    """A cached split whose manifest cannot be used."""

    name: str
    split: str
    problem: str
    command: str


class InfoReport(msgspec.Struct):
    """``info --json``."""

    registry: str
    cache_dir: str
    registered: list[RegisteredSplit]
    cached: list[CachedSplitInfo] = msgspec.field(default_factory=list)
    skipped: list[SkippedCache] = msgspec.field(default_factory=list)


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


def info_report(registry: Path, cache_root: Path) -> InfoReport:
    """What is registered and cached (``info --json`` encodes it)."""
    specs = load_registry(registry)
    cached = {(k.dataset, k.split): _read(cache_root, k) for k in cache.list_caches(cache_root)}
    report = InfoReport(str(registry), str(cache_root), [_registered(spec, cached, cache_root) for spec in specs])
    for (name, split), manifest in cached.items():
        if isinstance(manifest, ManifestError):
            command = manifest.command
            if isinstance(manifest, UnreadableManifestError):  # the registry tells which form rebuilds it
                command = manifest.command_for(any((s.name, s.split) == (name, split) for s in specs))
            report.skipped.append(SkippedCache(name, split, manifest.problem, command))
        else:
            report.cached.append(_cached_split(cache_root, cache.CacheKey(name, split), manifest))
    return report


def info_json(registry: Path, cache_root: Path) -> bytes:
    """``info --json``'s document (indented, one trailing newline)."""
    return msgspec.json.format(msgspec.json.encode(info_report(registry, cache_root)), indent=2) + b"\n"


def _registered(
    spec: DatasetSpec, cached: dict[tuple[str, str], Manifest | ManifestError], cache_root: Path
) -> RegisteredSplit:
    key = cache.CacheKey(spec.name, spec.split)
    manifest = cached.get((spec.name, spec.split))
    if not spec.annotations.is_file():
        state = SplitState.ANNOTATIONS_MISSING
    elif manifest is None:
        state = SplitState.NOT_BUILT
    elif isinstance(manifest, StaleCacheError):
        state = SplitState.STALE
    elif isinstance(manifest, ManifestError):
        state = SplitState.UNREADABLE
    elif is_up_to_date(manifest, spec, key.directory(cache_root)):
        state = SplitState.UP_TO_DATE
    else:
        state = SplitState.STALE
    return RegisteredSplit(spec.name, spec.split, str(spec.annotations), state)


def _cached_split(cache_root: Path, key: cache.CacheKey, manifest: Manifest) -> CachedSplitInfo:
    split_dir = key.directory(cache_root)
    problem = _problem(manifest, split_dir)  # damaged tables are not read
    d = manifest.definitions
    return CachedSplitInfo(
        name=key.dataset,
        split=key.split,
        synthetic=manifest.synthetic,
        counts=manifest.counts,
        keypoint_schema=manifest.keypoint_schema.name,
        scenes=manifest.scenes is not None and (split_dir / cache.SCENES_FILE).is_file(),
        populations={} if problem else cached_population_counts(cache_root, key),
        built_at=manifest.built_at,
        definitions=DefinitionTexts(
            d.crowd_index, d.crowding, d.visibility_rule, d.default_size, "; ".join(d.crowd_levels), d.density_levels
        ),
        area_sources=[s.value for s in d.area_sources],
        warnings=manifest.warnings,
        missing_images=manifest.inputs.images.n_missing,
        problem=problem,
        command=rebuild_command(split_dir, manifest),
        evaluations=_evaluations(cache_root, key),
    )


def _evaluations(cache_root: Path, key: cache.CacheKey) -> list[EvaluationInfo]:
    """The split's stored model evaluations: label, AP of "all", stale or not."""
    from analysis.evaluation.store import list_evaluations

    return [
        EvaluationInfo(r.model, r.slices["all"].AP if "all" in r.slices else None, r.stale, r.damaged,
                       r.predictions.path, r.evaluated_at)
        for r in list_evaluations(cache_root, key)
    ]  # fmt: skip


def info_lines(registry: Path, cache_root: Path) -> list[str]:
    report = info_report(registry, cache_root)
    lines = [f"registry: {report.registry}"]
    if not report.registered:
        lines.append("  (nothing registered: see docs/guides/datasets.md, 'Registering a dataset')")
    lines += [f"  {r.name}/{r.split}: {r.state} ({r.annotations})" for r in report.registered]
    lines.append(f"cache: {report.cache_dir}")
    if not report.cached and not report.skipped:
        lines.append("  (no caches: run `python -m analysis demo` or `python -m analysis build`)")
    for c in report.cached:
        lines += _cached_lines(c)
    for s in report.skipped:
        lines.append(f"  {s.name}/{s.split}: skipped, {s.problem}; rebuild it with `{s.command}`")
    if report.cached:
        lines.append("definitions (applied at view time; the cache keeps raw quantities):")
        lines += [f"  {p.description}" for p in INFO_POPULATIONS]
        lines.append(f"  S/M/L above: bbox area w*h; {SizeEdges().description}")
        texts = report.cached[0].definitions
        lines += [f"  {name}: {getattr(texts, name)}" for name in texts.__struct_fields__]
    return lines


def _cached_lines(c: CachedSplitInfo) -> list[str]:
    n = c.counts
    per_image = n.persons / n.images if n.images else 0.0
    tags = [t for t, on in (("synthetic", c.synthetic), ("scenes", c.scenes)) if on]
    lines = [
        f"  {c.name}/{c.split}{' [' + ', '.join(tags) + ']' if tags else ''}: "
        f"{n.images} images, {n.persons} persons ({per_image:.2f}/image), "
        f"{n.crowd_regions} crowd regions, {c.keypoint_schema} joints"
        + (f", {c.missing_images} image files missing" if c.missing_images else "")
        + f"; area sources: {', '.join(c.area_sources)}"
    ]
    for population, counts in c.populations.items():
        lines.append(
            f"    persons={population}: {counts['persons']} persons; bbox S/M/L "
            f"{counts['small']} / {counts['medium']} / {counts['large']}"
        )
    if c.problem:
        lines.append(f"    {c.problem}; rebuild it with `{c.command}`")
    lines += [f"    warning: {warning}" for warning in c.warnings]
    for e in c.evaluations:
        if e.damaged:
            lines.append(f"    evaluation: {e.model}: DAMAGED ({e.damaged}); evaluate again to replace it")
            continue
        ap = "-" if e.AP is None else f"{100 * e.AP:.1f}"
        stale = " [stale: evaluated against other annotations; evaluate again]" if e.stale else ""
        lines.append(f"    evaluation: {e.model}: AP {ap}{stale}")
    return lines
