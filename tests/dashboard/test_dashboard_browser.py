"""A real browser: ``streamlit run`` on a free loopback port, driven by Playwright.

Visits every view, changes the size bucket, exports a figure as PNG and PDF and
checks the files, and saves screenshots to ``test-artifacts/``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.dashboard.dashboard_helpers import REPO, VIEWS, chromium_or_skip, free_port, wait_healthy

ARTIFACTS = REPO / "test-artifacts"
pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("browser")]


@pytest.fixture
def server(demo_cache: Path, tmp_path: Path):
    port = free_port()
    log = (tmp_path / "streamlit.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(REPO / "dashboard" / "app.py"),
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
        ],
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={
            **os.environ,
            "POSEATLAS_CACHE_DIR": str(demo_cache),
            "POSEATLAS_IMAGE_ROOTS": str(demo_cache.parent / "data"),
        },
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc, tmp_path / "streamlit.log")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def test_dashboard_in_a_real_browser(server: str, tmp_path: Path, demo_cache: Path):
    chromium = chromium_or_skip()
    from playwright.sync_api import expect, sync_playwright

    # expect()'s own 5 s default ran out on a loaded 2-core machine (a first page render takes longer)
    expect.set_options(timeout=30_000)

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
        page.set_default_timeout(30_000)
        titles = {
            "overview": "Overview",
            "people": "People per image",
            "size": "Size",
            "crowding": "Crowding",
            "scenes": "Scenes",
            "keypoints": "Keypoints",
            "models": "Models",
            "browse": "Browse",
        }
        for view in VIEWS:
            page.goto(f"{server}/{view}")
            expect(page.get_by_role("heading", name=titles[view], exact=True)).to_be_visible()
            page.wait_for_timeout(300)
            assert page.locator('[data-testid="stException"]').count() == 0, view
        page.screenshot(path=str(ARTIFACTS / "dashboard-browse.png"), full_page=True)

        # Overview cards at 1400 px: no metric value is cut off (ellipsis or overflow)
        page.goto(server)  # the default page
        expect(page.get_by_role("heading", name="Overview", exact=True)).to_be_visible()
        values = page.locator('[data-testid="stMetricValue"]')
        expect(values.first).to_be_visible()
        page.wait_for_timeout(300)
        page.screenshot(path=str(ARTIFACTS / "dashboard-overview-1400.png"), full_page=True)
        cut = page.evaluate("""() => [...document.querySelectorAll(
                '[data-testid="stMetricValue"], [data-testid="stMetricLabel"]')]
            .filter(el => [el, ...el.querySelectorAll('*')].some(e => e.scrollWidth > e.clientWidth + 1))
            .map(el => el.innerText)""")
        assert values.count() >= 18 and cut == [], cut

        page.goto(f"{server}/size")
        expect(page.get_by_role("heading", name="Size", exact=True)).to_be_visible()
        page.locator('[data-testid="stSidebar"]').get_by_text("small", exact=True).click()
        page.wait_for_url("**bucket=small**")
        expect(page.locator('[data-testid="stPlotlyChart"]').first).to_be_visible()
        page.wait_for_timeout(500)
        assert page.locator('[data-testid="stException"]').count() == 0

        for fmt, magic in (("PNG", b"\x89PNG\r\n\x1a\n"), ("PDF", b"%PDF-")):
            with page.expect_download(timeout=60_000) as info:
                page.get_by_role("button", name=fmt).first.click()
            target = tmp_path / f"figure.{fmt.lower()}"
            info.value.save_as(target)
            assert target.read_bytes()[: len(magic)] == magic, fmt
        page.screenshot(path=str(ARTIFACTS / "dashboard-size-small.png"), full_page=True)

        # Clicking a bar of the people-per-image histogram opens Browse on those
        # images, with the sidebar's controls kept.
        page.goto(f"{server}/people?ds=demo-sparse&sm=30")
        bars = page.locator(".js-plotly-plot .bars path")
        expect(bars.first).to_be_visible()
        # Bars are in x order: 0, 1, 2, ... persons per image; click the one for 1 person.
        box = bars.nth(1).bounding_box()
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] - 2)
        page.wait_for_url("**/browse?**")
        expect(page.get_by_role("heading", name="Browse", exact=True)).to_be_visible()
        images = pd.read_parquet(demo_cache / "demo-sparse" / "val" / "images.parquet")
        expected = int((images["n_persons"] == 1).sum())
        expect(page.get_by_text(f"{expected} images match", exact=False)).to_be_visible()
        assert "ds=demo-sparse" in page.url and "sm=30" in page.url
        page.screenshot(path=str(ARTIFACTS / "dashboard-click-to-browse.png"), full_page=True)

        # Models: the demo's synthetic models in the Table 5 layout, the bars, a LaTeX export.
        page.goto(f"{server}/models?ds=demo-small")
        expect(page.get_by_role("heading", name="Models", exact=True)).to_be_visible()
        expect(page.get_by_text("reported in the SmallPose paper", exact=False).first).to_be_visible()
        expect(page.locator('[data-testid="stPlotlyChart"]').first).to_be_visible()
        page.wait_for_timeout(500)
        assert page.locator('[data-testid="stException"]').count() == 0
        with page.expect_download(timeout=60_000) as info:
            page.get_by_role("button", name="LaTeX").first.click()
        target = tmp_path / "table5.tex"
        info.value.save_as(target)
        tex = target.read_text()
        assert r"\toprule" in tex and "synthetic-precise" in tex and r"\textbf{" in tex
        page.screenshot(path=str(ARTIFACTS / "dashboard-models.png"), full_page=True)
        browser.close()


def test_download_buttons_read_in_full_at_700_px(server: str):
    """A 700 px window (Streamlit lays the page out full width, the sidebar would overlay
    it): every figure's PNG / SVG / PDF button and every table's CSV / LaTeX button shows
    its whole label (they read "P..." in fixed column shares)."""
    chromium = chromium_or_skip()
    from playwright.sync_api import expect, sync_playwright

    # expect()'s own 5 s default ran out on a loaded 2-core machine (a first page render takes longer)
    expect.set_options(timeout=30_000)

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 700, "height": 1000})
        page.set_default_timeout(30_000)
        ARTIFACTS.mkdir(exist_ok=True)
        for view in ("size", "models"):
            page.goto(f"{server}/{view}")
            buttons = page.locator('[data-testid="stDownloadButton"] button')
            expect(buttons.first).to_be_visible(timeout=60_000)
            page.wait_for_timeout(800)
            page.screenshot(path=str(ARTIFACTS / f"dashboard-{view}-700.png"), full_page=True)
            read = page.evaluate("""() => [...document.querySelectorAll('[data-testid="stDownloadButton"] button')]
                .map(b => ({text: b.innerText.trim(), width: b.getBoundingClientRect().width,
                            cut: [b, ...b.querySelectorAll('*')].some(e => e.scrollWidth > e.clientWidth + 1)}))""")
            labels = [r["text"].split()[-1] if r["text"] else "" for r in read]
            assert {"PNG", "SVG", "PDF", "CSV"} <= set(labels), (view, read)
            assert all(label in {"PNG", "SVG", "PDF", "CSV", "LaTeX", "zip"} or "…" not in label for label in labels)
            cut = [r for r in read if r["cut"] or "…" in r["text"] or r["width"] == 0]
            assert cut == [], (view, cut)
        browser.close()
