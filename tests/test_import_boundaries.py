"""The house rules on imports: ``analysis`` never imports streamlit; figure builders and
filters never import streamlit; the CLI's parsers never import torch."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _modules(folder: str) -> list[str]:
    return sorted(
        ".".join(p.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
        for p in (REPO / folder).rglob("*.py")
    )


def _imported_roots(path: Path) -> set[str]:
    """Top-level packages named by every import statement in a file (inside functions too)."""
    roots = set()
    for node in ast.walk(ast.parse(path.read_bytes(), str(path))):
        if isinstance(node, ast.Import):
            roots |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def _loaded_after_importing(modules: list[str]) -> set[str]:
    probe = (
        "import importlib, sys\n"
        f"for m in {modules!r}:\n"
        "    importlib.import_module(m)\n"
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    out = subprocess.run([sys.executable, "-c", probe], cwd=REPO, check=True, capture_output=True, text=True)
    return set(out.stdout.split())


def test_the_probe_sees_an_import():
    # The dynamic checks below would pass vacuously if the probe missed imports.
    assert "streamlit" in _loaded_after_importing(["dashboard.ui"])


def test_no_analysis_module_names_streamlit():
    offenders = [p for p in (REPO / "analysis").rglob("*.py") if "streamlit" in _imported_roots(p)]
    assert not offenders


@pytest.mark.slow
def test_importing_every_analysis_module_loads_no_streamlit():
    modules = [m for m in _modules("analysis") if m not in ("analysis.__main__", "analysis.scenes.__main__")]
    assert len(modules) > 20
    assert "streamlit" not in _loaded_after_importing(modules)


SERVERLESS_MODULES = [
    *_modules("dashboard/figures"),
    "dashboard.filters",
    *_modules("dashboard/exports"),
    "dashboard.export",
]


@pytest.fixture(scope="module")
def streamlit_after_each() -> dict[str, bool]:
    """One interpreter imports SERVERLESS_MODULES in turn: whether streamlit is loaded after each.

    One process instead of one per module (each start-up imports numpy, pandas and plotly
    again): a module that loads streamlit on its own loads it here too, so the check is as
    strict; a module imported after one that loaded it is flagged as well, and the first
    one flagged is the culprit."""
    probe = (
        "import importlib, json, sys\n"
        "seen = {}\n"
        f"for m in {SERVERLESS_MODULES!r}:\n"
        "    importlib.import_module(m)\n"
        "    seen[m] = 'streamlit' in sys.modules\n"
        "print(json.dumps(seen))"
    )
    out = subprocess.run([sys.executable, "-c", probe], cwd=REPO, check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


@pytest.mark.parametrize("module", SERVERLESS_MODULES)
def test_figure_builders_and_filters_never_import_streamlit(module, streamlit_after_each):
    """Also the export set and the export command: they run without a server."""
    path = REPO / Path(*module.split("."))
    path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
    assert "streamlit" not in _imported_roots(path)
    assert streamlit_after_each[module] is False, [m for m, loaded in streamlit_after_each.items() if loaded][:1]


def test_cli_parsing_imports_no_torch():
    probe = (
        "import sys\n"
        "from analysis import cli\n"
        "import analysis.scenes.cli, analysis.scenes.options\n"
        "cli._parser().parse_args(['scenes', '--name', 'a', '--split', 'b'])\n"
        "cli._parser().parse_args(['build', '--scenes'])\n"
        "print('torch' in sys.modules, 'torchvision' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", probe], cwd=REPO, check=True, capture_output=True, text=True)
    assert out.stdout.split() == ["False", "False"]
