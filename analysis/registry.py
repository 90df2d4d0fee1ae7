"""The dataset registry, ``data/datasets.toml``.

Each ``[[dataset]]`` table registers one split::

    [[dataset]]
    name = "smallpose"
    split = "val"
    annotations = "raw/smallpose/val.json"   # relative to this file's folder
    images = "raw/smallpose/images"          # optional
    keypoint_schema = "coco17"               # optional override (or a list of joint names)
    source = { field = "file_name", pattern = "^(?P<source>[^/]+)/" }   # optional
    display_name = "SmallPose"               # optional identity (see analysis.identity):
    color = "#0072B2"                        #   legend name, colour, bar hatch, position
    hatch = "/"                              #   among datasets and the key of the
    order = 1                                #   paper's reported values
    paper_name = "SmallPose"

The identity belongs to the dataset: splits of one dataset may repeat it or give
parts of it, but never conflicting values.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path

from analysis.build.image_paths import check_image_root
from analysis.build.loading import LoadOptions, SourceRule
from analysis.errors import PoseAtlasError
from analysis.identity import DatasetIdentity
from analysis.names import validate_name
from analysis.schema import schema_from_override

DEFAULT_REGISTRY = Path("data/datasets.toml")
IDENTITY_KEYS = ("display_name", "color", "hatch", "order", "paper_name")
_ALLOWED_KEYS = {"name", "split", "annotations", "images", "keypoint_schema", "source", *IDENTITY_KEYS}


@dataclass(frozen=True)
class DatasetSpec:
    """One registered (or ad hoc) dataset split."""

    name: str
    split: str
    annotations: Path
    images: Path | None = None
    keypoint_schema: str | tuple[str, ...] | None = None
    source_rule: SourceRule | None = None
    #: how the dataset looks in figures (recorded in the manifest; not a build input)
    identity: DatasetIdentity = DatasetIdentity()  # noqa: RUF009  (frozen: a shared default is safe)

    def load_options(self) -> LoadOptions:
        schema = None
        if self.keypoint_schema is not None:
            value = self.keypoint_schema if isinstance(self.keypoint_schema, str) else list(self.keypoint_schema)
            schema = schema_from_override(value)
        return LoadOptions(keypoint_schema=schema, source_rule=self.source_rule)

    def options_fingerprint(self) -> dict:
        """Everything besides the input bytes that changes the cache."""
        return {
            "images": str(self.images) if self.images else None,
            "keypoint_schema": (
                self.keypoint_schema if isinstance(self.keypoint_schema, str | None) else list(self.keypoint_schema)
            ),
            "source_rule": (
                {"field": self.source_rule.field, "pattern": self.source_rule.pattern} if self.source_rule else None
            ),
        }


def _toml_type(value: object) -> str:
    """The TOML name of a parsed value's type, for messages."""
    names = {bool: "a boolean", int: "an integer", float: "a float", str: "a string", list: "an array", dict: "a table"}
    return next((n for t, n in names.items() if isinstance(value, t)), type(value).__name__)


def load_registry(path: Path = DEFAULT_REGISTRY) -> list[DatasetSpec]:
    """Every registered split; relative paths resolve against the registry's folder."""
    path = Path(path)
    if not path.is_file():
        return []
    specs, seen = [], set()
    for index, entry in enumerate(_registry_entries(path)):
        where = f"{path}: dataset[{index}]"
        spec = _registered_spec(where, path, entry)
        if (spec.name, spec.split) in seen:
            raise PoseAtlasError(f"{where}: {spec.name}/{spec.split} is registered twice")
        seen.add((spec.name, spec.split))
        specs.append(spec)
    return _shared_identities(path, specs)


def _registry_entries(path: Path) -> list:
    """The registry file's ``[[dataset]]`` tables, as parsed (checked to be an array)."""
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise PoseAtlasError(f"{path}: not valid TOML ({exc})") from None
    entries = doc.get("dataset", [])
    if not isinstance(entries, list):
        raise PoseAtlasError(f"{path}: 'dataset' must be an array of tables ([[dataset]])")
    return entries


