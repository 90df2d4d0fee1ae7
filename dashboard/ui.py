"""Shared Streamlit UI: the sidebar's global controls, the per-run context, figure and
table display with paper export, and the messages that say how to fix things."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from analysis.definitions import (
    COCO_SIZE_SIDES,
    CROWD_INDEX_MIN_KEYPOINTS,
    MAX_JOINTS,
    AreaSource,
    Normalisation,
    PersonPopulation,
    PopulationKind,
    SizeBucket,
    SizeDefinition,
    SizeEdges,
)
from dashboard import data, paths, query
from dashboard.caches import Caches
from dashboard.exports import catalog, paper, render
from dashboard.exports.items import ExportItem, FigureItem, TableItem
from dashboard.exports.state import ViewOptions, ViewState
from dashboard.filters import Filters, area_source_note, sources_of
from dashboard.series import SeriesBy

DEMO_COMMAND = "python -m analysis demo"
BUILD_COMMAND = "python -m analysis build"
_CTX = "_poseatlas_ctx"
_ZIP = "_poseatlas_zip"
_NOTES = "_poseatlas_cache_notes"


@dataclass(frozen=True)
class Context(ViewState):
    """Everything a page needs for this rerun: the view state its exports are built from
    (``dashboard.exports.state.ViewState``, the same object the export command builds)
    plus the paper export width.  ``with_options`` gives a page's state with its widgets."""

    preset: str = "single"


@dataclass(frozen=True)
class NoCaches:
    """This rerun found no cache under ``root``."""

    root: Path


@dataclass(frozen=True)
class CacheError:
    """This rerun could not read the caches under ``root``."""

    root: Path
    message: str


#: What ``setup`` leaves for the page of this rerun.
RunState = Context | NoCaches | CacheError


# --------------------------------------------------------------------------- sidebar


#: The sidebar's widget keys.  Streamlit drops a widget's state when a page switch
#: (st.switch_page, e.g. a histogram click opening Browse) starts a run in which it
#: was not yet drawn, so every value is mirrored in a plain key (``_<key>``) that
#: survives, and put back before the widget is drawn.
_CONTROL_KEYS = (
    "g_ds",
    "g_split",
    "g_src",
    "g_series",
    "g_pop",
    "g_popn",
    "g_bucket",
    "g_area",
    "g_sm",
    "g_ml",
    "g_norm",
    "g_preset",
    "g_percent",
)


def _remember(key: str) -> None:
    """on_change: mirror a control's new value."""
    st.session_state[f"_{key}"] = st.session_state[key]


def _restore_controls() -> None:
    for key in _CONTROL_KEYS:
        if f"_{key}" in st.session_state:
            st.session_state[key] = st.session_state[f"_{key}"]


def _init_from_query(c: Caches, splits: list[str]) -> None:
    """First run of a session: the controls start from the URL's query string."""
    if st.session_state.get("g_init"):
        _restore_controls()
        return
    f = query.parse(dict(st.query_params), c.datasets, splits)
    values = {
        "g_ds": list(f.datasets),
        "g_split": f.split or query.ALL,
        "g_src": list(f.sources or []),
        "g_series": f.series.value,
        "g_pop": f.population.kind.value,
        "g_popn": f.population.min_labelled or CROWD_INDEX_MIN_KEYPOINTS,
        "g_bucket": f.bucket.value if f.bucket else query.ALL,
        "g_area": f.size.area_source.value,
        "g_sm": query.edge_px(f.size.edges.small_medium),
        "g_ml": query.edge_px(f.size.edges.medium_large),
        "g_norm": f.normalise.value,
    }
    st.session_state.update(values)
    st.session_state.update({f"_{k}": v for k, v in values.items()})
    st.session_state["g_init"] = True


def _population_label(kind: str) -> str:
    return {
        PopulationKind.ALL.value: "all annotations",
        PopulationKind.KEYPOINTS.value: "keypoints (num_keypoints > 0)",
        PopulationKind.LABELLED.value: "labelled (>= 1 joint)",
        PopulationKind.MIN_LABELLED.value: "minN (>= N joints)",
    }[kind]


