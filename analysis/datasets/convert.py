"""``python -m analysis convert``: pose datasets in their native formats -> one COCO keypoint file.

``convert --format FORMAT INPUT... --out FILE.json [--images DIR] [--every N]`` writes an
ordinary COCO keypoint file (one ``person`` category with the source's own joint names,
so ``build``, ``compose`` and every other command take it) and ``FILE.report.json``: what
was converted, derived and skipped, with the first skipped records named.

Formats (the rules are repeated in ``docs/guides/benchmark-composition.md``):

- ``aic``: AI Challenger keypoint JSON, a list of ``{image_id, human_annotations: {humanN:
  [x1, y1, x2, y2]}, keypoint_annotations: {humanN: [x, y, v] * 14}}``.  Visibility 1
  (visible) / 2 (occluded) / 3 (unlabelled) becomes COCO's 2 / 1 / 0 (an unlabelled
  joint is 0, 0, 0); corner boxes become ``[x, y, x2 - x, y2 - y]``; an image is
  ``<image_id>.jpg``, its hash kept as ``aic_image_id``; humans in natural order
  (human2 before human10), the key kept as ``aic_human``.
- ``mpii``: the official ``mpii_human_pose_v1_u12_1.mat`` (``RELEASE.annolist`` ...;
  read with scipy) or mmpose's MPII JSON (a list of ``{image, center, scale, joints,
  joints_vis}``).  Coordinates are kept as in the file (MATLAB's 1-based pixels, as
  predictions made on MPII use).  MPII stores no person box: ``bbox`` is the labelled
  joints' extent padded by 10 % of its width and height on each side (clipped to the
  image when its size is known); a person with fewer than two distinct labelled
  positions gets the square of side ``200 * scale`` centred on ``center``/``objpos``.
  The .mat's head box is kept as ``bbox_head`` (``[x, y, w, h]``), ``is_visible`` 1 / 0
  becomes 2 / 1 (2 where absent), a joint not listed is 0, 0, 0; images of the test
  half (``img_train`` = 0) and persons without joints are skipped and counted.
- ``posetrack18``: a folder (or files) of per-video COCO-style files.  One file with the
  records as they are, ``iscrowd`` true/false as 1/0, the video (``vid_id``, else the
  file's name) in the image field ``video`` (compose: ``group = { field = "video",
  pattern = ".+" }``), ids kept when unique over the files (else renumbered, the old ones
  kept as ``original_id``); ``--every N`` keeps every N-th labelled frame of each video
  (frames in ``frame_id`` order, else file-name order); unlabelled frames
  (``is_labeled`` false, no annotation) are skipped and counted.
- ``hieve``: HiEve's all-track ground truth as its format page (humaninevents.org/format.html)
  describes it: a folder per video with one file per frame (``000000.xml``; JSON or the
  same VOC-style XML), ``annotation.object[]`` with ``name`` (the track, kept as
  ``hieve_name``), ``action`` and ``bndbox`` (``xmin``/``ymin``/``xmax``/``ymax`` and the
  14 joints ``Nose`` ... ``Left-ankle`` as ``"x,y,flag"``; flag 0 visible -> 2, 1
  invisible -> 1, -1 not annotated -> 0).  ``file_name`` is ``<video>/<filename>``, the
  video in ``video``; ``--every N`` keeps every N-th frame (file-name order).

A file of another format is refused with one line naming the format it looks like;
nothing is written unless the whole conversion succeeds.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from analysis.errors import AnnotationError, PoseAtlasError

FORMATS = ("aic", "mpii", "posetrack18", "hieve")

AIC_JOINTS = (
    "Right Shoulder",
    "Right Elbow",
    "Right Wrist",
    "Left Shoulder",
    "Left Elbow",
    "Left Wrist",
    "Right Hip",
    "Right Knee",
    "Right Ankle",
    "Left Hip",
    "Left Knee",
    "Left Ankle",
    "Head top",
    "Neck",
)
#: Limbs (0-based joint pairs): arms, legs, head-neck, neck-shoulders, shoulders-hips, hips.
AIC_SKELETON = (
    (0, 1),
    (1, 2),
    (3, 4),
    (4, 5),
    (6, 7),
    (7, 8),
    (9, 10),
    (10, 11),
    (12, 13),
    (13, 0),
    (13, 3),
    (0, 6),
    (3, 9),
    (6, 9),
)
#: AIC visibility -> COCO: 1 visible -> 2, 2 occluded -> 1, 3 unlabelled -> 0.
AIC_VISIBILITY = {1: 2, 2: 1, 3: 0}

MPII_JOINTS = (
    "right_ankle",
    "right_knee",
    "right_hip",
    "left_hip",
    "left_knee",
    "left_ankle",
    "pelvis",
    "thorax",
    "upper_neck",
    "head_top",
    "right_wrist",
    "right_elbow",
    "right_shoulder",
    "left_shoulder",
    "left_elbow",
    "left_wrist",
)
MPII_SKELETON = (
    (0, 1),
    (1, 2),
    (2, 6),
    (6, 3),
    (3, 4),
    (4, 5),
    (6, 7),
    (7, 8),
    (8, 9),
    (10, 11),
    (11, 12),
    (12, 7),
    (7, 13),
    (13, 14),
    (14, 15),
)
#: Padding of the joints' extent on each side, as a share of its width / height.
MPII_BOX_PADDING = 0.1
#: MPII's ``scale`` is the person's height / 200 px.
MPII_SCALE_PIXELS = 200.0

MAX_NAMED_SKIPS = 20


@dataclass
class _Result:
    """A conversion being assembled: the records and what the report says."""

    images: list[dict] = field(default_factory=list)
    annotations: list[dict] = field(default_factory=list)
    joint_names: tuple[str, ...] = ()
    skeleton: tuple[tuple[int, ...], ...] = ()  # pairs (PoseTrack's are as in its file)
    skipped: Counter = field(default_factory=Counter)
    skipped_examples: list[str] = field(default_factory=list)
    derived: Counter = field(default_factory=Counter)
    rules: list[str] = field(default_factory=list)
    missing_image_files: int = 0

    def skip(self, reason: str, where: str, count: int = 1) -> None:
        self.skipped[reason] += count
        if len(self.skipped_examples) < MAX_NAMED_SKIPS:
            self.skipped_examples.append(f"{where}: {reason}")

    def add_person(self, image_id: int, bbox: list[float] | None, keypoints: list[float], **extra: object) -> dict:
        """Append one person annotation (next id, category 1, not a crowd region,
        ``num_keypoints`` = labelled joints) with the format's own ``extra`` fields; returns it."""
        record = {
            "id": len(self.annotations) + 1,
            "image_id": image_id,
            "category_id": 1,
            "iscrowd": 0,
            "bbox": bbox,
            "keypoints": keypoints,
            "num_keypoints": sum(v > 0 for v in keypoints[2::3]),
            **extra,
        }
        self.annotations.append(record)
        return record


