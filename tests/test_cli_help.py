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


def _helps(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> dict[tuple[str, ...], str]:
    """The help text of ``parser`` and of every (nested) subcommand parser it holds in full."""
    helps = {path: parser.format_help()}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                helps |= _helps(child, (*path, name))
    return helps


def test_a_parser_built_for_one_command_prints_the_same_help_as_the_whole_parser() -> None:
    """``main`` builds only the named subcommand's parser (the others are name + help line):
    the top-level help and that subcommand's help (and its own subcommands') are unchanged."""
    from analysis.cli import COMMANDS, command_named

    whole = _helps(_parser())
    assert set(_subcommands(_parser())) == set(COMMANDS)
    assert ("fetch", "places365") in whole and len(whole) > len(COMMANDS) + 1  # nested ones are compared too
    for name in COMMANDS:
        lazy = _helps(_parser(command=name))
        assert lazy[()] == whole[()], name
        mine = {path: text for path, text in lazy.items() if path[:1] == (name,)}
        assert mine == {path: text for path, text in whole.items() if path[:1] == (name,)}, name
        others = _subcommands(_parser(command=name))
        assert all(not others[other]._actions[1:] for other in COMMANDS if other != name)  # stubs: only -h
    assert command_named(["evaluate", "--name", "build"]) == "evaluate"
    assert command_named(["-h"]) is None and command_named(["nonsense", "evaluate"]) is None
