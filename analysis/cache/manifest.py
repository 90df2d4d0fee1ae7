"""``manifest.json``: what a cached split holds and how it was made, as typed structs.

Written by :mod:`analysis.build.run` (and amended by the scenes run, which adds
:class:`ScenesFacts`), read by ``info``, the CLI, the scenes commands and the
dashboard: everyone goes through :func:`read_manifest` and :func:`write_manifest`.
On disk it stays plain, indented JSON with sorted keys.

Versions: ``schema_version`` is the cache format (:data:`analysis.cache.contract.SCHEMA_VERSION`,
bumped when a table column or a manifest field changes meaning or type);
``code_version`` is the package version plus a digest of every ``analysis``
module the build imports (see :func:`analysis.build.run.code_version`).  A manifest of
another format raises :class:`StaleCacheError`; one that is not JSON or not of
this shape raises :class:`InvalidManifestError`.  Both name the split and a command
that rebuilds it (:func:`rebuild_command`).
"""

from __future__ import annotations

import shlex
from pathlib import Path

import msgspec

from analysis.cache.contract import MANIFEST_FILE, SCHEMA_VERSION, CacheFileError, CacheKey, atomic_path, table_rows
from analysis.cache.fingerprint import FileFingerprint
from analysis.definitions import AreaSource, VisibilityConvention
from analysis.errors import PoseAtlasError


class _Record(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=False):
    """Base of the manifest's records: unknown keys are an error, not ignored."""


class ImageCheck(_Record):
    """Which image files exist under the image folder (``--images``)."""

    path: str | None = None  #: absolute folder, None when built without images
    exists: bool = False
    n_missing: int = 0
    missing: list[str] = msgspec.field(default_factory=list)  #: the first 1,000, as listed in the file


class Inputs(_Record):
    annotations: FileFingerprint
    images: ImageCheck = msgspec.field(default_factory=ImageCheck)


class SourceRuleRecord(_Record):
    field: str
    pattern: str


class BuildOptions(_Record):
    """Everything besides the input bytes that changes the cache (``DatasetSpec.options_fingerprint``)."""

    images: str | None = None
    keypoint_schema: str | list[str] | None = None
    source_rule: SourceRuleRecord | None = None


class KeypointSchemaRecord(_Record):
    name: str
    joint_names: list[str]
    skeleton: list[tuple[int, int]]  #: 0-based joint pairs
    sigmas: list[float] | None = None  #: OKS sigmas when known
    category_id: int | None = None  #: the annotation category of the persons (evaluation keeps its predictions)


class Definitions(_Record):
    """The definitions the cached quantities follow (printed by ``info``, stated by figures)."""

    crowd_index: str
    crowding: str
    visibility: VisibilityConvention
    visibility_rule: str
    area_sources: list[AreaSource]  #: the area sources this split supports
    default_size: str
    crowd_levels: list[str]
    density_levels: str


class Counts(_Record):
    images: int
    annotations: int  #: persons + crowd regions
    persons: int
    crowd_regions: int
    images_without_persons: int
    reference_persons: int  #: persons that count as CrowdIndex references
    images_with_stored_crowd_index: int
    joints: int
    skipped: int  #: records skipped or merged, all reasons


class SkippedRecord(_Record):
    record: str  #: e.g. "annotation id=12"
    reason: str


class TableFile(_Record):
    """A table file the manifest vouches for: the up-to-date check compares both."""

    size: int  #: bytes
    rows: int  #: from the parquet footer


class SceneFailure(_Record):
    image_id: int
    file_name: str
    reason: str


class IdentityRecord(_Record, omit_defaults=True):
    """How the dataset looks in figures, as the user set it (``analysis.identity``);
    unset fields are left out (they default from the name)."""

    display_name: str | None = None
    color: str | None = None
    hatch: str | None = None
    order: int | None = None
    paper_name: str | None = None


class ScenesFacts(_Record):
    """The scenes run that wrote scenes.parquet (see analysis.scenes.runner), or the demo's
    synthetic results (``synthetic``: seeded random predictions, no network)."""

    model: str  #: ``arch@sha256-prefix``
    entropy_base: float | None = None  #: None: e (nats)
    arch: str | None = None
    weights: str | None = None
    weights_sha256: str | None = None
    entropy_unit: str = "nats"
    preprocessing: str = ""
    top_k: int = 5
    images_fingerprint: str = ""
    n_images: int = 0
    n_ok: int = 0
    n_failed: int = 0
    failures: list[SceneFailure] = msgspec.field(default_factory=list)
    n_computed_this_run: int = 0
    n_resumed: int = 0
    seconds: float = 0.0
    images_per_s: float | None = None
    device: str = ""
    backend: str = "local"
    batch_size: int = 0
    workers: int = 0
    categories: list[str] = msgspec.field(default_factory=list)  #: the 365 names
    finished_at: str = ""
    synthetic: bool = False