# --- the command --------------------------------------------------------------------------


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "convert",
        help="AIC, MPII, PoseTrack or HiEve annotations (native formats) -> COCO",
        description=__doc__.splitlines()[0],
    )
    p.add_argument("--format", required=True, choices=FORMATS, help="the inputs' format")
    p.add_argument("inputs", nargs="+", type=Path, metavar="INPUT", help="annotation file(s); posetrack18: or folders")
    p.add_argument(
        "--out",
        required=True,
        type=Path,
        metavar="FILE.json",
        help="the COCO file to write (and FILE.report.json beside it)",
    )
    p.add_argument(
        "--images",
        type=Path,
        default=None,
        metavar="DIR",
        help="image folder: image sizes are read from the files (aic, mpii)",
    )
    p.add_argument(
        "--every",
        type=int,
        default=1,
        metavar="N",
        help="posetrack18, hieve: keep every N-th (labelled) frame of each video (default 1: all)",
    )
    p.set_defaults(run=run_convert)


def run_convert(args: argparse.Namespace) -> int:
    report = convert(args.format, args.inputs, args.out, images=args.images, every=args.every)
    for line in convert_lines(report):
        print(line)
    return 0


def _check_outputs(out: Path, files: list[Path]) -> None:
    """Before any work: neither the COCO file nor its report may replace an input of this
    run, a registered annotation file or one a cache was built from (``data/datasets.toml``,
    ``data/cache``: the defaults the other commands read)."""
    from analysis.cache.key import DEFAULT_CACHE_DIR
    from analysis.output_paths import ProtectedInputs, check_output_file
    from analysis.registry import DEFAULT_REGISTRY

    protected = ProtectedInputs.gather(
        DEFAULT_CACHE_DIR, DEFAULT_REGISTRY, [(path, "an input of this conversion") for path in files]
    )
    check_output_file(Path(out), protected, "--out")
    check_output_file(report_path(Path(out)), protected, "--out (its report)")


def report_path(out: Path) -> Path:
    """``FILE.json`` -> ``FILE.report.json``."""
    out = Path(out)
    stem = out.name[: -len(".json")] if out.name.endswith(".json") else out.name
    return out.with_name(stem + ".report.json")


def convert(fmt: str, inputs: list[Path], out: Path, images: Path | None = None, every: int = 1) -> dict[str, Any]:
    """Convert ``inputs`` and write ``out`` and its report; returns the report.

    Raises:
        PoseAtlasError: an unreadable input, a file of another format (named), a bad
            record (file, record and problem named), a bad option; nothing is written then.
    """
    _check_options(fmt, out, images, every)
    files = _input_files(fmt, inputs)
    _check_outputs(out, files)
    result = _Result()
    _convert_files(fmt, files, every, result)
    if images is not None:
        _read_image_sizes(Path(images), result)
    if fmt == "mpii":
        _mpii_boxes(result)
    if not result.images:
        raise PoseAtlasError(
            f"{', '.join(str(p) for p in files)}: nothing to convert (no image with a person); "
            f"skipped: {dict(result.skipped) or 'nothing'}"
        )
    report = _conversion_report(fmt, files, out, every, result)
    _write_conversion(Path(out), _coco_document(fmt, files, result), report)
    return report


def _check_options(fmt: str, out: Path, images: Path | None, every: int) -> None:
    """Refuse an option combination ``convert`` cannot honour, before reading any input."""
    if every < 1:
        raise PoseAtlasError(f"--every must be at least 1 (got {every})")
    if every != 1 and fmt not in ("posetrack18", "hieve"):
        raise PoseAtlasError("--every applies to --format posetrack18 and hieve (video frames) only")
    if images is not None and fmt in ("posetrack18", "hieve"):
        raise PoseAtlasError("--images applies to --format aic and mpii (video frame files carry width and height)")
    if images is not None and not Path(images).is_dir():
        raise PoseAtlasError(f"{images}: image folder not found")
    if not Path(out).name.endswith(".json"):
        raise PoseAtlasError(f"--out {out}: the output must be a .json file")


def _convert_files(fmt: str, files: list[Path], every: int, result: _Result) -> None:
    """Add every input file's images and persons to ``result`` with its format's converter."""
    if fmt == "aic":
        for path in files:
            _convert_aic(path, _read_json(path, fmt), result)
    elif fmt == "mpii":
        for path in files:
            if path.suffix.lower() == ".mat":
                _convert_mpii_mat(path, result)
            else:
                _convert_mpii_json(path, _read_json(path, fmt), result)
    elif fmt == "hieve":
        _convert_hieve(files, every, result)
    else:
        _convert_posetrack(files, every, result)


