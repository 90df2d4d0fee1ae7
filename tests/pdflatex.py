"""Compile LaTeX tables as a paper would: inside a minimal ``article`` with ``booktabs``
and ``amsmath``, with Debian's pdflatex (``make latex`` installs it; CI fails without it)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Collection, Sequence
from pathlib import Path

import numpy as np
import pytest

#: pdflatex's log line for a box wider than its line (a table wider than ``\textwidth``).
OVERFULL = re.compile(r"Overfull \\hbox \((?P<pt>[\d.]+)pt too wide\).*? at lines? (?P<line>\d+)")
#: Overfull boxes up to this much are rounding, not a table running into the margin.
MAX_OVERFULL_PT = 1.0


def assert_compiles(tables: Sequence[str], folder: Path, *, wide: Collection[str] = ()) -> None:
    """Every table, one after the other, compiles without an error into a non-empty PDF, and
    none is more than 1 pt wider than a plain ``article``'s ``\\textwidth`` (an "Overfull
    \\hbox" in the log: the table would run into the margin), except the tables whose
    ``\\label`` key is in ``wide`` (known to be too wide, each listed with its reason)."""
    pdflatex = shutil.which("pdflatex")
    if pdflatex is None:
        if os.environ.get("CI"):
            pytest.fail("pdflatex is missing on CI: install texlive-latex-base and texlive-latex-recommended")
        pytest.skip("pdflatex not installed (apt-get install texlive-latex-base texlive-latex-recommended)")
    preamble = [r"\documentclass{article}", r"\usepackage{booktabs}", r"\usepackage{amsmath}", r"\begin{document}"]
    document = "\n".join([*preamble, *(t + r"\clearpage" for t in tables), r"\end{document}"])
    (folder / "tables.tex").write_text(document, encoding="utf-8")
    run = subprocess.run(
        [pdflatex, "-interaction=nonstopmode", "-halt-on-error", "tables.tex"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout[-3000:]
    assert (folder / "tables.pdf").stat().st_size > 0
    # the tables' first lines in tables.tex, to name the one a log line's "at lines a--b" points into
    starts = np.cumsum([len(preamble) + 1, *(t.count("\n") + 1 for t in tables)])[:-1]
    log = (folder / "tables.log").read_text(encoding="latin-1")
    overfull = [
        (float(m["pt"]), tables[int(np.searchsorted(starts, int(m["line"]), side="right")) - 1])
        for m in OVERFULL.finditer(log)
        if float(m["pt"]) > MAX_OVERFULL_PT
    ]
    too_wide = [(pt, _label(t) or t[:160]) for pt, t in overfull if _label(t) not in wide]
    assert not too_wide, "wider than an article's \\textwidth: " + "; ".join(f"{t} by {pt} pt" for pt, t in too_wide)


def _label(table: str) -> str:
    """A table's ``\\label`` key ("" without one)."""
    found = re.search(r"\\label\{([^}]*)\}", table)
    return found[1] if found else ""
