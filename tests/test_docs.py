"""The docs cannot rot: every shell and Python block of the pages a newcomer follows runs
here, in order, in a fresh folder beside the test fixtures, with ``poseatlas`` on the PATH.
A block that fails fails the test.  A block may be left out only with a reason written
just above it (``<!-- not run: ... -->``), and only when it installs something or starts
a server (checked below)."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import require_fixtures

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
EXECUTED_PAGES = ("getting-started.md", "reproduce-smallpose.md", "guides/notebook.md")
#: what a block left out may do: install, or serve until stopped
NOT_RUN_ALLOWED = re.compile(r"^(make (run|test)|pip install|poseatlas dashboard)\b")

_BLOCK = re.compile(r"(?:<!-- not run: (?P<why>[^>]*?) -->\n)?```(?P<lang>bash|python)\n(?P<code>.*?)```", re.S)


@dataclass(frozen=True)
class Block:
    lang: str
    code: str
    not_run: str | None


def blocks(page: str) -> list[Block]:
    text = (DOCS / page).read_text()
    return [Block(m["lang"], m["code"], m["why"]) for m in _BLOCK.finditer(text)]


def _commands(code: str) -> list[str]:
    return [line.strip() for line in code.splitlines() if line.strip() and not line.lstrip().startswith("#")]


@pytest.mark.parametrize("page", EXECUTED_PAGES)
def test_only_installs_and_servers_are_left_out(page: str):
    found = blocks(page)
    assert found, f"{page} has no bash or python block"
    for block in found:
        if block.not_run is not None:
            assert block.not_run.strip(), f"{page}: a block left out without a reason"
            assert block.lang == "bash" and all(NOT_RUN_ALLOWED.match(c) for c in _commands(block.code)), (
                f"{page}: only installs and servers may be left out, not:\n{block.code}"
            )


def _environment(tmp_path: Path) -> dict[str, str]:
    """``poseatlas`` (this checkout's command) on the PATH; no cache folder from the caller."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "poseatlas"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m dashboard.command "$@"\n')
    shim.chmod(shim.stat().st_mode | stat.S_IXUSR)
    env = {k: v for k, v in os.environ.items() if k not in ("POSEATLAS_CACHE_DIR", "POSEATLAS_IMAGE_ROOTS")}
    env["PATH"] = f"{bin_dir}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(REPO)
    return env


def run_page(page: str, work: Path, env: dict[str, str]) -> None:
    """Every block of ``page`` in order in ``work``; consecutive Python blocks run as one script
    (a notebook's cells share their variables)."""
    groups: list[Block] = []
    for block in blocks(page):
        if block.not_run is not None:
            continue
        if block.lang == "python" and groups and groups[-1].lang == "python":
            groups[-1] = Block("python", groups[-1].code + "\n" + block.code, None)
        else:
            groups.append(block)
    for n, block in enumerate(groups):
        if block.lang == "bash":
            command = ["bash", "-euo", "pipefail", "-c", block.code]
        else:
            script = work / f"_docs_block_{n}.py"
            script.write_text(block.code)
            command = [sys.executable, str(script)]
        done = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, (
            f"{page}, block {n + 1}:\n{block.code}\n--- stdout\n{done.stdout[-3000:]}"
            f"\n--- stderr\n{done.stderr[-3000:]}"
        )


@pytest.fixture
def beside_fixtures(tmp_path: Path) -> Path:
    """``work/`` with ``../shared`` the shared fixtures' folder, as for a checkout."""
    fixtures = require_fixtures()
    (tmp_path / "shared").symlink_to(fixtures.parent, target_is_directory=True)
    work = tmp_path / "work"
    work.mkdir()
    return work


@pytest.mark.slow
def test_getting_started_runs(beside_fixtures: Path, tmp_path: Path):
    work = beside_fixtures
    run_page("getting-started.md", work, _environment(tmp_path))
    caches = {p.name for p in (work / "data" / "cache").iterdir()}
    assert {"demo-sparse", "demo-small", "demo-crowd", "coco-mini"} <= caches
    assert (work / "figures" / "size" / "size-buckets.pdf").read_bytes().startswith(b"%PDF")
    assert "coco-mini" in (work / "figures" / "captions.txt").read_text().lower()


@pytest.mark.slow
def test_notebook_guide_runs(tmp_path: Path):
    work = tmp_path / "work"
    work.mkdir()
    run_page("guides/notebook.md", work, _environment(tmp_path))
    table5 = (work / "table5.csv").read_text().splitlines()
    assert table5[0].startswith("model,dataset,AP,") and len(table5) == 5  # 2 models x 2 splits
    assert (work / "size-buckets.pdf").read_bytes().startswith(b"%PDF")


@pytest.mark.slow
def test_smallpose_reproduction_runs(beside_fixtures: Path, tmp_path: Path):
    work = beside_fixtures
    run_page("reproduce-smallpose.md", work, _environment(tmp_path))
    for name in ("fig7", "fig8a", "fig8b"):
        assert list((work / "figures").glob(f"*/{name}.pdf")), name
    table5 = (work / "table5.csv").read_text()
    assert "jittered-gt" in table5 and "AP^S" in table5
    assert sorted(p.name for p in (work / "data" / "subsets").glob("subset-*.json")) == [
        f"subset-{k}.json" for k in range(1, 4)
    ]  # the page draws three (the sample is small)
