"""What the scene runs of the selected datasets say: which datasets have scene results,
how to compute the missing ones, the entropy base, category names, models, and which
results are synthetic (the demo's).  Pure; no streamlit.  The only manifest reader of
the Scenes view (``Manifest.scenes``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from analysis.cache.contract import CacheKey
from analysis.cache.manifest import Manifest, ScenesFacts
from analysis.scenes.aggregates import entropy_unit, labels_from_manifest

#: The preprocessing a real run uses (analysis.scenes.pipeline), for captions.
REAL_PREPROCESSING = "Resize(256, 256), CenterCrop(224)"


@dataclass(frozen=True)
class SceneRuns:
    """The scene results behind the Scenes view.

    Attributes:
        have: selected datasets with scene rows, in selection order.
        missing: selected datasets without.
        commands: one ``python -m analysis scenes`` line per missing dataset/split.
        bases: the entropy bases the runs used (None = natural log).
        labels: category names recorded by a run, if any.
        models: model ids of the real (not synthetic) runs.
        synthetic: datasets whose scene results are synthetic (the demo's).
    """

    have: tuple[str, ...]
    missing: tuple[str, ...]
    commands: tuple[str, ...]
    bases: frozenset[float | None]
    labels: list[str] | None
    models: tuple[str, ...]
    synthetic: tuple[str, ...]

    @property
    def base(self) -> float | None:
        """The one base all runs share (None: natural log, or the runs disagree)."""
        return next(iter(self.bases)) if len(self.bases) == 1 else None

    @property
    def note(self) -> str:
        """The caption's definition of the entropy and the models."""
        real = self.models
        parts = [
            f"per-image entropy H = -sum p log p of the Places365 softmax ({entropy_unit(self.base)})",
            "variance is the population variance (ddof=0)",
        ]
        if real:
            parts.append(f"model {', '.join(real)} ({REAL_PREPROCESSING})")
        if self.synthetic:
            parts.append(f"synthetic predictions (no network) for {', '.join(self.synthetic)}")
        return "; ".join(parts)


def _scenes_command(key: CacheKey, manifest: Manifest | None, cache_root: Path) -> str:
    """The command that computes a split's scene results; for a split built without its
    images (the command would refuse), first the rebuild with ``--images`` it needs."""
    command = f"python -m analysis scenes --name {key.dataset} --split {key.split} --cache-dir {cache_root}"
    inputs = getattr(manifest, "inputs", None)
    if inputs is not None and not inputs.images.path:
        return (
            f"# {key} was built without its images: rebuild it with --images DIR (its image folder) "
            f"first, e.g. python -m analysis build --name {key.dataset} --split {key.split} "
            f"--annotations FILE --images DIR --cache-dir {cache_root}, then:\n{command}"
        )
    return command


def scene_runs(
    scenes: pd.DataFrame | None,
    datasets: Sequence[str],
    manifests: Mapping[str, Manifest],
    keys: Sequence[CacheKey],
    split: str | None,
    cache_root: Path,
) -> SceneRuns:
    """Scene facts of ``datasets`` (selection order).

    Args:
        scenes: scene rows of the filtered images (None: no split has any).
        manifests: manifest per ``"dataset/split"``.
        keys: every cached split.
        split: the split filter (None: all).
        cache_root: for the commands that compute missing results.
    """
    present = set() if scenes is None else {str(d) for d in scenes["dataset"].unique()}
    have = tuple(d for d in datasets if d in present)
    missing = tuple(d for d in datasets if d not in present)
    commands = tuple(
        _scenes_command(k, manifests.get(str(k)), cache_root)
        for d in missing
        for k in keys
        if k.dataset == d and (split is None or k.split == split)
    )
    runs: dict[str, ScenesFacts] = {
        key: m.scenes for key, m in manifests.items() if key.split("/")[0] in have and m.scenes is not None
    }
    labels = next((lab for lab in (labels_from_manifest(manifests[key]) for key in sorted(runs)) if lab), None)
    synthetic = tuple(d for d in have if any(r.synthetic for key, r in runs.items() if key.split("/")[0] == d))
    return SceneRuns(
        have,
        missing,
        commands,
        frozenset(r.entropy_base for r in runs.values()),
        labels,
        tuple(sorted({r.model for r in runs.values() if not r.synthetic})),
        synthetic,
    )
