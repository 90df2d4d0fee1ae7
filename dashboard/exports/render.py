"""Export items -> file bytes: the one code path behind the dashboard's download
buttons, its "export all" zip and ``python -m dashboard.export``.

Every figure in every requested format (``<stem>.<fmt>``), every table as CSV and
LaTeX (``<stem>.csv``, ``<stem>.tex``), and the captions: ``captions.txt`` (one
``file: caption`` line per figure and table) and ``captions.tex`` (a ``figure``
environment per figure with its ``\\includegraphics``, ``\\caption`` and ``\\label``).
A figure with nothing to draw (``figures.common.empty_figure``: "no ground truth in slice
small") is not written; ``captions.txt`` says ``<file>: not exported: <why>``.
"""

from __future__ import annotations

import functools
import io
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import plotly.graph_objects as go

from analysis.errors import PoseAtlasError
from dashboard.exports import paper
from dashboard.exports.items import ExportItem, FigureItem, TableItem
from dashboard.exports.latex import latex_text, table_latex

if TYPE_CHECKING:
    import plotly.graph_objects as go

#: called with (files done, files in all, the file being written)
Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class RenderOptions:
    """How items become files.

    Attributes:
        formats: figure formats, from ``paper.FORMATS``.
        preset: ``single`` (3.5 in) or ``double`` (7.16 in) column width.
        percent: share columns of LaTeX tables as percentages.
    """

    formats: tuple[str, ...] = paper.FORMATS
    preset: str = "single"
    percent: bool = False

    def __post_init__(self) -> None:
        bad = [f for f in self.formats if f not in paper.FORMATS]
        if bad or not self.formats:
            raise ValueError(f"unknown figure format {', '.join(bad) or '(none)'} (use {', '.join(paper.FORMATS)})")
        if self.preset not in paper.PRESETS:
            raise ValueError(f"unknown width {self.preset!r} (use {' or '.join(paper.PRESETS)})")


def table_files(item: TableItem, options: RenderOptions, stem: str | None = None) -> dict[str, bytes]:
    stem = stem or item.stem
    table, shares = item.labelled()
    tex = (
        item.latex(f"tab:{stem}")
        if item.latex is not None
        else table_latex(
            table, caption=item.caption, label=f"tab:{stem}", digits=item.digits, shares=shares, percent=options.percent
        )
    )
    return {f"{stem}.csv": paper.table_csv(item.table), f"{stem}.tex": tex.encode("utf-8")}


def figure_snippet(path: str, caption: str, preset: str) -> str:
    """A LaTeX figure environment for one exported figure (PDF beside it)."""
    star = "*" if preset == "double" else ""
    label = path.rsplit(".", 1)[0].replace("/", "-")
    return (
        f"\\begin{{figure{star}}}[t]\n\\centering\n\\includegraphics[width=\\linewidth]{{{path}}}\n"
        f"\\caption{{{latex_text(caption)}}}\n\\label{{fig:{label}}}\n\\end{{figure{star}}}\n"
    )


@dataclass(frozen=True)
class Named:
    """An item with the file stem it is written under (a spec may rename it)."""

    item: FigureItem | TableItem
    folder: str  #: "" or "<view>/"
    stem: str
    options: RenderOptions


def plan(items: Iterable[ExportItem], options: RenderOptions, folder: str = "") -> list[Named]:
    return [Named(i, folder, i.stem, options) for i in items if isinstance(i, FigureItem | TableItem)]


def count_files(named: Sequence[Named]) -> int:
    return sum(len(n.options.formats) if isinstance(n.item, FigureItem) else 1 for n in named)


def is_empty(figure: go.Figure) -> bool:
    """Whether a figure is ``figures.common.empty_figure``: a message and nothing drawn."""
    meta = figure.layout.meta
    return isinstance(meta, dict) and bool(meta.get("empty"))


def failure_reason(exc: BaseException) -> str:
    """One line saying why an item failed (its exception's type unless it is a PoseAtlasError)."""
    text = " ".join(str(exc).split())
    return text if isinstance(exc, PoseAtlasError) and text else f"{type(exc).__name__}: {text}".rstrip(": ")