def sidebar(c: Caches) -> tuple[Filters, str]:
    """The global filters (kept in the URL query string); returns them and the export preset."""
    splits = sorted({k.split for k in c.keys})
    _init_from_query(c, splits)
    sb = st.sidebar
    chosen, sel_sources = _dataset_widgets(sb, c, splits)
    sb.radio(
        "Series",
        [s.value for s in SeriesBy],
        key="g_series",
        horizontal=True,
        on_change=_remember,
        args=("g_series",),
        format_func=lambda v: {"dataset": "dataset", "split": "dataset/split", "source": "source"}[v],
        help="One figure series per dataset, per dataset/split, or per source sub-dataset.",
    )
    population = _population_widget(sb)
    edges = _size_widgets(sb)
    sb.radio(
        "Normalise",
        [n.value for n in Normalisation],
        key="g_norm",
        horizontal=True,
        on_change=_remember,
        args=("g_norm",),
        format_func=lambda v: "counts" if v == Normalisation.COUNT.value else "shares (per dataset)",
    )
    _paper_export_widgets(sb)
    split, bucket = st.session_state["g_split"], st.session_state["g_bucket"]
    filters = Filters(
        datasets=chosen,
        split=None if split == query.ALL else split,
        sources=sel_sources,
        size=SizeDefinition(AreaSource(st.session_state["g_area"]), edges),
        bucket=None if bucket == query.ALL else SizeBucket(bucket),
        normalise=Normalisation(st.session_state["g_norm"]),
        population=population,
        series=SeriesBy(st.session_state["g_series"]),
    )
    st.query_params.from_dict(query.to_params(filters))
    for name in chosen:
        if c.synthetic(name):
            sb.badge(f"{name}: synthetic data", color="orange", icon=":material/science:")
    return filters, st.session_state.get("g_preset", "single")


def _paper_export_widgets(sb: DeltaGenerator) -> None:
    """The sidebar's "Paper export" settings: figure width preset, percentages in LaTeX tables."""
    with sb.expander("Paper export"):
        st.radio(
            "Figure width",
            list(paper.PRESETS),
            key="g_preset",
            on_change=_remember,
            args=("g_preset",),
            format_func=lambda k: paper.PRESETS[k].name,
        )
        st.checkbox("LaTeX tables: shares as percentages", key="g_percent", on_change=_remember, args=("g_percent",))


def _dataset_widgets(
    sb: DeltaGenerator,
    c: Caches,
    splits: list[str],
) -> tuple[tuple[str, ...], tuple[str, ...] | None]:
    """Datasets, split and source widgets; returns the chosen datasets and sources (None: all)."""
    sb.multiselect(
        "Datasets",
        c.datasets,
        key="g_ds",
        on_change=_remember,
        args=("g_ds",),
        format_func=lambda name: c.identities[name].display_name if name in c.identities else name,
        help="Each dataset keeps its colour whatever else is selected or cached "
        "(set display_name / color / hatch / order in data/datasets.toml).",
    )
    sb.selectbox("Split", [query.ALL, *splits], key="g_split", on_change=_remember, args=("g_split",))
    chosen = tuple(st.session_state.get("g_ds") or ())
    sources = sources_of(c.images, chosen)
    if not sources:
        return chosen, None
    st.session_state["g_src"] = [s for s in st.session_state.get("g_src", []) if s in sources]
    _remember("g_src")
    sb.multiselect(
        "Source (sub-dataset)", sources, key="g_src", placeholder="all sources", on_change=_remember, args=("g_src",)
    )
    return chosen, tuple(st.session_state["g_src"]) or None


def _population_widget(sb: DeltaGenerator) -> PersonPopulation:
    """The person population widgets (kind, and N for "at least N labelled joints")."""
    sb.selectbox(
        "Persons",
        [k.value for k in PopulationKind],
        key="g_pop",
        on_change=_remember,
        args=("g_pop",),
        format_func=_population_label,
        help="Which non-crowd annotations count as persons, in every view and export. "
        "CrowdIndex (an image property over all annotations) does not change.",
    )
    if st.session_state["g_pop"] != PopulationKind.MIN_LABELLED.value:
        return PersonPopulation(PopulationKind(st.session_state["g_pop"]))
    sb.number_input(
        "at least N labelled joints",
        min_value=1,
        max_value=MAX_JOINTS,
        step=1,
        key="g_popn",
        on_change=_remember,
        args=("g_popn",),
    )
    return PersonPopulation(PopulationKind.MIN_LABELLED, int(st.session_state["g_popn"]))


