"""The package: a wheel built from the checkout installs into a fresh virtual environment
outside it, and its ``poseatlas`` command runs the demo and an export there; the
runtime pins of requirements.txt satisfy the wheel's dependency ranges."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[1]


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            req = Requirement(line)
            pins[req.name.lower()] = next(iter(req.specifier)).version
    return pins


def test_requirement_pins_satisfy_the_package_dependencies():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    pins = _pins(REPO / "requirements.txt")
    for text in project["dependencies"]:
        req = Requirement(text)
        assert req.name.lower() in pins, f"{req.name} is a dependency but not pinned in requirements.txt"
        assert req.specifier.contains(pins[req.name.lower()]), (req, pins[req.name.lower()])
    for extra, file in (("cluster", "requirements-cluster.txt"), ("bench", "requirements-bench.txt")):
        extra_pins = _pins(REPO / file)
        for text in project["optional-dependencies"][extra]:
            req = Requirement(text)
            assert req.specifier.contains(extra_pins[req.name.lower()]), (extra, req)


def _tracked_copy(dest: Path) -> Path:
    """The files git would commit (tracked plus untracked-but-not-ignored): what a clone builds from."""
    listing = (
        subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=REPO,
            check=True,
            capture_output=True,
        )
        .stdout.decode()
        .split("\0")
    )
    for rel in filter(None, listing):
        source = REPO / rel
        if source.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / rel)
    return dest


def _persons_per_image(annotations: Path) -> Counter[int]:
    """Persons per image from the raw file: non-crowd annotations with num_keypoints > 0
    (labelled joints where the field is absent), images without one counted at 0."""
    data = json.loads(annotations.read_text())
    per_image = Counter({image["id"]: 0 for image in data["images"]})
    for ann in data["annotations"]:
        labelled = ann.get("num_keypoints", sum(v > 0 for v in ann["keypoints"][2::3]))
        if not ann.get("iscrowd", 0) and labelled > 0:
            per_image[ann["image_id"]] += 1
    return Counter(per_image.values())


@dataclass(frozen=True)
class Installed:
    """A fresh venv with the wheel installed, and a working folder outside the checkout."""

    venv: Path
    work: Path
    env: dict[str, str]

    def poseatlas(self, *args: str, timeout: int = 300) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [str(self.venv / "bin" / "poseatlas"), *args],
            cwd=self.work,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert done.returncode == 0, f"poseatlas {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
        return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    tmp_path = tmp_path_factory.mktemp("package")
    source = _tracked_copy(tmp_path / "source")
    wheels = tmp_path / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(wheels),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = wheels.glob("poseatlas-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "dashboard/app.py" in names and "dashboard/views/overview.py" in names  # the pages travel too
    assert not [n for n in names if n.startswith(("tests/", "benchmarks/", "data/", "docs/"))]

    # A fresh environment outside the checkout; the dependencies come from this
    # environment's site-packages (on PYTHONPATH), the package only from the wheel.
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(venv / "bin" / "python"),
            "install",
            "-q",
            "--no-deps",
            str(wheel),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "POSEATLAS_CACHE_DIR")}
    env["PYTHONPATH"] = sysconfig.get_paths()["purelib"]
    work = tmp_path / "work"
    work.mkdir()
    where = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import analysis, dashboard.__main__ as d; print(analysis.__file__); print(d.APP)",
        ],
        cwd=work,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    assert all(Path(p).is_relative_to(venv) for p in where), where  # nothing from the checkout
    done = Installed(venv, work, env)
    done.poseatlas("demo", "--quiet")  # the defaults: data/demo and data/cache under the current folder
    return done


@pytest.mark.slow
@pytest.mark.xdist_group("browser")  # the browser test below shares `installed`: one install per run, not per worker
def test_wheel_installs_and_poseatlas_runs_the_demo_and_an_export(installed: Installed):
    poseatlas, work = installed.poseatlas, installed.work
    usage = poseatlas("--help").stdout
    for command in ("build", "demo", "evaluate", "info", "compose", "subset", "scenes", "dashboard", "export"):
        assert command in usage, command
    assert "--address" in poseatlas("dashboard", "--help").stdout
    assert "--url" in poseatlas("export", "--help").stdout

    assert {p.name for p in (work / "data" / "cache").iterdir()} == {"demo-sparse", "demo-small", "demo-crowd"}
    info = json.loads(poseatlas("info", "--json").stdout)
    assert info, "info --json lists nothing"

    poseatlas("export", "--url", "ds=demo-sparse,demo-crowd", "--views", "people", "--formats", "svg", "--out", "out")
    with (work / "out" / "people" / "people-per-image.csv").open() as f:
        rows = list(csv.DictReader(f))
    for name in ("demo-sparse", "demo-crowd"):
        expected = _persons_per_image(work / "data" / "demo" / name / "annotations.json")
        got = {int(r["persons per image"]): int(r[name]) for r in rows if int(r[name])}
        assert got == dict(expected), name
    assert (work / "out" / "people" / "people-per-image.svg").read_bytes().startswith(b"<svg")
    assert "persons per image" in (work / "out" / "captions.txt").read_text()


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.xdist_group("browser")
def test_installed_dashboard_serves_the_demo_from_outside_the_checkout(installed: Installed):
    """``poseatlas dashboard`` runs the installed app (its pages found by path inside the
    package) on data/cache under the folder it is started from."""
    if not shutil.which("chromium"):
        pytest.skip("Debian's chromium is missing (make browser installs it)")
    from playwright.sync_api import sync_playwright

    from tests.dashboard.dashboard_helpers import free_port, wait_healthy

    port = free_port()
    log = installed.work / "dashboard.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [str(installed.venv / "bin" / "poseatlas"), "dashboard", "--port", str(port)],
            cwd=installed.work,
            env=installed.env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_healthy(f"http://127.0.0.1:{port}", proc, log)
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=shutil.which("chromium"),
                headless=True,
                args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
            )
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{port}/size")
            page.wait_for_selector(".js-plotly-plot", timeout=90_000)
            text = page.inner_text("body")
            browser.close()
        assert "demo-crowd" in text and "Persons per size bucket" in text, text[:2000]
        assert "Traceback" not in log.read_text()
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
