"""Shared Streamlit UI: the sidebar's global controls, the per-run context, figure and
table display with paper export, and the messages that say how to fix things."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import plotly.graph_objects as go
import streamlit as st

from analysis.definitions import AreaSource
from dashboard import data, export, paths, query
from dashboard.exports import catalog, render
from dashboard.exports.items import ExportItem, FigureItem, TableItem
from dashboard.exports.state import ViewOptions, ViewState, resolve
from dashboard.filters import BUCKETS, Filtered, area_source_note, sources_of
from dashboard.loading import Caches

DEMO_COMMAND = "python -m analysis demo"
BUILD_COMMAND = "python -m analysis build"
_CTX = "_poseatlas_ctx"
_ZIP = "_poseatlas_zip"
_NOTES = "_poseatlas_cache_notes"


@dataclass
class Context:
    """Everything a page needs for this rerun."""

    caches: Caches
    controls: query.Controls
    filtered: Filtered
    styles: dict[str, dict[str, str]]
    datasets: list[str]  #: selected datasets with rows after filtering, in selection order
    preset: str

    def caption(self, *extra: str) -> str:
        """The definitions a figure used, as one caption line."""
        return self.state().caption(*extra)

    def state(self, options: ViewOptions | None = None) -> ViewState:
        """What this page's exports are built from (the same object the export command builds)."""
        return ViewState(self.caches, self.controls, self.filtered, self.styles, tuple(self.datasets),
                         options or ViewOptions(), data.keypoints)


# --------------------------------------------------------------------------- sidebar


#: The sidebar's widget keys.  Streamlit drops a widget's state when a page switch
#: (st.switch_page, e.g. a histogram click opening Browse) starts a run in which it
#: was not yet drawn, so every value is mirrored in a plain key (``_<key>``) that
#: survives, and put back before the widget is drawn.
_CONTROL_KEYS = ("g_ds", "g_split", "g_src", "g_bucket", "g_area", "g_sm", "g_ml", "g_norm", "g_preset",
                 "g_percent")


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
    ctl = query.parse(dict(st.query_params), c.datasets, splits)
    values = {
        "g_ds": list(ctl.datasets), "g_split": ctl.split,
        "g_src": list(ctl.sources or []), "g_bucket": ctl.bucket, "g_area": ctl.area,
        "g_sm": float(ctl.small_medium), "g_ml": float(ctl.medium_large), "g_norm": ctl.normalise,
    }
    st.session_state.update(values)
    st.session_state.update({f"_{k}": v for k, v in values.items()})
    st.session_state["g_init"] = True


def sidebar(c: Caches) -> tuple[query.Controls, str]:
    """The global controls (kept in the URL query string); returns them and the export preset."""
    splits = sorted({k.split for k in c.keys})
    _init_from_query(c, splits)
    sb = st.sidebar
    sb.multiselect("Datasets", c.datasets, key="g_ds", on_change=_remember, args=("g_ds",),
                   help="Each dataset keeps its colour whatever else is selected.")
    sb.selectbox("Split", [query.ALL, *splits], key="g_split", on_change=_remember, args=("g_split",))
    chosen = tuple(st.session_state.get("g_ds") or ())
    sources = sources_of(c.images, chosen)
    sel_sources = None
    if sources:
        st.session_state["g_src"] = [s for s in st.session_state.get("g_src", []) if s in sources]
        _remember("g_src")
        sb.multiselect("Source (sub-dataset)", sources, key="g_src", placeholder="all sources",
                       on_change=_remember, args=("g_src",))
        sel_sources = tuple(st.session_state["g_src"]) or None
    sb.radio("Size bucket", [query.ALL, *BUCKETS], key="g_bucket", horizontal=True,
             on_change=_remember, args=("g_bucket",))
    sb.selectbox("Area source", [a.value for a in AreaSource], key="g_area", on_change=_remember, args=("g_area",),
                 format_func=lambda v: f"{v}: {AreaSource(v).description}")
    col1, col2 = sb.columns(2)
    col1.number_input("small|medium (px)", min_value=1.0, step=1.0, key="g_sm", on_change=_remember, args=("g_sm",),
                      help="Edge as a side length: 32 means area 32^2.")
    col2.number_input("medium|large (px)", min_value=2.0, step=1.0, key="g_ml", on_change=_remember, args=("g_ml",))
    sm, ml = float(st.session_state["g_sm"]), float(st.session_state["g_ml"])
    if not sm < ml:
        sb.error(f"edges must satisfy small|medium < medium|large (got {sm:g} and {ml:g}); "
                 "using 32 and 96")
        sm, ml = 32.0, 96.0
    sb.radio("Normalise", ["count", "share"], key="g_norm", horizontal=True, on_change=_remember, args=("g_norm",),
             format_func=lambda v: "counts" if v == "count" else "shares (per dataset)")
    with sb.expander("Paper export"):
        st.radio("Figure width", list(export.PRESETS), key="g_preset", on_change=_remember, args=("g_preset",),
                 format_func=lambda k: export.PRESETS[k].name)
        st.checkbox("LaTeX tables: shares as percentages", key="g_percent", on_change=_remember,
                    args=("g_percent",))
    controls = query.Controls(
        datasets=chosen, split=st.session_state["g_split"], sources=sel_sources,
        bucket=st.session_state["g_bucket"], area=st.session_state["g_area"],
        small_medium=sm, medium_large=ml, normalise=st.session_state["g_norm"],
    )
    st.query_params.from_dict(query.to_params(controls))
    for name in chosen:
        if c.synthetic(name):
            sb.badge(f"{name}: synthetic data", color="orange", icon=":material/science:")
    return controls, st.session_state.get("g_preset", "single")