def _size_widgets(sb: DeltaGenerator) -> SizeEdges:
    """Bucket, area source and edge widgets; returns the edges (the defaults, with an error
    shown, when they are not increasing)."""
    sb.radio(
        "Size bucket",
        [query.ALL, *SizeBucket.names()],
        key="g_bucket",
        horizontal=True,
        on_change=_remember,
        args=("g_bucket",),
    )
    sb.selectbox(
        "Area source",
        [a.value for a in AreaSource],
        key="g_area",
        on_change=_remember,
        args=("g_area",),
        format_func=lambda v: f"{v}: {AreaSource(v).description}",
    )
    col1, col2 = sb.columns(2)
    col1.number_input(
        "small|medium (px)",
        min_value=1.0,
        max_value=query.MAX_EDGE_PX,
        step=1.0,
        key="g_sm",
        on_change=_remember,
        args=("g_sm",),
        help=f"Edge as a side length: {COCO_SIZE_SIDES[0]:g} means area {COCO_SIZE_SIDES[0]:g}^2.",
    )
    col2.number_input(
        "medium|large (px)",
        min_value=2.0,
        max_value=query.MAX_EDGE_PX,
        step=1.0,
        key="g_ml",
        on_change=_remember,
        args=("g_ml",),
    )
    sm, ml = float(st.session_state["g_sm"]), float(st.session_state["g_ml"])
    if sm < ml:
        return SizeEdges(sm**2, ml**2)
    edges = SizeEdges()
    sb.error(
        f"edges must satisfy small|medium < medium|large (got {sm:g} and {ml:g}); "
        f"using {query.edge_px(edges.small_medium):g} and {query.edge_px(edges.medium_large):g}"
    )
    return edges


def setup() -> RunState:
    """Load caches, draw the sidebar, apply the filters (called once per rerun by app.py)."""
    st.session_state[_NOTES] = ([], [])
    root = paths.cache_root()
    state: RunState
    try:
        c = data.caches()
    except Exception as exc:  # a damaged cache file: say which, never a traceback
        state = CacheError(root, f"could not read the caches under {root}: {exc}")
    else:
        # Damaged or stale splits are left out one by one; each page names them.
        st.session_state[_NOTES] = (list(c.skipped.values()), list(c.outdated.values()))
        state = NoCaches(root) if c.empty else _context(c)
    st.session_state[_CTX] = state
    return state


def _context(c: Caches) -> Context:
    filters, preset = sidebar(c)
    filtered, styles, datasets, series = data.resolved(c, filters)
    return Context(
        c, filtered, styles, datasets, series, ViewOptions(), data.keypoints, paths.cache_root(), preset=preset
    )


def context() -> Context:
    """This rerun's context; stops the page with a clear message when there is nothing to show."""
    state = st.session_state.get(_CTX)
    skipped, outdated = st.session_state.get(_NOTES, ([], []))
    for note in skipped:
        st.warning(f"Split left out: {note}", icon=":material/warning:")
    for note in outdated:
        st.info(f"Stale cache: {note}", icon=":material/update:")
    if isinstance(state, CacheError):
        st.error(state.message)
        st.markdown(f"Rebuild the caches: `{BUILD_COMMAND} --force --cache-dir {state.root}`")
        st.stop()
    if not isinstance(state, Context):  # NoCaches (or a page run before setup)
        root = state.root if isinstance(state, NoCaches) else paths.cache_root()
        if skipped:
            st.info(f"No readable cache under `{root}`: rebuild the splits named above.")
            st.stop()
        st.info(f"No caches found under `{root}`.")
        st.markdown(
            f"Build the demo caches with `{DEMO_COMMAND}` (or `make run`), or build your own "
            f"datasets with `{BUILD_COMMAND}` (see docs/getting-started.md). Set `{paths.CACHE_ENV}` to read "
            "caches from another folder."
        )
        st.stop()
    ctx = state
    if not ctx.filters.datasets:
        st.info("No dataset selected: choose at least one in the sidebar.")
        st.stop()
    note = area_source_note(ctx.filtered)
    if note:
        st.warning(note)
    if ctx.filtered.empty:
        st.warning(
            "No image matches the current filters ("
            + ctx.filtered.filters.description
            + "). Set the size bucket to 'all', widen the split or source, or select more datasets."
        )
        st.stop()
    return ctx


# --------------------------------------------------------------------------- figures & tables


def show(item: ExportItem, *, key: str, preset: str) -> Any:
    """Draw one export item (figure, table or note) with its download buttons.

    Returns the plotly selection state of a selectable figure (click a bar to browse).
    """
    if isinstance(item, FigureItem):
        return show_figure(item, key=key, preset=preset)
    if isinstance(item, TableItem):
        return show_table(item, key=key)
    {"info": st.info, "warning": st.warning, "error": st.error}[item.level.value](item.text)
    return None


def show_all(items: list[ExportItem], *, key: str, preset: str) -> None:
    for n, item in enumerate(items):
        show(item, key=f"{key}_{n}", preset=preset)


def _figure_download(fig: go.Figure, fmt: str, preset: str) -> Callable[[], bytes]:
    return lambda: paper.figure_bytes(fig, fmt, preset)


