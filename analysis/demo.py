"""The embedded demo: three small synthetic datasets with contrasting profiles.

* ``demo-sparse``: few, large people per image (COCO-like, with segmentation areas);
* ``demo-crowd``: crowds of overlapping people (CrowdPose-like: 14 joints, no
  segmentation, a stored ``crowdIndex``, some iscrowd regions);
* ``demo-small``: many small people, from two ``source`` sub-datasets.

Each dataset also gets scene results (``scenes.parquet``) from *synthetic*
predictions (no Places365 weights exist offline): seeded random logits go through
the real statistics (``analysis.scenes.entropy``) and the real scenes writer, with
model ``synthetic-demo`` and category names ``synthetic scene N``, so the Scenes view
and Table 4 have something to show; the manifest's ``scenes.synthetic`` says so.

Each image is a real JPEG of simple drawn stick figures over a varied scene, so
image views and the scene pipeline have something to open.  Deterministic (fixed
seeds) and quick.  Everything here is synthetic, and the manifests say so.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
from PIL import Image, ImageDraw

from analysis.build.crowding import compute_crowding
from analysis.build.loading import SourceRule, load_pose_dataset
from analysis.build.run import BuildResult, build_split
from analysis.cache import contract as cache
from analysis.identity import DatasetIdentity
from analysis.registry import DatasetSpec
from analysis.schema import COCO17, CROWDPOSE14, KeypointSchema

#: Bump when the generator's output changes, so old demo files are regenerated.
DEMO_VERSION = 2

# A standing pose in box-normalised (x, y) coordinates, per COCO joint.
_COCO_POSE = np.array(
    [
        (0.50, 0.08),
        (0.54, 0.06),
        (0.46, 0.06),
        (0.58, 0.08),
        (0.42, 0.08),
        (0.68, 0.22),
        (0.32, 0.22),
        (0.78, 0.40),
        (0.22, 0.40),
        (0.82, 0.56),
        (0.18, 0.56),
        (0.62, 0.55),
        (0.38, 0.55),
        (0.64, 0.76),
        (0.36, 0.76),
        (0.66, 0.97),
        (0.34, 0.97),
    ]
)
# CrowdPose order: the 12 limb joints (COCO 5..16), then head and neck.
_CROWDPOSE_POSE = np.vstack([_COCO_POSE[5:17], [(0.50, 0.03), (0.50, 0.17)]])


@dataclass(frozen=True)
class DemoProfile:
    """How one synthetic dataset looks."""

    name: str
    n_images: int
    persons_per_image: tuple[int, int]  #: inclusive range
    person_height: tuple[float, float]  #: log-uniform range, pixels
    schema: KeypointSchema
    with_segmentation: bool
    stored_crowd_index: bool
    crowd_regions: float  #: chance that an image also has an iscrowd region
    clustered: bool  #: people stand in one overlapping group
    sources: tuple[str, ...] = ()
    seed: int = 0
    description: str = ""
    identity: DatasetIdentity = DatasetIdentity()  # noqa: RUF009  (frozen: a shared default is safe)
    scene_spread: tuple[float, float] = (0.5, 3.0)  #: range of the synthetic logits' scale


#: The demo's identities exercise what a real registry sets: display names (two of three:
#: demo-sparse keeps its name, the unset path), colours, hatches, an order, a ``paper_name``
#: on demo-sparse (Table 4 shows the paper's COCO values beside it) and a ``source`` rule on
#: demo-small (see ``build_demo``), so ``make run`` and the view tests run through them.
PROFILES = (
    DemoProfile(
        "demo-sparse",
        36,
        (0, 3),
        (120.0, 330.0),
        COCO17,
        True,
        False,
        0.0,
        False,
        seed=11,
        description="few large people per image (COCO-like)",
        identity=DatasetIdentity(color="#0072B2", hatch="", order=3, paper_name="COCO"),
        scene_spread=(0.3, 1.5),
    ),
    DemoProfile(
        "demo-crowd",
        36,
        (6, 18),
        (60.0, 200.0),
        CROWDPOSE14,
        False,
        True,
        0.3,
        True,
        seed=22,
        description="crowds of overlapping people (CrowdPose-like, 14 joints)",
        identity=DatasetIdentity(display_name="Crowd (demo)", color="#E69F00", hatch="/", order=1),
        scene_spread=(1.0, 3.0),
    ),
    DemoProfile(
        "demo-small",
        48,
        (8, 30),
        (10.0, 70.0),
        COCO17,
        True,
        False,
        0.1,
        False,
        sources=("street", "sports"),
        seed=33,
        description="many small people, two sources",
        identity=DatasetIdentity(display_name="Small (demo)", color="#009E73", hatch=".", order=2),
        scene_spread=(0.5, 2.5),
    ),
)
IMAGE_SIZE = (480, 360)


def build_demo(
    data_dir: Path,
    cache_root: Path,
    *,
    force: bool = False,
    progress: bool = True,
    scenes: bool = True,
) -> Iterator[BuildResult]:
    """Write (when missing or outdated) and build the three demo datasets, with synthetic
    scene results unless ``scenes`` is False."""
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "README.md").write_text(_README, encoding="utf-8")
    for profile in PROFILES:
        folder = data_dir / profile.name
        annotations = folder / "annotations.json"
        stamp = folder / ".demo-version"
        if force or not annotations.is_file() or not stamp.is_file() or stamp.read_text() != str(DEMO_VERSION):
            write_demo_dataset(profile, folder)
            stamp.write_text(str(DEMO_VERSION))
        spec = DatasetSpec(
            profile.name,
            "val",
            annotations,
            folder / "images",
            source_rule=SourceRule("file_name", r"^(?P<source>[^/]+)/") if profile.sources else None,
            identity=profile.identity,
        )
        result = build_split(spec, cache_root, force=force, progress=progress, synthetic=True)
        if scenes:
            write_demo_scenes(cache_root, result.key, profile)
        yield result


#: The synthetic scene "model": no network, seeded random logits.
DEMO_SCENE_MODEL = "synthetic-demo"


def write_demo_scenes(cache_root: Path, key: cache.CacheKey, profile: DemoProfile) -> Path:
    """Scene results for a demo split from clearly labelled synthetic predictions.

    Per image, 365 logits ~ N(0, s^2) with s log-uniform in ``profile.scene_spread`` (a
    larger s: a peakier softmax, lower entropy); the first 160 classes count as indoor.
    They go through the real per-image statistics and the real scenes writer, so
    ``scenes.parquet`` and ``manifest["scenes"]`` have exactly a real run's layout.
    """
    from analysis.cache.manifest import ScenesFacts
    from analysis.scenes.entropy import TOP_K, scene_stats_from_logits
    from analysis.scenes.labels import N_CLASSES
    from analysis.scenes.writer import write_scenes

    folder = key.directory(Path(cache_root))
    images = cache.read_images(cache_root, key, columns=["image_id"])
    ids = images["image_id"].to_numpy(dtype=np.int64)
    rng = np.random.default_rng(profile.seed + 7)
    lo, hi = np.log(profile.scene_spread[0]), np.log(profile.scene_spread[1])
    scale = np.exp(rng.uniform(lo, hi, size=(len(ids), 1)))
    logits = rng.normal(size=(len(ids), N_CLASSES)) * scale
    indoor = np.arange(N_CLASSES) < 160
    stats = scene_stats_from_logits(logits, indoor)
    results = pd.DataFrame(
        {
            "entropy": stats["entropy"],
            "top5_ids": list(stats["top5_ids"]),
            "top5_probs": list(stats["top5_probs"]),
            "p_indoor": stats["p_indoor"],
        },
        index=pd.Index(ids, name="image_id"),
    )
    facts = ScenesFacts(
        model=DEMO_SCENE_MODEL,
        synthetic=True,
        arch="none (synthetic predictions: seeded random logits, no network)",
        preprocessing="none (synthetic)",
        top_k=TOP_K,
        n_images=len(ids),
        n_ok=len(ids),
        n_computed_this_run=len(ids),
        device="none",
        backend="synthetic",
        categories=[f"synthetic scene {i}" for i in range(N_CLASSES)],
    )
    return write_scenes(folder, key.dataset, key.split, results, DEMO_SCENE_MODEL, facts)


def write_demo_dataset(profile: DemoProfile, folder: Path) -> Path:
    """Draw the images and write the annotation file of one profile; returns the file."""
    rng = np.random.default_rng(profile.seed)
    images, annotations = [], []
    width, height = IMAGE_SIZE
    ann_id = profile.seed * 100_000
    for index in range(profile.n_images):
        image_id = profile.seed * 1_000 + index
        source = profile.sources[index % len(profile.sources)] if profile.sources else None
        file_name = f"{source}/{image_id:06d}.jpg" if source else f"{image_id:06d}.jpg"
        people = _people(profile, rng)
        canvas = _scene(rng, width, height)
        draw = ImageDraw.Draw(canvas)
        for box, keypoints in people:
            ann_id += 1
            _draw_person(draw, box, keypoints, profile.schema)
            annotations.append(_annotation(profile, ann_id, image_id, box, keypoints))
        if people and rng.random() < profile.crowd_regions:
            ann_id += 1
            annotations.append(_crowd_region(profile, ann_id, image_id, rng))
        path = folder / "images" / file_name
        path.parent.mkdir(parents=True, exist_ok=True)
        canvas.save(path, "JPEG", quality=88)
        images.append({"id": image_id, "file_name": file_name, "width": width, "height": height})
    doc = {
        "info": {"description": f"PoseAtlas synthetic demo dataset: {profile.description}", "synthetic": True},
        "images": images,
        "annotations": annotations,
        "categories": [
            {
                "id": 1,
                "name": "person",
                "supercategory": "person",
                "keypoints": list(profile.schema.joint_names),
                "skeleton": [[a + 1, b + 1] for a, b in profile.schema.skeleton],
            }
        ],
    }
    target = folder / "annotations.json"
    if profile.stored_crowd_index:
        doc = _with_stored_crowd_index(doc, target)
    with cache.atomic_path(target) as tmp:
        tmp.write_bytes(orjson.dumps(doc, option=orjson.OPT_SERIALIZE_NUMPY))
    return target


def _people(profile: DemoProfile, rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
    width, height = IMAGE_SIZE
    lo, hi = profile.persons_per_image
    n = int(rng.integers(lo, hi + 1))
    template = _COCO_POSE if profile.schema is COCO17 else _CROWDPOSE_POSE
    centre = rng.uniform([0.3 * width, 0.4 * height], [0.7 * width, 0.7 * height])
    people = []
    for _ in range(n):
        h = float(np.exp(rng.uniform(*np.log(profile.person_height))))
        h = min(h, 0.95 * height)
        w = h * rng.uniform(0.35, 0.55)
        if profile.clustered:
            cx, cy = centre + rng.normal(0, [0.28 * width, 0.12 * height])
        else:
            cx, cy = rng.uniform([w / 2, h / 2], [width - w / 2, height - h / 2])
        x0 = float(np.clip(cx - w / 2, 0, width - w))
        y0 = float(np.clip(cy - h / 2, 0, height - h))
        box = np.array([x0, y0, w, h])
        xy = template + rng.normal(0, 0.025, template.shape)
        points = np.column_stack([x0 + xy[:, 0] * w, y0 + xy[:, 1] * h])
        # Small people get fewer labelled joints, as in real annotations.
        p_unlabelled = 0.05 if h > 80 else 0.35
        v = np.where(rng.random(len(points)) < p_unlabelled, 0, np.where(rng.random(len(points)) < 0.15, 1, 2))
        keypoints = np.column_stack([np.round(points, 1), v])
        keypoints[v == 0, :2] = 0
        people.append((np.round(box, 2), keypoints))
    return people


def _annotation(profile: DemoProfile, ann_id: int, image_id: int, box: np.ndarray, keypoints: np.ndarray) -> dict:
    labelled = keypoints[:, 2] > 0
    # CrowdPose's num_keypoints counts only its 12 body joints.
    counted = labelled[:12] if profile.schema is CROWDPOSE14 else labelled
    ann = {
        "id": ann_id,
        "image_id": image_id,
        "category_id": 1,
        "iscrowd": 0,
        "bbox": box.tolist(),
        "num_keypoints": int(counted.sum()),
        "keypoints": [int(v) if float(v).is_integer() else float(v) for v in keypoints.reshape(-1)],
    }
    if profile.with_segmentation:
        x, y, w, h = box
        ann["area"] = round(float(0.55 * w * h), 2)
        ann["segmentation"] = [[x, y, x + w, y, x + w, y + h, x, y + h]]
    return ann


def _crowd_region(profile: DemoProfile, ann_id: int, image_id: int, rng: np.random.Generator) -> dict:
    width, height = IMAGE_SIZE
    w, h = rng.uniform(60, 160), rng.uniform(40, 90)
    x, y = rng.uniform(0, width - w), rng.uniform(0, height - h)
    ann = {
        "id": ann_id,
        "image_id": image_id,
        "category_id": 1,
        "iscrowd": 1,
        "bbox": [round(x, 2), round(y, 2), round(w, 2), round(h, 2)],
        "num_keypoints": 0,
        "keypoints": [0] * (3 * profile.schema.n_joints),
    }
    if profile.with_segmentation:
        ann["area"] = round(float(0.8 * w * h), 2)
        ann["segmentation"] = {"counts": [0, int(w * h)], "size": [height, width]}
    return ann


def _with_stored_crowd_index(doc: dict, target: Path) -> dict:
    """Store a CrowdPose-style ``crowdIndex`` (2 decimals), as CrowdPose's files do."""
    loaded = load_pose_dataset(target, data=orjson.dumps(doc, option=orjson.OPT_SERIALIZE_NUMPY))
    inst = loaded.instances
    crowding = compute_crowding(
        inst.keypoints, inst.bbox, inst.image_index, inst.iscrowd, inst.num_keypoints, len(loaded.images.image_id)
    )
    by_id = dict(zip(loaded.images.image_id.tolist(), np.round(crowding.crowd_index, 2).tolist(), strict=True))
    for image in doc["images"]:
        image["crowdIndex"] = by_id[image["id"]]
    return doc


