"""Scene options: one set of defaults, one entropy-base rule, one CLI error path."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest

from analysis.cli import _parser
from analysis.errors import PoseAtlasError
from analysis.scenes.cli import options_from_args
from analysis.scenes.entropy import entropy
from analysis.scenes.options import SceneOptions

REPO = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize(
    "argv",
    [
        ["scenes", "--name", "a", "--split", "b"],
        ["build", "--scenes"],
    ],
)
def test_flags_default_to_the_options_defaults(argv):
    assert options_from_args(_parser().parse_args(argv)) == SceneOptions()


@pytest.mark.parametrize("base", [0.0, -2.0, 1.0, math.inf, math.nan])
def test_one_rule_for_the_entropy_base(base, capsys):
    with pytest.raises(PoseAtlasError, match="--entropy-base: entropy base must be positive, finite and not 1"):
        SceneOptions(entropy_base=base).validate()
    with pytest.raises(ValueError, match="entropy base must be positive, finite and not 1"):
        entropy([0.5, 0.5], base=base)
    with pytest.raises(SystemExit):
        _parser().parse_args(["scenes", "--name", "a", "--split", "b", "--entropy-base", str(base)])
    assert "entropy base must be positive, finite and not 1" in capsys.readouterr().err


def test_valid_bases_pass_everywhere():
    SceneOptions(entropy_base=2.0).validate()
    assert entropy([0.5, 0.5], base=2.0) == pytest.approx(1.0)  # one bit
    assert (
        options_from_args(
            _parser().parse_args(["scenes", "--name", "a", "--split", "b", "--entropy-base", "bits"])
        ).entropy_base
        == 2.0
    )


@pytest.mark.slow
@pytest.mark.parametrize("entry", ["analysis", "analysis.scenes"])
def test_both_entry_points_report_one_line(tmp_path, entry):
    out = subprocess.run(
        [sys.executable, "-m", entry, "scenes", "--name", "nope", "--split", "val", "--cache-dir", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 2
    assert out.stderr == f"error: no cache at {tmp_path / 'nope' / 'val'} (no manifest.json); build the dataset first\n"
