"""``poseatlas`` (dashboard.command) in-process: the analysis subcommands under its name, the
delegated ``dashboard`` and ``export``, and a launcher that needs no checkout."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import pytest

import dashboard
from analysis.cli import _parser as analysis_parser
from dashboard import command
from dashboard.__main__ import APP, launch_environment, streamlit_command


def _choices(parser: argparse.ArgumentParser) -> set[str]:
    return set(next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices)


def test_poseatlas_has_every_analysis_subcommand_plus_dashboard_and_export(capsys):
    assert _choices(command.build_parser()) == _choices(analysis_parser()) | {"dashboard", "export"}
    with pytest.raises(SystemExit) as exit_:
        command.main(["--help"])
    assert exit_.value.code == 0
    usage = capsys.readouterr().out
    assert usage.startswith("usage: poseatlas ") and "python -m dashboard.export" in usage
    with pytest.raises(SystemExit):
        command.main(["evaluate", "--help"])
    assert capsys.readouterr().out.startswith("usage: poseatlas evaluate ")


def test_delegated_subcommands_get_their_own_arguments(capsys, tmp_path: Path):
    with pytest.raises(SystemExit):
        command.main(["dashboard", "--help"])
    assert capsys.readouterr().out.startswith("usage: poseatlas dashboard ")
    assert command.main(["dashboard", "--port", "0"]) == 2  # the launcher's own check, before Streamlit
    assert "--port 0 is not a TCP port" in capsys.readouterr().err
    # export: its own bad-input path (one line, exit 2, nothing written)
    assert (
        command.main(["export", "--url", "ds=x", "--out", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "none")])
        == 2
    )
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "cache folder not found" in err and not (tmp_path / "out").exists()


def test_launcher_runs_the_package_app_with_the_package_importable(tmp_path: Path):
    package_parent = str(Path(dashboard.__file__).resolve().parents[1])
    assert Path(dashboard.__file__).resolve().with_name("app.py") == APP and APP.is_file()
    args = argparse.Namespace(address="127.0.0.1", cache_dir=None, image_root=[])
    env = launch_environment(args, {"PYTHONPATH": f"/elsewhere{os.pathsep}{package_parent}"})
    assert env["PYTHONPATH"].split(os.pathsep) == [package_parent, "/elsewhere"]
    options = streamlit_command("127.0.0.1", 8765)[5:]
    given = dict(zip(options[::2], options[1::2], strict=True))
    # .streamlit/config.toml's look, explicit so it holds from any folder
    assert given["--theme.base"] == "light" and given["--theme.font"] == "serif"
    assert "sys.path" not in APP.read_text()
