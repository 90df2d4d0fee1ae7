"""Places365 labels: the 365 category names and the indoor/outdoor flags.

``categories_places365.txt`` has one line per class, ``/a/airfield 0`` (name with
the ``/<letter>/`` prefix, then the class index); ``IO_places365.txt`` has the same
names followed by ``1`` (indoor) or ``2`` (outdoor).  Names are kept without the
prefix, as in the official demo (``airfield``, ``apartment_building/outdoor``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from analysis.errors import PoseAtlasError

CATEGORIES_FILE = "categories_places365.txt"
IO_FILE = "IO_places365.txt"
LABEL_FILES = (CATEGORIES_FILE, IO_FILE)
N_CLASSES = 365
DEFAULT_MODELS_DIR = Path("data/models")


@dataclass(frozen=True)
class SceneLabels:
    """Category names (index = class id) and the indoor flag of each class."""

    names: tuple[str, ...]
    indoor: npt.NDArray[np.bool_]  # (365,) True where IO_places365.txt says 1 (indoor)

    def __post_init__(self) -> None:
        if len(self.names) != len(self.indoor):
            raise ValueError("names and indoor flags differ in length")

    def __len__(self) -> int:
        return len(self.names)

    def __hash__(self) -> int:
        return hash(self.names)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, SceneLabels)
            and self.names == other.names
            and bool(np.array_equal(self.indoor, other.indoor))
        )


def _strip_prefix(raw: str) -> str:
    # "/a/airfield" -> "airfield"; "/a/apartment_building/outdoor" -> keeps the suffix
    return raw[3:] if len(raw) > 3 and raw[0] == "/" and raw[2] == "/" else raw.lstrip("/")


def _read_lines(path: Path) -> list[list[str]]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PoseAtlasError(f"{path}: cannot read label file: {exc}") from exc
    return [line.split() for line in text.splitlines() if line.strip()]


def load_labels(categories: Path, io: Path) -> SceneLabels:
    """Read the two official label files.

    Raises:
        PoseAtlasError: a file is unreadable or malformed (names the file and line).
    """
    rows = _read_lines(categories)
    if len(rows) != N_CLASSES:
        raise PoseAtlasError(f"{categories}: expected {N_CLASSES} categories, found {len(rows)}")
    names: list[str | None] = [None] * N_CLASSES
    for lineno, row in enumerate(rows, 1):
        if len(row) != 2 or not row[1].isdigit() or int(row[1]) >= N_CLASSES:
            raise PoseAtlasError(f"{categories}: line {lineno}: expected '/x/name INDEX'")
        names[int(row[1])] = _strip_prefix(row[0])
    if any(n is None for n in names):
        raise PoseAtlasError(f"{categories}: class indices are not 0..{N_CLASSES - 1}")
    known = [n for n in names if n is not None]  # every one, as just checked

    io_rows = _read_lines(io)
    if len(io_rows) != N_CLASSES:
        raise PoseAtlasError(f"{io}: expected {N_CLASSES} lines, found {len(io_rows)}")
    by_name: dict[str, bool] = {}
    for lineno, row in enumerate(io_rows, 1):
        if len(row) != 2 or row[1] not in ("1", "2"):
            raise PoseAtlasError(f"{io}: line {lineno}: expected '/x/name 1|2'")
        by_name[_strip_prefix(row[0])] = row[1] == "1"
    try:
        indoor = np.array([by_name[n] for n in known], dtype=np.bool_)
    except KeyError as exc:
        raise PoseAtlasError(f"{io}: no indoor/outdoor flag for category {exc.args[0]!r}") from None
    return SceneLabels(tuple(known), indoor)


def find_label_files(weights: Path | None = None, models_dir: Path = DEFAULT_MODELS_DIR) -> tuple[Path, Path]:
    """Locate the two label files: beside ``weights`` first, then in ``models_dir``.

    Raises:
        PoseAtlasError: not found; the message says where it looked and what to fetch.
    """
    places = ([Path(weights).parent] if weights is not None else []) + [Path(models_dir)]
    for folder in places:
        cat, io = folder / CATEGORIES_FILE, folder / IO_FILE
        if cat.is_file() and io.is_file():
            return cat, io
    where = " or ".join(str(p) for p in dict.fromkeys(places))
    raise PoseAtlasError(
        f"Places365 label files {CATEGORIES_FILE} and {IO_FILE} not found in {where}; "
        f"run `python -m analysis fetch places365` (it downloads them into {models_dir}) "
        f"or put them beside the weights file"
    )


def find_labels(weights: Path | None = None, models_dir: Path = DEFAULT_MODELS_DIR) -> SceneLabels:
    """:func:`find_label_files` then :func:`load_labels`."""
    return load_labels(*find_label_files(weights, models_dir))
