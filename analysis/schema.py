"""Keypoint schemas: joint names, skeleton and OKS sigmas for any joint count.

Never assume 17 joints: the schema comes from the dataset's category (COCO 17,
CrowdPose 14, Halpe 136 ...), or from an explicit override in the registry.
"""

from __future__ import annotations

from dataclasses import dataclass

COCO17_JOINTS = (
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
)
# COCO's skeleton, 0-based (the annotation files store it 1-based).
COCO17_SKELETON = (
    (15, 13),
    (13, 11),
    (16, 14),
    (14, 12),
    (11, 12),
    (5, 11),
    (6, 12),
    (5, 6),
    (5, 7),
    (6, 8),
    (7, 9),
    (8, 10),
    (1, 2),
    (0, 1),
    (0, 2),
    (1, 3),
    (2, 4),
    (3, 5),
    (4, 6),
)
# Per-joint OKS sigmas published with the COCO keypoint evaluation.
COCO17_SIGMAS = (
    0.026,
    0.025,
    0.025,
    0.035,
    0.035,
    0.079,
    0.079,
    0.072,
    0.072,
    0.062,
    0.062,
    0.107,
    0.107,
    0.087,
    0.087,
    0.089,
    0.089,
)

CROWDPOSE14_JOINTS = (
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
    "head",
    "neck",
)
CROWDPOSE14_SKELETON = (
    (12, 13),
    (13, 0),
    (13, 1),
    (0, 2),
    (2, 4),
    (1, 3),
    (3, 5),
    (13, 6),
    (13, 7),
    (6, 8),
    (8, 10),
    (7, 9),
    (9, 11),
)
# The sigmas CrowdPose's evaluator (crowdposetools) uses.
CROWDPOSE14_SIGMAS = (
    0.079,
    0.079,
    0.072,
    0.072,
    0.062,
    0.062,
    0.107,
    0.107,
    0.087,
    0.087,
    0.089,
    0.089,
    0.079,
    0.079,
)


@dataclass(frozen=True)
class KeypointSchema:
    """The joints of one dataset.

    Attributes:
        name: ``coco17``, ``crowdpose14`` or ``custom-K``.
        joint_names: (K,) joint names; generic ``joint_i`` names when the file has none.
        skeleton: 0-based joint index pairs to draw.
        sigmas: (K,) OKS sigmas, or None when no published sigmas are known.

    Stored as the manifest's ``keypoint_schema``, :class:`analysis.cache.manifest.KeypointSchemaRecord`
    (``msgspec.convert(schema, KeypointSchemaRecord, from_attributes=True)``).
    """

    name: str
    joint_names: tuple[str, ...]
    skeleton: tuple[tuple[int, int], ...] = ()
    sigmas: tuple[float, ...] | None = None

    @property
    def n_joints(self) -> int:
        return len(self.joint_names)


COCO17 = KeypointSchema("coco17", COCO17_JOINTS, COCO17_SKELETON, COCO17_SIGMAS)
CROWDPOSE14 = KeypointSchema("crowdpose14", CROWDPOSE14_JOINTS, CROWDPOSE14_SKELETON, CROWDPOSE14_SIGMAS)
BUILTIN_SCHEMAS = {schema.name: schema for schema in (COCO17, CROWDPOSE14)}


def schema_from_category(joint_names: list[str], skeleton_1based: list[list[int]], n_joints: int) -> KeypointSchema:
    """The schema for a category whose annotations store ``n_joints`` joints.

    A known joint list (COCO, CrowdPose) gets its published sigmas.  Files whose
    name list is empty (Halpe) get generic names; files that list more names than
    they store (Human-Art: 21 names, 17 stored) keep the first ``n_joints`` names.
    """
    names = tuple(joint_names[:n_joints])
    for schema in BUILTIN_SCHEMAS.values():
        if names == schema.joint_names and n_joints == schema.n_joints:
            return schema
    if len(names) < n_joints:
        names = names + tuple(f"joint_{i}" for i in range(len(names), n_joints))
    skeleton = tuple(
        (a - 1, b - 1)
        for a, b in (pair for pair in skeleton_1based if len(pair) == 2)
        if 1 <= a <= n_joints and 1 <= b <= n_joints
    )
    return KeypointSchema(f"custom-{n_joints}", names, skeleton, None)


def schema_from_override(value: str | list[str]) -> KeypointSchema:
    """A registry override: a builtin schema name or an explicit joint-name list."""
    if isinstance(value, str):
        try:
            return BUILTIN_SCHEMAS[value]
        except KeyError:
            known = ", ".join(sorted(BUILTIN_SCHEMAS))
            raise ValueError(f"unknown keypoint schema {value!r} (known: {known})") from None
    return schema_from_category(list(value), [], len(value))
