"""``poseatlas``: the installed command (``pip install .`` puts it on the ``PATH``).

Every subcommand of ``python -m analysis`` (build, fetch, info, demo, scenes,
evaluate, subset, compose, ...) under the same name and with the same options, plus

* ``poseatlas dashboard``: the loopback launcher, ``python -m dashboard``;
* ``poseatlas export``: the paper export, ``python -m dashboard.export``.

Nothing here imports streamlit: ``dashboard`` starts it in a new process.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

PROG = "poseatlas"


def _run_dashboard(argv: list[str]) -> int:
    from dashboard.__main__ import main

    return main(argv, prog=f"{PROG} dashboard")


def _run_export(argv: list[str]) -> int:
    from dashboard.exports.cli import main

    return main(argv)


#: Subcommands that hand their arguments to another entry point: name -> (help, runner).
DELEGATED: dict[str, tuple[str, Callable[[list[str]], int]]] = {
    "dashboard": (
        "start the dashboard, bound to 127.0.0.1 (python -m dashboard; see poseatlas dashboard --help)",
        _run_dashboard,
    ),
    "export": (
        "write the figures and tables the dashboard shows for a URL to files "
        "(python -m dashboard.export; see poseatlas export --help)",
        _run_export,
    ),
}


def build_parser() -> argparse.ArgumentParser:
    """``python -m analysis``'s parser named ``poseatlas``, the delegated subcommands listed in its help."""
    from analysis.cli import _parser

    parser = _parser(PROG)
    subcommands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, (text, _) in DELEGATED.items():
        subcommands.add_parser(name, help=text, add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from analysis.errors import run_reporting_errors

    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in DELEGATED:
        return DELEGATED[argv[0]][1](argv[1:])
    args = build_parser().parse_args(argv)
    return run_reporting_errors(lambda: args.run(args))


if __name__ == "__main__":
    sys.exit(main())
