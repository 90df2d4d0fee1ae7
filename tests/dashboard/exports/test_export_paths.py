"""Issue 19: the export writes only under --out, never over its spec or into the cache root,
and refuses a bad --out before rendering anything (one line, exit 2, nothing written)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dashboard.exports.cli import main
from tests.conftest import one_line_error


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _refused(capsys, argv: list, *needles: str) -> str:
    code = main([str(a) for a in argv])
    return one_line_error(code, *capsys.readouterr(), *needles)


@pytest.mark.parametrize("name", ["../../main", "a/b", "..", "", ".hidden", 5])
def test_spec_name_follows_the_name_rule(tmp_path, capsys, name):
    paper = tmp_path / "paper"
    paper.mkdir()
    (paper / "main.tex").write_text("\\documentclass{article}")
    spec = tmp_path / "spec.toml"
    value = f'"{name}"' if isinstance(name, str) else str(name)
    spec.write_text(f'[[export]]\nview = "size"\nitems = ["size-buckets"]\nname = {value}\n')
    before = _snapshot(tmp_path)
    _refused(
        capsys,
        ["--spec", spec, "--out", paper / "figs", "--cache-dir", tmp_path / "cache"],
        f"{spec}: export 1: name {name!r}",
        "use letters, digits",
    )
    assert _snapshot(tmp_path) == before


def test_out_that_is_a_file_is_refused_before_rendering(tmp_path, capsys):
    (tmp_path / "out").write_text("keep")
    # No cache folder: were the caches opened (rendering), the message would name the missing caches.
    _refused(
        capsys,
        ["--url", "ds=x", "--out", tmp_path / "out", "--cache-dir", tmp_path / "cache"],
        f"--out {tmp_path / 'out'}: is a file, not a folder",
    )
    assert (tmp_path / "out").read_text() == "keep"


def test_out_inside_the_cache_root_or_over_the_spec_is_refused(tmp_path, capsys):
    (tmp_path / "cache").mkdir()
    _refused(
        capsys,
        ["--url", "ds=x", "--out", tmp_path / "cache" / "figs", "--cache-dir", tmp_path / "cache"],
        "is inside",
        "the cache root",
    )
    assert _snapshot(tmp_path / "cache") == {}
    spec = tmp_path / "spec.toml"
    spec.write_text('[[export]]\nview = "size"\n')
    _refused(capsys, ["--spec", spec, "--out", spec, "--cache-dir", tmp_path / "cache"], "is a file, not a folder")


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ('url = 5\n[[export]]\nview = "size"\n', "export 1: url must be a string"),
        ('[[export]]\nview = "size"\nwidth = ["single"]\n', "export 1: width ['single'] is not one of"),
        (
            '[[export]]\nview = "scenes"\noptions = { scene_top_k = inf }\n',
            "option scene_top_k = inf is not a valid int",
        ),
        ('[[export]]\nview = "crowding"\noptions = { density_low = nan }\n', "option density_low = nan"),
        (
            '[[export]]\nview = "crowding"\noptions = { density_low = 0.9, density_high = 0.2 }\n',
            "density edges must satisfy 0 <= density_low < density_high <= 1 (got 0.9 and 0.2)",
        ),
        ('[[export]]\nview = "size"\nurl = "http://[::1/size?ds=cp"\n', "not a valid URL (Invalid IPv6 URL)"),
    ],
)
def test_bad_spec_values_are_one_line(tmp_path, capsys, body, needle):
    spec = tmp_path / "spec.toml"
    spec.write_text(body)
    _refused(capsys, ["--spec", spec, "--out", tmp_path / "out", "--cache-dir", tmp_path / "cache"], needle)
    assert not (tmp_path / "out").exists()


def test_spec_that_is_a_folder_and_bad_url(tmp_path, capsys):
    (tmp_path / "spec.toml").mkdir()
    _refused(capsys, ["--spec", tmp_path / "spec.toml", "--out", tmp_path / "out"], "is a folder; give the spec file")
    _refused(capsys, ["--url", "http://[::1/size?ds=cp", "--out", tmp_path / "out"], "not a valid URL")
    assert not (tmp_path / "out").exists()