class Manifest(_Record):
    """One cached split's manifest.json."""

    dataset: str
    split: str
    schema_version: int  #: the cache format (analysis.cache.contract.SCHEMA_VERSION)
    code_version: str
    built_at: str  #: ISO 8601, UTC
    options: BuildOptions
    inputs: Inputs
    keypoint_schema: KeypointSchemaRecord
    definitions: Definitions
    counts: Counts
    tables: dict[str, TableFile]  #: file name -> size and rows (images, instances, scenes)
    synthetic: bool = False
    identity: IdentityRecord = msgspec.field(default_factory=IdentityRecord)  #: display name, colour, ...
    warnings: list[str] = msgspec.field(default_factory=list)
    skipped_counts: dict[str, int] = msgspec.field(default_factory=dict)  #: reason -> count
    skipped: list[SkippedRecord] = msgspec.field(default_factory=list)  #: the first ones, listed
    timings: dict[str, float] = msgspec.field(default_factory=dict)  #: seconds per build stage
    scenes: ScenesFacts | None = None


# --------------------------------------------------------------------------- errors


class _Header(msgspec.Struct):
    """What any manifest version is read for, leniently: versions and how to rebuild."""

    dataset: str | None = None
    split: str | None = None
    schema_version: int | None = None
    synthetic: bool = False
    inputs: dict = msgspec.field(default_factory=dict)
    options: dict = msgspec.field(default_factory=dict)


class ManifestError(PoseAtlasError):
    """A split's manifest cannot be used; the message names the split and a rebuild command."""

    def __init__(self, split_dir: Path, problem: str, command: str) -> None:
        self.split_dir = Path(split_dir)
        self.problem = problem
        self.command = command
        super().__init__(f"{self.split_dir / MANIFEST_FILE}: {problem}; rebuild it with `{command}`")


class InvalidManifestError(ManifestError):
    """manifest.json is unreadable, not JSON, or not of the manifest's shape."""


class StaleCacheError(ManifestError):
    """The split was written in another cache format (``schema_version``)."""


class UnreadableManifestError(InvalidManifestError):
    """manifest.json cannot be read or is not JSON: nothing left says whether the split was
    registered or built ad hoc, nor from which annotation file.

    ``command`` is the registered form (``--only NAME/SPLIT``); ``ad_hoc_command`` the ad
    hoc form with ``FILE`` for the annotation file.  The message names both, each with
    when it applies (``--only`` fails for a split that is not in the registry); a caller
    that knows the registry picks one with :meth:`command_for`.
    """

    def __init__(self, split_dir: Path, reason: str) -> None:
        split_dir = Path(split_dir)
        self.split_dir = split_dir
        self.problem = f"unreadable ({reason}), so it no longer names its annotation file"
        self.command = rebuild_command(split_dir)
        self.ad_hoc_command = shlex.join(
            [
                "python",
                "-m",
                "analysis",
                "build",
                "--name",
                split_dir.parent.name,
                "--split",
                split_dir.name,
                "--annotations",
                "FILE",
                "--force",
                "--cache-dir",
                str(split_dir.parent.parent),
            ]
        )
        key = f"{split_dir.parent.name}/{split_dir.name}"
        PoseAtlasError.__init__(
            self,
            f"{split_dir / MANIFEST_FILE}: {self.problem}; if {key} is registered, rebuild it with "
            f"`{self.command}`; if it was built ad hoc, with `{self.ad_hoc_command}`, FILE being its annotation file",
        )

    def command_for(self, registered: bool) -> str:
        """The one command that rebuilds the split, for a registered split or an ad hoc one."""
        return self.command if registered else self.ad_hoc_command


# --------------------------------------------------------------------------- read / write


_DECODER = msgspec.json.Decoder(Manifest)
_HEADER_DECODER = msgspec.json.Decoder(_Header)
_ENCODER = msgspec.json.Encoder(order="sorted")


def decode_manifest(data: bytes, split_dir: Path) -> Manifest:
    """The manifest in ``data`` (the bytes of ``split_dir``'s manifest.json).

    Raises:
        StaleCacheError: another cache format.
        InvalidManifestError: not JSON, or not of the manifest's shape.
    """
    try:
        header = _HEADER_DECODER.decode(data)
    except msgspec.DecodeError as exc:
        raise UnreadableManifestError(split_dir, str(exc)) from None
    command = rebuild_command(split_dir, header)
    if header.schema_version != SCHEMA_VERSION:
        raise StaleCacheError(
            split_dir,
            f"written in cache format {header.schema_version}, this version reads format {SCHEMA_VERSION}",
            command,
        )
    try:
        return _DECODER.decode(data)
    except msgspec.DecodeError as exc:
        raise InvalidManifestError(split_dir, f"invalid ({exc})", command) from None


