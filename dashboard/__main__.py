"""``python -m dashboard``: start the PoseAtlas dashboard, bound to loopback.

Every safety-relevant Streamlit option (and the theme) is passed on the command line,
so the behaviour does not depend on the folder it is started from (Streamlit reads
``.streamlit/config.toml`` from the current folder only).  The app is the installed
``dashboard/app.py``; the folder holding the ``dashboard`` package goes on the app's
``PYTHONPATH`` (``streamlit run`` puts only the script's own folder on ``sys.path``)::

    python -m dashboard [--address 127.0.0.1] [--port 8501] [--cache-dir DIR] [--image-root DIR ...]
    poseatlas dashboard ...        (the same, from the installed package)

A non-loopback ``--address`` (e.g. ``0.0.0.0``) exposes the caches and the
image files to the network: it prints a warning and records the opt-in for the
app in ``$POSEATLAS_ALLOW_REMOTE``; without it the app shows no data there.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from dashboard.exposure import ALLOW_REMOTE_ENV, is_loopback
from dashboard.paths import CACHE_ENV, IMAGE_ROOTS_ENV

APP = Path(__file__).resolve().with_name("app.py")
#: The folder that holds the ``dashboard`` package (the checkout or site-packages).
PACKAGE_PARENT = APP.parents[1]
#: .streamlit/config.toml's look, passed explicitly so it holds from any folder.
THEME_OPTIONS = ("--theme.base", "light", "--theme.font", "serif", "--client.toolbarMode", "minimal")
DEFAULT_ADDRESS = "127.0.0.1"
DEFAULT_PORT = 8501


def streamlit_command(address: str, port: int) -> list[str]:
    """The ``streamlit run`` command line, every exposure-relevant option explicit."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        "--server.address",
        address,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--server.runOnSave",
        "false",
        "--browser.gatherUsageStats",
        "false",
        "--browser.serverAddress",
        address if not is_loopback(address) else "127.0.0.1",
        "--browser.serverPort",
        str(port),
        *THEME_OPTIONS,
    ]


def launch_environment(args: argparse.Namespace, environ: dict[str, str]) -> dict[str, str]:
    """The app's environment: cache folder, extra image roots, the remote opt-in (or none),
    and ``PYTHONPATH`` led by the folder that holds the ``dashboard`` package."""
    env = dict(environ)
    env["PYTHONPATH"] = os.pathsep.join(
        dict.fromkeys([str(PACKAGE_PARENT), *filter(None, environ.get("PYTHONPATH", "").split(os.pathsep))])
    )
    env.pop(ALLOW_REMOTE_ENV, None)  # only this launch's --address can opt in
    if args.cache_dir is not None:
        env[CACHE_ENV] = str(Path(args.cache_dir).expanduser().resolve())
    if args.image_root:
        roots = [str(Path(r).expanduser().resolve()) for r in args.image_root]
        env[IMAGE_ROOTS_ENV] = os.pathsep.join(roots)
    if not is_loopback(args.address):
        env[ALLOW_REMOTE_ENV] = args.address
    return env


def _parser(prog: str = "python -m dashboard") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    parser.add_argument(
        "--address",
        default=DEFAULT_ADDRESS,
        help="address to listen on (default 127.0.0.1; anything else exposes the data)",
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        help=f"cache root (default ${CACHE_ENV} or data/cache under the current folder)",
    )
    parser.add_argument(
        "--image-root",
        action="append",
        default=[],
        metavar="DIR",
        help="an extra folder Browse may open images from (repeatable)",
    )
    return parser


def main(argv: list[str] | None = None, prog: str = "python -m dashboard") -> int:
    args = _parser(prog).parse_args(argv)
    if not 0 < args.port < 65536:
        print(f"error: --port {args.port} is not a TCP port", file=sys.stderr)
        return 2
    if not args.address.strip():
        print(
            "error: --address is empty: give 127.0.0.1 (the default), or an address to expose the data on",
            file=sys.stderr,
        )
        return 2
    env = launch_environment(args, dict(os.environ))
    if not is_loopback(args.address):
        print(
            f"WARNING: listening on {args.address}: every machine that can reach this one can read the "
            "caches and the image files. Use the default (127.0.0.1) unless you mean it.",
            file=sys.stderr,
            flush=True,
        )
    command = streamlit_command(args.address, args.port)
    os.execve(sys.executable, command, env)
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
