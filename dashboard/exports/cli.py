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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import BinaryIO, NoReturn

from analysis.cache.contract import CacheKey
from analysis.cache.staged_files import StagedFiles
from analysis.errors import PoseAtlasError
from analysis.names import validate_name
from analysis.output_paths import ProtectedInputs, check_output_dir
from dashboard import paths, query
from dashboard.caches import Caches, load_caches, load_keypoints
from dashboard.exports import catalog, paper
from dashboard.exports.items import FigureItem, Note, TableItem
from dashboard.exports.render import Named, RenderOptions, count_files, failure_reason, render
from dashboard.exports.spec import ExportEntry, ExportSpec, load_spec
from dashboard.exports.state import ViewOptions, ViewState, splits_of, state_from_params
from dashboard.filters import sources_of

# --------------------------------------------------------------------------- URL


def parse_url(text: str, where: str = "--url") -> dict[str, str]:
    """Query parameters of a dashboard URL, or of just its query string (``query.url_params``).

    Raises PoseAtlasError for a malformed URL, an unknown or repeated key, naming ``where``.
    """
    try:
        return query.url_params(text)
    except query.QueryError as exc:
        raise PoseAtlasError(f"{where}: {exc}") from None


def check_params(params: Mapping[str, str], caches: Caches, where: str = "--url") -> None:
    """Refuse what the dashboard would silently replace by a default (``query.parse``'s strict
    mode: a stale bookmark is fine on screen; a paper's figure must be exactly what was asked)."""

    def sources(names: Sequence[str]) -> list[str]:
        return sources_of(caches.images, names)

    try:
        query.parse(params, caches.datasets, splits_of(caches), strict=True, sources_of=sources)
    except query.QueryError as exc:
        raise PoseAtlasError(f"{where}: {exc}") from None


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
    url_where: str = "--url"  #: where the URL came from, for its errors


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
        raise PoseAtlasError(
            f"{where}: unknown view {', '.join(bad) or '(none)'} (use all or some of {', '.join(catalog.VIEWS)}){extra}"
        )
    return names


def parse_formats(value: object, where: str) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(f, str) for f in items):
        raise PoseAtlasError(f"{where}: formats must be a list of {', '.join(paper.FORMATS)}")
    formats = tuple(f.strip() for f in items if f.strip())
    bad = [f for f in formats if f not in paper.FORMATS]
    if bad or not formats:
        raise PoseAtlasError(f"{where}: unknown format {', '.join(bad) or '(none)'} (use {', '.join(paper.FORMATS)})")
    return formats


def _render_options(formats: object, width: object, percent: object, where: str) -> RenderOptions:
    if not isinstance(width, str) or width not in paper.PRESETS:
        raise PoseAtlasError(f"{where}: width {width!r} is not one of {', '.join(paper.PRESETS)}")
    if not isinstance(percent, bool):
        raise PoseAtlasError(f"{where}: percent must be true or false")
    return RenderOptions(parse_formats(formats, where), str(width), percent)


def _job(entry: ExportEntry, spec: ExportSpec, where: str) -> Job:
    """One spec entry as a Job, the spec's defaults applied; PoseAtlasError naming ``where``."""
    views = parse_views(entry.view, where)
    if len(views) != 1:
        raise PoseAtlasError(f"{where}: view names one view (one of {', '.join(catalog.VIEWS)})")
    url = spec.url if entry.url is None else entry.url
    if not isinstance(url, str):
        raise PoseAtlasError(f"{where}: url must be a string (a dashboard URL or its query string), got {url!r}")
    params = parse_url(url, f"{where}: url") if url.strip() else {}
    formats = list(paper.FORMATS) if spec.formats is None else spec.formats
    render_opts = _render_options(
        formats if entry.formats is None else entry.formats,
        spec.width if entry.width is None else entry.width,
        spec.percent if entry.percent is None else entry.percent,
        where,
    )
    try:
        view_options = ViewOptions.from_mapping(entry.options, f"{where}: options")
    except ValueError as exc:
        raise PoseAtlasError(str(exc)) from None
    if entry.name is not None and (entry.items is None or len(entry.items) != 1):
        raise PoseAtlasError(f'{where}: name renames one item: give items = ["..."] with exactly one')
    if entry.name is not None:
        validate_name(entry.name, f"{where}: name")
    return Job(
        views[0],
        params,
        render_opts,
        view_options,
        tuple(entry.items) if entry.items else None,
        None if entry.name is None else str(entry.name),
        where,
        f"{where}: url",
    )