def read_manifest(where: Path, key: CacheKey | None = None) -> Manifest | None:
    """The manifest of a cached split, or None when it has none (the one reader).

    ``where`` is the split's folder, or with ``key`` the cache root it lives under.

    Raises:
        StaleCacheError, InvalidManifestError: see :func:`decode_manifest`.
    """
    split_dir = key.directory(where) if key is not None else Path(where)
    path = split_dir / MANIFEST_FILE
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise UnreadableManifestError(split_dir, str(exc.strerror or exc)) from None
    return decode_manifest(data, split_dir)


def encode_manifest(manifest: Manifest) -> bytes:
    """Indented JSON, sorted keys, one trailing newline."""
    return msgspec.json.format(_ENCODER.encode(manifest), indent=2) + b"\n"


def write_manifest(manifest: Manifest, split_dir: Path) -> None:
    """Write ``split_dir/manifest.json`` atomically."""
    with atomic_path(Path(split_dir) / MANIFEST_FILE) as tmp:
        tmp.write_bytes(encode_manifest(manifest))


def images_root(manifest: Manifest) -> Path | None:
    """The folder the split's images live in (``inputs.images.path``), or None (built without)."""
    path = manifest.inputs.images.path
    return Path(path) if path else None


class _ScenesOnly(msgspec.Struct):
    scenes: ScenesFacts | None = None


def carried_scenes(split_dir: Path) -> ScenesFacts | None:
    """The scenes facts of a manifest that is otherwise stale or invalid, if they still decode.

    A rebuild keeps scenes.parquet (it depends on the images, not the annotations)
    only together with the facts of the run that wrote it.
    """
    try:
        return msgspec.json.decode((Path(split_dir) / MANIFEST_FILE).read_bytes(), type=_ScenesOnly).scenes
    except (OSError, msgspec.DecodeError):
        return None


# --------------------------------------------------------------------------- tables


def table_file(path: Path) -> TableFile:
    """Size and row count of a written table file."""
    return TableFile(size=path.stat().st_size, rows=table_rows(path))


def table_problems(split_dir: Path, manifest: Manifest, names: tuple[str, ...]) -> list[str]:
    """What is wrong with the table files ``names`` the manifest vouches for (empty: all fine).

    Checks that each is recorded, present, of the recorded size, with a readable
    parquet footer holding the recorded row count.  Reads footers only.
    """
    problems = []
    for name in names:
        recorded = manifest.tables.get(name)
        path = Path(split_dir) / name
        if recorded is None:
            problems.append(f"{name} not recorded in the manifest")
            continue
        try:
            size = path.stat().st_size
        except OSError:
            problems.append(f"{name} missing")
            continue
        if size != recorded.size:
            problems.append(f"{name} is {size} bytes, the manifest says {recorded.size}")
            continue
        try:
            rows = table_rows(path)
        except CacheFileError:
            problems.append(f"{name} unreadable")
            continue
        if rows != recorded.rows:
            problems.append(f"{name} has {rows} rows, the manifest says {recorded.rows}")
    return problems


# --------------------------------------------------------------------------- rebuild


def rebuild_command(split_dir: Path, header: _Header | Manifest | None = None) -> str:
    """A command that rebuilds the split in ``split_dir``, from what its manifest still tells.

    ``demo --force`` for the synthetic demo caches; the ad hoc form (``--name --split
    --annotations [--images] [--keypoint-schema]``) when the manifest names the
    annotation file and the options allow it; else the registered form
    (``--only NAME/SPLIT``), which needs the split in the registry.
    """
    split_dir = Path(split_dir)
    name, split = split_dir.parent.name, split_dir.name
    cache_root = split_dir.parent.parent
    tail = ["--force", "--cache-dir", str(cache_root)]
    annotations = images = None
    schema: object = None
    source_rule: object = None
    if isinstance(header, Manifest):  # typed: read the fields themselves
        annotations = header.inputs.annotations.path
        images, schema = header.options.images, header.options.keypoint_schema
        source_rule = header.options.source_rule
    elif header is not None:  # any manifest version, read leniently
        ann = header.inputs.get("annotations") if isinstance(header.inputs, dict) else None
        annotations = ann.get("path") if isinstance(ann, dict) else None
        opts = header.options if isinstance(header.options, dict) else {}
        images, schema, source_rule = opts.get("images"), opts.get("keypoint_schema"), opts.get("source_rule")
    if header is not None and header.synthetic:  # the demo's caches (analysis.demo)
        return shlex.join(["python", "-m", "analysis", "demo", *tail])
    if isinstance(annotations, str) and source_rule is None and isinstance(schema, str | None):
        words = ["python", "-m", "analysis", "build", "--name", name, "--split", split, "--annotations", annotations]
        if isinstance(images, str):
            words += ["--images", images]
        if schema:
            words += ["--keypoint-schema", schema]
    else:
        words = ["python", "-m", "analysis", "build", "--only", f"{name}/{split}"]
    return shlex.join(words + tail)
