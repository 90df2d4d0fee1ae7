"""``make bench``'s summary table from canned records (formatting and plumbing; nothing timed)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from benchmarks.summary import SUMMARY_ENV, Figure, format_table, main, met_at_least, met_at_most, read_records, record

REPO = Path(__file__).resolve().parents[2]

BUILD = [
    Figure("build 200 MB, whole process / orjson.loads whole process", "0.41", "<= 0.5", True),
    Figure("build 200 MB, peak RSS", "0.72 GB", "<= 0.6 GB", False),
]
DASHBOARD = [Figure("dashboard, server RSS end / peak", "2,703 / 3,463 MB")]


def test_table_lines_one_figure_each_padded_with_verdicts(tmp_path: Path) -> None:
    record("build", BUILD, tmp_path)
    record("dashboard", DASHBOARD, tmp_path)
    os.utime(tmp_path / "build.json", ns=(1, 1))  # written first: listed first
    table = format_table(read_records(tmp_path))
    assert table.splitlines() == [
        "benchmark  what                                                      measured          target     met",
        "---------  --------------------------------------------------------  ----------------  ---------  ---",
        "build      build 200 MB, whole process / orjson.loads whole process  0.41              <= 0.5     yes",
        "build      build 200 MB, peak RSS                                    0.72 GB           <= 0.6 GB  no",
        "dashboard  dashboard, server RSS end / peak                          2,703 / 3,463 MB             -",
        "1 met, 1 not met, 1 reported without a target",
    ]


def test_missing_benchmark_is_a_line_and_strict_fails(tmp_path: Path, capsys) -> None:
    record("dashboard", DASHBOARD, tmp_path)
    assert main([str(tmp_path), "--expect", "dashboard,evaluate"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-2].split()[0] == "evaluate" and out[-2].split()[-2:] == ["n/a", "no"]
    assert "(no figures: the benchmark failed or did not run)" in out[-2]
    assert out[-1] == "0 met, 1 not met, 1 reported without a target"
    assert main([str(tmp_path), "--expect", "dashboard,evaluate", "--strict"]) == 1
    assert main([str(tmp_path), "--expect", "dashboard", "--strict"]) == 0  # reported-only figures pass
    record("build", BUILD, tmp_path)
    assert main([str(tmp_path), "--strict"]) == 1  # a figure that misses its target


def test_records_in_written_order_with_command(tmp_path: Path) -> None:
    """Through the environment variable, as ``make bench`` runs it: a benchmark module's
    record names the command; the summary lists records oldest first."""
    code = (
        "import sys; from benchmarks.summary import Figure, record; "
        "record(sys.argv[1], [Figure('x', '1', '<= 2', True)])"
    )
    env = {**os.environ, SUMMARY_ENV: str(tmp_path), "PYTHONPATH": str(REPO)}
    for name in ("zeta", "alpha"):
        subprocess.run([sys.executable, "-c", code, name], cwd=REPO, env=env, check=True)
    os.utime(tmp_path / "zeta.json", ns=(1, 1))
    os.utime(tmp_path / "alpha.json", ns=(2, 2))
    records = read_records(tmp_path)
    assert [r.benchmark for r in records] == ["zeta", "alpha"]
    assert records[0].figures == [Figure("x", "1", "<= 2", True)]
    assert records[0].command.startswith("python -m ")


def test_without_folder_nothing_is_written(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv(SUMMARY_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    assert record("build", BUILD) is None
    assert not list(tmp_path.iterdir())


def test_met_helpers() -> None:
    assert met_at_most(0.5, 0.5) is True and met_at_most(0.51, 0.5) is False and met_at_most(None, 0.5) is None
    assert met_at_least(3.0, 3.0) is True and met_at_least(2.9, 3.0) is False and met_at_least(None, 3.0) is None