def plan_from_spec(path: Path, out: Path | None, cache_dir: Path | None) -> Plan:
    spec = load_spec(path)
    base = path.parent
    if out is None:
        if spec.out is None:
            raise PoseAtlasError(f'{path}: no output folder (give --out DIR or out = "DIR" in the spec)')
        out = base / spec.out
    if cache_dir is None and spec.cache_dir is not None:
        cache_dir = base / spec.cache_dir
    jobs = [_job(entry, spec, f"{path}: export {n}") for n, entry in enumerate(spec.export, start=1)]
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
            raise PoseAtlasError(
                f"{job.where}: view {job.view} has no item {', '.join(missing)} under "
                f"these filters (has: {', '.join(have) or 'none'}){why}"
            )
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
        check_params(job.params, caches, job.url_where)
    keypoints = functools.cache(lambda dataset, split: load_keypoints(cache_dir, CacheKey(dataset, split)))
    named: list[Named] = []
    # splits that could not be read are left out; outdated ones are used but named
    notes: list[str] = [*caches.skipped.values(), *caches.outdated.values()]
    for job in plan.jobs:
        state = state_from_params(caches, job.params, panel_options(job.options, job.params), keypoints, cache_dir)
        if not state.datasets:
            raise PoseAtlasError(
                f"{job.where}: no image matches the URL's filters ({state.filtered.filters.description})"
            )
        try:
            more, job_notes = named_items(job, state)
        except PoseAtlasError:
            raise  # the spec asked for what the view does not have: bad input
        except Exception as exc:
            if failures is None:
                raise
            reason = failure_reason(exc)
            failures += [f"{job.view}/{job.name or i}: {reason}" for i in job.items or ()] or [f"{job.view}: {reason}"]
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
    p = _Parser(
        prog="python -m dashboard.export",
        description=(
            "Write every figure and table the dashboard shows for a URL: DIR/<view>/<name>.<ext>, "
            "tables as CSV and LaTeX, DIR/captions.txt and DIR/captions.tex."
        ),
    )
    p.add_argument(
        "--url",
        help="a dashboard URL copied from the browser, or just its query string "
        "(e.g. 'ds=crowdpose,coco&bucket=small')",
    )
    p.add_argument("--spec", type=Path, help="a TOML file listing several exports (docs/guides/paper-export.md)")
    p.add_argument("--out", type=Path, help="output folder")
    p.add_argument("--views", help=f"all, or some of {','.join(catalog.VIEWS)} (default all)")
    p.add_argument("--formats", help="figure formats, comma-separated (default png,svg,pdf)")
    p.add_argument(
        "--width",
        choices=list(paper.PRESETS),
        help="single: 3.5 in column; double: 7.16 in page width (default single)",
    )
    p.add_argument("--percent", action="store_true", help="LaTeX tables: shares as percentages")
    p.add_argument("--cache-dir", type=Path, help=f"cache root (default ${paths.CACHE_ENV} or data/cache)")
    return p


def make_plan(args: argparse.Namespace) -> Plan:
    if args.spec is not None:
        given = [f"--{k}" for k in ("url", "views", "formats", "width") if getattr(args, k) is not None]
        given += ["--percent"] if args.percent else []
        if given:
            raise PoseAtlasError(
                f"{', '.join(given)} with --spec: set them in the spec (url, formats, width, "
                "percent; one [[export]] per view)"
            )
        return plan_from_spec(args.spec, args.out, args.cache_dir)
    if args.url is None:
        raise PoseAtlasError("give --url URL (or --spec FILE.toml)")
    if args.out is None:
        raise PoseAtlasError("give --out DIR")
    params = parse_url(args.url)
    options = _render_options(
        args.formats or ",".join(paper.FORMATS), args.width or "single", args.percent, "--formats"
    )
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
        paper.close_renderer()
        print(f"error: {exc}", file=sys.stderr)
        return 2
    cleanup = paper.close_renderer()  # before the last line: a clean-up problem is only a note
    notes += [cleanup] if cleanup else []
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    for failure in failures:
        print(f"error: {failure}", file=sys.stderr)
    print(
        f"wrote {len(files)} files to {plan.out}"
        + (f"; {len(failures)} item(s) failed (see error: lines)" if failures else "")
    )
    return 1 if failures else 0