def setup() -> Context | None:
    """Load caches, draw the sidebar, apply the filters (called once per rerun by app.py)."""
    st.session_state[_NOTES] = ([], [])
    root = paths.cache_root()
    try:
        c = data.caches()
    except Exception as exc:  # a damaged cache file: say which, never a traceback
        st.session_state[_CTX] = ("error", f"could not read the caches under {root}: {exc}")
        return None
    # Damaged or stale splits are left out one by one; each page names them.
    st.session_state[_NOTES] = (list(c.skipped.values()), list(c.outdated.values()))
    if c.empty:
        st.session_state[_CTX] = None
        return None
    controls, preset = sidebar(c)
    filtered, styles, datasets = resolve(c, controls)
    ctx = Context(c, controls, filtered, styles, list(datasets), preset)
    st.session_state[_CTX] = ctx
    return ctx


def context() -> Context:
    """This rerun's context; stops the page with a clear message when there is nothing to show."""
    ctx = st.session_state.get(_CTX)
    root = paths.cache_root()
    skipped, outdated = st.session_state.get(_NOTES, ([], []))
    for note in skipped:
        st.warning(f"Split left out: {note}", icon=":material/warning:")
    for note in outdated:
        st.info(f"Stale cache: {note}", icon=":material/update:")
    if isinstance(ctx, tuple):
        st.error(ctx[1])
        st.markdown(f"Rebuild the caches: `{BUILD_COMMAND} --force --cache-dir {root}`")
        st.stop()
    if ctx is None and skipped:
        st.info(f"No readable cache under `{root}`: rebuild the splits named above.")
        st.stop()
    if ctx is None:
        st.info(f"No caches found under `{root}`.")
        st.markdown(
            f"Build the demo caches with `{DEMO_COMMAND}` (or `make run`), or build your own "
            f"datasets with `{BUILD_COMMAND}` (see README). Set `{paths.CACHE_ENV}` to read "
            "caches from another folder."
        )
        st.stop()
    if not ctx.controls.datasets:
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
    return lambda: export.figure_bytes(fig, fmt, preset)


def show_figure(item: FigureItem, *, key: str, preset: str) -> Any:
    """Draw the figure, its caption line and PNG / SVG / PDF export buttons."""
    kwargs: dict[str, Any] = {"key": key}
    if item.selectable:
        kwargs.update(on_select="rerun", selection_mode=("points", "box"))
    event = st.plotly_chart(item.figure, **kwargs)
    if item.caption:
        st.caption(item.caption.replace("*", "\\*"))  # w*h is not emphasis
    cols = st.columns([1, 1, 1, 5])
    for col, fmt in zip(cols, export.FORMATS, strict=False):
        col.download_button(
            fmt.upper(), _figure_download(item.figure, fmt, preset), file_name=f"{item.stem}.{fmt}",
            mime=export.MIME[fmt], key=f"{key}_{fmt}", on_click="ignore", icon=":material/download:",
        )
    return event


def show_table(item: TableItem, *, key: str) -> None:
    """Draw the table with CSV and LaTeX (booktabs) downloads (the export command's files)."""
    st.dataframe(item.table, hide_index=True, column_config={
        c: st.column_config.NumberColumn(format=f) for c, f in item.display_formats().items()
    })
    if item.caption:
        st.caption(item.caption.replace("*", "\\*"))  # w*h is not emphasis
    files = render.table_files(item, _render_options())
    c1, c2, _ = st.columns([1, 1, 6])
    for col, (name, data_) in zip((c1, c2), files.items(), strict=True):
        ext = name.rsplit(".", 1)[1]
        col.download_button("CSV" if ext == "csv" else "LaTeX", data_, file_name=name, mime=export.MIME[ext],
                            key=f"{key}_{ext}", on_click="ignore")


def _render_options(preset: str = "single") -> render.RenderOptions:
    return render.RenderOptions(preset=preset, percent=bool(st.session_state.get("g_percent", False)))


def _export_key(view: str, state: ViewState, preset: str) -> tuple:
    """What an "export all" zip depends on: a zip made under another key is never served."""
    return (view, tuple(sorted(query.to_params(state.controls).items())), state.options, _render_options(preset),
            paths.cache_stamp(paths.cache_root()))


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
    if st.button(f"Export all figures of this view ({n_fig} figures, {n_tab} tables)",
                 key=f"export_all_{view}", icon=":material/archive:"):
        bar = st.progress(0.0, text="starting export ...")

        def progress(done: int, total: int, what: str) -> None:
            bar.progress(min(1.0, done / max(total, 1)), text=f"writing {what}")

        try:
            files = render.render(render.plan(items, _render_options(preset)), progress)
        except Exception as exc:  # kaleido / chromium missing: say how to fix it
            bar.empty()
            st.error(f"export failed: {exc}. Figure export needs Chromium: "
                     "`apt-get install chromium` (or `make browser`).")
            return
        st.session_state[_ZIP] = (current, render.zip_bytes(files))
    held = st.session_state.get(_ZIP)
    if held is not None and held[0] == current:
        st.download_button("Download zip", held[1], file_name=f"poseatlas-{view}.zip", mime=export.MIME["zip"],
                           key=f"zip_dl_{view}", on_click="ignore", type="primary")


def selection_values(event: Any, field: str = "x") -> list[Any]:
    """Values of ``field`` over the points of a plotly selection event (empty if none)."""
    try:
        points = event["selection"]["points"]
    except (KeyError, TypeError):
        return []
    return [p[field] for p in points if isinstance(p, dict) and field in p]