def _registered_spec(where: str, registry: Path, entry: object) -> DatasetSpec:
    """One ``[[dataset]]`` table -> its split's spec (keys, types and values checked)."""
    if not isinstance(entry, dict):
        raise PoseAtlasError(f"{where}: expected a table ([[dataset]] with name = ...), got {_toml_type(entry)}")
    unknown = set(entry) - _ALLOWED_KEYS
    if unknown:
        raise PoseAtlasError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    for key in ("name", "split", "annotations"):
        if key not in entry:
            raise PoseAtlasError(f"{where}: '{key}' is required")
        if not isinstance(entry[key], str):
            raise PoseAtlasError(f"{where}: '{key}' must be a string, got {_toml_type(entry[key])}")
    return DatasetSpec(
        name=validate_name(entry["name"], "dataset name"),
        split=validate_name(entry["split"], "split name"),
        annotations=_resolve(registry, entry["annotations"]),
        images=_image_root(where, registry, entry.get("images")),
        keypoint_schema=_schema_value(where, entry.get("keypoint_schema")),
        source_rule=_source_rule(where, entry.get("source")),
        identity=_identity(where, entry),
    )


def _identity(where: str, entry: dict) -> DatasetIdentity:
    try:
        return DatasetIdentity(**{k: entry[k] for k in IDENTITY_KEYS if k in entry})
    except ValueError as exc:
        raise PoseAtlasError(f"{where}: {exc}") from None


def _shared_identities(path: Path, specs: list[DatasetSpec]) -> list[DatasetSpec]:
    """Every split of a dataset gets the identity its entries give together."""
    merged: dict[str, DatasetIdentity] = {}
    for spec in specs:
        try:
            merged[spec.name] = merged.get(spec.name, DatasetIdentity()).merged(
                spec.identity, f"{path}: dataset {spec.name!r}"
            )
        except ValueError as exc:
            raise PoseAtlasError(str(exc)) from None
    return [replace(spec, identity=merged[spec.name]) for spec in specs]


def _image_root(where: str, registry: Path, value: object) -> Path | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise PoseAtlasError(f"{where}: 'images' must be a string (a folder), got {_toml_type(value)}")
    return check_image_root(_resolve(registry, value), f"{where}: images")


def _resolve(registry: Path, value: str) -> Path:
    p = Path(value).expanduser()
    return p if p.is_absolute() else (registry.parent / p)


def _schema_value(where: str, value: object) -> str | tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, str) and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
        raise PoseAtlasError(
            f"{where}: keypoint_schema must be a name (coco17, crowdpose14) or an array of joint names, "
            f"got {_toml_type(value)}"
        )
    try:
        schema_from_override(value if isinstance(value, str) else list(value))  # validate early
    except (ValueError, TypeError) as exc:
        raise PoseAtlasError(f"{where}: keypoint_schema: {exc}") from None
    return value if isinstance(value, str) else tuple(value)


def _source_rule(where: str, value: object) -> SourceRule | None:
    if value is None:
        return None
    if (
        not isinstance(value, dict)
        or not isinstance(value.get("pattern"), str)
        or not isinstance(value.get("field", "file_name"), str)
        or set(value) - {"field", "pattern"}
    ):
        raise PoseAtlasError(f'{where}: source must be {{ field = "file_name", pattern = "..." }}')
    try:
        return SourceRule(field=value.get("field", "file_name"), pattern=value["pattern"])
    except ValueError as exc:
        raise PoseAtlasError(f"{where}: {exc}") from None


def register(path: Path, spec_lines: dict[str, str]) -> bool:
    """Append a ``[[dataset]]`` entry unless that name/split is already registered.

    ``spec_lines`` maps keys to string values (paths relative to the registry).
    Returns whether an entry was added.  Appending keeps the user's comments.
    """
    path = Path(path)
    existing = {(s.name, s.split) for s in load_registry(path)}
    if (spec_lines["name"], spec_lines["split"]) in existing:
        return False
    # JSON string escapes are valid TOML basic-string escapes.
    block = "\n[[dataset]]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in spec_lines.items())
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(block)
    return True
