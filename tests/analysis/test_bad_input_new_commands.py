"""Issue 19, items 4 and 5: patterns that would backtrack for ever, memory errors, and the
bad inputs of the newer commands; each one line, exit 2, no traceback, nothing written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from analysis.errors import run_reporting_errors
from tests.analysis.dataset_helpers import build, run_cli
from tests.analysis.test_compose import COCO_NAMES, SMALL, _doc
from tests.conftest import REPO_ROOT

#: Catastrophic backtracking on a file name of ~30 characters without an X: hours with re.
EVIL = "^([a-z:/.]+)*X$"


def _one_line(code: int, err: str, *needles: str) -> str:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def _cli(*argv, timeout: float = 60) -> subprocess.CompletedProcess:
    """``python -m analysis ARGV`` in a fresh process with a time limit (a hang fails the test)."""
    return subprocess.run(
        [sys.executable, "-m", "analysis", *map(str, argv)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_a_registry_source_pattern_that_backtracks_is_refused(tmp_path):
    (tmp_path / "a.json").write_text(
        json.dumps(_doc(COCO_NAMES, [(1, "abcdefghijklmnopqrstuvwxyz/abcdefg.jpg", [SMALL])]))
    )
    registry = tmp_path / "datasets.toml"
    registry.write_text(
        f'[[dataset]]\nname = "a"\nsplit = "val"\nannotations = "{tmp_path / "a.json"}"\n'
        f'source = {{ field = "file_name", pattern = "{EVIL}" }}\n'
    )
    r = _cli("build", "--registry", registry, "--cache-dir", tmp_path / "cache", "--quiet")
    _one_line(r.returncode, r.stderr, f"{registry}: dataset[0]", f"invalid source pattern '{EVIL}'", "exponential time")
    assert not (tmp_path / "cache").exists()


def test_a_compose_group_pattern_that_backtracks_is_refused(tmp_path):
    doc = _doc(COCO_NAMES, [(i, f"abcdefghijklmnopqrstuvwxyz/{i}.jpg", [SMALL]) for i in range(1, 5)])
    (tmp_path / "a.json").write_text(json.dumps(doc))
    build(tmp_path / "cache", "a", "train", tmp_path / "a.json")
    registry = tmp_path / "datasets.toml"
    registry.write_text(f'[[dataset]]\nname = "a"\nsplit = "train"\nannotations = "{tmp_path / "a.json"}"\n')
    config = tmp_path / "c.toml"
    config.write_text(
        f'name = "c"\n[[source]]\ndataset = "a"\ntrain = ["train"]\n'
        f'group = {{ field = "file_name", pattern = "{EVIL}" }}\n'
    )
    r = _cli(
        "compose",
        "--config",
        config,
        "--out",
        tmp_path / "out",
        "--registry",
        registry,
        "--cache-dir",
        tmp_path / "cache",
        "--quiet",
    )
    _one_line(r.returncode, r.stderr, f"{config}", "group.pattern", EVIL, "exponential time")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "pattern", [r"^(?P<source>[^/]+)/", r"^images/train/(?P<group>[^/]+)/", r"(?:ab){2}+", r"^(\d+)?_"]
)
def test_ordinary_patterns_are_accepted(pattern):
    from analysis.build.loading import checked_pattern

    assert checked_pattern(pattern).pattern == pattern


@pytest.mark.parametrize("pattern", [EVIL, r"(a|ab)*c", r"(a*)*", r"((x+)y)+"])
def test_nested_quantifiers_are_refused(pattern):
    from analysis.build.loading import checked_pattern

    with pytest.raises(ValueError, match="exponential time"):
        checked_pattern(pattern)


def test_running_out_of_memory_is_one_line(capsys):
    def command():
        np.empty(2**62, dtype=np.uint8)  # numpy's _ArrayMemoryError, as the build under a tight cap

    code = run_reporting_errors(command)
    _, err = capsys.readouterr()
    _one_line(code, err, "out of memory", "nothing was written")


def test_compose_seed_out_of_range_is_one_line(tmp_path, capsys):
    (tmp_path / "a.json").write_text(json.dumps(_doc(COCO_NAMES, [(1, "x.jpg", [SMALL]), (2, "y.jpg", [SMALL])])))
    build(tmp_path / "cache", "a", "train", tmp_path / "a.json")
    registry = tmp_path / "datasets.toml"
    registry.write_text(f'[[dataset]]\nname = "a"\nsplit = "train"\nannotations = "{tmp_path / "a.json"}"\n')
    for top, needle in (
        ("seed = -1", "seed: must be an integer in [0, 2^64), got -1"),
        (f"seed = {2**64}", f"got {2**64}"),
        ("[size]\nedges = [1024, inf]", "size.edges: edges must be finite areas"),
    ):
        config = tmp_path / "c.toml"
        config.write_text('name = "c"\n[[source]]\ndataset = "a"\ntrain = ["train"]\n')
        config.write_text(
            f'name = "c"\n{top}\n[[source]]\ndataset = "a"\ntrain = ["train"]\n'
            if top.startswith("seed")
            else config.read_text() + top + "\n"
        )
        code, _, err = run_cli(
            capsys,
            "compose",
            "--config",
            config,
            "--out",
            tmp_path / "out",
            "--registry",
            registry,
            "--cache-dir",
            tmp_path / "cache",
            "--quiet",
        )
        _one_line(code, err, f"{config}", needle)
        assert not (tmp_path / "out").exists()


def _build_cli(capsys, tmp_path: Path, name: str, data: bytes) -> tuple[int, str, str]:
    path = tmp_path / f"{name}.json"
    path.write_bytes(data)
    return run_cli(
        capsys,
        "build",
        "--name",
        name,
        "--split",
        "val",
        "--annotations",
        path,
        "--cache-dir",
        tmp_path / "cache",
        "--quiet",
    )


def test_build_reads_a_byte_order_mark_and_names_other_encodings(tmp_path, capsys):
    from tests.analysis.helpers import coco_doc

    doc = coco_doc()
    plain = json.dumps(doc).encode()
    code, out, err = _build_cli(capsys, tmp_path, "plain", plain)
    assert code == 0, err
    code, out_bom, err = _build_cli(capsys, tmp_path, "bom", b"\xef\xbb\xbf" + plain)
    assert code == 0, err
    assert out_bom.split(" - ")[1].split(" [")[0] == out.split(" - ")[1].split(" [")[0]  # same counts
    import pandas as pd

    a = pd.read_parquet(tmp_path / "cache/plain/val/instances.parquet").drop(columns=["dataset"])
    b = pd.read_parquet(tmp_path / "cache/bom/val/instances.parquet").drop(columns=["dataset"])
    pd.testing.assert_frame_equal(a, b)
    for encoding in ("utf-16", "utf-16-le"):
        code, _, err = _build_cli(capsys, tmp_path, "wide", json.dumps(doc).encode(encoding))
        _one_line(code, err, "wide.json: UTF-16 text, not UTF-8", "iconv -f UTF-16 -t UTF-8")
    assert not (tmp_path / "cache" / "wide").exists()


def test_build_names_a_non_utf8_byte_inside_an_annotation_value(tmp_path, capsys):
    from tests.analysis.helpers import coco_doc

    data = json.dumps(coco_doc()).encode().replace(b'"iscrowd": 0', b'"iscrowd": "\xe9"', 1)
    code, _, err = _build_cli(capsys, tmp_path, "latin", data)
    column = data.index(b"\xe9") + 1  # one line: the column is the offset + 1
    _one_line(code, err, "latin.json: annotations[", f"not UTF-8 text: byte 0xe9 at line 1 column {column}")
    assert not (tmp_path / "cache" / "latin").exists()


def test_a_split_whose_instances_table_was_deleted_is_named_not_dropped(tmp_path):
    from analysis.info import info_json, info_lines
    from dashboard.caches import load_caches
    from tests.analysis.helpers import coco_doc

    for name in ("kept", "broken"):
        (tmp_path / f"{name}.json").write_text(json.dumps(coco_doc()))
        build(tmp_path / "cache", name, "val", tmp_path / f"{name}.json")
    (tmp_path / "cache" / "broken" / "val" / "instances.parquet").unlink()
    doc = json.loads(info_json(tmp_path / "none.toml", tmp_path / "cache"))
    by_name = {c["name"]: c for c in doc["cached"]}
    assert by_name["kept"]["problem"] is None
    assert "instances.parquet" in by_name["broken"]["problem"] and "missing" in by_name["broken"]["problem"]
    assert any("broken/val" in line for line in info_lines(tmp_path / "none.toml", tmp_path / "cache"))
    caches = load_caches(tmp_path / "cache")
    assert list(caches.datasets) == ["kept"]
    assert "instances.parquet" in caches.skipped["broken/val"]


@pytest.mark.parametrize("code", ["ENOSPC", "EDQUOT", "EROFS"])
def test_a_full_disk_is_one_line(capsys, tmp_path, code):
    import errno
    import os

    def command():
        raise OSError(getattr(errno, code), os.strerror(getattr(errno, code)), str(tmp_path / "scenes.parquet"))

    status = run_reporting_errors(command)
    _, err = capsys.readouterr()
    _one_line(
        status,
        err,
        f"{tmp_path / 'scenes.parquet'}: {os.strerror(getattr(errno, code))} while writing",
        "run the same command again",
    )


def test_other_os_errors_are_not_swallowed():
    def command():
        raise OSError(5, "Input/output error")

    with pytest.raises(OSError, match="Input/output error"):
        run_reporting_errors(command)
