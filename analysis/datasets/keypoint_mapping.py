"""Map one keypoint schema onto another by joint name.

Datasets spell the same joint differently: ``left_knee`` (COCO, CrowdPose), ``Left Knee``
(AIC), ``Left-knee`` (MHP), ``l_knee``, ``LKnee`` (OpenPose), ``knee_left``.  Names are
reduced to one canonical spelling (lower case, ``_`` between words, the side first as
``left_`` / ``right_``), then a small alias table joins names that mean the same joint
(``headtop`` / ``head_top``, ``root (pelvis)`` / ``pelvis``).  Joints whose identity
differs between datasets (CrowdPose's ``head`` vs MPII's ``head_top``, H36M's ``foot``
vs COCO's ``ankle``) are deliberately *not* aliased: a user mapping says so when wanted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from analysis.errors import PoseAtlasError

#: Spellings that name the same joint, canonical name first.
JOINT_ALIASES: dict[str, tuple[str, ...]] = {
    "head_top": ("headtop", "top_head", "top_of_head", "head_end"),
    "upper_neck": ("upperneck",),
    "pelvis": ("root_pelvis", "root", "hip_center", "mid_hip"),
    "thorax": ("chest",),
    "left_big_toe": ("left_bigtoe",),
    "right_big_toe": ("right_bigtoe",),
    "left_small_toe": ("left_smalltoe",),
    "right_small_toe": ("right_smalltoe",),
}
_ALIAS_OF = {alias: canonical for canonical, aliases in JOINT_ALIASES.items() for alias in aliases}
_SIDES = {"l": "left", "r": "right", "left": "left", "right": "right"}


def canonical_joint_name(name: str) -> str:
    """One spelling per joint: ``Right Shoulder``, ``r_shoulder``, ``RShoulder`` -> ``right_shoulder``."""
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name.strip())  # camelCase -> camel_Case
    text = re.sub(r"^([LR])(?=[A-Z])", r"\1_", text)  # LKnee -> L_Knee
    words = [w for w in re.split(r"[^a-z0-9]+", text.lower()) if w]
    if len(words) > 1 and words[0] in _SIDES:
        words = [_SIDES[words[0]], *words[1:]]
    elif len(words) > 1 and words[-1] in _SIDES:  # knee_left, knee_l
        words = [_SIDES[words[-1]], *words[:-1]]
    joined = "_".join(words)
    return _ALIAS_OF.get(joined, joined)


@dataclass(frozen=True)
class JointMapping:
    """Where each target joint comes from in one source schema.

    Attributes:
        target: (K_t,) target joint names.
        source: (K_s,) source joint names.
        source_index: (K_t,) index of the source joint feeding each target joint, -1 when
            the source has none (those joints get x = y = v = 0).
    """

    target: tuple[str, ...]
    source: tuple[str, ...]
    source_index: tuple[int, ...]

    @property
    def mapped(self) -> list[str]:
        """Target joints the source provides, in target order."""
        return [t for t, s in zip(self.target, self.source_index, strict=True) if s >= 0]

    @property
    def missing(self) -> list[str]:
        """Target joints the source lacks, in target order."""
        return [t for t, s in zip(self.target, self.source_index, strict=True) if s < 0]

    def apply(self, keypoints: Sequence[float], binary_visibility: bool = False) -> tuple[list[float], int]:
        """Map one flat ``[x, y, v] * K_s`` list to the target.

        Args:
            keypoints: (3 K_s,) the source record's keypoints (values kept as they are).
            binary_visibility: the source marks a labelled joint 1 (PoseTrack); it becomes
                2 (COCO: labelled and visible).

        Returns:
            (3 K_t,) target keypoints and their ``num_keypoints`` (joints with v > 0).
        """
        out: list[float] = [0] * (3 * len(self.target))
        labelled = 0
        for t, s in enumerate(self.source_index):
            if s < 0:
                continue
            x, y, v = keypoints[3 * s : 3 * s + 3]
            if v > 0:
                labelled += 1
                if binary_visibility:
                    v = 2
            out[3 * t : 3 * t + 3] = (x, y, v)
        return out, labelled


def map_joints(
    target: Sequence[str], source: Sequence[str], overrides: Mapping[str, str] | None = None, where: str = ""
) -> JointMapping:
    """The name-based mapping of ``source`` joints onto ``target`` joints.

    Args:
        target: (K_t,) target joint names.
        source: (K_s,) source joint names.
        overrides: user mapping ``target joint -> source joint`` ("" = leave it missing);
            it wins over the name match.
        where: prefix for error messages (the config file and key).

    Raises:
        PoseAtlasError: an override names a joint neither schema has, or two source
            joints share one canonical name.
    """
    overrides = dict(overrides or {})
    by_canonical: dict[str, int] = {}
    for index, name in enumerate(source):
        key = canonical_joint_name(name)
        if key in by_canonical:
            raise PoseAtlasError(
                f"{where}source joints {source[by_canonical[key]]!r} and {name!r} both read as {key!r}; "
                "map them explicitly in keypoint_map"
            )
        by_canonical[key] = index
    unknown_targets = sorted(set(overrides) - set(target))
    if unknown_targets:
        raise PoseAtlasError(
            f"{where}keypoint_map names target joint(s) {', '.join(unknown_targets)} "
            f"that the target schema lacks (it has: {', '.join(target)})"
        )
    index_of = {name: i for i, name in enumerate(source)}
    source_index = []
    for name in target:
        if name in overrides:
            wanted = overrides[name]
            if wanted and wanted not in index_of:
                raise PoseAtlasError(
                    f"{where}keypoint_map: {name} = {wanted!r}, but the source has no joint "
                    f"{wanted!r} (it has: {', '.join(source)})"
                )
            source_index.append(index_of[wanted] if wanted else -1)
        else:
            source_index.append(by_canonical.get(canonical_joint_name(name), -1))
    return JointMapping(tuple(target), tuple(source), tuple(source_index))
