"""Which tests run: a plain ``pytest`` leaves the ``slow`` tests out (``addopts`` in
pyproject.toml), and ``make test`` runs every one of them, ``slow`` and ``browser`` too.

Checked on a throw-away folder holding this project's pytest settings and one test per
marker combination, collected by pytest itself with and without the Makefile's arguments."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

_TESTS = """
import pytest

def test_plain():
    pass

@pytest.mark.slow
def test_slow():
    pass

@pytest.mark.slow
@pytest.mark.browser
def test_browser():
    pass
"""


def make_test_pytest_args() -> list[str]:
    """The arguments of the pytest line in the Makefile's ``test`` recipe."""
    makefile = (REPO / "Makefile").read_text()
    recipe = re.search(r"^test:.*\n((?:\t.*\n)+)", makefile, re.M)
    assert recipe, "the Makefile has no test target"
    lines = [line.strip() for line in recipe[1].splitlines() if "-m pytest" in line]
    assert len(lines) == 1, recipe[1]
    return shlex.split(lines[0].split("-m pytest", 1)[1])


def collected(folder: Path, *args: str) -> set[str]:
    """Names of the tests pytest selects in ``folder`` (no plugins loaded: only the selection counts)."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *args],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"},
    )
    assert done.returncode in (0, 5), done.stdout + done.stderr  # 5: every test deselected
    return {line.split("::", 1)[1] for line in done.stdout.splitlines() if "::" in line}


def test_plain_pytest_leaves_slow_out_and_make_test_runs_everything(tmp_path: Path):
    settings = (REPO / "pyproject.toml").read_text()
    section = settings[settings.index("[tool.pytest.ini_options]") :]
    section = section[: section.index("\n[", 1)]
    (tmp_path / "pyproject.toml").write_text(section.replace('testpaths = ["tests"]', 'testpaths = ["."]'))
    (tmp_path / "test_markers.py").write_text(_TESTS)
    assert collected(tmp_path) == {"test_plain"}
    # xdist's options need its plugin, left unloaded here
    args = [a for a in make_test_pytest_args() if a not in ("-n", "2", "--dist", "loadgroup")]
    assert collected(tmp_path, *args) == {"test_plain", "test_slow", "test_browser"}
    assert collected(tmp_path, "-m", "slow") == {"test_slow", "test_browser"}
