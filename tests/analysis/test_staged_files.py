"""Issue 19, item 6: multi-file outputs are one unit.  A run killed while writing or between
the two renames leaves every old file (or every new one), never a mix; the next run sweeps
what the killed one left; files of the folder that are not outputs are kept."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from analysis.cache.staged_files import StagedFiles, sweep_stale
from tests.conftest import REPO_ROOT

#: A child that stages new a.json and b.json into OUT and is SIGKILLed at a chosen point.
_CHILD = """
import os, signal, sys
from pathlib import Path
from analysis.cache import staged_files
point, out = sys.argv[1], Path(sys.argv[2])
real_replace = os.replace
calls = []
def replace(src, dst):
    calls.append(dst)
    if point == "between-renames" and len(calls) == 2:
        os.kill(os.getpid(), signal.SIGKILL)
    return real_replace(src, dst)
os.replace = replace
def write(name):
    def go(fh):
        if point == "while-writing" and name == "b.json":
            fh.write(b'{"half')
            fh.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        fh.write(b'"new ' + name.encode() + b'"')
    return go
with staged_files.StagedFiles(out) as staged:
    staged.add("a.json", write("a.json"))
    staged.add("sub/b.json", write("b.json"))
"""


def _files(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): p.read_text() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def old_out(tmp_path: Path) -> Path:
    out = tmp_path / "out"
    (out / "sub").mkdir(parents=True)
    (out / "a.json").write_text('"old a"')
    (out / "sub" / "b.json").write_text('"old b"')
    (out / "mine.txt").write_text("the user's")
    return out


def _kill_child(point: str, out: Path) -> None:
    r = subprocess.run(
        [sys.executable, "-c", _CHILD, point, str(out)],
        cwd=REPO_ROOT,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
    )
    assert r.returncode == -9, r.stderr.decode()


OLD = {"a.json": '"old a"', "mine.txt": "the user's", "sub/b.json": '"old b"'}


@pytest.mark.parametrize("point", ["while-writing", "between-renames"])
def test_a_killed_run_leaves_the_old_files_and_the_next_run_cleans_up(old_out, point):
    _kill_child(point, old_out)
    siblings = sorted(p.name for p in old_out.parent.iterdir() if p.name != "out")
    assert siblings, "the killed run left nothing to sweep (the test did not kill where it meant to)"
    if point == "between-renames":
        assert not old_out.exists()  # the old folder is renamed aside, the new one not yet in
    else:
        assert _files(old_out) == OLD  # nothing of the half-written run is visible
    sweep_stale(old_out)
    assert _files(old_out) == OLD
    assert sorted(p.name for p in old_out.parent.iterdir()) == ["out"]
    # And a whole run replaces the outputs together, keeping the user's file.
    with StagedFiles(old_out) as staged:
        staged.add("a.json", lambda fh: fh.write(b'"new a"'))
        staged.add("sub/b.json", lambda fh: fh.write(b'"new b"'))
    assert _files(old_out) == {"a.json": '"new a"', "mine.txt": "the user's", "sub/b.json": '"new b"'}
    assert sorted(p.name for p in old_out.parent.iterdir()) == ["out"]


def test_a_failing_write_changes_nothing(old_out):
    def fail(fh):
        fh.write(b"partial")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"), StagedFiles(old_out) as staged:
        staged.add("a.json", lambda fh: fh.write(b'"new a"'))
        staged.add("sub/b.json", fail)
    assert _files(old_out) == OLD
    assert sorted(p.name for p in old_out.parent.iterdir()) == ["out"]


def test_temporary_files_of_older_runs_are_swept(old_out):
    leftover = old_out / ".a.json.k2j4h.tmp"
    leftover.write_bytes(b"x" * 1000)
    with StagedFiles(old_out) as staged:
        staged.add("a.json", lambda fh: fh.write(json.dumps("new").encode()))
    assert not leftover.exists()
    assert _files(old_out)["mine.txt"] == "the user's"


def test_a_new_folder_and_links_into_it(tmp_path):
    out = tmp_path / "deep" / "new"
    with StagedFiles(out) as staged:
        staged.add("x.json", lambda fh: fh.write(b"1"))
    assert _files(out) == {"x.json": "1"}
    (tmp_path / "link").symlink_to(out)
    with StagedFiles(tmp_path / "link") as staged:
        staged.add("x.json", lambda fh: fh.write(b"2"))
    assert (tmp_path / "link").is_symlink() and _files(out) == {"x.json": "2"}


def test_the_working_folder_is_written_in_place_not_renamed(old_out, monkeypatch):
    monkeypatch.chdir(old_out)
    inode = old_out.stat().st_ino
    stale = old_out / ".writing-999999999"  # a killed one-by-one run's staging folder (no such process)
    stale.mkdir()
    (stale / "a.json").write_text("half")
    with StagedFiles(".") as staged:
        staged.add("a.json", lambda fh: fh.write(b'"new a"'))
    assert old_out.stat().st_ino == inode  # the shell's folder was not replaced
    assert _files(old_out) == {**OLD, "a.json": '"new a"'}
    assert sorted(p.name for p in old_out.parent.iterdir()) == ["out"]
