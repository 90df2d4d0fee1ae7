"""The command line's own words: the top-level help names every subcommand without reST
markup, the build help gives --keypoint-schema's forms, and the evaluate guide's synopsis
shows --model as a repeated flag."""

from __future__ import annotations

import argparse
from pathlib import Path

from analysis.cli import _parser

REPO_ROOT = Path(__file__).resolve().parents[1]


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_top_level_help_names_every_subcommand_plainly() -> None:
    parser = _parser()
    description = parser.description or ""
    assert "``" not in description
    for name in _subcommands(parser):
        assert name in description, name


def test_keypoint_schema_help_gives_the_list_form() -> None:
    text = _subcommands(_parser())["build"].format_help()
    assert "coco17" in text and "crowdpose14" in text and "list" in text and "joint names" in text


def test_the_evaluate_synopsis_repeats_model() -> None:
    guide = (REPO_ROOT / "docs/guides/evaluate.md").read_text()
    assert "[--model LABEL]..." in guide and "[--model LABEL ...]" not in guide
