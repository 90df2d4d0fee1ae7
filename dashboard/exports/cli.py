"""``python -m dashboard.export``: every figure and table the dashboard shows for a URL,
written to files without a browser or a server (no streamlit import on this path).

    python -m dashboard.export --url URL --out DIR [--views all|people,size,...]
        [--formats pdf,png,svg] [--width single|double] [--percent] [--cache-dir DIR]
    python -m dashboard.export --spec FILE.toml [--out DIR] [--cache-dir DIR]

Files: ``DIR/<view>/<name>.<ext>`` (figures in every format, tables as CSV and LaTeX),
``DIR/captions.txt`` and ``DIR/captions.tex``.  Bad input (URL, view, spec) is one
line ``error: ...`` and exit status 2, with nothing written.  An item that fails while
being built or rendered costs only itself: every other file is written, each failure is
one line ``error: <view>/<item>: <reason>``, and the exit status is 1.
"""

from __future__ import annotations

import argparse
import functools
import sys
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, BinaryIO, NoReturn
from urllib.parse import parse_qsl, urlsplit

from analysis.cache.contract import CacheKey
from analysis.cache.staged_files import StagedFiles
from analysis.definitions import AreaSource, Normalisation, PersonPopulation, SizeBucket
from analysis.errors import PoseAtlasError
from analysis.names import validate_name
from analysis.output_paths import ProtectedInputs, check_output_dir
from dashboard import export, paths, query
from dashboard.caches import Caches, load_caches, load_keypoints
from dashboard.exports import catalog
from dashboard.exports.items import FigureItem, Note, TableItem
from dashboard.exports.render import Named, RenderOptions, count_files, failure_reason, render
from dashboard.exports.state import ViewOptions, ViewState, splits_of, state_from_params
from dashboard.filters import sources_of
from dashboard.series import SeriesBy

#: The dashboard's URL query keys (``dashboard/query.py``, whose parser reads them).
QUERY_KEYS = ("ds", "split", "src", "bucket", "area", "sm", "ml", "norm", "persons", "series", "images", "model")
SPEC_KEYS = {"url", "out", "views", "formats", "width", "percent", "cache_dir", "export"}
ENTRY_KEYS = {"view", "items", "name", "url", "formats", "width", "percent", "options"}


# --------------------------------------------------------------------------- URL


def parse_url(text: str) -> dict[str, str]:
    """Query parameters of a dashboard URL, or of just its query string.

    Raises PoseAtlasError for a malformed URL, an unknown or repeated key.
    """
    text = text.strip()
    if not text:
        raise PoseAtlasError("--url: empty (give a dashboard URL or its query string, e.g. ds=coco&bucket=small)")
    try:
        parts = urlsplit(text)
    except ValueError as exc:  # e.g. "Invalid IPv6 URL"
        raise PoseAtlasError(f"--url {text!r}: not a valid URL ({exc})") from None
    if parts.scheme and parts.scheme not in ("http", "https"):
        raise PoseAtlasError(f"--url {text!r}: not an http(s) URL or a query string")
    is_url = bool(parts.scheme or parts.netloc) or text.startswith(("/", "?"))
    qs = parts.query if is_url else text
    try:
        pairs = parse_qsl(qs, keep_blank_values=True, strict_parsing=bool(qs))
    except ValueError:
        raise PoseAtlasError(f"--url {text!r}: malformed query string (expected key=value&key=value)") from None
    params: dict[str, str] = {}
    for key, value in pairs:
        if key not in QUERY_KEYS:
            raise PoseAtlasError(f"--url: unknown query key {key!r} (known: {', '.join(QUERY_KEYS)})")
        if key in params:
            raise PoseAtlasError(f"--url: query key {key!r} given twice")
        params[key] = value
    return params


