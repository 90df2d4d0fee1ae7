"""Compile LaTeX tables as a paper would: inside a minimal ``article`` with ``booktabs``
and ``amsmath``, with Debian's pdflatex (``make latex`` installs it; CI fails without it)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest


def assert_compiles(tables: Sequence[str], folder: Path) -> None:
    """Every table, one after the other, compiles without an error into a non-empty PDF."""
    pdflatex = shutil.which("pdflatex")
    if pdflatex is None:
        if os.environ.get("CI"):
            pytest.fail("pdflatex is missing on CI: install texlive-latex-base and texlive-latex-recommended")
        pytest.skip("pdflatex not installed (apt-get install texlive-latex-base texlive-latex-recommended)")
    document = "\n".join(
        [
            r"\documentclass{article}",
            r"\usepackage{booktabs}",
            r"\usepackage{amsmath}",
            r"\begin{document}",
            *(t + r"\clearpage" for t in tables),
            r"\end{document}",
        ]
    )
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