def _coco_document(fmt: str, files: list[Path], result: _Result) -> dict[str, Any]:
    """The COCO keypoint file: one ``person`` category with the source's joints (skeleton 1-based)."""
    return {
        "info": {
            "description": f"converted by PoseAtlas from {fmt}: {', '.join(p.name for p in files)}",
            "contributor": "PoseAtlas convert",
        },
        "licenses": [],
        "images": result.images,
        "annotations": result.annotations,
        "categories": [
            {
                "supercategory": "person",
                "id": 1,
                "name": "person",
                "keypoints": list(result.joint_names),
                "skeleton": [[a + 1, b + 1] for a, b in result.skeleton],
            }
        ],
    }


def _conversion_report(fmt: str, files: list[Path], out: Path, every: int, result: _Result) -> dict[str, Any]:
    """``FILE.report.json``: what was converted, derived and skipped, and the rules applied."""
    return {
        "format": fmt,
        "inputs": [str(p) for p in files],
        "output": str(out),
        "every": every,
        "joint_names": list(result.joint_names),
        "converted": {
            "images": len(result.images),
            "annotations": len(result.annotations),
            "persons_without_labelled_joints": sum(a["num_keypoints"] == 0 for a in result.annotations),
        },
        "derived": dict(sorted(result.derived.items())),
        "skipped": dict(sorted(result.skipped.items())),
        "skipped_examples": result.skipped_examples,
        "image_files_missing": result.missing_image_files,
        "rules": result.rules,
    }


def _write_conversion(out: Path, document: dict[str, Any], report: dict[str, Any]) -> None:
    """Write the COCO file and its report together (staged: both or neither)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    from analysis.cache.staged_files import StagedFiles  # loads pyarrow (via cache): not at parse time

    with StagedFiles(out.parent) as staged:
        staged.add(out.name, lambda fh: fh.write(orjson.dumps(document)))
        staged.add(report_path(out).name, lambda fh: fh.write(orjson.dumps(report, option=orjson.OPT_INDENT_2) + b"\n"))


def convert_lines(report: dict[str, Any]) -> list[str]:
    """The printed summary: counts converted, derived and skipped, and where the report is."""
    done = report["converted"]
    lines = [
        f"{report['format']}: {done['images']} images, {done['annotations']} persons "
        f"({done['persons_without_labelled_joints']} without labelled joints) -> {report['output']}"
    ]
    for name, count in report["derived"].items():
        lines.append(f"  derived: {name}: {count}")
    for name, count in report["skipped"].items():
        lines.append(f"  skipped: {name}: {count}")
    if report["image_files_missing"]:
        lines.append(f"  image files missing (no width/height): {report['image_files_missing']}")
    lines.append(f"  report: {report_path(Path(report['output']))}")
    return lines


# --- reading and sniffing --------------------------------------------------------------------


def _input_files(fmt: str, inputs: list[Path]) -> list[Path]:
    files: list[Path] = []
    for path in map(Path, inputs):
        if path.is_dir() and fmt == "hieve":
            # A video folder of frame files, or a folder of video folders.
            found = sorted(f for f in path.rglob("*") if f.suffix.lower() in (".xml", ".json") and f.is_file())
            if not found:
                raise PoseAtlasError(f"{path}: no .xml or .json frame file under the folder")
            files += found
        elif path.is_dir():
            if fmt != "posetrack18":
                raise PoseAtlasError(f"{path}: a folder; --format {fmt} takes annotation files")
            found = sorted(path.glob("*.json"))
            if not found:
                raise PoseAtlasError(f"{path}: no .json file in the folder")
            files += found
        elif path.is_file():
            files.append(path)
        else:
            raise PoseAtlasError(f"{path}: not found")
    return files


def _read_json(path: Path, fmt: str) -> Any:
    try:
        data = orjson.loads(path.read_bytes())
    except OSError as exc:
        raise PoseAtlasError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    except orjson.JSONDecodeError as exc:
        raise PoseAtlasError(f"{path}: not valid JSON ({exc}); --format {fmt} reads JSON") from None
    looks = looks_like(data)
    wanted = {"aic": ("aic",), "mpii": ("mpii-json",), "posetrack18": ("coco",), "hieve": ("hieve",)}[fmt]
    if looks not in wanted:
        raise PoseAtlasError(f"{path}: not {_FORMAT_NAMES[wanted[0]]}: it looks like {_FORMAT_NAMES[looks]}")
    return data


_FORMAT_NAMES = {
    "aic": "AI Challenger keypoint JSON (--format aic)",
    "mpii-json": "mmpose's MPII JSON (--format mpii)",
    "coco": "a COCO-style keypoint file (build and compose take it as it is; per-video files: --format posetrack18)",
    "coco-results": "a COCO results (predictions) file (python -m analysis evaluate takes it)",
    "hieve": "a HiEve frame annotation (--format hieve)",
    "unknown": "no format convert knows (aic, mpii, posetrack18, hieve)",
}


def looks_like(data: Any) -> str:
    """Which format a decoded JSON document looks like: aic, mpii-json, coco, coco-results or unknown."""
    if isinstance(data, dict):
        if isinstance(data.get("annotation"), dict):
            return "hieve"
        return "coco" if "images" in data and "annotations" in data else "unknown"
    if not isinstance(data, list) or not data or not isinstance(data[0], dict):
        return "unknown"
    keys = set(data[0])
    if {"keypoint_annotations", "human_annotations"} <= keys:
        return "aic"
    if {"joints", "joints_vis"} <= keys:
        return "mpii-json"
    if {"image_id", "keypoints", "score"} <= keys:
        return "coco-results"
    return "unknown"


def _number(value: Any, path: Path, where: str, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not np.isfinite(value):
        raise AnnotationError(path, where, f"{what} is {value!r}, not a finite number")
    return value


def _natural_key(text: str) -> list:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


# --- AIC ----------------------------------------------------------------------------------


def _convert_aic(path: Path, data: list, result: _Result) -> None:
    result.joint_names, result.skeleton = AIC_JOINTS, AIC_SKELETON
    result.rules = [
        "visibility: AIC 1 (visible) -> 2, 2 (occluded) -> 1, 3 (unlabelled) -> 0 with x = y = 0",
        "bbox: AIC corners [x1, y1, x2, y2] -> [x1, y1, x2 - x1, y2 - y1]",
        "file_name: <image_id>.jpg; aic_image_id: the original id; aic_human: the humanN key",
    ]
    seen: set[str] = {im["aic_image_id"] for im in result.images}
    for index, item in enumerate(data):
        keypoints, boxes, where = _aic_record(path, index, item)
        if item["image_id"] in seen:
            result.skip("repeated image_id (first record kept)", f"{path}: {where}")
            continue
        seen.add(item["image_id"])
        image_id = len(result.images) + 1
        image = {"id": image_id, "file_name": f"{item['image_id']}.jpg", "aic_image_id": item["image_id"]}
        if "url" in item:
            image["url"] = item["url"]
        result.images.append(image)
        for human in sorted(set(keypoints) | set(boxes), key=_natural_key):
            _add_aic_human(path, f"{where} {human}", human, keypoints, boxes, image_id, result)


def _aic_record(path: Path, index: int, item: Any) -> tuple[dict, dict, str]:
    """One AIC record's keypoint and box objects and where it is (``record N (image_id ...)``)."""
    where = f"record {index}"
    if not isinstance(item, dict) or not isinstance(item.get("image_id"), str):
        raise AnnotationError(path, where, "an AIC record needs a string image_id")
    keypoints, boxes = item.get("keypoint_annotations"), item.get("human_annotations")
    where = f"{where} (image_id {item['image_id']})"
    if not isinstance(keypoints, dict) or not isinstance(boxes, dict):
        raise AnnotationError(path, where, "keypoint_annotations and human_annotations must be objects")
    return keypoints, boxes, where


