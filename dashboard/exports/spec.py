"""The export spec (``python -m dashboard.export --spec FILE``): one msgspec schema.

A TOML file (or JSON, by its ``.json`` suffix) with top-level defaults and one
``[[export]]`` table per export (``docs/guides/paper-export.md``).  Decoding checks the
keys and their types; every error is one line naming the file and the entry
(``paper.toml: export 2: unknown key colour (known: ...)``).

The render settings (``url``, ``formats``, ``width``, ``percent``) and ``name`` are left
untyped here: ``dashboard.exports.cli`` checks them with the same functions as the
``--url`` / ``--formats`` / ``--width`` flags and output names, once an entry's default
is applied, so a bad top-level default is named in each entry it reaches.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import msgspec

from analysis.errors import PoseAtlasError


class ExportEntry(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """One ``[[export]]`` table: a view's items for one URL."""

    view: str  #: one view of ``dashboard.exports.catalog.VIEWS``
    items: list[str] | None = None  #: file stems to keep (default: all of the view's)
    name: Any = None  #: output stem, only with exactly one item (``analysis.names`` rule)
    url: Any = None  #: default: the spec's ``url``
    formats: Any = None  #: default: the spec's ``formats``
    width: Any = None  #: default: the spec's ``width``
    percent: Any = None  #: default: the spec's ``percent``
    options: dict[str, Any] = {}  #: the view's page widgets (``ViewOptions.from_mapping``)


class ExportSpec(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """A spec file: defaults for every entry, the output folders, the entries."""

    export: list[ExportEntry]
    url: Any = ""
    formats: Any = None  #: default: every format of ``paper.FORMATS``
    width: Any = "single"
    percent: Any = False
    out: str | None = None  #: relative to the spec file; ``--out`` overrides
    cache_dir: str | None = None  #: relative to the spec file; ``--cache-dir`` overrides
    views: Any = None  #: accepted and unused, as before: each [[export]] names its view


_AT = re.compile(r"^(?P<what>.*?)(?: - at `\$(?P<at>[^`]*)`)?$", re.S)
_ENTRY = re.compile(r"^\.export\[(?P<n>\d+)\]\.?(?P<rest>.*)$")
_UNKNOWN = re.compile(r"^Object contains unknown field `(?P<key>[^`]*)`$")
_MISSING = re.compile(r"^Object missing required field `(?P<key>[^`]*)`$")


def _fields(kind: type[msgspec.Struct]) -> str:
    return ", ".join(sorted(kind.__struct_fields__))


def _one_line(path: Path, exc: msgspec.ValidationError) -> str:
    """msgspec's ``Expected `str`, got `int` - at `$.export[0].view``` as
    ``FILE: export 1: view: expected `str`, got `int```."""
    m = _AT.match(str(exc))
    what, at = (m["what"], m["at"] or "") if m else (str(exc), "")
    entry = _ENTRY.match(at)
    where, kind, key_path = (
        (f"{path}: export {int(entry['n']) + 1}", ExportEntry, entry["rest"])
        if entry
        else (str(path), ExportSpec, at.lstrip("."))
    )
    if at == ".export" or (not at and _MISSING.match(what) and "`export`" in what):
        return f"{path}: needs at least one [[export]] table"
    if unknown := _UNKNOWN.match(what):
        return f"{where}: unknown key {unknown['key']} (known: {_fields(kind)})"
    if missing := _MISSING.match(what):  # only an entry's view is required
        from dashboard.exports.catalog import VIEWS

        return f'{where}: needs {missing["key"]} = "..." (one of {", ".join(VIEWS)})'
    return f"{where}: {key_path + ': ' if key_path else ''}{what[:1].lower()}{what[1:]}"


def _read(path: Path) -> Any:
    """The file's document (a dict for a well-formed spec), or one-line PoseAtlasError."""
    if path.is_dir():
        raise PoseAtlasError(f"{path}: is a folder; give the spec file (FILE.toml)")
    fmt = "JSON" if path.suffix.lower() == ".json" else "TOML"
    try:
        text = path.read_text(encoding="utf-8")
        return json.loads(text) if fmt == "JSON" else tomllib.loads(text)
    except FileNotFoundError:
        raise PoseAtlasError(f"{path}: spec file not found") from None
    except OSError as exc:
        raise PoseAtlasError(f"{path}: cannot read the spec ({exc.strerror or exc})") from None
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PoseAtlasError(f"{path}: not valid {fmt}: {exc}") from None


def load_spec(path: Path) -> ExportSpec:
    """The spec at ``path``; raises PoseAtlasError (one line naming the file and the entry)."""
    document = _read(path)
    if not isinstance(document, dict):
        raise PoseAtlasError(f"{path}: needs at least one [[export]] table")
    try:
        spec = msgspec.convert(document, ExportSpec, strict=True)
    except msgspec.ValidationError as exc:
        raise PoseAtlasError(_one_line(path, exc)) from None
    if not spec.export:
        raise PoseAtlasError(f"{path}: needs at least one [[export]] table")
    return spec
