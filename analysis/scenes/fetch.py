"""Download the official CSAIL Places365 checkpoint and label files.

Files land in ``data/models/`` (``--models-dir``): ``<arch>_places365.pth.tar``,
``categories_places365.txt`` and ``IO_places365.txt``.  Downloads resume after an
interruption and are size-checked (see :mod:`analysis.download`).  ``base_url``
replaces both origins (tests serve all three files from one local server).
"""

from __future__ import annotations

from pathlib import Path

from analysis.download import download
from analysis.errors import PoseAtlasError
from analysis.scenes.labels import CATEGORIES_FILE, DEFAULT_MODELS_DIR, IO_FILE

MODELS_URL = "http://places2.csail.mit.edu/models_places365/"
LABELS_URL = "https://raw.githubusercontent.com/csailvision/places365/master/"
#: Checkpoints we can load (torchvision ResNets).  CSAIL also publishes
#: wideresnet18_places365.pth.tar, a custom architecture we do not build.
CHECKPOINTS = {
    "resnet18": "resnet18_places365.pth.tar",
    "resnet50": "resnet50_places365.pth.tar",
}
#: Known byte sizes (None: checked against the server's Content-Length instead).
EXPECTED_SIZES: dict[str, int | None] = {
    CHECKPOINTS["resnet18"]: None,
    CHECKPOINTS["resnet50"]: None,
    CATEGORIES_FILE: None,
    IO_FILE: None,
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
    arch: str = "resnet18", models_dir: Path = DEFAULT_MODELS_DIR, *,
    base_url: str | None = None, progress: bool = True, force: bool = False,
) -> dict[str, Path]:
    """Download what is missing of the checkpoint and label files into ``models_dir``.

    Returns:
        File name -> local path of all three files.
    """
    models_dir = Path(models_dir)
    out: dict[str, Path] = {}
    for name, url in places365_urls(arch, base_url).items():
        dest = models_dir / name
        if dest.is_file() and not force:
            out[name] = dest
            continue
        out[name] = download(url, dest, expected_size=EXPECTED_SIZES.get(name), progress=progress)
    return out
