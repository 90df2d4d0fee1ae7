"""The ``compose`` config: a TOML file decoded into frozen, typed structs.

::

    name = "smallpose-like"            # the composed benchmark's name
    seed = 0                           # every random choice derives from it
    keypoint_schema = "coco17"         # target: coco17, crowdpose14 or a list of joint names
    keep_without_small = 0.1           # share of images without any small person to keep
    population = "keypoints"           # who is a person: all | keypoints | labelled | minN

    [size]                             # what "small" means
    area_source = "bbox"               # bbox | segm | crowdpose
    edges = [1024, 9216]               # small < 32^2 <= medium < 96^2 <= large

    [[source]]
    dataset = "coco"                   # a registered dataset
    train = ["train2017"]              # its splits feeding train.json
    val = ["val2017"]                  # ... and val.json

    [[source]]
    dataset = "posetrack"
    name = "posetrack"                 # folder / source name (default: the dataset's)
    train = ["train"]                  # no val: its train images are split
    split_ratio = [0.8, 0.2]           # train / val share (default 0.8 / 0.2)
    group = { field = "file_name", pattern = "^images/train/(?P<group>[^/]+)/" }
    keypoint_map = { left_eye = "", nose = "nose" }   # target joint = source joint ("" = none)

Errors name the file and the key (``compose.toml: source[1].split_ratio: ...``).
"""

from __future__ import annotations

import math
import re
import tomllib
from pathlib import Path
from typing import NoReturn

import msgspec

from analysis.build.loading import checked_pattern
from analysis.definitions import AreaSource, PersonPopulation, SizeDefinition, SizeEdges
from analysis.errors import PoseAtlasError
from analysis.registry import validate_name
from analysis.schema import KeypointSchema, schema_from_override

DEFAULT_SPLIT_RATIO = (0.8, 0.2)


class SizeConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    area_source: AreaSource = AreaSource.BBOX
    edges: tuple[float, float] = (SizeEdges().small_medium, SizeEdges().medium_large)


class GroupRule(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Images whose ``field`` gives the same ``pattern`` match (group ``group``, else the
    first group, else the whole match) stay on one side of a train/val split."""

    pattern: str
    field: str = "file_name"


class SourceConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    dataset: str
    train: tuple[str, ...]
    val: tuple[str, ...] = ()
    name: str | None = None
    split_ratio: tuple[float, float] = DEFAULT_SPLIT_RATIO
    group: GroupRule | None = None
    keypoint_map: dict[str, str] = {}

    @property
    def source_name(self) -> str:
        return self.name or self.dataset


class ComposeConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: str
    source: tuple[SourceConfig, ...]
    seed: int = 0
    keypoint_schema: str | tuple[str, ...] = "coco17"
    keep_without_small: float = 0.0
    population: str = "keypoints"
    size: SizeConfig = SizeConfig()

    @property
    def person_population(self) -> PersonPopulation:
        return PersonPopulation.parse(self.population)

    @property
    def target_schema(self) -> KeypointSchema:
        value = self.keypoint_schema
        return schema_from_override(value if isinstance(value, str) else list(value))

    @property
    def size_definition(self) -> SizeDefinition:
        return SizeDefinition(AreaSource(self.size.area_source), SizeEdges(*self.size.edges))


def load_compose_config(path: Path) -> ComposeConfig:
    """Read and check a compose config.

    Raises:
        PoseAtlasError: not TOML, a missing / unknown / mistyped key, or values that make
            no sense (ratios not summing to 1, shares outside [0, 1], bad edges, a bad
            regular expression, a duplicate source name, an unknown target schema).
    """
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PoseAtlasError(f"{path}: cannot read the config ({exc.strerror or exc})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise PoseAtlasError(f"{path}: not valid TOML ({exc})") from None
    try:
        config = msgspec.convert(raw, ComposeConfig)
    except msgspec.ValidationError as exc:
        raise PoseAtlasError(f"{path}: {_readable(str(exc))}") from None
    _check(path, config)
    return config


def _readable(message: str) -> str:
    """msgspec's "Expected `int`, got `str` - at `$.source[0].seed`" -> "source[0].seed: expected int, got str"."""
    match = re.match(r"(.*) - at `\$\.?(.*)`$", message)
    if not match:
        return message
    problem, where = match.groups()
    problem = problem[0].lower() + problem[1:]
    problem = problem.replace("`", "")
    return f"{where}: {problem}" if where else problem


def _check(path: Path, config: ComposeConfig) -> None:
    _check_settings(path, config)
    names: dict[str, int] = {}
    for index, source in enumerate(config.source):
        _check_source(path, f"source[{index}]", source, names)
        names[source.source_name] = index


def _fail(path: Path, where: str, problem: str) -> NoReturn:
    raise PoseAtlasError(f"{path}: {where}: {problem}")


def _check_settings(path: Path, config: ComposeConfig) -> None:
    """The composition-wide settings: name, sources given, schema, population, seed, size edges."""
    try:
        validate_name(config.name, "name")
    except PoseAtlasError as exc:
        _fail(path, "name", str(exc))
    if not config.source:
        _fail(path, "source", "no [[source]] given")
    try:
        config.target_schema  # noqa: B018 (validates)
    except (ValueError, TypeError) as exc:
        _fail(path, "keypoint_schema", str(exc))
    try:
        config.person_population  # noqa: B018 (validates)
    except ValueError as exc:
        _fail(path, "population", str(exc))
    if not 0 <= config.seed < 2**64:
        _fail(path, "seed", f"must be an integer in [0, 2^64), got {config.seed}")
    if not all(math.isfinite(edge) for edge in config.size.edges):
        _fail(path, "size.edges", f"edges must be finite areas in px^2, got {list(config.size.edges)}")
    if not 0.0 <= config.keep_without_small <= 1.0:
        _fail(path, "keep_without_small", f"must be a share in [0, 1], got {config.keep_without_small}")
    try:
        config.size_definition  # noqa: B018 (validates)
    except ValueError as exc:
        _fail(path, "size.edges", str(exc))


def _check_source(path: Path, where: str, source: SourceConfig, names: dict[str, int]) -> None:
    """One ``[[source]]``: its name (unique: ``names`` maps those seen to their index), splits,
    split ratio and group pattern."""
    try:
        validate_name(source.source_name, "source name")
    except PoseAtlasError as exc:
        _fail(path, f"{where}.name", str(exc))
    if source.source_name in names:
        first = names[source.source_name]
        _fail(path, f"{where}.name", f"source name {source.source_name!r} is used by source[{first}] too")
    if not source.train and not source.val:
        _fail(path, f"{where}.train", "no split given")
    ratio = source.split_ratio
    if source.val and (source.group is not None or ratio != DEFAULT_SPLIT_RATIO):
        _fail(path, f"{where}.split_ratio", "split_ratio and group apply only to a source without val splits")
    if min(ratio) < 0 or not math.isclose(sum(ratio), 1.0, abs_tol=1e-9):
        _fail(path, f"{where}.split_ratio", f"train and val shares must be >= 0 and sum to 1, got {list(ratio)}")
    if source.group is not None:
        try:
            checked_pattern(source.group.pattern)
        except ValueError as exc:
            _fail(path, f"{where}.group.pattern", f"invalid regular expression {source.group.pattern!r}: {exc}")