def _add_aic_human(
    path: Path, at: str, human: str, keypoints: dict, boxes: dict, image_id: int, result: _Result
) -> None:
    """Add one ``humanN`` as a COCO person of ``image_id``, or skip it (counted) when unusable."""
    if human not in keypoints or human not in boxes:
        result.skip("a human with a box but no keypoints, or keypoints but no box", f"{path}: {at}")
        return
    flat, corners = keypoints[human], boxes[human]
    n_joints = len(AIC_JOINTS)
    if not isinstance(flat, list) or len(flat) != 3 * n_joints:
        raise AnnotationError(
            path,
            at,
            f"keypoint_annotations needs {3 * n_joints} numbers "
            f"({n_joints} joints), got {len(flat) if isinstance(flat, list) else flat!r}",
        )
    if not isinstance(corners, list) or len(corners) != 4:
        raise AnnotationError(path, at, f"human_annotations needs [x1, y1, x2, y2], got {corners!r}")
    x1, y1, x2, y2 = (_number(c, path, at, "a box corner") for c in corners)
    if x2 <= x1 or y2 <= y1:
        result.skip("a box with x2 <= x1 or y2 <= y1", f"{path}: {at}")
        return
    result.add_person(image_id, [x1, y1, x2 - x1, y2 - y1], _aic_keypoints(path, at, flat), aic_human=human)


def _aic_keypoints(path: Path, at: str, flat: list) -> list[float]:
    """AIC's ``[x, y, v] * 14`` -> COCO keypoints (visibility mapped; an unlabelled joint 0, 0, 0)."""
    out: list[float] = []
    for j in range(len(AIC_JOINTS)):
        x, y = (_number(c, path, at, f"joint {j}") for c in flat[3 * j : 3 * j + 2])
        v = flat[3 * j + 2]
        if v not in AIC_VISIBILITY:
            raise AnnotationError(path, at, f"joint {j} has visibility {v!r}; AIC uses 1, 2 or 3")
        coco_v = AIC_VISIBILITY[v]
        out += [x, y, coco_v] if coco_v else [0, 0, 0]
    return out


# --- MPII ---------------------------------------------------------------------------------


def _mpii_rules(result: _Result) -> None:
    result.joint_names, result.skeleton = MPII_JOINTS, MPII_SKELETON
    result.rules = [
        "coordinates: as in the file (MPII's MATLAB 1-based pixels)",
        f"bbox: the labelled joints' extent padded by {MPII_BOX_PADDING:.0%} of its width and height on each side, "
        "clipped to the image when its size is known; fewer than two distinct labelled positions: the square of "
        f"side {MPII_SCALE_PIXELS:.0f} * scale centred on the person's center (objpos)",
        "visibility: .mat is_visible 1 -> 2, 0 -> 1, absent -> 2; mmpose joints_vis 1 -> 2; a joint not "
        "labelled -> 0, 0, 0",
        "bbox_head: the .mat head rectangle [x1, y1, x2, y2] -> [x1, y1, x2 - x1, y2 - y1]",
    ]


def _mpii_person(
    image_id: int,
    keypoints: list[float],
    center: tuple[float, ...] | None,
    scale: float | None,
    extra: dict,
    result: _Result,
) -> None:
    center_list = list(center) if center is not None else None
    result.add_person(image_id, None, keypoints, center=center_list, scale=scale, **extra)


