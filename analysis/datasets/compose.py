"""``python -m analysis compose``: a benchmark composed from registered splits by a size criterion.

For every source split (see :mod:`analysis.datasets.compose_config` for the config):

1. **Selection.**  Every image with at least one *small* person (a person of the config's
   ``population`` whose area under the config's area source is below the small|medium
   edge; an area equal to the edge is medium) is kept, plus ``keep_without_small`` of the
   other images (a seeded random choice of ``round(share * count)`` of them).  The
   population (default ``keypoints``: stored ``num_keypoints`` > 0) is the dashboard's
   ``persons=``; under any population but ``all`` a person whose labelled joints are all
   joints the target schema lacks (CrowdPose's head/neck-only persons under COCO-17) is
   not a person of the composed benchmark, and is counted in the report and warned about.
2. **Train / val.**  Splits listed under ``train`` feed ``train.json``, those under
   ``val`` feed ``val.json``.  A source without ``val`` splits its kept train images by
   ``split_ratio``: images are grouped by the ``group`` rule (frames of one video share
   a group; an image the rule does not match is a group of its own), the groups are
   shuffled (seeded) and each goes to train when that brings the train count closer to
   the ratio (:func:`group_split`).
3. **Records.**  Image and annotation records are copied with every field they have,
   except: new ids (1, 2, ... per output file, in config order, then file order);
   ``file_name`` prefixed with ``<source>/``; the image gains ``source`` and
   ``original_image_id``, the annotation ``original_id``; ``category_id`` is 1 (the
   one output category, the target schema); ``keypoints`` are mapped to the target
   schema by joint name (:mod:`analysis.datasets.keypoint_mapping`; joints a source lacks get
   0, 0, 0; a source that marks labelled joints 1 instead of 2 gets 2) and
   ``num_keypoints`` is recomputed.  Annotations the cache did not take (non-keypoint
   categories, no keypoints, repeated records) are left out and counted in the report.

The same config and inputs give byte-identical files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import msgspec
import numpy as np
import numpy.typing as npt
from tqdm import tqdm

from analysis.cache import contract as cache
from analysis.cache.fingerprint import file_sha256
from analysis.cache.split import CachedSplit, check_unchanged, open_cached_split
from analysis.cache.staged_files import StagedFiles
from analysis.datasets.compose_config import ComposeConfig, SourceConfig, load_compose_config
from analysis.datasets.keypoint_mapping import JointMapping, map_joints
from analysis.datasets.raw_coco import RawCocoFile, read_raw_coco, take, write_document
from analysis.datasets.split_images import SplitImages, read_split_images
from analysis.definitions import PopulationKind, SizeBucket, size_bucket_codes
from analysis.errors import PoseAtlasError
from analysis.output_paths import ProtectedInputs, check_output_dir
from analysis.registry import load_registry
from analysis.report_paths import report_path
from analysis.schema import KeypointSchema

OUTPUT_SPLITS = ("train", "val")
REPORT_FILE = "report.json"


@dataclass(frozen=True)
class ComposeJob:
    """One ``compose`` command."""

    config_path: Path
    out_dir: Path
    cache_root: Path = cache.DEFAULT_CACHE_DIR
    registry: Path = Path("data/datasets.toml")


@dataclass(frozen=True)
class _Input:
    """One source split feeding the composition."""

    source_index: int
    source: SourceConfig
    split_index: int
    split: str
    role: str  #: "train" or "val": where its images go (a train split of a source without val is divided)
    cached: CachedSplit
    mapping: JointMapping


@dataclass
class _Output:
    """One output file being assembled: its serialized records (a record's id is its position + 1).

    Records are encoded with msgspec: orjson's ``dumps`` returns over-allocated bytes
    (~16 kB each), which for a few hundred thousand records costs gigabytes.
    """

    images: list[bytes] = field(default_factory=list)
    annotations: list[bytes] = field(default_factory=list)


class SchemaNames(msgspec.Struct):
    name: str
    joint_names: list[str]


class OutputCounts(msgspec.Struct):
    images: int
    annotations: int


class InputCounts(msgspec.Struct):
    images: int
    persons: int
    images_with_small: int


class SideCounts(msgspec.Struct):
    """Images and persons a source gives one output file, persons by size bucket (fields
    after ``persons`` are ``SizeBucket.names()``, under the config's size definition)."""

    images: int
    persons: int
    small: int
    medium: int
    large: int


class LostInMapping(msgspec.Struct):
    """Persons whose labelled joints are all joints the target schema lacks."""

    persons: int
    small: int


class MappedJoints(msgspec.Struct):
    mapped: list[str]  #: target joints the source feeds
    missing: list[str]  #: target joints the source lacks (0, 0, 0 in its records)


class SourceRow(msgspec.Struct, kw_only=True):
    """One source split in ``report.json``."""

    source: str
    dataset: str
    split: str
    role: str
    #: where this source's images are (relative to the registry): link or copy it as <image root>/<source>/
    images_dir: str | None
    input: InputCounts = msgspec.field(name="in")
    out: dict[str, SideCounts]  #: train, val
    images_without_small_kept: int
    annotations_left_out: int
    #: in / train / val -> counts under every population (source schema, the config's area source)
    populations: dict[str, dict[str, dict[str, int]]]
    lost_in_mapping: LostInMapping
    warnings: list[str]
    joints: MappedJoints
    visibility_0_1_to_0_2: bool
    crowd_index_dropped: int  #: images whose source crowdIndex was left out


class ComposeReport(msgspec.Struct, kw_only=True):
    """``report.json`` of ``compose`` (and what :func:`compose` returns)."""

    name: str
    config: str  #: relative to the registry's folder
    config_sha256: str
    seed: int
    keypoint_schema: SchemaNames
    size: str
    population: str
    population_definition: str
    keep_without_small: float
    outputs: dict[str, OutputCounts]  #: train, val
    sources: list[SourceRow]
    warnings: list[str]  #: every source's, in order


def compose(job: ComposeJob, progress: bool = True) -> ComposeReport:
    """Compose ``train.json``, ``val.json`` and ``report.json`` under ``job.out_dir``.

    Raises:
        PoseAtlasError: a bad config (unknown dataset or split, a split not built or
            changed since, a schema that cannot be mapped, bad ratios, an empty result);
            nothing is written then.
    """
    config = load_compose_config(job.config_path)
    protected = ProtectedInputs.gather(job.cache_root, job.registry, [(job.config_path, "the compose config")])
    check_output_dir(job.out_dir, [f"{name}.json" for name in OUTPUT_SPLITS] + [REPORT_FILE], protected, "--out")
    target = config.target_schema
    inputs = _resolve_inputs(job, config, target)
    outputs = {name: _Output() for name in OUTPUT_SPLITS}
    rows = []
    bar = tqdm(inputs, desc="compose", unit="split", disable=None if progress else True)
    for item in bar:
        bar.set_postfix_str(f"{item.source.source_name}/{item.split}")
        rows.append(_compose_input(job, config, item, outputs))
    for name, output in outputs.items():
        if not output.images:
            raise PoseAtlasError(
                f"{job.config_path}: the composed {name} set would be empty (no source split gives it an image)"
            )

    report = ComposeReport(
        name=config.name,
        config=report_path(job.config_path, job.registry),
        config_sha256=file_sha256(job.config_path),
        seed=config.seed,
        keypoint_schema=SchemaNames(target.name, list(target.joint_names)),
        size=config.size_definition.description,
        population=str(config.person_population),
        population_definition=config.person_population.description,
        keep_without_small=config.keep_without_small,
        outputs={name: OutputCounts(len(out.images), len(out.annotations)) for name, out in outputs.items()},
        sources=rows,
        warnings=[warning for row in rows for warning in row.warnings],
    )
    top = _top_level(config, target)
    with StagedFiles(job.out_dir) as staged:
        for name, out in outputs.items():
            lists = {"images": out.images, "annotations": out.annotations}
            staged.add(f"{name}.json", partial(write_document, top, lists))
        text = msgspec.json.format(msgspec.json.encode(report), indent=2) + b"\n"
        staged.add(REPORT_FILE, lambda fh: fh.write(text))
    return report


def _resolve_inputs(job: ComposeJob, config: ComposeConfig, target: KeypointSchema) -> list[_Input]:
    registered = {(spec.name, spec.split): spec for spec in load_registry(job.registry)}
    inputs = []
    for s_index, source in enumerate(config.source):
        where = f"{job.config_path}: source[{s_index}]"
        splits = sorted({split for name, split in registered if name == source.dataset})
        if not splits:
            known = ", ".join(sorted({name for name, _ in registered})) or "none"
            raise PoseAtlasError(
                f"{where}.dataset: {source.dataset!r} is not registered in {job.registry} (registered: {known})"
            )
        roles = [("train", split) for split in source.train] + [("val", split) for split in source.val]
        for split_index, (role, split) in enumerate(roles):
            spec = registered.get((source.dataset, split))
            if spec is None:
                raise PoseAtlasError(
                    f"{where}.{role}: {source.dataset!r} has no registered split {split!r} "
                    f"(registered: {', '.join(splits)})"
                )
            cached = open_cached_split(job.cache_root, cache.CacheKey(source.dataset, split))
            if Path(spec.annotations).resolve() != cached.annotations:
                raise PoseAtlasError(
                    f"{where}: {source.dataset}/{split} is registered with {spec.annotations} but "
                    f"its cache was built from {cached.annotations}; rebuild it "
                    "(python -m analysis build)"
                )
            check_unchanged(cached)
            mapping = map_joints(
                target.joint_names,
                cached.joint_names,
                source.keypoint_map,
                where=f"{where} ({source.dataset}/{split}): ",
            )
            if not mapping.mapped:
                raise PoseAtlasError(
                    f"{where}: the keypoint schema of {source.dataset}/{split} ({', '.join(cached.joint_names)}) "
                    f"cannot be mapped to the target's ({', '.join(target.joint_names)}): no joint name matches; "
                    "give a keypoint_map"
                )
            inputs.append(_Input(s_index, source, split_index, split, role, cached, mapping))
    return inputs


def _compose_input(job: ComposeJob, config: ComposeConfig, item: _Input, outputs: dict[str, _Output]) -> SourceRow:
    definition = config.size_definition
    kept_joints = tuple(sorted({i for i in item.mapping.source_index if i >= 0}))
    images = read_split_images(
        job.cache_root, item.cached.key, definition.area_source, config.person_population, kept_joints
    )
    persons = images.persons
    small = persons.person_area < definition.edges.small_medium
    has_small = np.bincount(persons.person_image[small], minlength=len(images.image_ids)) > 0
    rng = np.random.default_rng([config.seed, item.source_index, item.split_index])
    others = np.flatnonzero(~has_small)
    chosen_others = rng.permutation(others)[: round(config.keep_without_small * len(others))]
    kept = has_small.copy()
    kept[chosen_others] = True

    raw = read_raw_coco(item.cached.annotations)
    image_rows = _first_rows(raw.image_ids, images.image_ids[kept])  # file order
    image_records = [msgspec.json.decode(r) for r in take(raw.images, image_rows)]
    kept_ids = raw.image_ids[image_rows]
    if item.role == "train" and not item.source.val:
        to_train = group_split(_group_keys(image_records, item.source), item.source.split_ratio[0], rng)
    else:
        to_train = np.full(len(image_records), item.role == "train")

    # Annotations the cache took, first occurrence of each id, of the kept images.
    taken = _first_rows(raw.annotation_ids, images.annotation_ids)
    annotation_rows = taken[np.isin(raw.annotation_image_ids[taken], kept_ids)]
    of_kept_images = int(np.isin(raw.annotation_image_ids, kept_ids).sum())
    new_image_id, dropped_crowd_index = _add_images(item, image_records, kept_ids, to_train, outputs)
    _add_annotations(item, raw, annotation_rows, new_image_id, outputs)

    side_of_image = dict(zip(kept_ids.tolist(), to_train.tolist(), strict=True))
    row = _report_row(item, config, images, kept, has_small, side_of_image, of_kept_images - len(annotation_rows))
    row.crowd_index_dropped = dropped_crowd_index
    if item.cached.images_dir:  # relative to the registry: no absolute path of this machine in the report
        row.images_dir = report_path(item.cached.images_dir, job.registry)
    return row


def _add_images(
    item: _Input,
    records: list[dict],
    original_ids: npt.NDArray[np.int64],
    to_train: npt.NDArray[np.bool_],
    outputs: dict[str, _Output],
) -> tuple[dict[int, tuple[str, int]], int]:
    """Append the kept image records to their output; returns original id -> (output, new id)
    and how many stored crowdIndex values were dropped."""
    new_image_id: dict[int, tuple[str, int]] = {}
    dropped_crowd_index = 0
    for record, original_id, train in zip(records, original_ids.tolist(), to_train.tolist(), strict=True):
        name = "train" if train else "val"
        out = outputs[name]
        new_id = len(out.images) + 1
        new_image_id[original_id] = (name, new_id)
        record["id"] = new_id
        record["file_name"] = f"{item.source.source_name}/{record.get('file_name', '')}"
        record["source"] = item.source.source_name
        record["original_image_id"] = original_id
        # The source's stored crowdIndex was computed on its own joints, not the composed
        # ones: dropped (the cache built from the composed file computes its own).
        dropped_crowd_index += record.pop("crowdIndex", None) is not None
        out.images.append(msgspec.json.encode(record))
    return new_image_id, dropped_crowd_index


def _add_annotations(
    item: _Input,
    raw: RawCocoFile,
    rows: npt.NDArray[np.int64],
    new_image_id: dict[int, tuple[str, int]],
    outputs: dict[str, _Output],
) -> None:
    """Append the annotation records at ``rows`` to their image's output, renumbered and mapped."""
    binary = item.cached.binary_visibility
    for raw_record, image_id in zip(take(raw.annotations, rows), raw.annotation_image_ids[rows].tolist(), strict=True):
        record = msgspec.json.decode(raw_record)
        name, new_image = new_image_id[image_id]
        out = outputs[name]
        original_id = record["id"]
        record["id"] = len(out.annotations) + 1
        record["image_id"] = new_image
        record["category_id"] = 1
        record["keypoints"], record["num_keypoints"] = item.mapping.apply(record["keypoints"], binary)
        record["original_id"] = original_id
        out.annotations.append(msgspec.json.encode(record))


def _first_rows(ids: npt.NDArray[np.int64], wanted: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Rows (sorted, i.e. in file order) of the first record of each id in ``wanted``."""
    unique, first = np.unique(ids, return_index=True)
    wanted = np.unique(wanted)
    at = np.searchsorted(unique, wanted)
    return np.sort(first[at])


def _group_keys(records: list[dict], source: SourceConfig) -> list[str | None]:
    """(M,) group of each image under the source's group rule; None = a group of its own."""
    if source.group is None:
        return [None] * len(records)
    compiled = re.compile(source.group.pattern)
    group = "group" if "group" in compiled.groupindex else (1 if compiled.groups else 0)
    keys: list[str | None] = []
    for record in records:
        value = record.get(source.group.field)
        match = compiled.search(str(value)) if value is not None else None
        keys.append(match.group(group) if match else None)
    return keys


def group_split(keys: list[str | None], train_share: float, rng: np.random.Generator) -> npt.NDArray[np.bool_]:
    """Which images go to train when whole groups are split ``train_share`` : rest.

    Args:
        keys: (M,) group of each image; None makes the image a group of its own.
        train_share: the wanted share of images in train.
        rng: shuffles the groups.

    Returns:
        (M,) True for train.  Groups (sorted, then shuffled) are visited in turn and one
        goes to train when that brings the train count closer to ``train_share * M``, so
        the count ends within half the largest group of it.
    """
    n = len(keys)
    if n == 0:
        return np.zeros(0, dtype=bool)
    labels = np.array([f"k:{k}" if k is not None else f"i:{i}" for i, k in enumerate(keys)], dtype=object)
    groups, group_of = np.unique(labels, return_inverse=True)
    sizes = np.bincount(group_of, minlength=len(groups))
    target = train_share * n
    train_groups = np.zeros(len(groups), dtype=bool)
    n_train = 0
    # Sequential by nature (each choice depends on the count so far); one step per group.
    for group in rng.permutation(len(groups)).tolist():
        if abs(n_train + sizes[group] - target) < abs(n_train - target):
            train_groups[group] = True
            n_train += int(sizes[group])
    return train_groups[group_of]


def _report_row(
    item: _Input,
    config: ComposeConfig,
    images: SplitImages,
    kept: npt.NDArray[np.bool_],
    has_small: npt.NDArray[np.bool_],
    side_of_image: dict[int, bool],
    annotations_left_out: int,
) -> SourceRow:
    """The source's row; ``images_dir`` and ``crowd_index_dropped`` are set by the caller."""
    edges = config.size_definition.edges
    image_side = np.array([side_of_image.get(i) for i in images.image_ids.tolist()], dtype=object)
    instance_side = image_side[images.instance_image]
    person_side = image_side[images.persons.person_image]
    buckets = size_bucket_codes(images.persons.person_area, edges)
    lost = images.lost_in_mapping
    lost_small = lost & (images.instance_area < edges.small_medium)

    def counts(where: npt.NDArray[np.bool_]) -> dict[str, dict[str, int]]:
        return images.population_counts(where, edges)

    def side(train: bool) -> SideCounts:
        persons_here = person_side == train
        by_bucket = {b.value: int((persons_here & (buckets == b.code)).sum()) for b in SizeBucket}
        return SideCounts(images=int((image_side == train).sum()), persons=int(persons_here.sum()), **by_bucket)

    return SourceRow(
        source=item.source.source_name,
        dataset=item.source.dataset,
        split=item.split,
        role=item.role,
        images_dir=None,
        input=InputCounts(len(images.image_ids), images.persons.n_persons, int(has_small.sum())),
        out={"train": side(True), "val": side(False)},
        images_without_small_kept=int((kept & ~has_small).sum()),
        annotations_left_out=annotations_left_out,
        populations={
            "in": counts(np.ones(len(instance_side), dtype=bool)),
            "train": counts(instance_side == True),  # noqa: E712 (None = not kept)
            "val": counts(instance_side == False),  # noqa: E712
        },
        lost_in_mapping=LostInMapping(int(lost.sum()), int(lost_small.sum())),
        warnings=_warnings(item, config, kept, int(lost_small.sum())),
        joints=MappedJoints(item.mapping.mapped, item.mapping.missing),
        visibility_0_1_to_0_2=item.cached.binary_visibility,
        crowd_index_dropped=0,
    )


def _warnings(item: _Input, config: ComposeConfig, kept: npt.NDArray[np.bool_], lost_small: int) -> list[str]:
    """What the report and the command warn about one source split."""
    where = f"{item.source.source_name}/{item.split}"
    warnings = []
    if not kept.any():
        warnings.append(
            f"{where} ({item.source.dataset}) contributes no image: it has no person "
            f"({config.person_population}) below the small edge and keep_without_small is "
            f"{config.keep_without_small}"
        )
    if lost_small:
        consequence = (
            "they stay persons (population all), without keypoints"
            if config.person_population.kind is PopulationKind.ALL
            else "they are not persons of the composed benchmark"
        )
        warnings.append(
            f"{where}: {lost_small} small person(s) of population {config.person_population} "
            f"have labelled joints only among joints the target schema lacks (all lost in the mapping); "
            f"{consequence}"
        )
    if item.mapping.missing:
        warnings.append(
            f"{where} lacks target joint(s) {', '.join(item.mapping.missing)}: they are 0, 0, 0 in its records"
        )
    return warnings


def _top_level(config: ComposeConfig, target: KeypointSchema) -> dict[str, bytes]:
    sources = [s.source_name for s in config.source]
    info = {
        "description": f"{config.name}: composed by PoseAtlas from {', '.join(sources)}",
        "version": "1.0",
        "contributor": "PoseAtlas compose",
    }
    category = {
        "supercategory": "person",
        "id": 1,
        "name": "person",
        "keypoints": list(target.joint_names),
        "skeleton": [[a + 1, b + 1] for a, b in target.skeleton],
    }
    return {
        "info": msgspec.json.encode(info),
        "licenses": b"[]",
        "images": b"",
        "annotations": b"",
        "categories": msgspec.json.encode([category]),
    }


def compose_lines(report: ComposeReport) -> list[str]:
    """The printed summary: per source split, images and persons in and out, S/M/L kept, joints missing."""
    lines = [
        f"{report.name}: train {report.outputs['train'].images} images, "
        f"val {report.outputs['val'].images} images; {report.size}; "
        f"{report.population_definition}"
    ]
    header = (
        f"{'source/split':<28}{'images in':>10}{'persons in':>11}{'train img':>10}{'val img':>9}"
        f"{'small':>7}{'medium':>8}{'large':>7}  missing joints"
    )
    lines.append(header)
    for row in report.sources:
        tr, va = row.out["train"], row.out["val"]
        s, m, lg = (getattr(tr, b) + getattr(va, b) for b in SizeBucket.names())
        lines.append(
            f"{row.source + '/' + row.split:<28}{row.input.images:>10}{row.input.persons:>11}"
            f"{tr.images:>10}{va.images:>9}{s:>7}{m:>8}{lg:>7}  {', '.join(row.joints.missing) or '-'}"
        )
    lines += [f"warning: {warning}" for warning in report.warnings]
    return lines