def _number(key: str, value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if not query.MIN_EDGE_PX <= number <= query.MAX_EDGE_PX:
        raise PoseAtlasError(f"--url: {key}={value!r} is not a side length in px in "
                             f"[{query.MIN_EDGE_PX:g}, {query.MAX_EDGE_PX:g}]")
    return number


def _choice(key: str, value: str, choices: Sequence[str]) -> None:
    if value not in choices:
        raise PoseAtlasError(f"--url: {key}={value!r} is not one of {', '.join(choices)}")


def panel_options(options: ViewOptions, params: Mapping[str, str]) -> ViewOptions:
    """The panels view's images and model from the URL (``images=ID,ID&model=LABEL``)."""
    if "images" not in params and "model" not in params:
        return options
    text = params.get("images", "")
    try:
        ids = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise PoseAtlasError(f"--url: images={text!r} is not a comma-separated list of image ids") from None
    return replace(options, panel_images=ids, panel_model=params.get("model", ""))


def check_params(params: Mapping[str, str], caches: Caches) -> None:
    """Refuse what the dashboard would silently replace by a default (a stale bookmark
    is fine on screen; a paper's figure must be exactly what was asked)."""
    cached = caches.datasets
    names = [d for d in params.get("ds", "").split(",") if d]
    if "ds" in params and not names:
        raise PoseAtlasError("--url: ds= names no dataset")
    unknown = [d for d in names if d not in cached]
    if unknown:
        raise PoseAtlasError(f"--url: dataset {', '.join(unknown)} not in the caches "
                             f"(cached: {', '.join(cached) or 'none'})")
    if "split" in params:
        _choice("split", params["split"], [query.ALL, *splits_of(caches)])
    if "src" in params:
        have = sources_of(caches.images, names or cached)
        bad = [s for s in params["src"].split(",") if s and s not in have]
        if bad:
            raise PoseAtlasError(f"--url: source {', '.join(bad)} not found "
                                 f"(sources: {', '.join(have) or 'none'})")
    if "bucket" in params:
        _choice("bucket", params["bucket"], [query.ALL, *(b.value for b in SizeBucket)])
    if "area" in params:
        _choice("area", params["area"], [a.value for a in AreaSource])
    if "norm" in params:
        _choice("norm", params["norm"], [n.value for n in Normalisation])
    if "series" in params:
        _choice("series", params["series"], [s.value for s in SeriesBy])
    if "persons" in params:
        try:
            PersonPopulation.parse(params["persons"])
        except ValueError as exc:
            raise PoseAtlasError(f"--url: persons={params['persons']!r}: {exc}") from None
    sm = _number("sm", params["sm"]) if "sm" in params else 32.0
    ml = _number("ml", params["ml"]) if "ml" in params else 96.0
    if not sm < ml:
        raise PoseAtlasError(f"--url: edges must satisfy sm < ml (got sm={sm:g}, ml={ml:g})")


# --------------------------------------------------------------------------- spec


@dataclass(frozen=True)
class Job:
    """One export: a view's items for one URL with its options."""

    view: str
    params: dict[str, str]
    render: RenderOptions
    options: ViewOptions = field(default_factory=ViewOptions)
    items: tuple[str, ...] | None = None  #: file stems to keep (None: all)
    name: str | None = None  #: output stem (one item only)
    where: str = "--views"


@dataclass(frozen=True)
class Plan:
    jobs: list[Job]
    out: Path
    cache_dir: Path | None = None


def parse_views(text: str, where: str = "--views") -> list[str]:
    names = [v.strip() for v in text.split(",") if v.strip()]
    if names == ["all"]:
        return list(catalog.VIEWS)
    bad = [v for v in names if v not in catalog.VIEWS]
    if bad or not names:
        extra = " (browse shows images and exports nothing)" if "browse" in bad else ""
        raise PoseAtlasError(f"{where}: unknown view {', '.join(bad) or '(none)'} "
                             f"(use all or some of {', '.join(catalog.VIEWS)}){extra}")
    return names


def parse_formats(value: object, where: str) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(f, str) for f in items):
        raise PoseAtlasError(f"{where}: formats must be a list of {', '.join(export.FORMATS)}")
    formats = tuple(f.strip() for f in items if f.strip())
    bad = [f for f in formats if f not in export.FORMATS]
    if bad or not formats:
        raise PoseAtlasError(f"{where}: unknown format {', '.join(bad) or '(none)'} "
                             f"(use {', '.join(export.FORMATS)})")
    return formats