def _convert_mpii_json(path: Path, data: list, result: _Result) -> None:
    _mpii_rules(result)
    image_of: dict[str, int] = {im["file_name"]: im["id"] for im in result.images}
    n_joints = len(MPII_JOINTS)
    for index, item in enumerate(data):
        where = f"record {index}"
        if not isinstance(item, dict) or not isinstance(item.get("image"), str):
            raise AnnotationError(path, where, "an mmpose MPII record needs a string 'image'")
        where = f"{where} (image {item['image']})"
        joints, vis = item.get("joints"), item.get("joints_vis")
        if not isinstance(joints, list) or len(joints) != n_joints or not isinstance(vis, list) or len(vis) != n_joints:
            raise AnnotationError(path, where, f"joints and joints_vis need {n_joints} entries each")
        keypoints: list[float] = []
        for j, (point, v) in enumerate(zip(joints, vis, strict=True)):
            if not isinstance(point, list) or len(point) != 2:
                raise AnnotationError(path, where, f"joint {j} is {point!r}, not [x, y]")
            x, y = (_number(c, path, where, f"joint {j}") for c in point)
            keypoints += [x, y, 2] if v else [0, 0, 0]
        center = item.get("center")
        scale = item.get("scale")
        center_xy = tuple(_number(c, path, where, "center") for c in center) if isinstance(center, list) else None
        scale_value = _number(scale, path, where, "scale") if scale is not None else None
        if item["image"] not in image_of:
            image_of[item["image"]] = len(result.images) + 1
            result.images.append({"id": image_of[item["image"]], "file_name": item["image"]})
        _mpii_person(image_of[item["image"]], keypoints, center_xy, scale_value, {}, result)


def _mat_list(value: Any) -> list:
    """A MATLAB struct array / cell / scalar struct as loaded by scipy -> a list (empty for [])."""
    if value is None:
        return []
    if isinstance(value, np.ndarray):
        return list(value.ravel())
    return [value]


def _mat_number(value: Any) -> float | None:
    """A scalar field: a number, a one-element array, a numeric string ('1'), or None when empty."""
    if isinstance(value, np.ndarray):
        if value.size != 1:
            return None
        value = value.ravel()[0]
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if np.isfinite(number) else None


_MpiiPerson = tuple[list[float], tuple[float, float] | None, float | None, dict]


def _convert_mpii_mat(path: Path, result: _Result) -> None:
    _mpii_rules(result)
    annolist, train, activities = _read_mpii_release(path)
    for index, entry in enumerate(annolist):
        where = f"{path}: annolist({index + 1})"
        name = getattr(getattr(entry, "image", None), "name", None)
        if not isinstance(name, str):
            raise AnnotationError(path, f"annolist({index + 1})", "image.name is missing")
        rects = _mat_list(getattr(entry, "annorect", None))
        if not _mat_number(train[index]):
            result.skip("test image (img_train = 0: no public joints)", where)
            continue
        persons = _mpii_mat_persons(path, index, rects, result)
        if not persons:
            result.skip("training image without a person with joints", where)
            continue
        image_id = len(result.images) + 1
        result.images.append(_mpii_mat_image(image_id, name, index, activities))
        for keypoints, center, scale, extra in persons:
            _mpii_person(image_id, keypoints, center, scale, extra, result)


def _read_mpii_release(path: Path) -> tuple[list, list, list]:
    """``RELEASE.annolist``, ``img_train`` and ``act`` of MPII's .mat (scipy), checked to be that file."""
    try:
        from scipy.io import loadmat
        from scipy.io.matlab import MatReadError
    except ImportError:  # pragma: no cover - scipy is in requirements.txt
        raise PoseAtlasError("reading MPII's .mat needs scipy (pip install -r requirements.txt)") from None
    try:
        mat = loadmat(path, struct_as_record=False, squeeze_me=True)
    except (MatReadError, ValueError, OSError, TypeError) as exc:
        raise PoseAtlasError(f"{path}: not a readable MATLAB file ({exc})") from None
    release = mat.get("RELEASE")
    if release is None or not hasattr(release, "annolist"):
        raise PoseAtlasError(
            f"{path}: no RELEASE.annolist: not MPII's mpii_human_pose_v1_u12_1.mat "
            f"(variables: {', '.join(k for k in mat if not k.startswith('__'))})"
        )
    annolist = _mat_list(release.annolist)
    train = _mat_list(getattr(release, "img_train", None))
    if len(train) != len(annolist):
        raise PoseAtlasError(f"{path}: RELEASE.img_train has {len(train)} entries for {len(annolist)} images")
    return annolist, train, _mat_list(getattr(release, "act", None))


def _mpii_mat_persons(path: Path, index: int, rects: list, result: _Result) -> list[_MpiiPerson]:
    """The persons (annorects) of one training image that have joints; the others are skipped (counted)."""
    persons: list[_MpiiPerson] = []
    for r, rect in enumerate(rects):
        points = _mat_list(getattr(getattr(rect, "annopoints", None), "point", None))
        if not points:
            result.skip("person without joints (no annopoints)", f"{path}: annolist({index + 1}).annorect({r + 1})")
            continue
        keypoints = _mpii_mat_keypoints(path, f"annolist({index + 1}).annorect({r + 1})", points)
        extra = {}
        hx1, hy1, hx2, hy2 = (_mat_number(getattr(rect, k, None)) for k in ("x1", "y1", "x2", "y2"))
        if hx1 is not None and hy1 is not None and hx2 is not None and hy2 is not None:
            extra["bbox_head"] = [hx1, hy1, hx2 - hx1, hy2 - hy1]
        objpos = getattr(rect, "objpos", None)
        cx, cy = _mat_number(getattr(objpos, "x", None)), _mat_number(getattr(objpos, "y", None))
        persons.append(
            (
                keypoints,
                (cx, cy) if cx is not None and cy is not None else None,
                _mat_number(getattr(rect, "scale", None)),
                extra,
            )
        )
    return persons


