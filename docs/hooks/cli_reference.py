"""mkdocs hook: the CLI reference page is generated from the argparse parsers themselves
(``poseatlas``, every subcommand, ``poseatlas dashboard`` and ``poseatlas export``), so it
cannot drift from the code.  A page asks for it with the line ``<!-- cli-reference -->``."""

from __future__ import annotations

import argparse
import os

MARKER = "<!-- cli-reference -->"


def _subcommands(parser: argparse.ArgumentParser) -> list[tuple[str, argparse.ArgumentParser]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return list(action.choices.items())
    return []


def _section(title: str, parser: argparse.ArgumentParser, level: int) -> list[str]:
    out = [f"{'#' * level} `{title}`", "", "```text", parser.format_help().rstrip(), "```", ""]
    for name, sub in _subcommands(parser):
        if name in ("dashboard", "export") and title == "poseatlas":
            continue  # delegated: their own parsers follow
        out += _section(f"{title} {name}", sub, min(level + 1, 4))
    return out


def cli_reference() -> str:
    """Markdown: the help of every parser, nested like the commands."""
    os.environ["COLUMNS"] = "100"  # argparse wraps to $COLUMNS: a stable page
    from dashboard.__main__ import _parser as dashboard_parser
    from dashboard.command import build_parser
    from dashboard.exports.cli import build_parser as export_parser

    lines = _section("poseatlas", build_parser(), 2)
    lines += _section("poseatlas dashboard", dashboard_parser("poseatlas dashboard"), 2)
    export = export_parser()
    export.prog = "poseatlas export"
    lines += _section("poseatlas export", export, 2)
    return "\n".join(lines)


def on_page_markdown(markdown: str, **kwargs) -> str:
    return markdown.replace(MARKER, cli_reference()) if MARKER in markdown else markdown
