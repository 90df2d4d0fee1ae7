"""Shared Streamlit UI: the sidebar's global controls, the per-run context, figure and
table display with paper export, and the messages that say how to fix things."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from analysis.definitions import AreaSource
from dashboard import data, export, paths, query
from dashboard.figures.common import caption_of, dataset_styles
from dashboard.filters import BUCKETS, Filtered, apply_filters, area_source_note, present, sources_of
from dashboard.loading import Caches

DEMO_COMMAND = "python -m analysis demo"
BUILD_COMMAND = "python -m analysis build"
_CTX = "_poseatlas_ctx"
_FIGS = "_poseatlas_figures"
_TABLES = "_poseatlas_tables"
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
        parts = [f"datasets: {', '.join(self.datasets)}", self.filtered.filters.description, *extra]
        return "; ".join(p for p in parts if p)


# --------------------------------------------------------------------------- sidebar


#: The sidebar's widget keys.  Streamlit drops a widget's state when a page switch
#: (st.switch_page, e.g. a histogram click opening Browse) starts a run in which it
#: was not yet drawn, so every value is mirrored in a plain key (``_<key>``) that
#: survives, and put back before the widget is drawn.
_CONTROL_KEYS = ("g_ds", "g_split", "g_src", "g_bucket", "g_area", "g_sm", "g_ml", "g_norm", "g_preset")


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
    st.session_state[_FIGS] = []
    st.session_state[_TABLES] = []
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
    filtered = apply_filters(c.images, c.persons, controls.to_filters())
    ctx = Context(c, controls, filtered, dataset_styles(c.datasets), present(filtered), preset)
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


def _figure_download(fig: go.Figure, name: str, fmt: str, preset: str) -> Callable[[], bytes]:
    return lambda: export.figure_bytes(fig, fmt, preset)


def show_figure(
    fig: go.Figure, name: str, *, key: str, preset: str, on_select: bool = False,
) -> Any:
    """Draw ``fig``, its caption line and PNG / SVG / PDF export buttons.

    Returns the plotly selection state when ``on_select`` (click a bar to browse).
    """
    st.session_state.setdefault(_FIGS, []).append((name, fig))
    kwargs: dict[str, Any] = {"key": key}
    if on_select:
        kwargs.update(on_select="rerun", selection_mode=("points", "box"))
    event = st.plotly_chart(fig, **kwargs)
    caption = caption_of(fig)
    if caption:
        st.caption(caption.replace("*", "\\*"))  # w*h is not emphasis
    cols = st.columns([1, 1, 1, 5])
    stem = export.slug(name)
    for col, fmt in zip(cols, export.FORMATS, strict=False):
        col.download_button(
            fmt.upper(), _figure_download(fig, name, fmt, preset), file_name=f"{stem}.{fmt}",
            mime=export.MIME[fmt], key=f"{key}_{fmt}", on_click="ignore", icon=":material/download:",
        )
    return event


def show_table(table: pd.DataFrame, name: str, *, key: str, caption: str = "",
               formats: dict[str, str] | None = None) -> None:
    """Draw ``table`` with CSV and LaTeX (booktabs) downloads."""
    st.session_state.setdefault(_TABLES, []).append((name, table, caption))
    st.dataframe(table, hide_index=True, column_config={
        c: st.column_config.NumberColumn(format=f) for c, f in (formats or {}).items()
    })
    if caption:
        st.caption(caption.replace("*", "\\*"))  # w*h is not emphasis
    stem = export.slug(name)
    c1, c2, _ = st.columns([1, 1, 6])
    c1.download_button("CSV", export.table_csv(table), file_name=f"{stem}.csv",
                       mime=export.MIME["csv"], key=f"{key}_csv", on_click="ignore")
    c2.download_button("LaTeX", export.table_latex(table, caption=caption, label=f"tab:{stem}"),
                       file_name=f"{stem}.tex", mime=export.MIME["tex"], key=f"{key}_tex",
                       on_click="ignore")


def export_all(view: str, preset: str) -> None:
    """One click: every figure of this view in PNG, SVG and PDF (plus tables) as a zip."""
    st.divider()
    figures = list(st.session_state.get(_FIGS, []))
    tables = list(st.session_state.get(_TABLES, []))
    zip_key = f"_zip_{view}"
    if st.button(f"Export all figures of this view ({len(figures)} figures, {len(tables)} tables)",
                 key=f"export_all_{view}", icon=":material/archive:"):
        bar = st.progress(0.0, text="starting export ...")

        def progress(frac: float, what: str) -> None:
            bar.progress(min(1.0, frac), text=f"writing {what}")

        try:
            st.session_state[zip_key] = export.figures_zip(
                figures, preset=preset, tables=tables, progress=progress)
        except Exception as exc:  # kaleido / chromium missing: say how to fix it
            bar.empty()
            st.error(f"export failed: {exc}. Figure export needs Chromium: "
                     "`apt-get install chromium` (or `make browser`).")
            return
    if zip_key in st.session_state:
        st.download_button("Download zip", st.session_state[zip_key],
                           file_name=f"poseatlas-{view}.zip", mime=export.MIME["zip"],
                           key=f"zip_dl_{view}", on_click="ignore", type="primary")


def selection_values(event: Any, field: str = "x") -> list[Any]:
    """Values of ``field`` over the points of a plotly selection event (empty if none)."""
    try:
        points = event["selection"]["points"]
    except (KeyError, TypeError):
        return []
    return [p[field] for p in points if isinstance(p, dict) and field in p]