def _mpii_mat_keypoints(path: Path, where: str, points: list) -> list[float]:
    """An annorect's ``annopoints.point`` list -> COCO keypoints (is_visible 0 -> 1, else 2; unlisted 0, 0, 0)."""
    n_joints = len(MPII_JOINTS)
    keypoints = [0.0] * (3 * n_joints)
    for point in points:
        joint = _mat_number(getattr(point, "id", None))
        x, y = _mat_number(getattr(point, "x", None)), _mat_number(getattr(point, "y", None))
        if joint is None or not 0 <= joint < n_joints or x is None or y is None:
            raise AnnotationError(path, where, f"a point with id {getattr(point, 'id', None)!r}, x {x!r}, y {y!r}")
        visible = _mat_number(getattr(point, "is_visible", None))
        keypoints[3 * int(joint) : 3 * int(joint) + 3] = [x, y, 1 if visible == 0 else 2]
    return keypoints


def _mpii_mat_image(image_id: int, name: str, index: int, activities: list) -> dict[str, Any]:
    """The COCO image of annolist entry ``index``, with its activity when the .mat names one."""
    image: dict[str, Any] = {"id": image_id, "file_name": name, "mpii_annolist_index": index + 1}
    act = activities[index] if index < len(activities) else None
    if act is not None and isinstance(getattr(act, "act_name", None), str):
        image["activity"] = {
            "category": getattr(act, "cat_name", None),
            "name": act.act_name,
            "id": _mat_number(getattr(act, "act_id", None)),
        }
    return image


def _mpii_boxes(result: _Result) -> None:
    """The person boxes MPII lacks (rule in the module docstring); a person with neither rule is skipped."""
    size = {im["id"]: (im.get("width"), im.get("height")) for im in result.images}
    kept = []
    for ann in result.annotations:
        flat = np.asarray(ann["keypoints"], dtype=np.float64).reshape(-1, 3)
        labelled = flat[flat[:, 2] > 0, :2]
        box = None
        if len(np.unique(labelled, axis=0)) >= 2:
            low, high = labelled.min(axis=0), labelled.max(axis=0)
            pad = MPII_BOX_PADDING * (high - low)
            low, high = low - pad, high + pad
            width, height = size[ann["image_id"]]
            if width is not None and height is not None:
                low = np.maximum(low, 0)
                high = np.minimum(high, [width, height])
            if (high > low).all():
                box = [float(low[0]), float(low[1]), float(high[0] - low[0]), float(high[1] - low[1])]
                result.derived["bbox from the joints' extent"] += 1
        if box is None and ann["center"] is not None and ann["scale"] is not None and ann["scale"] > 0:
            side = MPII_SCALE_PIXELS * ann["scale"]
            box = [ann["center"][0] - side / 2, ann["center"][1] - side / 2, side, side]
            result.derived["bbox from center and scale"] += 1
        if box is None:
            result.skip(
                "person without a box (fewer than two labelled positions and no center/scale)",
                f"image {ann['image_id']} person {ann['id']}",
            )
            continue
        ann["bbox"] = box
        if ann["center"] is None:
            del ann["center"]
        if ann["scale"] is None:
            del ann["scale"]
        kept.append(ann)
    with_person = {a["image_id"] for a in kept}
    dropped = [im for im in result.images if im["id"] not in with_person]
    if dropped:
        result.skip("image whose persons all lack a box", "images", len(dropped))
    # Renumber after skips so ids stay 1..n.
    new_image = {im["id"]: i for i, im in enumerate((im for im in result.images if im["id"] in with_person), 1)}
    result.images = [im | {"id": new_image[im["id"]]} for im in result.images if im["id"] in with_person]
    result.annotations = [a | {"id": i, "image_id": new_image[a["image_id"]]} for i, a in enumerate(kept, 1)]


# --- image sizes --------------------------------------------------------------------------


def _read_image_sizes(root: Path, result: _Result) -> None:
    """width / height of every image from its file's header (Pillow reads no pixels)."""
    from PIL import Image, UnidentifiedImageError

    for image in result.images:
        path = root / image["file_name"]
        try:
            with Image.open(path) as opened:
                image["width"], image["height"] = opened.size
        except FileNotFoundError:
            result.missing_image_files += 1
        except (OSError, UnidentifiedImageError) as exc:
            raise PoseAtlasError(f"{path}: not a readable image ({exc})") from None


# --- PoseTrack 2018 -----------------------------------------------------------------------


_PoseTrackSkeleton = tuple[tuple[str, ...], tuple[tuple[int, ...], ...]]


def _convert_posetrack(files: list[Path], every: int, result: _Result) -> None:
    result.rules = [
        "records as in the files; iscrowd true/false -> 1/0; visibility kept (0/1: compose maps 1 to 2)",
        "video: the image's vid_id, else its file's name; group rule for compose: "
        '{ field = "video", pattern = ".+" }',
        f"--every {every}: per video, labelled frames in frame_id (else file name) order, positions 0, {every}, ...",
    ]
    frames: list[tuple[dict, Path]] = []
    annotations: list[tuple[dict, Path]] = []
    categories: _PoseTrackSkeleton | None = None
    for path in files:
        categories = _read_posetrack_file(path, files, categories, frames, annotations)
    assert categories is not None, files  # _input_files gives at least one file
    result.joint_names, result.skeleton = categories

    unique_ids = len({image["id"] for image, _ in frames}) == len(frames) and len(
        {ann["id"] for ann, _ in annotations}
    ) == len(annotations)
    persons_of = _posetrack_persons_of(frames, annotations, result)
    by_video = _posetrack_labelled_frames(frames, persons_of, result)
    chosen = _posetrack_sampled_frames(frames, by_video, every, result)
    _posetrack_add_frames(frames, chosen, persons_of, unique_ids, result)
    chosen_rows = {row for _, row in chosen}
    sampled_out = sum(
        len(persons_of.get((frames[r][1], frames[r][0]["id"]), []))
        for rows in by_video.values()
        for r in rows
        if r not in chosen_rows
    )
    if sampled_out:
        result.skip("annotation of a frame not sampled", "--every", sampled_out)
    if not unique_ids:
        result.derived["ids renumbered (repeated over the files; original_id kept)"] = len(result.images)


