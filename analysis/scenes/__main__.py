"""``python -m analysis.scenes {scenes,fetch-places365} ...``: the scenes commands on their own.

The top-level ``python -m analysis`` offers the same as ``scenes`` and
``fetch places365``; this entry exists for scripts and tests.
"""

from __future__ import annotations

import argparse
import sys

from analysis.errors import run_reporting_errors
from analysis.scenes.cli import add_fetch_places365_arguments, add_scenes_parser, run_fetch_places365


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m analysis.scenes")
    sub = parser.add_subparsers(dest="command", required=True)
    add_scenes_parser(sub)
    fetch = sub.add_parser("fetch-places365", help="download the Places365 checkpoint and labels")
    add_fetch_places365_arguments(fetch)
    fetch.set_defaults(func=run_fetch_places365)
    args = parser.parse_args(argv)
    return run_reporting_errors(lambda: args.func(args))


if __name__ == "__main__":
    sys.exit(main())