def render(
    named: Sequence[Named],
    progress: Progress | None = None,
    failures: list[str] | None = None,
) -> dict[str, bytes]:
    """Every file of ``named`` plus ``captions.txt`` / ``captions.tex``, in a stable order.

    ``failures``: when given, an item whose files cannot be made is left out (no file,
    no caption) and ``"<folder><stem>: <reason>"`` is appended, so one broken item never
    costs the others; when None, its exception propagates.

    Raises ValueError when two items would be written to the same file.
    """
    files: dict[str, bytes] = {}
    captions_txt: list[str] = []
    captions_tex: list[str] = []
    total, done = count_files(named), 0
    report = progress or _no_progress
    for n in named:
        base = f"{n.folder}{n.stem}"
        own: dict[str, bytes] = {}  # this item's files: written only when all of them were made
        done_after = done + count_files([n])
        if isinstance(n.item, FigureItem) and is_empty(n.item.figure):
            # a figure that only says why it is empty ("no ground truth in slice small") is
            # not a page for a paper: its reason goes to the captions file instead
            captions_txt.append(f"{base}: not exported: {n.item.caption}")
            done = done_after
            continue
        try:
            for label, make in _item_steps(n, base):
                report(done, total, label)
                own.update(make())
                done += 1
        except Exception as exc:
            if failures is None:
                raise
            failures.append(f"{base}: {failure_reason(exc)}")
            done = done_after
            continue
        _put(files, own)
        txt, tex = _captions(n, base)
        captions_txt.append(txt)
        captions_tex += [tex] if tex is not None else []
    _put(
        files,
        {
            "captions.txt": ("\n".join(captions_txt) + "\n").encode("utf-8"),
            "captions.tex": "\n".join(captions_tex).encode("utf-8"),
        },
    )
    report(total, total, "done")
    return files


def _no_progress(done: int, total: int, what: str) -> None:
    """The progress callback when none is given."""


def _put(files: dict[str, bytes], new: dict[str, bytes]) -> None:
    """Add ``new`` to ``files``; raises ValueError when two exports write one path."""
    for path, data in new.items():
        if path in files:
            raise ValueError(f"two exports write {path}: give one of them another name")
        files[path] = data


def _item_steps(n: Named, base: str) -> list[tuple[str, Callable[[], dict[str, bytes]]]]:
    """One item's files in progress steps: what the progress bar names, and what makes the
    files (a figure one format at a time; a table's CSV and LaTeX together)."""
    if isinstance(n.item, FigureItem):
        figure = n.item.figure
        return [
            (f"{base}.{fmt}", functools.partial(_figure_file, f"{base}.{fmt}", figure, fmt, n.options.preset))
            for fmt in n.options.formats
        ]
    table = n.item
    return [
        (
            f"{base}.csv / .tex",
            lambda: {f"{n.folder}{path}": data for path, data in table_files(table, n.options, n.stem).items()},
        )
    ]


def _captions(n: Named, base: str) -> tuple[str, str | None]:
    """The item's line in captions.txt and, for a figure, its LaTeX figure in captions.tex
    (the PDF when exported, else the first format)."""
    if not isinstance(n.item, FigureItem):
        return f"{base}.tex: {n.item.caption}", None
    fmt = "pdf" if "pdf" in n.options.formats else n.options.formats[0]
    return f"{base}.{fmt}: {n.item.caption}", figure_snippet(f"{base}.{fmt}", n.item.caption, n.options.preset)


def _figure_file(path: str, figure: go.Figure, fmt: str, preset: str) -> dict[str, bytes]:
    return {path: paper.figure_bytes(figure, fmt, preset)}


def zip_bytes(files: dict[str, bytes]) -> bytes:
    """The files as one zip (fixed timestamps: the same files give the same zip)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path, data in files.items():
            info = zipfile.ZipInfo(path, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return buf.getvalue()