def _read_posetrack_file(
    path: Path,
    files: list[Path],
    categories: _PoseTrackSkeleton | None,
    frames: list[tuple[dict, Path]],
    annotations: list[tuple[dict, Path]],
) -> _PoseTrackSkeleton:
    """Append one per-video file's images and annotations; returns the joint names and skeleton
    (the first file's; a file naming other joints is refused)."""
    doc = _read_json(path, "posetrack18")
    if not isinstance(doc.get("images"), list) or not isinstance(doc.get("annotations"), list):
        raise PoseAtlasError(f"{path}: images and annotations must be lists")
    cats = doc.get("categories") or []
    names = tuple(cats[0].get("keypoints") or ()) if cats and isinstance(cats[0], dict) else ()
    if not names:
        raise PoseAtlasError(f"{path}: categories[0].keypoints names no joints")
    if categories is None:
        categories = (names, tuple(tuple(int(i) - 1 for i in pair) for pair in cats[0].get("skeleton") or ()))
    elif categories[0] != names:
        raise PoseAtlasError(f"{path}: joint names differ from {files[0]}'s; convert one schema at a time")
    for index, image in enumerate(doc["images"]):
        if not isinstance(image, dict) or "id" not in image:
            raise AnnotationError(path, f"images[{index}]", "an image record needs an id")
        frames.append((image, path))
    for index, ann in enumerate(doc["annotations"]):
        if not isinstance(ann, dict) or "id" not in ann or "image_id" not in ann:
            raise AnnotationError(path, f"annotations[{index}]", "an annotation record needs id and image_id")
        annotations.append((ann, path))
    return categories


def _posetrack_persons_of(
    frames: list[tuple[dict, Path]], annotations: list[tuple[dict, Path]], result: _Result
) -> dict[tuple[Path, Any], list[dict]]:
    """Each (file, image id)'s annotations; one of an image its file does not list is skipped (counted)."""
    persons_of: dict[tuple[Path, Any], list[dict]] = {}
    known = {(path, image["id"]) for image, path in frames}
    for ann, path in annotations:
        key = (path, ann["image_id"])
        if key not in known:
            result.skip("annotation of an image the file does not list", f"{path}: annotation {ann['id']}")
            continue
        persons_of.setdefault(key, []).append(ann)
    return persons_of


def _posetrack_labelled_frames(
    frames: list[tuple[dict, Path]], persons_of: dict[tuple[Path, Any], list[dict]], result: _Result
) -> dict[str, list[int]]:
    """Each video's labelled frames (rows of ``frames``); unlabelled frames are skipped (counted)."""
    by_video: dict[str, list[int]] = {}
    for row, (image, path) in enumerate(frames):
        labelled = bool(image.get("is_labeled", True)) or bool(persons_of.get((path, image["id"])))
        if not labelled:
            result.skip("unlabelled frame (is_labeled false, no annotation)", f"{path}: image {image['id']}")
            continue
        video = str(image.get("vid_id") or path.stem)
        by_video.setdefault(video, []).append(row)
    return by_video


def _posetrack_sampled_frames(
    frames: list[tuple[dict, Path]], by_video: dict[str, list[int]], every: int, result: _Result
) -> list[tuple[str, int]]:
    """Every ``every``-th labelled frame of each video in frame order, as (video, row) in file order.
    Sorts each video's rows in place (frame_id, then file name)."""
    chosen = []
    for video, rows in by_video.items():
        rows.sort(key=lambda r: (frames[r][0].get("frame_id", 0), _natural_key(str(frames[r][0].get("file_name")))))
        chosen += [(video, r) for r in rows[::every]]
        if every > 1 and len(rows) > len(rows[::every]):
            result.skip(
                f"labelled frame not sampled by --every {every}", f"video {video}", len(rows) - len(rows[::every])
            )
    chosen.sort(key=lambda item: item[1])  # file order
    return chosen


def _posetrack_add_frames(
    frames: list[tuple[dict, Path]],
    chosen: list[tuple[str, int]],
    persons_of: dict[tuple[Path, Any], list[dict]],
    unique_ids: bool,
    result: _Result,
) -> None:
    """Add the sampled frames and their persons (iscrowd as 0/1; renumbered unless ``unique_ids``)."""
    for video, row in chosen:
        image, path = frames[row]
        record = dict(image)
        record["video"] = video
        if not unique_ids:
            record["original_id"] = image["id"]
            record["id"] = len(result.images) + 1
        result.images.append(record)
        for ann in persons_of.get((path, image["id"]), []):
            out = dict(ann)
            out["image_id"] = record["id"]
            out["iscrowd"] = int(bool(ann.get("iscrowd", 0)))
            if not unique_ids:
                out["original_id"] = ann["id"]
                out["id"] = len(result.annotations) + 1
            result.annotations.append(out)


# --- HiEve --------------------------------------------------------------------------------

#: HiEve's pose definition (humaninevents.org/format.html, Table 1), in its part index order.
HIEVE_JOINTS = (
    "Nose",
    "Chest",
    "Right-shoulder",
    "Right-elbow",
    "Right-wrist",
    "Left-shoulder",
    "Left-elbow",
    "Left-wrist",
    "Right-hip",
    "Right-knee",
    "Right-ankle",
    "Left-hip",
    "Left-knee",
    "Left-ankle",
)
HIEVE_SKELETON = (
    (0, 1),
    (1, 2),
    (2, 3),
    (3, 4),
    (1, 5),
    (5, 6),
    (6, 7),
    (1, 8),
    (8, 9),
    (9, 10),
    (1, 11),
    (11, 12),
    (12, 13),
)
#: HiEve's flag -> COCO visibility: 0 visible -> 2, 1 invisible (annotated, occluded) -> 1, -1 not annotated -> 0.
HIEVE_VISIBILITY = {0: 2, 1: 1, -1: 0}