def show_figure(item: FigureItem, *, key: str, preset: str) -> Any:
    """Draw the figure, its caption line and PNG / SVG / PDF export buttons."""
    kwargs: dict[str, Any] = {"key": key}
    if item.selectable:
        kwargs.update(on_select="rerun", selection_mode=("points", "box"))
    event = st.plotly_chart(item.figure, **kwargs)
    if item.caption:
        st.caption(item.caption.replace("*", "\\*"))  # w*h is not emphasis
    # one row of content-width buttons (wrapping when narrow): fixed column shares cut the
    # labels to "P..." in a 700 px window
    row = st.container(horizontal=True, gap="small")
    for fmt in paper.FORMATS:
        row.download_button(
            fmt.upper(),
            _figure_download(item.figure, fmt, preset),
            file_name=f"{item.stem}.{fmt}",
            mime=paper.MIME[fmt],
            key=f"{key}_{fmt}",
            on_click="ignore",
            icon=":material/download:",
        )
    return event


def show_table(item: TableItem, *, key: str) -> None:
    """Draw the table with CSV and LaTeX (booktabs) downloads (the export command's files)."""
    shown = item.on_screen()
    st.dataframe(
        shown,
        hide_index=True,
        column_config={c: st.column_config.NumberColumn(format=f) for c, f in item.display_formats(shown).items()},
    )
    if item.caption:
        st.caption(item.caption.replace("*", "\\*"))  # w*h is not emphasis
    row = st.container(horizontal=True, gap="small")  # as the figure buttons: never cut short
    for label, name, data_ in table_downloads(item, _render_options()):
        ext = name.rsplit(".", 1)[1]
        row.download_button(
            label,
            data_,
            file_name=name,
            mime=paper.MIME[ext],
            key=f"{key}_{ext}",
            on_click="ignore",
        )


def table_downloads(item: TableItem, options: render.RenderOptions) -> list[tuple[str, str, Callable[[], bytes]]]:
    """A table's download buttons: label, file name and the file's bytes (``render.table_files``),
    made when the button is clicked, as the figures' are: rendering every table's CSV and
    LaTeX on every rerun cost 20-40 ms per table."""

    def file(name: str) -> Callable[[], bytes]:
        return lambda: render.table_files(item, options)[name]

    return [
        (label, f"{item.stem}.{ext}", file(f"{item.stem}.{ext}")) for label, ext in (("CSV", "csv"), ("LaTeX", "tex"))
    ]


def _render_options(preset: str = "single") -> render.RenderOptions:
    return render.RenderOptions(preset=preset, percent=bool(st.session_state.get("g_percent", False)))


def _export_key(view: str, state: ViewState, preset: str) -> tuple:
    """What an "export all" zip depends on: a zip made under another key is never served."""
    return (
        view,
        tuple(sorted(query.to_params(state.filters).items())),
        state.options,
        _render_options(preset),
        paths.cache_stamp(paths.cache_root()),
    )


def export_all(view: str, state: ViewState, preset: str, items: list[ExportItem] | None = None) -> None:
    """One click: every figure and table of this view, rendered now from ``state``, as a zip.

    ``items``: what the page drew in this rerun from ``state`` (the same list as
    ``catalog.exports(view, state)``, passed to avoid computing it twice).
    """
    st.divider()
    items = catalog.exports(view, state) if items is None else items
    n_fig = sum(isinstance(i, FigureItem) for i in items)
    n_tab = sum(isinstance(i, TableItem) for i in items)
    current = _export_key(view, state, preset)
    held = st.session_state.get(_ZIP)
    if held is not None and held[0] != current:
        del st.session_state[_ZIP]  # made under other filters: never served
    if st.button(
        f"Export all figures of this view ({n_fig} figures, {n_tab} tables)",
        key=f"export_all_{view}",
        icon=":material/archive:",
    ):
        bar = st.progress(0.0, text="starting export ...")

        def progress(done: int, total: int, what: str) -> None:
            bar.progress(min(1.0, done / max(total, 1)), text=f"writing {what}")

        try:
            files = render.render(render.plan(items, _render_options(preset)), progress)
        except Exception as exc:  # kaleido / chromium missing: say how to fix it
            bar.empty()
            st.error(
                f"export failed: {exc}. Figure export needs Chromium: `apt-get install chromium` (or `make browser`)."
            )
            return
        st.session_state[_ZIP] = (current, render.zip_bytes(files))
    held = st.session_state.get(_ZIP)
    if held is not None and held[0] == current:
        st.download_button(
            "Download zip",
            held[1],
            file_name=f"poseatlas-{view}.zip",
            mime=paper.MIME["zip"],
            key=f"zip_dl_{view}",
            on_click="ignore",
            type="primary",
        )
