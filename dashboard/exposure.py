"""Who may see the dashboard: loopback only, unless the user opted in (no streamlit).

The app serves cached statistics and image files, so it must never be reachable
from the network by accident.  ``python -m dashboard`` binds 127.0.0.1 explicitly;
the app itself also refuses to show data when Streamlit's ``server.address`` is
not a loopback address (e.g. a plain ``streamlit run`` started outside the
repository, where ``.streamlit/config.toml`` is not read and Streamlit listens
on every interface), unless ``$POSEATLAS_ALLOW_REMOTE`` names that address: the
launcher sets it when the user passes a non-loopback ``--address`` explicitly.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Mapping

ALLOW_REMOTE_ENV = "POSEATLAS_ALLOW_REMOTE"
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def is_loopback(address: str | None) -> bool:
    """Whether a server bound to ``address`` is reachable from this machine only.

    An empty or missing address is Streamlit's default: every interface (False).
    """
    text = (address or "").strip().strip("[]")
    if not text:
        return False
    if text.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(text).is_loopback
    except ValueError:
        pass
    if re.fullmatch(r"[0-9a-fA-FxX.]+", text):  # IPv4 shorthand the OS binds (127.1 is 127.0.0.1)
        try:
            return ipaddress.IPv4Address(socket.inet_aton(text)).is_loopback
        except OSError:
            pass
    return False  # a host name we cannot vouch for


def serving_refusal(address: str | None, environ: Mapping[str, str]) -> str | None:
    """Why the app must not show data bound to ``address`` (None: it may).

    Loopback addresses are fine; any other address only when the user opted in
    for exactly that address through ``$POSEATLAS_ALLOW_REMOTE``.
    """
    if is_loopback(address):
        return None
    shown = address or "every interface (no server.address set)"
    opted_in = environ.get(ALLOW_REMOTE_ENV, "").strip()
    if opted_in and opted_in == (address or "").strip():
        return None
    return (
        f"This server listens on {shown}, so other machines could reach it; PoseAtlas shows no data "
        "there. Start it with `python -m dashboard` (loopback 127.0.0.1 by default), or opt in "
        "explicitly with `python -m dashboard --address ADDRESS`."
    )