def _hieve_frame(path: Path) -> dict:
    """One frame file as the dict the format page shows: JSON as it is, or the same VOC-style XML."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PoseAtlasError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    if data.lstrip()[:1] == b"<":
        import xml.etree.ElementTree as ElementTree  # local annotation files the user brought

        try:
            root = ElementTree.fromstring(data)
        except ElementTree.ParseError as exc:
            raise PoseAtlasError(f"{path}: not valid XML ({exc})") from None

        def as_dict(element: ElementTree.Element) -> Any:
            children = list(element)
            if not children:
                return (element.text or "").strip()
            out: dict[str, Any] = {}
            for child in children:
                value = as_dict(child)
                if child.tag == "object":
                    out.setdefault("object", []).append(value)
                else:
                    out[child.tag] = value
            return out

        return {root.tag: as_dict(root)}
    return _read_json(path, "hieve")


def _convert_hieve(files: list[Path], every: int, result: _Result) -> None:
    result.joint_names, result.skeleton = HIEVE_JOINTS, HIEVE_SKELETON
    result.rules = [
        "frames: one .xml or .json file per frame (HiEve's all-track ground truth), grouped by folder = video",
        "visibility: HiEve flag 0 (visible) -> 2, 1 (invisible) -> 1, -1 (not annotated) -> 0 with x = y = 0",
        "bbox: bndbox [xmin, ymin, xmax, ymax] -> [xmin, ymin, xmax - xmin, ymax - ymin]; the person's name "
        "(track, e.g. P-1) kept as hieve_name, its action as action",
        f"--every {every}: per video, frames in file-name order, positions 0, {every}, ...",
    ]
    by_video: dict[Path, list[Path]] = {}
    for path in files:
        by_video.setdefault(path.parent, []).append(path)
    for folder in sorted(by_video, key=lambda f: _natural_key(str(f))):
        frames = sorted(by_video[folder], key=lambda f: _natural_key(f.name))
        if len(frames) > len(frames[::every]):
            result.skip(
                f"frame not sampled by --every {every}", f"video {folder.name}", len(frames) - len(frames[::every])
            )
        for path in frames[::every]:
            _hieve_add_frame(path, folder.name, result)


def _hieve_add_frame(path: Path, video: str, result: _Result) -> None:
    doc = _hieve_frame(path).get("annotation")
    if not isinstance(doc, dict):
        raise AnnotationError(path, None, "no 'annotation' object: not a HiEve frame file")
    image_id = len(result.images) + 1
    result.images.append(_hieve_image(path, doc, video, image_id))
    objects = doc.get("object") or []
    for index, person in enumerate(objects if isinstance(objects, list) else [objects]):
        _hieve_add_person(path, index, person, image_id, result)


def _hieve_image(path: Path, doc: dict, video: str, image_id: int) -> dict[str, Any]:
    """The COCO image of one frame file (``<video>/<filename>``; width / height when ``size`` gives them)."""
    size = doc.get("size")
    if not isinstance(size, dict):
        size = {}
    name = doc.get("filename") or path.with_suffix(".jpg").name
    image = {"id": image_id, "file_name": f"{video}/{name}", "video": video, "frame_file": path.name}
    try:
        if size.get("width") and size.get("height"):
            image["width"], image["height"] = int(float(size["width"])), int(float(size["height"]))
    except (TypeError, ValueError):
        raise AnnotationError(
            path, "size", f"width / height {size.get('width')!r} / {size.get('height')!r} are not numbers"
        ) from None
    return image


def _hieve_add_person(path: Path, index: int, person: Any, image_id: int, result: _Result) -> None:
    """Add one ``object`` as a COCO person, or skip it (counted) when its box is empty."""
    label = person.get("name") if isinstance(person, dict) else repr(person)
    where = f"object {index} ({label})"
    box = person.get("bndbox") if isinstance(person, dict) else None
    if not isinstance(box, dict):
        raise AnnotationError(path, where, "no bndbox")
    try:
        x1, y1, x2, y2 = (float(box[k]) for k in ("xmin", "ymin", "xmax", "ymax"))
    except (KeyError, TypeError, ValueError):
        raise AnnotationError(path, where, "bndbox needs numeric xmin, ymin, xmax, ymax") from None
    if x2 <= x1 or y2 <= y1:
        result.skip("a box with xmax <= xmin or ymax <= ymin", f"{path}: {where}")
        return
    action = {"action": person["action"]} if person.get("action") is not None else {}
    keypoints = _hieve_keypoints(path, where, box)
    result.add_person(image_id, [x1, y1, x2 - x1, y2 - y1], keypoints, hieve_name=person.get("name"), **action)


def _hieve_keypoints(path: Path, where: str, box: dict) -> list[float]:
    """The bndbox's ``"x,y,flag"`` joints -> COCO keypoints (flag mapped; an absent joint 0, 0, 0)."""
    keypoints: list[float] = []
    for joint in HIEVE_JOINTS:
        text = box.get(joint)
        if text is None:
            keypoints += [0, 0, 0]
            continue
        try:
            x, y, flag = (float(v) for v in str(text).split(","))
        except ValueError:
            raise AnnotationError(path, where, f"{joint} is {text!r}, not 'x,y,flag'") from None
        if flag not in HIEVE_VISIBILITY:
            raise AnnotationError(path, where, f"{joint} has flag {flag:g}; HiEve uses 0, 1 or -1")
        v = HIEVE_VISIBILITY[int(flag)]
        keypoints += [x, y, v] if v else [0, 0, 0]
    return keypoints
