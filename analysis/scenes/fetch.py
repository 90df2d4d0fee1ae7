"""Download the official CSAIL Places365 checkpoint and label files.

Files land in ``data/models/`` (``--models-dir``): ``<arch>_places365.pth.tar``,
``categories_places365.txt`` and ``IO_places365.txt``.  Downloads resume after an
interruption and are size-checked (see :mod:`analysis.download`).  ``base_url``
replaces both origins (tests serve all three files from one local server).

The label files come from the CSAIL repository at a fixed commit and are pinned by
size and SHA-256 (:data:`PINS`).  The checkpoints are served by CSAIL's web server,
which publishes no size or digest; they are checked against the server's
Content-Length and then by loading them (``fetch places365`` loads the checkpoint
and reports its ``arch@sha256-prefix`` model id).  Files from ``--base-url`` (a
mirror) are checked against its Content-Length only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from analysis.errors import PoseAtlasError
from analysis.scenes.labels import CATEGORIES_FILE, DEFAULT_MODELS_DIR, IO_FILE

MODELS_URL = "http://places2.csail.mit.edu/models_places365/"
#: CSAILVision/places365 at the commit whose label files are pinned below.
LABELS_COMMIT = "06218620d593de09ac4f9f39b72ea0d175990a24"
LABELS_URL = f"https://raw.githubusercontent.com/csailvision/places365/{LABELS_COMMIT}/"
#: Checkpoints we can load (torchvision ResNets).  CSAIL also publishes
#: wideresnet18_places365.pth.tar, a custom architecture we do not build.
CHECKPOINTS = {
    "resnet18": "resnet18_places365.pth.tar",
    "resnet50": "resnet50_places365.pth.tar",
}


@dataclass(frozen=True)
class Pin:
    """What a downloaded file must be."""

    size: int  #: bytes
    sha256: str  #: hex digest


#: Files pinned by size and digest (computed from the repository at LABELS_COMMIT).
#: The checkpoints are not pinned: CSAIL publishes neither size nor digest for them.
PINS: dict[str, Pin] = {
    CATEGORIES_FILE: Pin(6833, "2affba635eb657e7ca95f4e6cc69bd9fac29ef4c32aeb83cafdfcd06ec6a1ea6"),
    IO_FILE: Pin(6214, "0a65ceb7264413a15bb069a87be7ecf9ebb572a6803d48de2827a1d25fe287ba"),
}


def places365_urls(arch: str = "resnet18", base_url: str | None = None) -> dict[str, str]:
    """File name -> URL of the three files for ``arch``."""
    if arch not in CHECKPOINTS:
        raise PoseAtlasError(f"no Places365 checkpoint for {arch!r}; choose {', '.join(CHECKPOINTS)}")
    models, labels = (base_url, base_url) if base_url else (MODELS_URL, LABELS_URL)
    models = models.rstrip("/") + "/"
    labels = labels.rstrip("/") + "/"
    return {
        CHECKPOINTS[arch]: models + CHECKPOINTS[arch],
        CATEGORIES_FILE: labels + CATEGORIES_FILE,
        IO_FILE: labels + IO_FILE,
    }


def fetch_places365(
    arch: str = "resnet18",
    models_dir: Path = DEFAULT_MODELS_DIR,
    *,
    base_url: str | None = None,
    progress: bool = True,
    force: bool = False,
) -> dict[str, Path]:
    """Download what is missing of the checkpoint and label files into ``models_dir``.

    Returns:
        File name -> local path of all three files.
    """
    from analysis.download import download  # with tqdm: not for every command that parses arguments

    models_dir = Path(models_dir)
    out: dict[str, Path] = {}
    for name, url in places365_urls(arch, base_url).items():
        dest = models_dir / name
        if dest.is_file() and not force:
            out[name] = dest
            continue
        pin = PINS.get(name) if base_url is None else None
        out[name] = download(
            url, dest, expected_size=pin.size if pin else None, sha256=pin.sha256 if pin else None, progress=progress
        )
    return out