def _render_options(formats: object, width: object, percent: object, where: str) -> RenderOptions:
    if not isinstance(width, str) or width not in export.PRESETS:
        raise PoseAtlasError(f"{where}: width {width!r} is not one of {', '.join(export.PRESETS)}")
    if not isinstance(percent, bool):
        raise PoseAtlasError(f"{where}: percent must be true or false")
    return RenderOptions(parse_formats(formats, where), str(width), percent)


def load_spec(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    if path.is_dir():
        raise PoseAtlasError(f"{path}: is a folder; give the spec file (FILE.toml)")
    try:
        spec = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PoseAtlasError(f"{path}: spec file not found") from None
    except OSError as exc:
        raise PoseAtlasError(f"{path}: cannot read the spec ({exc.strerror or exc})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise PoseAtlasError(f"{path}: not valid TOML: {exc}") from None
    unknown = sorted(set(spec) - SPEC_KEYS)
    if unknown:
        raise PoseAtlasError(f"{path}: unknown key {', '.join(unknown)} (known: {', '.join(sorted(SPEC_KEYS))})")
    entries = spec.get("export", [])
    if not isinstance(entries, list) or not entries or not all(isinstance(e, dict) for e in entries):
        raise PoseAtlasError(f"{path}: needs at least one [[export]] table")
    return spec, entries


def plan_from_spec(path: Path, out: Path | None, cache_dir: Path | None) -> Plan:
    spec, entries = load_spec(path)
    base = path.parent
    default_url = spec.get("url", "")
    default_formats = spec.get("formats", list(export.FORMATS))
    default_width = spec.get("width", "single")
    default_percent = spec.get("percent", False)
    if out is None:
        if "out" not in spec:
            raise PoseAtlasError(f"{path}: no output folder (give --out DIR or out = \"DIR\" in the spec)")
        out = base / str(spec["out"])
    if cache_dir is None and "cache_dir" in spec:
        cache_dir = base / str(spec["cache_dir"])
    jobs = []
    for n, entry in enumerate(entries, start=1):
        where = f"{path}: export {n}"
        unknown = sorted(set(entry) - ENTRY_KEYS)
        if unknown:
            raise PoseAtlasError(f"{where}: unknown key {', '.join(unknown)} (known: {', '.join(sorted(ENTRY_KEYS))})")
        if "view" not in entry:
            raise PoseAtlasError(f"{where}: needs view = \"...\" (one of {', '.join(catalog.VIEWS)})")
        views = parse_views(str(entry["view"]), where)
        if len(views) != 1:
            raise PoseAtlasError(f"{where}: view names one view (one of {', '.join(catalog.VIEWS)})")
        view = views[0]
        url = entry.get("url", default_url)
        if not isinstance(url, str):
            raise PoseAtlasError(f"{where}: url must be a string (a dashboard URL or its query string), got {url!r}")
        params = parse_url(url) if str(url).strip() else {}
        render_opts = _render_options(entry.get("formats", default_formats), entry.get("width", default_width),
                                      entry.get("percent", default_percent), where)
        options = entry.get("options", {})
        if not isinstance(options, dict):
            raise PoseAtlasError(f"{where}: options must be a table")
        try:
            view_options = ViewOptions.from_mapping(options, f"{where}: options")
        except ValueError as exc:
            raise PoseAtlasError(str(exc)) from None
        items = entry.get("items")
        if items is not None and (not isinstance(items, list) or not all(isinstance(i, str) for i in items)):
            raise PoseAtlasError(f"{where}: items must be a list of names")
        name = entry.get("name")
        if name is not None and (items is None or len(items) != 1):
            raise PoseAtlasError(f"{where}: name renames one item: give items = [\"...\"] with exactly one")
        if name is not None:
            validate_name(name, f"{where}: name")
        jobs.append(Job(view, params, render_opts, view_options, tuple(items) if items else None,
                        None if name is None else str(name), where))
    return Plan(jobs, out, cache_dir)


# --------------------------------------------------------------------------- run


def open_caches(root: Path) -> Caches:
    if not root.is_dir():
        raise PoseAtlasError(f"{root}: cache folder not found (build caches with python -m analysis build)")
    try:
        caches = load_caches(root)
    except Exception as exc:  # a damaged cache file: say which, never a traceback
        raise PoseAtlasError(f"could not read the caches under {root}: {exc}") from None
    if caches.empty:
        raise PoseAtlasError(f"{root}: no caches (python -m analysis demo, or python -m analysis build)")
    return caches


def named_items(job: Job, state: ViewState) -> tuple[list[Named], list[str]]:
    """The job's items with their output stems, and the view's notes."""
    items = catalog.exports(job.view, state)
    notes = [f"{job.view}: {i.text}" for i in items if isinstance(i, Note)]
    kept = [i for i in items if isinstance(i, FigureItem | TableItem)]
    if job.items is not None:
        have = sorted({i.stem for i in kept})
        missing = [s for s in job.items if s not in have]
        if missing:
            why = f"; {'; '.join(notes)}" if notes else ""
            raise PoseAtlasError(f"{job.where}: view {job.view} has no item {', '.join(missing)} under "
                                 f"these filters (has: {', '.join(have) or 'none'}){why}")
        kept = [i for i in kept if i.stem in job.items]
    folder = f"{job.view}/"
    return [Named(i, folder, job.name or i.stem, job.render) for i in kept], notes


def run(plan: Plan, cache_dir: Path, failures: list[str] | None = None) -> tuple[dict[str, bytes], list[str]]:
    """Render every job; returns the files (relative path -> bytes) and the notes.

    ``failures``: when given, a view whose items cannot be built, or an item whose files
    cannot be made, is appended as ``"<view>[/<item>]: <reason>"`` and every other item is
    still rendered; when None, the first such failure propagates.
    """
    caches = open_caches(cache_dir)
    for job in plan.jobs:
        check_params(job.params, caches)
    keypoints = functools.cache(lambda dataset, split: load_keypoints(cache_dir, CacheKey(dataset, split)))
    named: list[Named] = []
    # splits that could not be read are left out; outdated ones are used but named
    notes: list[str] = [*caches.skipped.values(), *caches.outdated.values()]
    for job in plan.jobs:
        state = state_from_params(caches, job.params, panel_options(job.options, job.params), keypoints, cache_dir)
        if not state.datasets:
            raise PoseAtlasError(f"{job.where}: no image matches the URL's filters "
                                 f"({state.filtered.filters.description})")
        try:
            more, job_notes = named_items(job, state)
        except PoseAtlasError:
            raise  # the spec asked for what the view does not have: bad input
        except Exception as exc:
            if failures is None:
                raise
            reason = failure_reason(exc)
            failures += [f"{job.view}/{job.name or i}: {reason}" for i in job.items or ()] or [
                f"{job.view}: {reason}"]
            continue
        named += more
        notes += [n for n in job_notes if n not in notes]
    from tqdm import tqdm

    with tqdm(total=count_files(named), desc="export", unit="file", disable=None, file=sys.stderr) as bar:
        def progress(done: int, total: int, what: str) -> None:
            bar.set_postfix_str(what, refresh=False)
            bar.update(done - bar.n)

        try:
            files = render(named, progress, failures)
        except ValueError as exc:
            raise PoseAtlasError(str(exc)) from None
    return files, notes


def _write_bytes(data: bytes, fh: BinaryIO) -> int:
    return fh.write(data)


def write_files(files: Mapping[str, bytes], out: Path) -> None:
    """Every file written as one unit (a staging folder swapped in; see ``StagedFiles``):
    a kill leaves all old files or all new ones; other files in ``out`` are kept."""
    with StagedFiles(out) as staged:
        for rel, data in files.items():
            staged.add(rel, functools.partial(_write_bytes, data))


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, exit 2 (argparse prints usage too)
        self.exit(2, f"error: {message} (see python -m dashboard.export --help)\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m dashboard.export", description=(
        "Write every figure and table the dashboard shows for a URL: DIR/<view>/<name>.<ext>, "
        "tables as CSV and LaTeX, DIR/captions.txt and DIR/captions.tex."))
    p.add_argument("--url", help="a dashboard URL copied from the browser, or just its query string "
                                 "(e.g. 'ds=crowdpose,coco&bucket=small')")
    p.add_argument("--spec", type=Path, help="a TOML file listing several exports (docs/guides/paper-export.md)")
    p.add_argument("--out", type=Path, help="output folder")
    p.add_argument("--views", help=f"all, or some of {','.join(catalog.VIEWS)} (default all)")
    p.add_argument("--formats", help="figure formats, comma-separated (default png,svg,pdf)")
    p.add_argument("--width", choices=list(export.PRESETS),
                   help="single: 3.5 in column; double: 7.16 in page width (default single)")
    p.add_argument("--percent", action="store_true", help="LaTeX tables: shares as percentages")
    p.add_argument("--cache-dir", type=Path, help=f"cache root (default ${paths.CACHE_ENV} or data/cache)")
    return p


def make_plan(args: argparse.Namespace) -> Plan:
    if args.spec is not None:
        given = [f"--{k}" for k in ("url", "views", "formats", "width") if getattr(args, k) is not None]
        given += ["--percent"] if args.percent else []
        if given:
            raise PoseAtlasError(f"{', '.join(given)} with --spec: set them in the spec (url, formats, width, "
                                 "percent; one [[export]] per view)")
        return plan_from_spec(args.spec, args.out, args.cache_dir)
    if args.url is None:
        raise PoseAtlasError("give --url URL (or --spec FILE.toml)")
    if args.out is None:
        raise PoseAtlasError("give --out DIR")
    params = parse_url(args.url)
    options = _render_options(args.formats or ",".join(export.FORMATS), args.width or "single", args.percent,
                              "--formats")
    jobs = [Job(v, params, options) for v in parse_views(args.views or "all")]
    return Plan(jobs, args.out, args.cache_dir)


def main(argv: list[str] | None = None) -> int:
    """Exit status 0: every item written; 1: every item that could be made was written and
    each one that could not is named (``error: <view>/<item>: <reason>``); 2: bad input,
    nothing written."""
    args = build_parser().parse_args(argv)
    failures: list[str] = []
    try:
        plan = make_plan(args)
        cache_dir = (plan.cache_dir or paths.cache_root()).resolve()
        inputs = [(args.spec, "the export spec")] if args.spec is not None else []
        protected = ProtectedInputs.gather(cache_dir, None, inputs)
        check_output_dir(plan.out, [], protected, "--out")  # before rendering anything
        files, notes = run(plan, cache_dir, failures)
        check_output_dir(plan.out, files, protected, "--out")
        write_files(files, plan.out)
    except PoseAtlasError as exc:
        export.close_renderer()
        print(f"error: {exc}", file=sys.stderr)
        return 2
    cleanup = export.close_renderer()  # before the last line: a clean-up problem is only a note
    notes += [cleanup] if cleanup else []
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    for failure in failures:
        print(f"error: {failure}", file=sys.stderr)
    print(f"wrote {len(files)} files to {plan.out}"
          + (f"; {len(failures)} item(s) failed (see error: lines)" if failures else ""))
    return 1 if failures else 0
