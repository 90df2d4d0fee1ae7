"""A built split as the commands that read it see it: its source file and keypoint schema.

The one adapter over a split's manifest for ``subset``, ``compose`` and ``evaluate``
(and ``diagnose``): everything they read from a manifest goes through
:func:`open_cached_split`, and the annotation file is trusted only while its
fingerprint still matches (:func:`check_unchanged`, the rule of
:meth:`analysis.cache.fingerprint.FileFingerprint.matches`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from analysis.cache import contract as cache
from analysis.cache.fingerprint import FileFingerprint
from analysis.cache.manifest import BuildOptions, VisibilityConvention, images_root, read_manifest, rebuild_command
from analysis.errors import PoseAtlasError


@dataclass(frozen=True)
class CachedSplit:
    """What a built split says about its input.

    Attributes:
        key: the split.
        annotations: the annotation file it was built from.
        fingerprint: that file's recorded size, mtime_ns and sha256.
        schema_name: the keypoint schema's name.
        joint_names: (K,) joint names of the stored keypoints.
        schema_sigmas: the schema's OKS sigmas, None when it has none published.
        category_id: the persons' category, as the build chose it (None: older caches).
        binary_visibility: whether the file marks labelled joints 1 (PoseTrack) rather than 2.
        images_dir: the registered image folder, or None.
        options: the build options (keypoint schema override, source rule).
        rebuild: a command that rebuilds the split.
    """

    key: cache.CacheKey
    annotations: Path
    fingerprint: FileFingerprint
    schema_name: str
    joint_names: tuple[str, ...]
    schema_sigmas: tuple[float, ...] | None
    category_id: int | None
    binary_visibility: bool
    images_dir: Path | None
    options: BuildOptions
    rebuild: str

    @property
    def n_joints(self) -> int:
        return len(self.joint_names)


def open_cached_split(cache_root: Path, key: cache.CacheKey) -> CachedSplit:
    """Read a split's manifest (the one place these commands do).

    Raises:
        PoseAtlasError: the split is not built; StaleCacheError / InvalidManifestError
            (PoseAtlasErrors too) when its manifest is of another format or damaged.
    """
    manifest = read_manifest(cache_root, key)
    if manifest is None:
        raise PoseAtlasError(
            f"{key}: no cache under {cache_root} (the split is not built); "
            "build it first (python -m analysis build ...)"
        )
    schema = manifest.keypoint_schema
    return CachedSplit(
        key=key,
        annotations=Path(manifest.inputs.annotations.path),
        fingerprint=manifest.inputs.annotations,
        schema_name=schema.name,
        joint_names=tuple(schema.joint_names),
        schema_sigmas=tuple(schema.sigmas) if schema.sigmas else None,
        category_id=schema.category_id,
        binary_visibility=manifest.definitions.visibility is VisibilityConvention.BINARY,
        images_dir=images_root(manifest),
        options=manifest.options,
        rebuild=rebuild_command(key.directory(cache_root), manifest),
    )


def check_unchanged(split: CachedSplit) -> Path:
    """The annotation file the split was built from, unchanged since; else a clear error.

    Raises:
        PoseAtlasError: missing, or different from what the cache was built from.
    """
    path = split.annotations
    rebuild = f"rebuild the cache first: {split.rebuild}"
    try:
        unchanged = split.fingerprint.matches(path)
    except OSError:
        raise PoseAtlasError(f"{path}: the annotation file {split.key} was built from is missing; {rebuild}") from None
    if not unchanged:
        raise PoseAtlasError(f"{path}: the annotation file changed since {split.key} was built; {rebuild}")
    return path