def _scene(rng: np.random.Generator, width: int, height: int) -> Image.Image:
    """A simple scene: sky and ground gradients with a few blocks, varied per image."""
    horizon = int(rng.uniform(0.35, 0.65) * height)
    sky, ground = rng.integers(40, 230, 3), rng.integers(30, 200, 3)
    rows = np.arange(height)[:, None]
    top = sky + (rows / max(horizon, 1)) * 30
    bottom = ground - ((rows - horizon) / max(height - horizon, 1)) * 40
    column = np.where(rows < horizon, top, bottom).clip(0, 255).astype(np.uint8)
    canvas = Image.fromarray(np.repeat(column[:, None, :], width, axis=1), "RGB")
    draw = ImageDraw.Draw(canvas)
    for _ in range(int(rng.integers(0, 5))):
        x0, y0 = rng.uniform(0, width), rng.uniform(0, horizon)
        x1 = x0 + rng.uniform(20, 120)  # drawn from the generator before the colour, as always
        colour = tuple(int(c) for c in rng.integers(0, 255, 3))
        draw.rectangle([x0, y0, x1, horizon], fill=colour)
    return canvas


def _draw_person(draw: ImageDraw.ImageDraw, box: np.ndarray, keypoints: np.ndarray, schema: KeypointSchema) -> None:
    colour = (250, 250, 250)
    width = max(1, int(box[3] / 40))
    for a, b in schema.skeleton:
        if keypoints[a, 2] > 0 and keypoints[b, 2] > 0:
            draw.line([tuple(keypoints[a, :2]), tuple(keypoints[b, :2])], fill=colour, width=width)
    head = 0 if schema is COCO17 else 12
    if keypoints[head, 2] > 0:
        r = max(1.0, box[3] / 14)
        x, y = keypoints[head, :2]
        draw.ellipse([x - r, y - r, x + r, y + r], outline=colour, width=width)


_README = f"""# PoseAtlas demo data (synthetic)

Everything in this folder is SYNTHETIC, written by `python -m analysis demo`
(generator version {DEMO_VERSION}); no real person is shown. The three datasets
contrast on purpose:

{chr(10).join(f"- `{p.name}`: {p.description}" for p in PROFILES)}

Delete the folder and run the command again to regenerate it.
"""
