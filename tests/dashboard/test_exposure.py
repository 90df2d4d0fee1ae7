"""The dashboard is never reachable from the network by accident (issue 11, item 1).

Servers are started from a folder outside the repository (so Streamlit does not
read the repository's .streamlit/config.toml) and probed only on 127.0.0.1 and on
this machine's own non-loopback address; no traffic goes to any other address.
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from dashboard.__main__ import launch_environment, streamlit_command
from dashboard.exposure import ALLOW_REMOTE_ENV, is_loopback, serving_refusal
from tests.dashboard.dashboard_helpers import REPO, chromium_or_skip, free_port, wait_healthy

APP = REPO / "dashboard" / "app.py"


# ------------------------------------------------------------------ pure rules


@pytest.mark.parametrize(
    ("address", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.3.4.5", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("", False),
        (None, False),
        ("0.0.0.0", False),
        ("::", False),
        ("192.0.2.7", False),
        ("10.0.0.1", False),
        ("myhost.example", False),
    ],
)
def test_is_loopback(address, loopback):
    assert is_loopback(address) is loopback


def test_serving_refusal_needs_an_opt_in_for_exactly_that_address():
    assert serving_refusal("127.0.0.1", {}) is None
    assert "every interface" in serving_refusal("", {})
    assert "0.0.0.0" in serving_refusal("0.0.0.0", {})
    assert serving_refusal("0.0.0.0", {ALLOW_REMOTE_ENV: "0.0.0.0"}) is None
    # an opt-in for another address does not cover this one, nor does an empty one
    assert serving_refusal("0.0.0.0", {ALLOW_REMOTE_ENV: "10.1.1.1"}) is not None
    assert serving_refusal("", {ALLOW_REMOTE_ENV: ""}) is not None


def test_launcher_passes_every_exposure_option_explicitly(tmp_path):
    command = streamlit_command("127.0.0.1", 8765)
    opts = dict(zip(command[5::2], command[6::2], strict=True))
    assert command[:5] == [sys.executable, "-m", "streamlit", "run", str(APP)]
    assert opts["--server.address"] == "127.0.0.1" and opts["--server.port"] == "8765"
    assert opts["--browser.gatherUsageStats"] == "false" and opts["--server.headless"] == "true"

    args = argparse.Namespace(address="127.0.0.1", cache_dir=Path("rel/cache"), image_root=[str(tmp_path)])
    env = launch_environment(args, {ALLOW_REMOTE_ENV: "0.0.0.0"})
    assert ALLOW_REMOTE_ENV not in env  # a stale opt-in from the shell does not carry over
    assert env["POSEATLAS_CACHE_DIR"] == str(Path("rel/cache").resolve())
    assert env["POSEATLAS_IMAGE_ROOTS"] == str(tmp_path.resolve())
    remote = launch_environment(argparse.Namespace(address="0.0.0.0", cache_dir=None, image_root=[]), {})
    assert remote[ALLOW_REMOTE_ENV] == "0.0.0.0"


# ------------------------------------------------------------------ real servers


def own_non_loopback_ipv4() -> str | None:
    """This machine's own non-loopback IPv4 address, from its interface list (no traffic sent)."""
    candidates: list[str] = []
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        candidates += subprocess.run(["hostname", "-I"], capture_output=True, text=True, timeout=5).stdout.split()
    with contextlib.suppress(OSError):
        candidates += [info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)]
    for text in candidates:
        try:
            ip = ipaddress.ip_address(text)
        except ValueError:
            continue
        if ip.version == 4 and not ip.is_loopback and not ip.is_link_local:
            return text
    return None


def start(command: list[str], cwd: Path, env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(command, cwd=cwd, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def listening_addresses(port: int) -> list[str]:
    """Local addresses listening on ``port`` according to ``ss`` (empty when ss is missing)."""
    try:
        out = subprocess.run(["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.split()[3].rsplit(":", 1)[0] for line in out.splitlines() if line.strip()]


def page_text(url: str) -> str:
    """The rendered page's text after the app ran (real Chromium)."""
    chromium = chromium_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-background-networking",
                "--no-first-run",
            ],
        )
        page = browser.new_page()
        page.set_default_timeout(30_000)
        page.goto(url)
        page.wait_for_selector('[data-testid="stAlert"], h1', timeout=30_000)
        page.wait_for_timeout(1500)
        text = page.inner_text("body")
        browser.close()
    return text


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    assert not (folder / ".streamlit").exists() and not folder.resolve().is_relative_to(REPO)
    return folder


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.xdist_group("browser")
def test_plain_streamlit_run_from_elsewhere_serves_no_data(demo_cache: Path, outside: Path, tmp_path: Path):
    """Plain `streamlit run /abs/app.py` from /tmp listens on every interface (Streamlit's default),
    but the app shows no data on it; the refusal says how to start it."""
    port = free_port()
    log = tmp_path / "plain.log"
    env = {**os.environ, "POSEATLAS_CACHE_DIR": str(demo_cache), "PYTHONPATH": str(REPO)}
    env.pop(ALLOW_REMOTE_ENV, None)
    proc = start(
        [sys.executable, "-m", "streamlit", "run", str(APP), "--server.port", str(port), "--server.headless", "true"],
        outside,
        env,
        log,
    )
    try:
        wait_healthy(f"http://127.0.0.1:{port}", proc, log)
        own = own_non_loopback_ipv4()
        url = f"http://{own}:{port}" if own else f"http://127.0.0.1:{port}"
        if own is None:  # no network address here: check what it bound instead
            bound = listening_addresses(port)
            if not bound:
                pytest.skip("no non-loopback address and no `ss` to read the bound address from")
            assert any(a in ("*", "0.0.0.0", "[::]") for a in bound), bound
        text = page_text(url)
        assert "shows no data" in text and "python -m dashboard" in text
        assert "demo-sparse" not in text and "Overview" not in text
    finally:
        stop(proc)


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.xdist_group("browser")
def test_launcher_from_elsewhere_listens_on_loopback_only(demo_cache: Path, outside: Path, tmp_path: Path):
    port = free_port()
    log = tmp_path / "launcher.log"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop(ALLOW_REMOTE_ENV, None)
    proc = start(
        [sys.executable, "-m", "dashboard", "--port", str(port), "--cache-dir", str(demo_cache)], outside, env, log
    )
    try:
        wait_healthy(f"http://127.0.0.1:{port}", proc, log)
        own = own_non_loopback_ipv4()
        if own is not None:
            with pytest.raises(ConnectionRefusedError), socket.create_connection((own, port), timeout=5):
                pass
        bound = listening_addresses(port)
        if bound:
            assert set(bound) == {"127.0.0.1"}, bound
        text = page_text(f"http://127.0.0.1:{port}")
        assert "demo-sparse" in text and "shows no data" not in text
    finally:
        stop(proc)


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.xdist_group("browser")
def test_launcher_with_an_explicit_network_address_warns_and_serves(demo_cache: Path, outside: Path, tmp_path: Path):
    own = own_non_loopback_ipv4()
    if own is None:
        pytest.skip("this machine has no non-loopback IPv4 address")
    port = free_port()
    log = tmp_path / "remote.log"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = start(
        [sys.executable, "-m", "dashboard", "--address", own, "--port", str(port), "--cache-dir", str(demo_cache)],
        outside,
        env,
        log,
    )
    try:
        wait_healthy(f"http://{own}:{port}", proc, log)
        assert f"WARNING: listening on {own}" in log.read_text()
        text = page_text(f"http://{own}:{port}")
        assert "demo-sparse" in text and "shows no data" not in text
    finally:
        stop(proc)
